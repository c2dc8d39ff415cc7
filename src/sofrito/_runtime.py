"""``Runtime``: the database a program writes inputs to and reads queries from.

The runtime is a thin shell over the engine (``sofrito._engine``): each method
checks its arguments, names what is wrong when they are wrong, and calls one
engine step. What the entry points that ``@sf.query`` generates read from a
runtime (``_hits``, ``_tables``, ``_revisions``, ``_fetch_cold``) is
declared once, by ``sofrito._engine.handle.Db``, which a query's ``db`` also
follows; they are plain attributes holding the engine's own records, so the
hit reads them without a call. The runtime owns none of the engine's state
and writes none of it: it calls the engine's steps (``write``, ``restore``,
``fetch``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from sofrito import _gather
from sofrito import _lifecycle as lifecycle
from sofrito._codec import codec_named
from sofrito._durability import Durability
from sofrito._engine import fetch, inputs, lru, restore, suspense, write
from sofrito._engine.memo import Cell, CellStatus, Memo
from sofrito._engine.state import Engine
from sofrito._engine.write import CellWrite
from sofrito._entry_points import keyed_call, keyed_split
from sofrito._events.broadcast import EventReceiver
from sofrito._events.kinds import Event, QueryVerified
from sofrito._events.watch import RevisionReceiver
from sofrito._inputs import Input, InputRef, ref_of
from sofrito._persistence import Persistence
from sofrito._queries import spec_of
from sofrito.stores import Receipt, RuntimeState, RuntimeStore
from sofrito.stores.traces import Traces

if TYPE_CHECKING:
    from sofrito._engine.handle import Db
    from sofrito._queries import Query, QuerySpec
    from sofrito.executors import Executor

__all__ = ["Polled", "Runtime"]

T = TypeVar("T")
ErrorEq = Callable[[BaseException, BaseException], object]


@dataclass(frozen=True, slots=True)
class Polled(Generic[T]):
    """The value of a query and the revision at which it last changed."""

    value: T
    changed_at: int
    since: int | None = None

    @property
    def changed(self) -> bool:
        """Whether the value changed after ``since`` (always True without ``since``)."""
        return self.since is None or self.changed_at > self.since


class Runtime:
    """Holds inputs and memoized query results, and keeps them consistent.

    Safe to use from many threads at once: reads run in parallel, a
    computation runs once however many threads ask for it, and a write
    cancels and waits for computations in flight before it changes anything.
    """

    def __init__(
        self,
        *,
        store: RuntimeStore | None = None,
        runtime_id: str = "default",
        on_corrupt: Literal["fail", "cold"] = "fail",
        secret: bytes | str | None = None,
        codec: Literal["pickle", "safe"] = "pickle",
        error_eq: ErrorEq | None = None,
        load: bool = True,
        executor: Executor | None = None,
        traces: Traces | None = None,
    ) -> None:
        """Options:

        - ``store``: where committed state lives (``sofrito.stores``); opening
          restores the last committed revision, inputs and memos.
        - ``runtime_id``: which logical runtime of the store this is.
        - ``on_corrupt``: ``"fail"`` raises ``CorruptSnapshot`` for damaged
          stored state; ``"cold"`` logs a warning, drops that runtime's stored
          state (moving a file that is not a store aside) and starts at 0.
        - ``secret``: authenticate stored rows with an HMAC; rows that do not
          verify are refused before anything is decoded.
        - ``codec``: ``"pickle"`` (any value; trusts the store) or ``"safe"``
          (plain data; never runs code). See docs/persistence.md.
        - ``error_eq``: the default equality of cached errors for queries that
          set none (by default errors never compare equal).
        - ``load``: ``False`` creates the runtime without reading its store,
          so that receivers can subscribe first; ``rt.load()`` then restores
          (and they see its ``RevisionSet``). Until then the runtime refuses
          reads and writes.
        - ``executor``: what computes the independent keys of ``sf.gather``
          and ``rt.query_many`` ahead of the gathering thread
          (``sofrito.executors.Threads(n)``); None: the gathering thread alone.
        - ``traces``: share memos by content with the other runtimes of the store
          (``sofrito.stores.Traces(secret, publish=..., read=...)``): a query
          about to execute takes a published trace whose reads match instead.
          See docs/persistence.md, "Traces: sharing by content".
        """
        self.executor = executor
        """The executor of ``sf.gather`` and ``rt.query_many`` (``sofrito.executors``)."""
        self._engine = Engine(runtime_id=runtime_id, error_eq=error_eq, journaled=store is not None)
        self._hits = self._engine.hits
        self._tables = self._engine.tables_by_index
        self._revisions = self._engine.revisions
        """The engine's revision record: ``revision`` reads it, so does an ``lru`` entry point."""
        self._fetch_cold: Callable[[QuerySpec[Any], tuple[Any, ...], Memo | None], Any] = (
            functools.partial(fetch.fetch_top, self._engine, self)
        )
        """What the generated entry point calls on a miss (a C-level partial: no frame)."""
        self._persistence: Persistence | None = None
        if on_corrupt not in ("fail", "cold"):
            raise ValueError(f"on_corrupt must be 'fail' or 'cold', got {on_corrupt!r}")
        self._cold = on_corrupt == "cold"
        if store is None:
            if traces is not None:
                raise ValueError("traces= needs a store: traces are kept in the store")
            if not load:
                raise ValueError("load=False needs a store: without one there is nothing to load")
            return
        self._persistence = Persistence(
            self._engine, store, runtime_id, codec_named(codec), secret, traces
        )
        if load:
            lifecycle.open_runtime(self, self._persistence, cold=self._cold)
        else:
            lifecycle.defer_open(self)

    def load(self) -> None:
        """Restore the runtime from its store, for a runtime made with ``load=False``.

        Subscribe first (``subscribe_events``, ``subscribe_revisions``), then
        load: the receivers see the ``RevisionSet`` of the stored revision.
        """
        lifecycle.open_deferred(self, self._require_store("load"), cold=self._cold)

    # -- revisions -------------------------------------------------------------

    @property
    def revision(self) -> int:
        """The current revision: 0 at first, one more per effective write or batch."""
        return self._revisions.current

    def bump_revision(self) -> None:
        """Start a new revision without changing any input."""
        write.bump_revision(self._engine)

    def set_current_revision(self, revision: int) -> None:
        """Jump to ``revision`` (loading a snapshot does this). Never backwards."""
        write.set_current_revision(self._engine, revision)

    # -- inputs ----------------------------------------------------------------

    def set(
        self,
        target: Input | InputRef,
        value: Any,
        *,
        durability: Durability | None = None,
        durable: bool = False,
    ) -> None:
        """Set an input cell. An equal value with the same durability changes nothing."""
        ref = ref_of(target)
        level = ref.input.durability if durability is None else Durability(durability)
        self._write(ref, CellWrite(CellStatus.READY, value, None, int(level)))
        if durable:
            cell = inputs.cell_for(self._engine, ref.input, ref.key)
            self._require_store("set(..., durable=True)").persist_now(cell)

    def remove(self, target: Input | InputRef) -> None:
        """Remove an input cell; readers suspend until it is set again."""
        ref = ref_of(target)
        engine = self._engine
        engine.gate.refuse_inside_computation()
        if engine.backing is not None:  # the cell may be stored, not loaded yet
            cell: Cell | None = inputs.cell_for(engine, ref.input, ref.key)
        else:
            cell = engine.cells.get(ref.input, {}).get(ref.key)
        if cell is None or cell.status == CellStatus.PENDING:
            return  # never set, or already removed: nothing to do
        self._write(ref, CellWrite(CellStatus.PENDING, None, None, cell.durability))

    def resolve(
        self, target: Input | InputRef, value: Any, *, durability: Durability | None = None
    ) -> None:
        """Give a pending cell its value (the same as ``set``)."""
        self.set(target, value, durability=durability)

    def resolve_error(self, target: Input | InputRef, error: BaseException) -> None:
        """Resolve a cell to an error: its readers see ``error``, cached like a user error."""
        if not isinstance(error, Exception):
            raise TypeError(f"resolve_error takes an exception instance, got {error!r}")
        ref = ref_of(target)
        cell = inputs.cell_for(self._engine, ref.input, ref.key)
        self._write(ref, CellWrite(CellStatus.FAILED, None, error, cell.durability))

    def invalidate(self, target: Input | InputRef) -> None:
        """Put a cell back to pending: its locator is asked again on the next read."""
        ref = ref_of(target)
        cell = inputs.cell_for(self._engine, ref.input, ref.key)
        self._write(ref, CellWrite(CellStatus.PENDING, None, None, cell.durability))

    def _write(self, ref: InputRef, change: CellWrite) -> None:
        write.write_cell(self._engine, ref.input, ref.key, change)

    def get(self, target: Input | InputRef) -> Any:
        """Read a cell without recording a dependency; ``Suspend`` if it has no value."""
        ref = ref_of(target)
        write.refuse_until_loaded(self._engine, "read")
        gate = self._engine.gate
        gate.enter_read()
        try:
            return inputs.read_untracked(self._engine, ref.input, ref.key)
        finally:
            gate.exit_read()
            write.apply_deferred(self._engine)

    def _read_input(self, input: Input, key: tuple[Any, ...]) -> Any:
        return self.get(input.ref(key))

    def _read_keys(self, input: Input) -> tuple[tuple[Any, ...], ...]:
        gate = self._engine.gate
        gate.enter_read()
        try:
            return inputs.keys_untracked(self._engine, input)
        finally:
            gate.exit_read()

    def _cell_for_state(self, input: Input, key: tuple[Any, ...]) -> Cell:
        gate = self._engine.gate
        gate.enter_read()
        try:
            return inputs.state_untracked(self._engine, input, key)
        finally:
            gate.exit_read()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group several writes into one revision bump."""
        with write.batch(self._engine):
            yield

    def pending(self, input: Input | None = None) -> list[InputRef]:
        """Cells that were read while they had no value and still have none."""
        refs = []
        for cell in list(self._engine.pending_cells):
            if cell.status != CellStatus.PENDING:
                continue
            if input is None or cell.input is input:
                refs.append(cell.input.ref(cell.key))
        return refs

    # -- queries ---------------------------------------------------------------

    def query(self, q: Query[..., T], *key: Any, retry: bool = True) -> T:
        """Compute ``q(*key)`` at the current revision (the same as ``q(rt, *key)``).

        With ``retry=False`` a computation cancelled by a concurrent write
        raises ``sf.Cancelled`` instead of being retried.
        """
        spec = spec_of(q)
        if retry:
            return q(self, *key)
        if spec.keys is not None:  # the key is some of the arguments
            return keyed_call(self, spec, key, retry=False)  # type: ignore[no-any-return]
        write.refuse_until_loaded(self._engine, "read")
        if spec.arity is not None and len(key) != spec.arity:  # as q(self, *key) would
            raise TypeError(
                f"{spec.label}() takes a key of {spec.arity} part(s), "
                f"{len(key)} were given: {spec.describe(key)}"
            )
        return fetch.fetch_top(self._engine, self, spec, key, retry=False)  # type: ignore[no-any-return]

    def poll(self, q: Query[..., T], *key: Any, since: int | None = None) -> Polled[T]:
        """Compute ``q(*key)`` and say whether it changed after revision ``since``."""
        spec = spec_of(q)
        value = q(self, *key)
        if spec.keys is not None:  # the key is some of the arguments
            key = keyed_split(spec, key)[0]
        memo = self._engine.memo_for(spec, key)
        return Polled(value, memo.changed_at, since)

    def query_many(
        self, q: Query[..., T], keys: Iterable[tuple[Any, ...]], executor: Executor | None = None
    ) -> list[T]:
        """``[q(rt, *key) for key in keys]``, the keys declared independent.

        ``executor`` (default: the runtime's, ``sf.Runtime(executor=...)``)
        computes keys ahead on its threads. When keys suspend, one
        ``sf.Suspend`` lists the pending refs of all of them; otherwise the
        values, or the first error in key order, are the loop's. Inside a
        query use ``sf.gather(db, q, keys)``, which also records the
        dependencies. Each key is a top-level call, as in the loop: a write
        from another thread meanwhile may come between two keys.
        """
        return _gather.gather_top(self, q, keys, executor)

    async def aquery(self, q: Query[..., T], *key: Any, concurrency: int = 16) -> T:
        """Compute ``q(*key)``, awaiting the async locators of the inputs it waits for.

        The query runs on a worker thread, so the event loop stays free. Each
        time it suspends, the async locators of its pending inputs run
        concurrently (at most ``concurrency`` at once), their values are
        resolved in one batch, and the query is tried again, until it
        completes. It raises ``sf.Suspend`` when what is pending has no async
        locator to wait for; a locator's exception is cached for its cell (as
        ``resolve_error`` does) and reaches the caller through the query, with
        a note naming the cell.
        """
        return await suspense.drive(self, q, key, concurrency)

    def _lru_touch(self, memo: Memo) -> None:
        lru.touch(self._engine, memo)

    def clear_cache(self) -> None:
        """Drop every memo; inputs stay. The next reads recompute.

        On a store, the next ``commit()`` replaces the stored memos with what
        was computed since (docs/persistence.md).
        """
        with self._engine.gate.write():
            restore.clear_memos(self._engine)

    # -- events ----------------------------------------------------------------

    def subscribe_revisions(self) -> RevisionReceiver:
        """A watch on the revision: ``.current``, ``.changed(timeout)``, ``await .achanged()``."""
        return write.revision_watch(self._engine).subscribe()

    def subscribe_events(
        self, capacity: int = 1024, *, verified: bool = True
    ) -> EventReceiver[Event]:
        """A receiver of every event from now on, holding at most ``capacity`` unread.

        ``verified=False`` leaves out ``QueryVerified``, the most frequent event
        (a memo found valid without executing): while no receiver takes it, the
        runtime does not build it (docs/events.md)."""
        return self._engine.events.subscribe(capacity, skip=() if verified else (QueryVerified,))

    # -- durable state ---------------------------------------------------------

    def commit(self, boundary: str = "commit", *, strict: bool = False) -> Receipt:
        """End a run: write what executed and what was set since the last commit,
        with a receipt, in one atomic boundary; return the receipt.

        A memo whose value cannot be encoded is left out, with one
        ``sofrito.stores.UnstoredValueWarning`` per query and key; ``strict=True``
        raises ``StoreError`` instead and writes nothing. ``sofrito.stores.Conflict``
        (nothing written) if another process or runtime object wrote this
        runtime since this one opened or last wrote: open it again and rerun.
        """
        return self._require_store("commit").commit(boundary, strict=strict)

    @property
    def state(self) -> RuntimeState:
        """The lifecycle state: idle until retired, stopped or destroyed."""
        return self._engine.lifecycle

    def retire(self) -> None:
        """Take no new writes; keep all state (reads still work)."""
        lifecycle.transition(self, RuntimeState.RETIRED)

    def stop(self) -> None:
        """Take no new writes: the runtime is shut down (its store state is kept).
        Works on an idle or a retired runtime."""
        lifecycle.transition(self, RuntimeState.STOPPED)

    def reset(self) -> None:
        """Drop every memo and input, here and in the store; keep the identity.

        Starts over: a retired or stopped runtime is idle again after it."""
        lifecycle.reset(self)

    def destroy(self) -> None:
        """Remove everything of this runtime from its store; no further writes.
        Works in any state but destroyed."""
        lifecycle.transition(self, RuntimeState.DESTROYED)

    def _require_store(self, action: str) -> Persistence:
        if self._persistence is None:
            raise RuntimeError(
                f"cannot {action}: this runtime has no store; "
                "create it with sf.Runtime(store=..., runtime_id=...)"
            )
        return self._persistence

    def __repr__(self) -> str:
        return f"<sofrito.Runtime revision={self._revisions.current}>"


if TYPE_CHECKING:
    _a_runtime_is_a_db: type[Db] = Runtime  # what the entry points read (handle.py)

Runtime.__module__ = "sofrito"
Polled.__module__ = "sofrito"
