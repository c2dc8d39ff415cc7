"""Bounded broadcast: every receiver gets every event, until it falls behind.

Each receiver has its own bounded queue. A publish appends to each queue and
never waits: when a queue is full, its oldest event is dropped and counted.
The receiver's next ``recv`` raises ``Lagged(missed=n)``, and the one after
continues with the oldest event still held. So a slow or abandoned receiver
never blocks the runtime, a writer, or the other receivers.

The hub holds receivers weakly: a receiver nobody references any more is
forgotten, and ``hub.listening`` (a plain attribute the engine checks before
doing any event work) drops back to False when the last one goes.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import deque
from typing import Generic, TypeVar

from sofrito._errors import Lagged

__all__ = ["EventHub", "EventReceiver", "ReceiverClosed"]

T = TypeVar("T")


class ReceiverClosed(Exception):
    """``recv`` on a receiver that was closed and has no events left."""


class EventHub(Generic[T]):
    """The sender side, owned by the runtime."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # weakref callbacks may run while it is held
        self._receivers: dict[int, weakref.ref[EventReceiver[T]]] = {}
        self.listening = False
        """True while at least one receiver is alive: read on hot paths, never computed."""

    def subscribe(self, capacity: int = 1024) -> EventReceiver[T]:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        receiver: EventReceiver[T] = EventReceiver(self, capacity)
        key = id(receiver)

        def forget(_: weakref.ref[EventReceiver[T]]) -> None:
            self._forget(key)

        with self._lock:
            self._receivers[key] = weakref.ref(receiver, forget)
            self.listening = True
        return receiver

    def _forget(self, key: int) -> None:
        with self._lock:
            self._receivers.pop(key, None)
            self.listening = bool(self._receivers)

    def publish(self, event: T) -> None:
        with self._lock:
            refs = list(self._receivers.values())
        for ref in refs:
            receiver = ref()
            if receiver is not None:
                receiver._push(event)


class EventReceiver(Generic[T]):
    """One subscriber's bounded queue of events."""

    def __init__(self, hub: EventHub[T], capacity: int) -> None:
        self._hub = hub
        self._capacity = capacity
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[T] = deque()
        self._missed = 0
        self._closed = False
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return len(self._queue)

    def _push(self, event: T) -> None:
        with self._cond:
            if self._closed:
                return
            if len(self._queue) >= self._capacity:
                self._queue.popleft()
                self._missed += 1
            self._queue.append(event)
            self._cond.notify()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    def _take(self) -> T | None:
        """The next event, or None if empty; raises ``Lagged`` first if events were lost."""
        if self._missed:
            missed, self._missed = self._missed, 0
            raise Lagged(missed)
        if self._queue:
            return self._queue.popleft()
        if self._closed:
            raise ReceiverClosed("this event receiver was closed")
        return None

    def try_recv(self) -> T | None:
        """The next event without waiting, or None when there is none."""
        with self._cond:
            return self._take()

    def recv(self, timeout: float | None = None) -> T:
        """The next event; ``Lagged`` if events were lost, ``TimeoutError`` on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                event = self._take()
                if event is not None:
                    return event
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no event within {timeout} s")
                self._cond.wait(remaining)

    async def arecv(self) -> T:
        """``recv`` for asyncio: wakes promptly on a publish from any thread."""
        loop = asyncio.get_running_loop()
        while True:
            with self._cond:
                event = self._take()
                if event is not None:
                    return event
                future: asyncio.Future[None] = loop.create_future()
                self._async_waiters.append((loop, future))
            try:
                await future
            finally:
                with self._cond:
                    if (loop, future) in self._async_waiters:
                        self._async_waiters.remove((loop, future))

    def __aiter__(self) -> EventReceiver[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.arecv()
        except ReceiverClosed:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving; waiting ``recv`` calls end once the queue is drained."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)
        self._hub._forget(id(self))


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


EventReceiver.__module__ = "sofrito"
EventHub.__module__ = "sofrito"
