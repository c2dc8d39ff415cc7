"""Single-flight: one computation per memo at a time, and cycles across threads.

A frame that is about to execute a memo *claims* it: the frame itself becomes
``memo.claim``. Claiming is one ``dict.setdefault`` on ``engine.claims``,
which CPython performs atomically, so the common case (nobody else wants the
memo) takes no lock and allocates nothing; ``execute.py`` does it inline, as
it does the release of a claim that ends with a value.

Another task that needs the memo meanwhile waits for the claim to be released
and then shares the outcome: the stored value, or the same system error
(``Suspend``, ``CycleError``, ``Cancelled``) when the computation produced no
value. Release sets ``released`` *before* it looks for a waiter's event, and a
waiter creates its event *before* it checks ``released``: whichever comes
second sees the other, so no wake-up is lost and release needs no lock.

Before waiting, the waiter follows the chain "the owner's task is waiting on a
memo owned by task ..." under the engine lock. If the chain leads back to the
waiter, waiting would deadlock: that is a cycle, reported as ``CycleError`` to
every query on it instead. A claim owned by the waiter's own task is a plain
cycle on one call chain.
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

__all__ = ["release", "wait_for"]


def release(engine: Engine, memo: Memo, failure: QueryError | None) -> None:
    """End ``memo``'s claim, handing ``failure`` (if any) to its waiters."""
    frame = memo.claim
    if frame is None:
        return
    frame.outcome = failure
    memo.claim = None
    del engine.claims[memo]
    frame.released = True
    done = frame.done
    if done is not None:
        done.set()


def wait_for(engine: Engine, memo: Memo, owner: Frame, waiter: Frame | None, task: Task) -> None:
    """Block until ``owner`` releases ``memo``; raise its failure, if any.

    ``waiter`` is the frame that needs ``memo`` (None for a top-level call).
    Raises ``CycleError`` instead of waiting when waiting would deadlock.
    """
    with engine.lock:
        if owner.released:
            return
        cycle = _find_cycle(owner, waiter, task)
        if cycle is not None:
            error = CycleError([cycle_ref(frame.memo) for frame in cycle])
            for frame in cycle:
                frame.cycle = error
            raise error
        if owner.done is None:
            owner.done = threading.Event()
        done = owner.done
        task.waiting_on = memo
        task.waiting_frame = waiter
    try:
        _wait_released(owner, done)
    finally:
        task.waiting_on = None
        task.waiting_frame = None
    failure = owner.outcome
    if failure is not None:
        if isinstance(failure, Suspend):
            task.pending.update(dict.fromkeys(failure.pending))
        raise failure


def _wait_released(owner: Frame, done: threading.Event) -> None:
    while not owner.released:  # set before ``done`` is looked at: see the module docstring
        done.wait()


def _find_cycle(owner: Frame, waiter: Frame | None, task: Task) -> list[Frame] | None:
    """The frames on the cycle that waiting would close, in call order, or None.

    Called with the engine lock held, so the waits it follows cannot change.
    """
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
        current = blocker
        if current.task is task:
            return waiter.chain_from(current) + segments
    return None
