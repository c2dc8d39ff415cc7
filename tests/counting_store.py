"""A store wrapper that records *which* rows a runtime loads, for the warm-start tests.

``benchmarks/warm_start/counting.py`` counts rows by kind, which is what a
benchmark prints. A test of issue 23's rule ("no row is loaded that the
rules do not need") must know which rows: a count of two is right when they
are the read memo and its one dependency, and wrong when they are two
strangers. So ``RecordingStore`` keeps the ids:

- ``memo_ids``: every memo id whose row any ``load_`` call returned (the
  keys of ``load_memo_rows``'s dict, the rows of a ``StoredSnapshot``);
- ``asked``: every memo id passed to ``load_memo_rows``, returned or not,
  and recorded even when the call raises (a ``CorruptSnapshot`` for a
  damaged row is still a load the runtime chose to make);
- ``cells``: ``(kind, key bytes)`` of every ``InputState`` any call returned
  (``load_input_rows``, ``load_family``, ``load_input_states``, and whatever
  call a store gains: the ids are read from the records, not the method);
- ``families``: the kinds passed to ``load_family``;
- ``edges``: every ``(dep node id, reader memo id)`` pair returned;
- ``memo_rows``: memo rows returned, counting a row loaded twice twice;
- ``calls``: each ``load_`` method's calls.

Like the benchmark's wrapper, it forwards every attribute with
``__getattr__``, so a call the protocol gains later is recorded with no code
here, and it changes nothing the runtime sees. Rejected: a subclass of
``SqliteStore`` (it would see only the methods it overrides) and asking the
runtime what it loaded (the tests judge the runtime; they must not ask it).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sofrito.stores import InputState, StoredSnapshot

BOOKKEEPING = frozenset(
    {"load_head", "load_header", "load_receipt", "load_receipts", "load_runtime_state"}
)
"""``load_`` calls that return no memo, input or edge rows."""


class Loads:
    """What the runtime loaded since the last ``RecordingStore.take()``."""

    def __init__(self) -> None:
        self.memo_ids: set[bytes] = set()
        self.asked: set[bytes] = set()
        self.cells: set[tuple[str, bytes]] = set()
        self.families: set[str] = set()
        self.edges: set[tuple[bytes, bytes]] = set()
        self.memo_rows = 0
        self.calls: Counter[str] = Counter()
        self.unknown: list[object] = []
        """Returned items of no known shape: a test should fail on them, not skip them."""

    def __repr__(self) -> str:
        return (
            f"Loads(memo_ids={sorted(self.memo_ids)}, asked={sorted(self.asked)}, "
            f"cells={sorted(self.cells)}, families={sorted(self.families)}, "
            f"edges={len(self.edges)}, calls={dict(self.calls)})"
        )

    def record(self, result: object) -> None:
        """Attribute the rows of one ``load_`` call's result by what they are."""
        if result is None:
            return
        if isinstance(result, StoredSnapshot):
            self._memos(result.rows)
        elif isinstance(result, InputState):
            self.cells.add((result.kind, result.key))
        elif isinstance(result, Mapping):
            if all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in result.items()):
                self._memos(result)
            else:
                self._items(result.values())
        elif isinstance(result, list | tuple | set | frozenset):
            self._items(result)
        else:
            self.unknown.append(result)

    def _memos(self, rows: Mapping[bytes, bytes]) -> None:
        self.memo_ids.update(rows)
        self.memo_rows += len(rows)

    def _items(self, items: Iterable[object]) -> None:
        for item in items:
            if isinstance(item, InputState):
                self.cells.add((item.kind, item.key))
            elif (
                isinstance(item, tuple)
                and len(item) == 2
                and all(isinstance(part, bytes) for part in item)
            ):
                self.edges.add(item)
            else:
                self.unknown.append(item)


class RecordingStore:
    """Forwards everything to ``inner``; records what each ``load_`` call returned."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.loads = Loads()
        self.total = Loads()
        """Everything since the wrapper was made (``take`` does not reset it)."""

    def take(self) -> Loads:
        """What was loaded since the last ``take``; starts a new record."""
        taken, self.loads = self.loads, Loads()
        return taken

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if callable(found) and name.startswith("load_"):
            return self._recording(name, found)
        return found

    def _recording(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def load(*args: Any, **kwargs: Any) -> Any:
            asked: list[bytes] = []
            if name == "load_memo_rows":  # may be an iterator: read it once, pass it on
                if len(args) > 1:
                    asked = list(args[1])
                    args = (args[0], asked, *args[2:])
                else:
                    asked = kwargs["memo_ids"] = list(kwargs.get("memo_ids", ()))
            kind = kwargs.get("kind", args[1] if len(args) > 1 else None)
            for loads in (self.loads, self.total):
                loads.calls[name] += 1
                loads.asked.update(asked)
                if name == "load_family":
                    loads.families.add(str(kind))
            result = method(*args, **kwargs)
            if name not in BOOKKEEPING:
                self.loads.record(result)
                self.total.record(result)
            return result

        return load
