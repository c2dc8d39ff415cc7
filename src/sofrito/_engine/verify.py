"""Is a memo still valid at the current revision? Cheapest answer first.

1. Durability: no input at or above the memo's durability changed since it
   was verified.
2. Dirty marks: no write reached this memo through the reverse-dependency
   graph since it was verified (``rdeps.py`` pushes the marks on write).
3. Deep verify: walk the dependencies in the order they were read; a cell
   changed if its ``changed_at`` is after the memo's ``verified_at``; a memo
   dependency is first brought up to date (verified, or re-executed with early
   cutoff) and then compared the same way.

The deep walk keeps its own stack instead of recursing, so a 10,000-level
chain verifies without touching Python's recursion limit. It only re-executes
a dependency it has proved changed; re-execution runs user code, which is
where any deeper recursion happens (and ``stack.py`` takes care of that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sofrito._engine import backdate, execute, inputs
from sofrito._engine.memo import ALWAYS_DIRTY, NEVER, NOT_HITTABLE, Cell, CellStatus, Encoded, Memo
from sofrito._engine.sync import wait_for

if TYPE_CHECKING:
    from sofrito._engine.frames import Frame, Task
    from sofrito._engine.state import Engine

__all__ = ["is_valid", "mark_verified"]


def is_valid(engine: Engine, memo: Memo, frame: Frame | None, task: Task) -> bool:
    """Whether ``memo`` (computed, unclaimed) is valid now; marks it verified if so."""
    revision = engine.revisions.current
    if _shallow_valid(engine, memo):
        mark_verified(memo, revision)
        return True
    return _deep_verify(engine, memo, frame, task)


def _shallow_valid(engine: Engine, memo: Memo) -> bool:
    verified_at = memo.verified_at
    dirty_at = memo.dirty_at
    if dirty_at <= verified_at:
        return True
    return (
        dirty_at != ALWAYS_DIRTY and engine.revisions.last_changed[memo.durability] <= verified_at
    )


def mark_verified(memo: Memo, revision: int) -> None:
    memo.verified_at = revision
    hittable = memo.has_value and memo.error is None and type(memo.value) is not Encoded
    memo.hit_at = revision if hittable else NOT_HITTABLE


def _deep_verify(engine: Engine, root: Memo, frame: Frame | None, task: Task) -> bool:
    """Walk ``root``'s dependencies; True (and verified) if none changed."""
    revision = engine.revisions.current
    first = _scan(engine, root, 0, frame, task)
    if first == _CHANGED:
        return False  # the common answer for a dirty memo: no walk needed
    if first == _UNCHANGED:
        _mark_unchanged(root, revision)
        return True
    stack: list[tuple[Memo, int]] = [(root, first)]
    dep = root.deps[first]
    assert type(dep) is Memo
    stack.append((dep, 0))
    while stack:
        memo, index = stack.pop()
        if memo.verified_at == revision and memo is not root:
            continue  # another thread settled it meanwhile
        step = _scan(engine, memo, index, frame, task)
        if step == _CHANGED:
            if memo is root:
                return False
            execute.settle_changed(engine, memo, frame, task)
        elif step == _UNCHANGED:
            _mark_unchanged(memo, revision)
        else:  # descend into a dependency first, then come back to it
            stack.append((memo, step))
            dep = memo.deps[step]
            assert type(dep) is Memo
            stack.append((dep, 0))
    return True


def _mark_unchanged(memo: Memo, revision: int) -> None:
    """Nothing it read changed: verified, at the durability of what it read now,
    and still checked every revision if something below it reads a pending cell."""
    backdate.note_reads(memo, memo.deps, revision)
    mark_verified(memo, revision)


_CHANGED = -1
_UNCHANGED = -2


def _scan(engine: Engine, memo: Memo, index: int, frame: Frame | None, task: Task) -> int:
    """Scan ``memo.deps`` from ``index``: ``_CHANGED`` if one changed, ``_UNCHANGED``
    if none did, or the index of a memo dependency to deep-verify first."""
    revision = engine.revisions.current
    last_changed = engine.revisions.last_changed
    verified_at = memo.verified_at
    deps = memo.deps
    for position in range(index, len(deps)):
        dep = deps[position]
        if type(dep) is Cell:
            if dep.status == CellStatus.PENDING:
                inputs.locate(engine, dep)  # a pending read: ask its locator again
            if dep.changed_at > verified_at:
                return _CHANGED
            continue
        assert type(dep) is Memo
        dep_verified = dep.verified_at
        if dep_verified != revision:
            if dep_verified == NEVER or dep.claim is not None:
                if not _settle_shallow(engine, dep, frame, task):
                    return position
            else:
                dirty_at = dep.dirty_at  # _shallow_valid, inlined for the hot loop
                if not (
                    dirty_at <= dep_verified
                    or (dirty_at != ALWAYS_DIRTY and last_changed[dep.durability] <= dep_verified)
                ):
                    return position  # dirty: verify it first
                # Clean: valid now, and its changed_at answers the question. It is
                # not marked verified here: a later read of it does that lazily,
                # so a wide memo's verification costs no write per dependency.
        if dep.changed_at > verified_at:
            return _CHANGED
    return _UNCHANGED


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
        if _shallow_valid(engine, dep):
            mark_verified(dep, revision)
            return True
        return False
    return True
