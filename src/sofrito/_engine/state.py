"""``Engine``: everything one runtime owns, as a plain record.

The algorithm's steps are functions over this record (``fetch``, ``verify``,
``execute``, ...), not methods, so each step can be read on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from sofrito._engine import frontier, hits
from sofrito._engine.cancel import WriteGate
from sofrito._engine.journal import Journal
from sofrito._engine.memo import DROPPED, NOT_HITTABLE, Memo
from sofrito._engine.revision import Revisions
from sofrito._events.broadcast import EventHub
from sofrito._events.kinds import QueryVerified
from sofrito._runtime_state import RuntimeState

if TYPE_CHECKING:
    from sofrito._engine.backing import Backing
    from sofrito._engine.frames import Frame
    from sofrito._engine.gathering import Gathered
    from sofrito._engine.lru import LruRing
    from sofrito._engine.memo import Cell, Node
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.trace import TraceSource
    from sofrito._events.kinds import Event
    from sofrito._events.watch import RevisionWatch
    from sofrito._inputs import Input

__all__ = ["NOT_USED", "Engine", "MemoTables"]


class MemoTables(dict["QuerySpec[Any]", dict[tuple[Any, ...], "Memo"]]):
    """Query spec → {key → memo}; the first use of a spec registers its name.

    ``__missing__`` keeps the registration off the hot path: the hot path
    indexes ``by_index`` directly and only a query's first use lands here.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self.by_index: list[dict[tuple[Any, ...], Memo]] = []
        """The same tables, at ``QuerySpec.index``: what the memo hit reads. A
        query this runtime has not used has ``NOT_USED`` there, or lies past
        the end; both send the hit to the cold path, which lands here. Indexes
        are never reused: a program that declares queries without end (in a
        loop) makes this list one slot (8 bytes) longer per query declared
        before the last one it uses."""

    def __missing__(self, spec: QuerySpec[Any]) -> dict[tuple[Any, ...], Memo]:
        self._engine.register_name(spec.name, spec)
        table: dict[tuple[Any, ...], Memo] = {}
        self[spec] = table
        by_index = self.by_index
        if len(by_index) <= spec.index:
            by_index.extend([NOT_USED] * (spec.index + 1 - len(by_index)))
        by_index[spec.index] = table
        hits.make_room(self._engine, spec)
        return table

    def clear(self) -> None:
        for table in self.values():
            for memo in table.values():
                memo.verified_at = DROPPED  # see fetch_top's ``seen``
                memo.hit_at = NOT_HITTABLE
                # Readers and reads link memos both ways: without the readers'
                # side, the dropped graph has no cycle, and reference counting
                # frees it now, not some collection later.
                memo.rdeps = None
        super().clear()
        self.by_index.clear()  # in place: runtimes and frames hold this list
        hits.forget_all(self._engine)
        frontier.forget_all(self._engine)


NOT_USED: Final[dict[tuple[Any, ...], Memo]] = {}
"""The hole in ``MemoTables.by_index`` for a query a runtime has not used:
empty, and never written (memos are stored through ``MemoTables[spec]``)."""


