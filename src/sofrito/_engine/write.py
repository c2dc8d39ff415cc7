"""Writes: change cells, bump the revision once, push dirty marks, report.

Every write goes through the write gate (``cancel.py``): computations in
flight are cancelled and waited for before anything changes. A write that
would change nothing (an equal value with the same durability, removing an
absent cell) is dropped before it takes the gate, so it cancels nothing and
bumps nothing.

Inside ``rt.batch()`` the gate is taken at the first write and held until the
batch ends, and the revision is bumped once, at the first write that changes
something.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sofrito._durability import Durability
from sofrito._engine import frontier, hits, listing, rdeps
from sofrito._engine.inputs import cell_for
from sofrito._engine.local import Batch, open_batch
from sofrito._engine.memo import NEVER, Cell, CellStatus
from sofrito._engine.refs import cell_ref
from sofrito._events.kinds import InputRemoved, InputSet, RevisionBumped, RevisionSet
from sofrito._events.watch import RevisionWatch
from sofrito._runtime_state import RuntimeState

if TYPE_CHECKING:
    from sofrito._engine.state import Engine
    from sofrito._inputs import Input

__all__ = [
    "CellWrite",
    "apply_deferred",
    "batch",
    "bump_revision",
    "revision_watch",
    "set_current_revision",
    "set_lifecycle",
    "write_cell",
]


class CellWrite:
    """The new state of one cell."""

    __slots__ = ("by_locator", "durability", "error", "status", "value")

    def __init__(
        self,
        status: int,
        value: Any,
        error: BaseException | None,
        durability: int,
        by_locator: bool = False,
    ) -> None:
        self.status = status
        self.value = value
        self.error = error
        self.durability = durability
        self.by_locator = by_locator
        """A locator's result (``apply_deferred``): it does not list the key (``listing.py``)."""

    def changes(self, cell: Cell) -> bool:
        if self.status != cell.status or self.durability != cell.durability:
            return True
        if self.status == CellStatus.READY:
            return not _equal(cell.value, self.value)
        if self.status == CellStatus.FAILED:
            return cell.error is not self.error
        return cell.status != CellStatus.PENDING  # a cell with a value (or error) goes pending


def _equal(old: Any, new: Any) -> bool:
    if old is new:
        return True
    try:
        return bool(old == new)
    except Exception:
        return False


@contextmanager
def batch(engine: Engine) -> Iterator[None]:
    """Group writes into one revision bump; the gate is held from the first write."""
    local = engine.local
    current = open_batch(local)
    if current is None:
        current = local.batch = Batch()
    current.depth += 1
    try:
        yield
    finally:
        current.depth -= 1
        if not current.depth:
            local.batch = None
            current.resources.close()


_REFUSING = frozenset({RuntimeState.RETIRED, RuntimeState.STOPPED, RuntimeState.DESTROYED})


def refuse_until_loaded(engine: Engine, action: str) -> None:
    """A runtime made with ``load=False`` neither reads nor writes before ``rt.load()``."""
    if engine.lifecycle is RuntimeState.INITIALIZING:
        raise RuntimeError(
            f"cannot {action} runtime {engine.runtime_id!r}: it is not loaded yet "
            "(made with load=False); call rt.load() first"
        )


def refuse_if_closed(engine: Engine, action: str = "write to") -> None:
    refuse_until_loaded(engine, action)
    if engine.lifecycle in _REFUSING:
        raise RuntimeError(
            f"cannot {action} runtime {engine.runtime_id!r}: it is {engine.lifecycle.value} "
            "and takes no new writes"
        )


def set_lifecycle(engine: Engine, state: RuntimeState) -> None:
    """Move the runtime to ``state`` (``_lifecycle.py`` decides which moves are
    allowed and stores them); the refusals above read it."""
    engine.lifecycle = state


@contextmanager
def _writing(engine: Engine) -> Iterator[Batch | None]:
    refuse_if_closed(engine)
    current = open_batch(engine.local)
    if current is not None:
        if not engine.gate.holds_write():
            current.resources.enter_context(engine.gate.write())
        yield current
        return
    with engine.gate.write():
        yield None


def write_cell(engine: Engine, input: Input, key: tuple[Any, ...], change: CellWrite) -> bool:
    """Apply ``change`` to ``input[key]``; False if it changed nothing."""
    engine.gate.refuse_inside_computation()
    cell = cell_for(engine, input, key)
    if not change.changes(cell):
        return False
    current: Batch | None = getattr(engine.local, "batch", None)  # local.open_batch, written
    # out: every write asks
    if current is not None and current.bumped and engine.gate.holds_write():
        # A batch that holds the gate and has bumped already (its every later
        # write): nothing to take, nothing to bump, no context manager to enter.
        refuse_if_closed(engine)
        _apply(engine, cell, change)
        return True
    if current is None:  # a single write, the common case: no context manager
        refuse_if_closed(engine)
        gate = engine.gate
        gate.acquire_write()
        try:
            if not change.changes(cell):  # another writer got there first
                return False
            _bump(engine)
            _apply(engine, cell, change)
        finally:
            gate.release_write()
        return True
    with _writing(engine) as held:
        if not change.changes(cell):  # another writer got there first
            return False
        if held is None or not held.bumped:
            _bump(engine)
            if held is not None:
                held.bumped = True
        _apply(engine, cell, change)
    return True


