"""Is a memo still valid at the current revision? Cheapest answer first.

1. Durability: no input at or above the memo's durability changed since it
   was verified.
2. Dirty marks: no write reached this memo through the reverse-dependency
   graph since it was verified (``rdeps.py`` pushes the marks on write).
3. Cut revisions: every write since it was verified stopped at the memos
   that read the written cell, which came out equal (``frontier.py``).
4. Deep verify: walk the dependencies in the order they were read; a cell
   changed if its ``changed_at`` is after the memo's ``verified_at``; a memo
   dependency is first brought up to date (verified, or re-executed with early
   cutoff) and then compared the same way.

The deep walk recurses, one frame per memo level (an explicit stack of
``(memo, position)`` pairs cost W4 about a third more), and moves to a
fresh thread stack every ``WALK_LEVELS_PER_STACK`` levels, so a 10,000-level
chain verifies without touching Python's recursion limit. It only
re-executes a dependency it has proved changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NoReturn

from sofrito._engine import execute, frontier, gathering, inputs, report, stack
from sofrito._engine.memo import ALWAYS_DIRTY, NEVER, NOT_HITTABLE, Cell, CellStatus, Encoded, Memo
from sofrito._engine.sync import wait_for
from sofrito._errors import Suspend

if TYPE_CHECKING:
    from sofrito._engine.frames import Frame, Task
    from sofrito._engine.state import Engine

__all__ = ["is_valid", "mark_verified", "shallow_valid", "walk"]


def shallow_valid(engine: Engine, memo: Memo) -> bool:
    """Whether ``memo`` (computed, unclaimed) is valid now without looking at its
    reads: steps 1 to 3 of the module docstring. The one definition of the
    shallow check (salsa's ``shallow_verify_memo``).

    The paths every read takes write it out in place, each saying so, because
    a call per read is a tenth of a warm read: ``fetch.ensure``,
    ``Frame._fetch_cold`` (without step 3) and ``walk``. A change to the rule
    changes them too.
    """
    verified_at = memo.verified_at
    dirty_at = memo.dirty_at
    if dirty_at <= verified_at:  # no write reached it
        return True
    if dirty_at != ALWAYS_DIRTY and engine.revisions.unchanged_since(memo.durability, verified_at):
        return True  # nothing of its durability changed
    return frontier.covers(engine, verified_at, dirty_at)  # every write since was cut


def is_valid(engine: Engine, memo: Memo, frame: Frame | None, task: Task) -> bool:
    """Whether ``memo`` (computed, unclaimed) is valid now; marks it verified if so."""
    if shallow_valid(engine, memo):
        mark_verified(memo, engine.revisions.current)
        if engine.listening_verified:
            report.verified(engine, memo)
        return True
    return walk(engine, memo, frame, task, 1)


def mark_verified(memo: Memo, revision: int) -> None:
    memo.verified_at = revision
    hittable = memo.has_value and memo.error is None and type(memo.value) is not Encoded
    memo.hit_at = revision if hittable else NOT_HITTABLE


WALK_LEVELS_PER_STACK: Final = 200
"""Memo levels the walk recurses on one thread stack before it moves to a new one
(one Python frame per level; a query chain 40 levels deep uses about 300)."""


def walk(  # noqa: PLR0912, PLR0915 (one hot loop: a helper per branch would cost a call per read)
    engine: Engine, memo: Memo, frame: Frame | None, task: Task, level: int
) -> bool:
    """Check ``memo``'s reads in read order; True (and ``memo`` verified) if none changed.

    A memo read that a write may have reached is settled first: walked in
    turn, and re-executed if that walk finds a change (where early cutoff may
    still stop it). The walk recurses, one Python frame per memo level, which
    is the cheapest way to visit a graph in Python; every
    ``WALK_LEVELS_PER_STACK`` levels it continues on a fresh thread stack
    (``stack.py``), so a chain of any depth verifies without touching the
    recursion limit. While it scans, it gathers what ``backdate.store``
    would: the lowest durability read, and whether anything below reads a
    pending cell. After a read it had to walk, it asks whether settling it
    cut every revision that marked ``memo`` (``frontier.py``): then ``memo``
    is valid as it stands, as ``fetch.ensure`` finds before a walk, and the
    rest of its reads are not looked at.
    """
    if memo.stored_deps is not None:  # loaded on demand: its reads come first
        backing = engine.backing
        assert backing is not None
        backing.deps([memo])
        if memo.verified_at == NEVER:
            return False  # its stored row could not be trusted after all: it executes
    revision = engine.revisions.current
    last_changed = engine.revisions.last_changed
    verified_at = memo.verified_at
    lowest = _STATIC
    reads_pending = False
    # Each field is read in the branch that knows the node's type: compiled
    # (docs/concepts.md), a read through the ``Memo | Cell`` union is a lookup
    # by name, not a load.
    for dep in memo.deps:
        if type(dep) is Cell:
            if dep.status == CellStatus.PENDING:
                inputs.locate(engine, dep)  # a pending read: ask its locator again
                reads_pending = dep.status == CellStatus.PENDING or reads_pending
            if dep.changed_at > verified_at:
                return False
            if dep.durability < lowest:  # noqa: PLR1730 (min() would cost a call)
                lowest = dep.durability
        else:
            assert type(dep) is Memo
            dep_verified = dep.verified_at
            walked = False
            if dep_verified != revision:
                try:  # (free in CPython 3.11+ and compiled while nothing raises)
                    if dep_verified == NEVER or dep.claim is not None:
                        clean = _settle_shallow(engine, dep, frame, task)
                    else:  # shallow_valid, written out for the hot loop (and
                        # Revisions.unchanged_since, the durability rule, in it)
                        dirty_at = dep.dirty_at
                        clean = dirty_at <= dep_verified or (
                            dirty_at != ALWAYS_DIRTY
                            and last_changed[dep.durability] <= dep_verified
                        )
                        if (
                            not clean
                            and not dep_verified < engine.frontiers.blocked <= dirty_at  # covers'
                            and frontier.covers(engine, dep_verified, dirty_at)
                        ):
                            # Every write since it was verified was cut (frontier.py).
                            # Marked verified, unlike a clean read: its other readers
                            # then find it so, without asking again.
                            mark_verified(dep, revision)
                            if engine.listening_verified:
                                report.verified(engine, dep)
                            clean = True
                    # A clean read is valid now and its changed_at answers the question.
                    # It is not marked verified here: a later read of it does that
                    # lazily, so a wide memo's check costs no write per dependency.
                    if not clean:
                        walked = True
                        if level % WALK_LEVELS_PER_STACK:
                            unchanged = walk(engine, dep, frame, task, level + 1)
                        else:
                            unchanged = stack.run_on_fresh_stack(
                                engine, walk, engine, dep, frame, task, level + 1
                            )
                        if not unchanged:
                            execute.settle_changed(engine, dep, frame, task)
                except Suspend as suspended:
                    later = gathering.later_keys(engine, memo, dep)
                    if not later:
                        raise
                    _suspend_past(engine, later, suspended, frame, task, level)
            if dep.changed_at > verified_at:
                return False
            if walked:
                # Settling that read may have cut every revision that marked this
                # memo (frontier.py): then it is valid as it stands, and its other
                # reads need no look (a wide memo's hundreds, each a cache miss on
                # a large graph). The check ensure makes before a walk, written out.
                dirty_at = memo.dirty_at
                if not verified_at < engine.frontiers.blocked <= dirty_at and frontier.covers(
                    engine, verified_at, dirty_at
                ):
                    mark_verified(memo, revision)
                    if engine.listening_verified:
                        report.verified(engine, memo)
                    return True
            if dep.dirty_at == ALWAYS_DIRTY:
                reads_pending = True
            if dep.durability < lowest:  # noqa: PLR1730 (min() would cost a call)
                lowest = dep.durability
    memo.durability = lowest
    if reads_pending:
        memo.dirty_at = ALWAYS_DIRTY
    elif memo.dirty_at == ALWAYS_DIRTY:
        memo.dirty_at = revision
    memo.verified_at = revision  # mark_verified, inlined: once per memo walked
    hittable = memo.has_value and memo.error is None and type(memo.value) is not Encoded
    memo.hit_at = revision if hittable else NOT_HITTABLE
    if engine.listening_verified:
        report.verified(engine, memo)
    return True


_STATIC: Final = 3


def _suspend_past(
    engine: Engine,
    later: list[Memo],
    suspended: Suspend,
    frame: Frame | None,
    task: Task,
    level: int,
) -> NoReturn:
    """A key of a gather suspended in ``walk``: bring the gather's ``later`` keys
    up to date as executing the gathering memo again would (a key that
    suspends too adds its pending refs to the call's, ``task.pending``), then
    let the suspension through (``gathering.py``)."""
    revision = engine.revisions.current
    for dep in later:
        try:
            if dep.verified_at == revision or _settle_shallow(engine, dep, frame, task):
                continue
            if level % WALK_LEVELS_PER_STACK:
                unchanged = walk(engine, dep, frame, task, level + 1)
            else:
                unchanged = stack.run_on_fresh_stack(
                    engine, walk, engine, dep, frame, task, level + 1
                )
            if not unchanged:
                execute.settle_changed(engine, dep, frame, task)
        except Suspend:
            continue  # its pending refs are the call's now
    raise suspended


def _settle_shallow(engine: Engine, dep: Memo, frame: Frame | None, task: Task) -> bool:
    """Settle ``dep`` without a deep walk if possible; False if it needs one."""
    revision = engine.revisions.current
    while dep.verified_at != revision:
        existing = dep.claim
        if existing is not None:
            wait_for(engine, dep, existing, frame, task)
            continue
        if not dep.computed:
            execute.settle_changed(engine, dep, frame, task)
            continue
        if shallow_valid(engine, dep):
            mark_verified(dep, revision)
            if engine.listening_verified:
                report.verified(engine, dep)
            return True
        return False
    return True
