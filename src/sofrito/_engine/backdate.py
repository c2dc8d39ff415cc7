"""Store a new result, keeping the old one when it is equal (early cutoff).

If a re-executed query produces a value equal to its previous value
(``output_eq``, default ``==``) or an error equal to its previous error
(``error_eq``; by default errors are never equal), the memo keeps its old
value object and its old ``changed_at``. Its dependents compare
``changed_at`` against their own ``verified_at``, so they see no change and
are not re-executed: the change stops here.

A comparison that raises counts as "changed": a wrong "equal" would serve
stale values, a wrong "changed" only costs a re-execution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from sofrito._engine import gathering, lru, rdeps
from sofrito._engine.memo import (
    ALWAYS_DIRTY,
    NEVER,
    NOT_HITTABLE,
    Cell,
    CellStatus,
    Encoded,
    Memo,
    value_of,
)

if TYPE_CHECKING:
    from sofrito._engine.memo import Node, Readers
    from sofrito._engine.state import Engine

__all__ = ["store"]

_STATIC: Final = 3


def store(  # noqa: PLR0912, PLR0915 (every execution ends here: a helper per part costs a call)
    engine: Engine,
    memo: Memo,
    value: Any,
    error: BaseException | None,
    deps: list[Node],
    *,
    restoring: bool,
) -> bool:
    """Record the outcome of an execution of ``memo`` at the current revision.

    Returns whether this was a change to report (``QueryChanged``): the value
    differs from a previous one, not a first computation, not a cutoff.

    It also takes the memo's durability and its pending mark from what it
    read. Its durability is the lowest of its reads'. A memo that read a
    pending cell, directly or through a memo that did, is ``ALWAYS_DIRTY``:
    verified in every revision, so that the cell's locator is asked again
    (``verify.walk`` does the same after a verification that found nothing
    changed).

    Every execution ends here, so the common comparison (a value against a
    plain old value with ``==``) is written out inline, not a call.
    """
    revision = engine.revisions.current
    if restoring:  # an evicted value, its reads known unchanged: nothing to compare with
        replace = not memo.has_value
        changed = False
    elif not memo.has_value:  # a first computation (no change to report), or after eviction
        replace = True
        changed = memo.verified_at != NEVER
        memo.changed_at = revision
    else:
        old = memo.value
        if error is None and memo.error is None and memo.spec.plain_eq and type(old) is not Encoded:
            try:
                same = old is value or bool(old == value)
            except Exception:  # a comparison that raises counts as a change
                same = False
        else:
            same = _same(engine, memo, value, error) and memo.has_value
        replace = changed = not same
        if changed:
            memo.changed_at = revision
    if replace:
        memo.value = value
        memo.error = error
        memo.traceback = error.__traceback__ if error is not None else None
        memo.has_value = True
    reads = tuple(deps)  # (Memo.deps: one allocation, the frame's list is dropped)
    old_deps = memo.deps
    if not old_deps:  # a first execution (W1: every memo): links to add, none to drop
        for dep in reads:  # rdeps.add_reader's common cases, written out
            readers = dep.rdeps
            grown: Readers
            if readers is None:
                grown = (memo,)
            elif isinstance(readers, dict):
                readers[memo] = None
                continue
            elif memo in readers:
                continue
            elif len(readers) < rdeps.SMALL:
                grown = readers + (memo,)  # noqa: RUF005 (unpacking builds a list first)
            else:
                rdeps.add_reader(dep, memo)  # a dict from now on
                continue
            if dep.rdeps is readers:  # compare-and-swap (rdeps.py)
                dep.rdeps = grown
            else:
                rdeps.add_reader(dep, memo)  # another thread was first: again
    elif old_deps != reads:  # nodes compare by identity: unequal unless the same reads
        rdeps.relink(memo, old_deps, reads)
    memo.deps = reads
    if engine.gathered:  # its gathers were recorded against the frame's list
        gathering.stored(engine, memo, deps, reads)
    if memo.stored_deps is not None:  # loaded on demand, executed before its stored
        memo.stored_deps = None  # reads were resolved: its new reads replace them
    lowest = _STATIC
    reads_pending = False
    for dep in reads:  # fields read where the type is known (see verify.walk)
        if type(dep) is Cell:
            if dep.status == CellStatus.PENDING:
                reads_pending = True
            if dep.durability < lowest:  # noqa: PLR1730 (min() would cost a call)
                lowest = dep.durability
        else:
            assert type(dep) is Memo
            if dep.dirty_at == ALWAYS_DIRTY:
                reads_pending = True
            if dep.durability < lowest:  # noqa: PLR1730 (min() would cost a call)
                lowest = dep.durability
    if lowest < memo.durability:  # frontier.py: a cut revision must not hide it from readers
        memo.lowered_at = revision
    memo.durability = lowest
    if reads_pending:
        memo.dirty_at = ALWAYS_DIRTY
    elif memo.dirty_at == ALWAYS_DIRTY:
        memo.dirty_at = revision
    journal = engine.journal
    if journal is not None and memo.spec.persist:
        journal.note_memo(memo, old_deps)
    memo.verified_at = revision
    memo.hit_at = revision if error is None else NOT_HITTABLE
    if memo.spec.lru is not None:
        lru.insert(engine, memo)
    return changed


def _same(engine: Engine, memo: Memo, value: Any, error: BaseException | None) -> bool:
    old_error = memo.error
    if (error is None) != (old_error is None):
        return False  # a value became an error or back: always a change
    spec = memo.spec
    try:
        if error is None:
            old = memo.value
            if type(old) is Encoded:
                old = value_of(memo)
            if spec.plain_eq:  # inlined: the common case costs no call
                return old is value or bool(old == value)
            return bool(spec.output_eq(old, value))
        error_eq = spec.error_eq or engine.error_eq
        return error_eq is not None and old_error is not None and bool(error_eq(old_error, error))
    except Exception:
        return False