class Engine:
    """The shared state of one runtime.

    Only the engine's own modules write these fields. The runtime facade and
    the persistence layer read them, and change them through the engine's
    declared calls: ``restore.py`` (install restored records, discard, catch
    up, forget, clear), ``journal.py`` (what a commit writes), ``write.py``
    (writes, revisions, the lifecycle state). The engine holds no reference to
    the runtime facade: a top-level call hands in its ``db`` (``frames.Task``).
    """

    def __init__(
        self,
        *,
        runtime_id: str = "default",
        error_eq: Callable[[BaseException, BaseException], object] | None = None,
        journaled: bool = False,
    ) -> None:
        self.tables = MemoTables(self)
        self.tables_by_index = self.tables.by_index
        """``tables.by_index``, the same list: ``MemoTables`` subclasses ``dict``,
        so the compiled engine reads its attributes by name, and this one by offset."""
        self.hits: list[Any] = []
        """What a top-level call can return without entering the engine (``hits.py``)."""
        self.frontiers = frontier.Frontiers()
        """Which revisions' changes stopped at the memos that read them (``frontier.py``)."""
        self.cells: dict[Input, dict[tuple[Any, ...], Cell]] = {}
        self.revisions = Revisions()
        self.local = threading.local()
        """Per-thread state: its fields, and when each is set, are in ``local.py``."""
        self.gate = WriteGate(self.local)
        self.claims: dict[Memo, Frame] = {}
        """Memos being computed, and by whom (``sync.py``)."""
        self.lock = threading.Lock()
        """Guards memo claims and task waits (``sync.py``); never held while user code runs."""
        self.listening = False
        """Whether anyone receives events (``events.listening``, kept here): the
        engine does no event work at all while nobody does."""
        self.listening_verified = False
        """Whether anyone receives ``QueryVerified``, the most frequent event: a
        receiver may leave it out (``subscribe_events(verified=False)``), and
        while all do, none is built (``report.verified``)."""
        self.executions = 0
        """Executions begun (claimed) since the engine was made, bodies run or
        answered by a trace (``executions_traced``): a count, where events would
        name each one. A first build asks it instead of listening
        (``sofrito.cli.lastrun``)."""
        self.executions_traced = 0
        """Executions a trace answered instead of the body (``trace.py``)."""
        self.events: EventHub[Event] = EventHub(on_listening=self._set_listening)
        self.revision_watch: RevisionWatch | None = None
        """Created by the first ``subscribe_revisions``: until then writes publish nothing."""
        self.lrus: dict[QuerySpec[Any], LruRing] = {}
        self.pending_cells: dict[Cell, None] = {}
        self.deferred_writes: dict[Cell, tuple[int, Any, BaseException | None]] = {}
        """Locator results for cells that readers already saw pending (``inputs.py``)."""
        self.error_eq = error_eq
        """The runtime's default equality of cached errors (``error_eq=``)."""
        self.lifecycle = RuntimeState.IDLE
        """Changed only through ``write.set_lifecycle``."""
        self.runtime_id = runtime_id
        self.journal: Journal | None = Journal() if journaled else None
        """What changed since the last commit (``journal.py``); None without a store."""
        self.backing: Backing | None = None
        """Where records not in memory come from (``backing.py``); None: all are here."""
        self.traces: TraceSource | None = None
        """Traces to take instead of executing (``trace.py``); None: every execution runs
        its body (no store, or traces not enabled for reading)."""
        self.gathered: dict[Memo, list[tuple[Sequence[Node], list[Gathered]]]] = {}
        """Per memo, the reads its gathers made (``gathering.py``): which suspended
        dependency makes a deep walk execute the memo instead of suspending."""
        self._names: dict[str, object] = {}

    def register_name(self, name: str, owner: object) -> None:
        """Refuse two different inputs or queries under one name in this runtime."""
        known = self._names.setdefault(name, owner)
        if known is not owner:
            raise ValueError(
                f"two different inputs or queries are named {name!r} in one runtime: "
                f"{known!r} and {owner!r}; give one of them another name (name=...)"
            )

    def memo_for(self, spec: QuerySpec[Any], key: tuple[Any, ...]) -> Memo:
        table = self.tables[spec]
        try:
            memo = table.get(key)
        except TypeError:
            raise _unhashable(spec, key) from None
        if memo is None:
            backing = self.backing
            if backing is not None:  # loading on demand: the stored memo, if any
                memo = backing.memo(spec, key)
                if memo is not None:
                    return memo
            memo = table.setdefault(key, Memo(spec, key))
        return memo

    def _set_listening(self, listening: bool) -> None:
        self.listening = listening
        self.listening_verified = listening and self.events.wants(QueryVerified)


def _unhashable(spec: QuerySpec[Any], key: tuple[Any, ...]) -> TypeError:
    for index, part in enumerate(key):
        try:
            hash(part)
        except TypeError:
            return TypeError(
                f"{spec.name}: key part {index} has type {type(part).__name__!r}, which is "
                f"not hashable; query keys must be hashable (use a tuple or frozenset)"
            )
    return TypeError(f"{spec.name}: key {key!r} is not hashable")
