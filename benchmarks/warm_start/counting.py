"""Counting what a store hands the runtime, without changing sofrito.

``CountingStore`` wraps the store a child process passes to
``sf.Runtime(store=...)`` and forwards every attribute to it through
``__getattr__``. A method whose name starts with ``load_`` is wrapped on the
way: its result is counted as rows by what it holds, not by the method's
name, so the on-demand calls of issue 23 (``load_header``,
``load_memo_rows``, ``load_input_rows``, ``load_family``,
``load_reader_closure``) are counted with no code of their own here, and
so will any call a store gains later:

- a ``StoredSnapshot`` (``load_snapshot``): one memo row per stored row;
- an ``InputState``, or one inside a list or a dict (``load_input_states``,
  ``load_input_rows``, ``load_family``): one input row each;
- ``bytes`` inside a dict (``load_memo_rows``: memo id -> sealed row): one
  memo row each;
- a pair of ``bytes`` inside a list (``load_reader_closure``): one edge;
- the calls in ``NOT_ROWS`` (heads, headers, receipts, lifecycle): none;
- anything else a ``load_`` call returns inside a container: ``other``,
  printed, so that a new shape shows up instead of counting as nothing.

The writes are counted from their arguments: a ``commit_boundary`` or
``atomic_apply`` writes its delta's upserted and deleted memo rows, its
edges (one per node id in ``reads``, memo id -> what it read) and its
input states; ``persist_input_state`` one input row.

Rejected: a subclass of ``SqliteStore`` overriding each method (it would
count only the calls it was written for, and a new call would be missed
silently), and counting inside sofrito (the benchmark must measure the
code as a user runs it). A ``__getattr__`` forwarder costs a Python call per
store method, nothing per row, which is noise beside a SQLite transaction.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from sofrito.stores import InputState, StoredSnapshot

NOT_ROWS = frozenset(
    {"load_head", "load_header", "load_receipt", "load_receipts", "load_runtime_state"}
)
"""``load_`` calls that return bookkeeping, not memo or input rows."""
WRITES = frozenset(
    {"commit_boundary", "atomic_apply", "persist_input_state", "atomic_lifecycle_commit"}
)


@dataclass
class Rows:
    """Rows by kind: memo rows, input rows (cell states), edges, and anything unrecognized.

    ``deleted`` counts memo rows a write deletes (always 0 for loads).
    """

    memo: int = 0
    input: int = 0
    edge: int = 0
    deleted: int = 0
    other: int = 0

    def add(self, more: Rows) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(more, f.name))

    @property
    def total(self) -> int:
        """Memo and input rows, edges and unrecognized rows (not deletions)."""
        return self.memo + self.input + self.edge + self.other

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, int]) -> Rows:
        return cls(**data)


def rows_in(result: object) -> Rows:
    """The rows one ``load_`` call returned, by what they are (module docstring)."""
    if result is None:
        return Rows()
    if isinstance(result, StoredSnapshot):
        return Rows(memo=len(result.rows))
    if isinstance(result, InputState):
        return Rows(input=1)
    items: list[object]
    if isinstance(result, Mapping):
        items = list(result.values())
    elif isinstance(result, list | tuple | set | frozenset):
        items = list(result)
    else:
        return Rows(other=1)
    rows = Rows()
    for item in items:
        rows.add(_row(item))
    return rows


def _row(item: object) -> Rows:
    if isinstance(item, InputState):
        return Rows(input=1)
    if isinstance(item, bytes):
        return Rows(memo=1)
    if isinstance(item, tuple) and len(item) == 2 and all(isinstance(p, bytes) for p in item):
        return Rows(edge=1)
    return Rows(other=1)


def rows_written(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Rows:
    """The rows a write call carries to the store."""
    bound = dict(zip(_PARAMETERS[method], args, strict=False)) | kwargs
    rows = Rows()
    snapshot = bound.get("snapshot")
    if snapshot is not None:
        rows.memo += len(snapshot.upserts)
        rows.deleted += len(snapshot.deletes)
        rows.edge += _edges(snapshot)
    states = bound.get("input_updates", bound.get("input_states", ()))
    rows.input += len(states)
    if "state" in bound:
        rows.input += 1
    return rows


_PARAMETERS = {
    "commit_boundary": (
        "runtime_id",
        "snapshot",
        "run_id",
        "boundary",
        "contributing_inputs",
        "input_updates",
    ),
    "atomic_apply": ("runtime_id", "snapshot", "receipt", "input_updates"),
    "persist_input_state": ("runtime_id", "state"),
    "atomic_lifecycle_commit": ("runtime_id", "runtime_state", "input_states", "drop"),
}
"""The positional parameters of the writes, as ``RuntimeStore`` declares them."""


def _edges(snapshot: object) -> int:
    """Edges a delta carries: one per node id in ``reads`` (memo id -> node ids read).

    ``getattr``, so that the harness still runs on a checkout from before
    deltas had edges (a "before" figure of an older commit)."""
    reads = getattr(snapshot, "reads", None)
    return 0 if reads is None else sum(len(read) for read in reads.values())


class CountingStore:
    """A store that forwards everything to ``inner`` and counts rows loaded and written.

    ``phase`` names what the runtime is doing (the child sets it: ``open``,
    ``set``, ``read``, ``commit``); loaded rows are counted per phase, so a
    report can say whether a row came at opening or on demand.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.phase = "open"
        self.loaded: dict[str, Rows] = {}
        self.written = Rows()
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if not callable(found):
            return found
        if name.startswith("load_"):
            return self._counting_load(name, found)
        if name in WRITES:
            return self._counting_write(name, found)
        return found

    def _counting_load(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def load(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            self.calls[name] += 1
            if name not in NOT_ROWS:
                self.loaded.setdefault(self.phase, Rows()).add(rows_in(result))
            return result

        return load

    def _counting_write(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def write(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            self.calls[name] += 1
            self.written.add(rows_written(name, args, kwargs))
            return result

        return write

    def total_loaded(self) -> Rows:
        """Every row loaded, whatever the phase."""
        total = Rows()
        for rows in self.loaded.values():
            total.add(rows)
        return total
