"""Runtime events: what happened, for live reload, diagnostics and tests.

- ``kinds``      the event records and ``QueryRef``
- ``watch``      the revision watch: holds only the latest revision
- ``broadcast``  bounded per-receiver queues; a slow receiver lags, never blocks

Both receivers can be awaited from asyncio while the runtime is written from
plain threads. The one piece they share lives here: ``AsyncWaiters``, the
futures of coroutines that wait, woken with ``call_soon_threadsafe``. A wake-up
carries no data; the woken coroutine looks at the state again under its lock.
So a wake-up that arrives late, twice, or for a task cancelled meanwhile loses
nothing, and waiters never poll.

asyncio itself is imported by the first coroutine that waits, not here: a
sync program (most of them) never pays the ~30 ms it costs to import.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

__all__ = ["AsyncWaiters"]


class AsyncWaiters:
    """Futures of waiting coroutines, each with its loop.

    Not locked itself: the owner calls ``add``, ``discard`` and ``take`` under
    the lock that guards the state being waited on, and ``wake`` after
    releasing it, so that a publisher never calls into asyncio with a lock held.
    """

    __slots__ = ("_futures",)

    def __init__(self) -> None:
        self._futures: dict[asyncio.Future[None], asyncio.AbstractEventLoop] = {}

    def __len__(self) -> int:
        return len(self._futures)

    def add(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A future that ``wake`` resolves; ``discard`` it once awaited, however that ends."""
        future = loop.create_future()
        self._futures[future] = loop
        return future

    def discard(self, future: asyncio.Future[None]) -> None:
        self._futures.pop(future, None)

    def take(self) -> dict[asyncio.Future[None], asyncio.AbstractEventLoop]:
        """All waiters, leaving none: pass them to ``wake`` once the lock is released."""
        taken, self._futures = self._futures, {}
        return taken

    @staticmethod
    def wake(taken: dict[asyncio.Future[None], asyncio.AbstractEventLoop]) -> None:
        """Resolve ``taken`` on their loops, from any thread; never raises.

        A loop that was closed with a coroutine still waiting has nobody left to
        wake, and a publisher (the runtime, mid-write) must not fail because of it.
        """
        for future, loop in taken.items():
            with contextlib.suppress(RuntimeError):  # raised if the loop is closed
                loop.call_soon_threadsafe(_settle, future)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():  # a cancelled waiter is done already
        future.set_result(None)
