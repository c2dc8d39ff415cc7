"""Single-flight: one computation per memo at a time, and cycles across threads.

A task that wants to execute a memo *claims* it under the engine lock. Another
task that needs the same memo meanwhile waits for the claim to be released and
then shares the outcome: the stored value, or the same system error
(``Suspend``, ``CycleError``, ``Cancelled``) when the computation produced no
value.

Before waiting, the waiter follows the chain "the owner's task is waiting on
a memo owned by task ..." under the lock. If the chain leads back to the
waiter, waiting would deadlock: that is a cycle, reported as ``CycleError``
to every query on it instead. A claim owned by the waiter's own task is a
plain cycle on one call chain.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sofrito._engine.refs import cycle_ref
from sofrito._errors import CycleError, QueryError, Suspend

if TYPE_CHECKING:
    from sofrito._engine.frames import Frame, Task
    from sofrito._engine.memo import Memo
    from sofrito._engine.state import Engine

__all__ = ["Claim", "claim", "release", "wait_for"]


class Claim:
    """A memo being computed by ``frame``; waiters block on ``done``."""

    __slots__ = ("done", "failure", "frame")

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.done: threading.Event | None = None
        self.failure: QueryError | None = None


def claim(engine: Engine, memo: Memo, frame: Frame) -> Claim | None:
    """Claim ``memo`` for ``frame``; return the existing claim if someone else has it."""
    with engine.lock:
        existing = memo.claim
        if existing is not None:
            return existing
        memo.claim = Claim(frame)
        return None


def release(engine: Engine, memo: Memo, failure: QueryError | None) -> None:
    """End the claim on ``memo``, handing ``failure`` (if any) to its waiters."""
    with engine.lock:
        current = memo.claim
        memo.claim = None
        if current is None:
            return
        current.failure = failure
        if current.done is not None:
            current.done.set()


def wait_for(engine: Engine, memo: Memo, existing: Claim, waiter: Frame | None, task: Task) -> None:
    """Block until ``existing`` (a claim on ``memo``) ends; raise its failure, if any.

    ``waiter`` is the frame that needs ``memo`` (None for a top-level call).
    Raises ``CycleError`` instead of waiting when waiting would deadlock.
    """
    with engine.lock:
        if memo.claim is not existing:
            return  # released meanwhile
        cycle = _find_cycle(existing, waiter, task)
        if cycle is not None:
            error = CycleError([cycle_ref(frame.memo) for frame in cycle])
            for frame in cycle:
                frame.cycle = error
            raise error
        if existing.done is None:
            existing.done = threading.Event()
        done = existing.done
        task.waiting_on = memo
        task.waiting_frame = waiter
    try:
        done.wait()
    finally:
        task.waiting_on = None
        task.waiting_frame = None
    failure = existing.failure
    if failure is not None:
        if isinstance(failure, Suspend):
            task.pending.update(dict.fromkeys(failure.pending))
        raise failure


def _find_cycle(existing: Claim, waiter: Frame | None, task: Task) -> list[Frame] | None:
    """The frames on the cycle that waiting would close, in call order, or None.

    Called with the engine lock held, so the waits it follows cannot change.
    """
    owner = existing.frame
    if owner.task is task:
        return waiter.chain_from(owner) if waiter is not None else [owner]
    if waiter is None:
        return None  # a top-level caller holds no claims: nobody can wait on it
    segments: list[Frame] = []
    visited: set[int] = set()
    current = owner
    while id(current.task) not in visited:
        visited.add(id(current.task))
        waiting_frame = current.task.waiting_frame
        blocked_on = current.task.waiting_on
        blocker = blocked_on.claim if blocked_on is not None else None
        if waiting_frame is None or blocker is None:
            return None  # that task is running: it will finish and release
        segments.extend(waiting_frame.chain_from(current))
        current = blocker.frame
        if current.task is task:
            return waiter.chain_from(current) + segments
    return None
