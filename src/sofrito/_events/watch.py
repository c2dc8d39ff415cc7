"""The revision watch: a receiver learns that the revision moved, not every step.

A live-reload loop does not care how many writes happened while it rebuilt;
it needs "something changed since I last looked". So the watch holds only the
latest revision, a publish never queues anything, and a receiver that sleeps
through ten writes wakes once.

Receivers hold the watch, not the other way round, so a dropped receiver
costs nothing. Async waiters are woken with ``call_soon_threadsafe``, since
writes usually happen on other threads.
"""

from __future__ import annotations

import asyncio
import threading
import time

__all__ = ["RevisionReceiver", "RevisionWatch"]


class RevisionWatch:
    """The sender side, owned by the runtime."""

    def __init__(self, initial: int) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._value = initial
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def value(self) -> int:
        return self._value

    def publish(self, revision: int) -> None:
        with self._cond:
            self._value = revision
            self._cond.notify_all()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    def subscribe(self) -> RevisionReceiver:
        return RevisionReceiver(self)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class RevisionReceiver:
    """Waits for the revision to differ from the last one this receiver saw."""

    def __init__(self, watch: RevisionWatch) -> None:
        self._watch = watch
        self._seen = watch.value

    @property
    def current(self) -> int:
        """The latest revision."""
        return self._watch.value

    def changed(self, timeout: float | None = None) -> int:
        """Block until the revision differs from the last one seen; return it.

        Raises ``TimeoutError`` when ``timeout`` seconds pass first.
        """
        watch = self._watch
        deadline = None if timeout is None else time.monotonic() + timeout
        with watch._cond:
            while watch._value == self._seen:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"the revision stayed at {self._seen} for {timeout} s")
                watch._cond.wait(remaining)
            self._seen = watch._value
            return self._seen

    async def achanged(self) -> int:
        """``changed()`` for asyncio: wakes promptly on a write from any thread."""
        watch = self._watch
        loop = asyncio.get_running_loop()
        while True:
            with watch._cond:
                if watch._value != self._seen:
                    self._seen = watch._value
                    return self._seen
                future: asyncio.Future[None] = loop.create_future()
                watch._async_waiters.append((loop, future))
            try:
                await future
            finally:
                with watch._cond:
                    if (loop, future) in watch._async_waiters:
                        watch._async_waiters.remove((loop, future))


RevisionReceiver.__module__ = "sofrito"
