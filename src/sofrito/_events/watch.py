"""The revision watch: a receiver learns that the revision moved, not every step.

A live-reload loop does not care how many writes happened while it rebuilt;
it needs "something changed since I last looked". So the watch holds only the
latest revision, a publish never queues anything and costs the same however
many receivers there are, and a receiver that sleeps through ten writes wakes
once, with the latest revision.

Each receiver keeps the one thing that is its own, the last revision it saw,
and holds the watch; the watch holds no receivers at all. So a receiver that
is dropped is simply garbage, with nothing to unregister, and the watch can
never keep a dead one. Threads wait on the watch's condition; coroutines
register a future only for the time they wait (``AsyncWaiters``), so a
publish from any thread wakes them promptly and a cancelled wait leaves
nothing behind.
"""

from __future__ import annotations

import threading
import time

from sofrito._events import AsyncWaiters

__all__ = ["RevisionReceiver", "RevisionWatch"]


class RevisionWatch:
    """The sender side, owned by the runtime: ``publish`` on every revision move."""

    def __init__(self, initial: int) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._value = initial
        self._waiters = AsyncWaiters()

    @property
    def current(self) -> int:
        """The latest published revision."""
        return self._value

    def publish(self, revision: int) -> None:
        """Make ``revision`` the latest and wake every waiter; never waits on a receiver.

        Safe from any thread. Publishing the revision already held, or an older
        one (a late publish: revisions never go back), changes nothing and wakes
        nobody.
        """
        with self._cond:
            if revision <= self._value:
                return
            self._value = revision
            self._cond.notify_all()
            taken = self._waiters.take() if self._waiters else None
        if taken:
            AsyncWaiters.wake(taken)

    def subscribe(self) -> RevisionReceiver:
        """A receiver that has seen the current revision, so it waits for the next."""
        return RevisionReceiver(self)


class RevisionReceiver:
    """Waits for the revision to differ from the last one this receiver saw.

    Get one from ``rt.subscribe_revisions()``. Each receiver remembers what it
    saw, so several can watch one runtime independently.
    """

    __slots__ = ("__weakref__", "_seen", "_watch")

    def __init__(self, watch: RevisionWatch) -> None:
        self._watch = watch
        with watch._cond:
            self._seen = watch._value

    def __repr__(self) -> str:
        return f"<RevisionReceiver at revision {self._watch._value}, seen {self._seen}>"

    @property
    def current(self) -> int:
        """The latest revision (reading it does not mark it seen)."""
        return self._watch._value

    def changed(self, timeout: float | None = None) -> int:
        """Block until the revision differs from the last one seen, mark it seen, return it.

        Raises ``TimeoutError`` when ``timeout`` seconds pass first.
        """
        watch = self._watch
        deadline = None if timeout is None else time.monotonic() + timeout
        with watch._cond:
            while watch._value == self._seen:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(
                        f"the revision stayed at {self._seen} for {timeout} s "
                        "(changed(timeout=...) ran out)"
                    )
                watch._cond.wait(remaining)
            self._seen = watch._value
            return self._seen

    async def achanged(self) -> int:
        """``changed()`` for asyncio: wakes promptly on a publish from any thread.

        Cancelling the awaiting task leaves nothing registered. For a timeout,
        wrap it: ``await asyncio.wait_for(rev.achanged(), 5)``.
        """
        import asyncio  # noqa: PLC0415 (imported on use: a sync program never pays for it)

        watch = self._watch
        loop = asyncio.get_running_loop()
        while True:
            with watch._cond:
                if watch._value != self._seen:
                    self._seen = watch._value
                    return self._seen
                future = watch._waiters.add(loop)
            try:
                await future
            finally:
                with watch._cond:
                    watch._waiters.discard(future)


RevisionReceiver.__module__ = "sofrito"
