"""Reading input cells, tracked (inside a query) or not (``rt.get``).

A cell that was never set is *unresolved*. If its input has a locator, the
first read asks the locator: a value resolves the cell on the spot, without
a revision bump, as if it had always been there; ``PENDING`` leaves it
pending until the next revision; ``NotFound`` becomes ``MissingDependency``
(asked again next time); any other exception is cached on the cell, like
``rt.resolve_error``. A read of a pending cell suspends the reading query.

A system error that escapes a locator (``CycleError`` from a locator that
reads its own cell, ``Suspend`` from one that reads a pending cell,
``Cancelled``, ``MissingDependency``) is never cached: it says nothing about
the cell's value, only about the moment the locator ran, so the cell stays
unresolved and the locator is asked again on the next read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sofrito._engine import listing
from sofrito._engine.local import locating
from sofrito._engine.memo import NEVER, Cell, CellStatus
from sofrito._errors import (
    Cancelled,
    CycleError,
    MissingDependency,
    NotFound,
    QueryError,
    Suspend,
)
from sofrito._inputs import PENDING

if TYPE_CHECKING:
    from sofrito._engine.frames import Frame
    from sofrito._engine.state import Engine
    from sofrito._inputs import Input

__all__ = [
    "cell_for",
    "keys_tracked",
    "keys_untracked",
    "locate",
    "read_tracked",
    "read_untracked",
    "state_tracked",
    "state_untracked",
]


def cell_for(engine: Engine, input: Input, key: tuple[Any, ...]) -> Cell:
    table = engine.cells.get(input)
    backing = engine.backing
    if table is None:
        engine.register_name(input.name, input)
        # With a backing, the family may have stored cells: its listing is
        # made when first read, from them (``listing.listing_for``).
        table = engine.cells.setdefault(input, listing.new_table(input) if backing is None else {})
    try:
        cell = table.get(key)
    except TypeError:
        raise _unhashable(input, key) from None
    if cell is None:
        if backing is not None:  # loading on demand: the stored cell, if any
            cell = backing.cell(input, key)
            if cell is not None:
                return cell
        cell = table.setdefault(key, Cell(input, key, int(input.durability)))
    return cell


def read_tracked(engine: Engine, frame: Frame, input: Input, key: tuple[Any, ...]) -> Any:
    cell = _record_read(engine, frame, input, key)
    status = cell.status
    if status == CellStatus.READY:
        return cell.value
    if status == CellStatus.FAILED:
        assert cell.error is not None
        raise cell.error
    raise frame.fail(_suspend(engine, cell, frame))


def state_tracked(engine: Engine, frame: Frame, input: Input, key: tuple[Any, ...]) -> Cell:
    """Record a read of the cell for ``sf.state``; a pending cell does not suspend."""
    cell = _record_read(engine, frame, input, key)
    if cell.status == CellStatus.PENDING:
        cell.seen_loading = True
        engine.pending_cells[cell] = None
    return cell


def state_untracked(engine: Engine, input: Input, key: tuple[Any, ...]) -> Cell:
    """``sf.state(rt, ...)``: the cell, located if unresolved; a pending one is
    listed by ``rt.pending()``."""
    cell = cell_for(engine, input, key)
    locate(engine, cell)
    if cell.status == CellStatus.PENDING:
        engine.pending_cells[cell] = None
    return cell


def _record_read(engine: Engine, frame: Frame, input: Input, key: tuple[Any, ...]) -> Cell:
    """The cell ``frame`` reads, located if unresolved, recorded as a dependency."""
    if engine.gate.cancel_requested:
        raise frame.fail(Cancelled())
    if frame.finished:
        raise frame.kept()
    cell = cell_for(engine, input, key)
    if cell.status != CellStatus.READY:
        try:
            locate(engine, cell)
        except QueryError as exc:  # whatever the locator met: this frame's result is void
            raise frame.fail(exc) from None
    frame.record(cell)
    return cell


def keys_tracked(engine: Engine, frame: Frame, input: Input) -> tuple[tuple[Any, ...], ...]:
    """``input.keys(db)`` inside a query: a read of the family's listing node."""
    if engine.gate.cancel_requested:
        raise frame.fail(Cancelled())
    if frame.finished:
        raise frame.kept()
    node = listing.listing_for(engine, input)
    frame.record(node)
    return listing.key_set(node).listed()


def keys_untracked(engine: Engine, input: Input) -> tuple[tuple[Any, ...], ...]:
    """``input.keys(rt)``: the listing now, recorded nowhere."""
    return listing.key_set(listing.listing_for(engine, input)).listed()


def read_untracked(engine: Engine, input: Input, key: tuple[Any, ...]) -> Any:
    cell = cell_for(engine, input, key)
    if cell.status != CellStatus.READY:
        locate(engine, cell)
    if cell.status == CellStatus.READY:
        return cell.value
    if cell.status == CellStatus.FAILED:
        assert cell.error is not None
        raise cell.error
    engine.pending_cells[cell] = None
    raise Suspend([cell_ref_public(cell)])


def _suspend(engine: Engine, cell: Cell, frame: Frame) -> Suspend:
    ref = cell_ref_public(cell)
    engine.pending_cells[cell] = None
    frame.task.pending[ref] = None
    return Suspend([ref])


def cell_ref_public(cell: Cell) -> Any:
    """The user-facing ref of a cell: ``input[key]``."""
    return cell.input.ref(cell.key)


def locate(engine: Engine, cell: Cell) -> None:
    """Ask the cell's locator for a value, at most once per revision while pending."""
    input = cell.input
    locator = input.locator
    revision = engine.revisions.current
    if locator is None or cell.status != CellStatus.PENDING or input.is_async:
        return
    if cell.locator_asked_at == revision:
        return
    running = locating(engine.local)
    if cell in running:
        raise CycleError([cell_ref_public(cell)])
    running.add(cell)
    try:
        result = locator(*cell.key)
    except NotFound as exc:
        raise MissingDependency(cell_ref_public(cell), exc) from None
    except QueryError:
        raise  # a system error: about this attempt, not the cell (module docstring)
    except Exception as exc:
        _settle_quietly(engine, cell, CellStatus.FAILED, None, exc)
        return
    finally:
        running.discard(cell)
    if result is PENDING:
        cell.locator_asked_at = revision
    else:
        _settle_quietly(engine, cell, CellStatus.READY, result, None)


def _settle_quietly(
    engine: Engine, cell: Cell, status: int, value: Any, error: BaseException | None
) -> None:
    """Resolve a cell from its locator.

    Unless a query has cached what it saw of the cell pending, the value is
    simply there, as if it had always been: no revision bump. Once a query
    has seen the cell loading (through ``sf.state``), resolving it quietly
    would leave that query stale, so the value becomes a write instead,
    applied when the current top-level call ends; until then the cell stays
    pending.
    """
    if cell.seen_loading:
        cell.locator_asked_at = engine.revisions.current
        engine.deferred_writes[cell] = (status, value, error)
        return
    cell.value = value
    cell.error = error
    cell.status = status
    if engine.journal is not None:
        engine.journal.cells.add(cell)
    cell.locator_asked_at = NEVER
    cell.changed_at = engine.revisions.current
    engine.pending_cells.pop(cell, None)


def _unhashable(input: Input, key: tuple[Any, ...]) -> TypeError:
    return TypeError(
        f"input {input.name!r}: key {key!r} is not hashable; "
        "input keys must be hashable (use a tuple or frozenset)"
    )