def _apply(engine: Engine, cell: Cell, change: CellWrite) -> None:
    backing = engine.backing
    if backing is not None:  # its stored readers first, so the walk below marks them
        backing.readers(cell)
    was_listed = cell.status != CellStatus.PENDING
    revision = engine.revisions.current
    engine.revisions.record_change(max(cell.durability, change.durability))
    cell.status = change.status
    cell.value = change.value
    cell.error = change.error
    cell.durability = change.durability
    cell.changed_at = revision
    cell.locator_asked_at = NEVER
    cell.seen_loading = False
    if engine.journal is not None:
        engine.journal.cells.add(cell)
    listing_node = (
        None
        if change.by_locator
        else listing.changed(engine, cell, change.status != CellStatus.PENDING, was_listed)
    )
    engine.deferred_writes.pop(cell, None)
    if change.status == CellStatus.PENDING:
        if cell.rdeps:
            engine.pending_cells.setdefault(cell, None)
    else:
        engine.pending_cells.pop(cell, None)
    frontier.record(engine, cell, revision)
    if listing_node is not None and listing_node.rdeps:  # a key joined or left: its readers
        frontier.record(engine, listing_node, revision)
    if engine.listening:
        try:
            _report_write(engine, cell, change, revision)
        except TypeError:
            # The cell's key has no canonical encoding, so no event can name it.
            # The write is done: its dependents must still be marked, or they
            # would be served stale. Then the error names the cell.
            rdeps.mark_dependents(engine, cell, revision, listing_node)
            raise
    rdeps.invalidate_dependents(engine, cell, revision, listing_node)


def _report_write(engine: Engine, cell: Cell, change: CellWrite, revision: int) -> None:
    hub = engine.events
    ref = cell_ref(cell)
    if change.status == CellStatus.PENDING:
        hub.publish(InputRemoved(ref, revision))
    else:
        hub.publish(InputSet(ref, revision, Durability(change.durability)))


def _bump(engine: Engine) -> None:
    _move_to(engine, engine.revisions.current + 1)
    frontier.open_revision(engine, engine.revisions.current)
    if engine.listening:
        engine.events.publish(RevisionBumped(engine.revisions.current))


def _move_to(engine: Engine, revision: int) -> None:
    hits.forget_all(engine)
    engine.revisions.current = revision  # the runtime's ``revision`` reads it there
    watch = engine.revision_watch
    if watch is not None:
        watch.publish(revision)


def revision_watch(engine: Engine) -> RevisionWatch:
    """The runtime's revision watch, made on first use: until then writes publish nothing."""
    with engine.lock:
        watch = engine.revision_watch
        if watch is None:
            watch = engine.revision_watch = RevisionWatch(engine.revisions.current)
    # A write on another thread may have moved the revision after the watch
    # read it but before the write looked for a watch: publish the revision
    # again (publishing never goes back, so a late one undoes nothing).
    watch.publish(engine.revisions.current)
    return watch


def bump_revision(engine: Engine) -> None:
    """A new revision with no input change (it still cancels computations in flight)."""
    with _writing(engine) as held:
        if held is None or not held.bumped:
            _bump(engine)
            if held is not None:
                held.bumped = True


def set_current_revision(engine: Engine, revision: int, *, force: bool = False) -> None:
    """Jump to ``revision`` (what loading a snapshot does); revisions never go back.

    ``force``: a restore, which may happen on a runtime that refuses writes.
    """
    if revision < engine.revisions.current:
        raise ValueError(
            f"cannot set the revision to {revision}: the runtime is already at "
            f"{engine.revisions.current} and revisions never go backwards"
        )
    with engine.gate.write() if force else _writing(engine):
        _move_to(engine, revision)
        frontier.jump(engine, revision)
        if engine.listening:
            engine.events.publish(RevisionSet(revision))


def apply_deferred(engine: Engine) -> None:
    """Apply locator results that could not be applied quietly (``inputs.py``)."""
    deferred = engine.deferred_writes
    if not deferred or engine.gate.inside_computation() or engine.gate.holds_write():
        return
    with batch(engine):
        while deferred:
            try:
                cell, (status, value, error) = deferred.popitem()
            except KeyError:
                break
            change = CellWrite(status, value, error, cell.durability, by_locator=True)
            write_cell(engine, cell.input, cell.key, change)
