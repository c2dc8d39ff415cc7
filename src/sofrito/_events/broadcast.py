"""Bounded broadcast: every receiver gets every event, until it falls behind.

Each receiver has its own bounded queue. A publish appends to each queue and
never waits for anyone to read: when a queue is full, its oldest event is
dropped and counted. The receiver's next ``recv`` raises ``Lagged(missed=n)``
and the one after continues with the oldest event still held. So a slow or
abandoned receiver never blocks the runtime, a writer, or the other receivers,
and memory stays bounded by the capacities. The alternative, blocking the
publisher until a reader catches up, would let one stuck UI freeze every
write; an unbounded queue would let it grow without limit.

Publishes go out one at a time, so every receiver sees the events in the same
order, even with several publishing threads.

A receiver may leave out some types of event (``skip``), the ones it would
drop unread: the runtime's most frequent event, ``QueryVerified``, is one a
tool that only wants executions has no use for. The hub does not give it
those (a type check per receiver that skips anything), and tells its owner
which types some receiver still wants (``wants``): an event that no receiver
wants need not be built at all. Filtering on the receiver's side of
``recv`` instead would still build and queue every one of them, which was
the cost to save.

The hub holds its receivers weakly. A receiver nobody references any more is
forgotten, and ``hub.listening``, a plain attribute the engine reads before
doing any event work at all, drops back to False when the last one goes. The
weakref callback that forgets a receiver can run inside any allocation on any
thread, including one that already holds the hub's lock, so it never waits
for that lock: it records the dead receiver, and whoever holds the lock
tidies up before letting go.
"""

from __future__ import annotations

import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

from sofrito._errors import Lagged, ReceiverClosed
from sofrito._events import AsyncWaiters

__all__ = ["EventHub", "EventReceiver"]

T = TypeVar("T")

_EMPTY: Any = object()


class EventHub(Generic[T]):
    """The sender side, owned by the runtime: ``publish`` and ``subscribe``.

    ``listening`` is True while at least one receiver is alive and not closed;
    ``on_listening`` is told each time it is set (and each time the receivers
    change), so that an owner can keep a copy where it reads it fastest (the
    compiled engine reads a field of its own by offset, and this one by
    name), and ask ``wants`` again.
    """

    def __init__(self, on_listening: Callable[[bool], object] | None = None) -> None:
        self.listening = False
        """Read on hot paths, so a plain attribute, updated whenever receivers come and go."""
        self._on_listening = on_listening
        self._lock = threading.Lock()
        """Guards ``_receivers``, ``_targets`` and writes of ``listening``."""
        self._publishing = threading.RLock()
        """One publish at a time: a single order for all. Re-entrant in case an
        event's finalizer publishes."""
        self._receivers: dict[int, weakref.ref[EventReceiver[T]]] = {}
        self._targets: tuple[weakref.ref[EventReceiver[T]], ...] = ()
        """The receivers as an immutable tuple, replaced on change: ``publish``
        iterates it without taking ``_lock``."""
        self._dead: list[int] = []
        """Receivers to forget, appended without the lock (see the module docstring)."""
        self._ids = itertools.count()

    def __repr__(self) -> str:
        return f"<EventHub with {self.receiver_count} receivers>"

    @property
    def receiver_count(self) -> int:
        """How many receivers are registered (alive, or dead and not yet tidied)."""
        return len(self._receivers)

    def subscribe(
        self, capacity: int = 1024, *, skip: tuple[type[Any], ...] = ()
    ) -> EventReceiver[T]:
        """A receiver of every event published from now on, holding at most
        ``capacity``, but those of the types in ``skip``."""
        if type(capacity) is not int or capacity < 1:
            raise ValueError(
                f"capacity must be an int of at least 1 (how many unread events a "
                f"receiver holds), got {capacity!r}"
            )
        if not isinstance(skip, tuple) or not all(isinstance(kind, type) for kind in skip):
            raise TypeError(f"skip must be a tuple of event types, got {skip!r}")
        with self._lock:
            key = next(self._ids)
            receiver: EventReceiver[T] = EventReceiver(self, key, capacity, skip)
            ref = weakref.ref(receiver, _forgetter(weakref.ref(self), key))
            self._receivers[key] = ref
            self._targets = (*self._targets, ref)
            self._set_listening(True)
        self._tidy()
        return receiver

    def publish(self, event: T) -> None:
        """Give ``event`` to every live receiver; never waits for one to read.

        Safe from any thread; costs one short append per receiver.
        """
        with self._publishing:
            for ref in self._targets:
                receiver = ref()
                if receiver is not None and not (
                    receiver._skip and isinstance(event, receiver._skip)
                ):
                    receiver._push(event)

    def wants(self, kind: type[Any]) -> bool:
        """Whether a live receiver takes events of type ``kind`` (not in its ``skip``)."""
        for ref in self._targets:
            receiver = ref()
            if (
                receiver is not None
                and not receiver.closed
                and not issubclass(kind, receiver._skip)
            ):
                return True
        return False

    def _detach(self, key: int) -> None:
        """Forget a receiver now (``close``)."""
        self._dead.append(key)
        with self._lock:
            self._prune()
        self._tidy()

    def _tidy(self) -> None:
        """Forget the dead receivers, unless another holder of the lock will.

        Called by every holder of ``_lock`` after releasing it, and by the weakref
        callback. The callback appends before trying the lock, and a holder looks
        after releasing, so a dead receiver is never left behind for long.
        """
        while self._dead and self._lock.acquire(blocking=False):
            try:
                self._prune()
            finally:
                self._lock.release()

    def _prune(self) -> None:
        dead = self._dead
        while dead:
            self._receivers.pop(dead.pop(), None)
        self._targets = tuple(self._receivers.values())
        self._set_listening(bool(self._receivers))

    def _set_listening(self, listening: bool) -> None:
        self.listening = listening
        if self._on_listening is not None:
            self._on_listening(listening)


def _forgetter(hub_ref: weakref.ref[EventHub[Any]], key: int) -> Callable[[weakref.ref[Any]], None]:
    """The weakref callback for receiver ``key``; holds the hub weakly, too."""

    def forget(_: weakref.ref[Any]) -> None:
        hub = hub_ref()
        if hub is not None:
            hub._dead.append(key)
            hub._tidy()

    return forget


class EventReceiver(Generic[T]):
    """One subscriber's bounded queue of events, from ``rt.subscribe_events()``.

    Read it with ``recv(timeout)``, ``try_recv()``, ``await arecv()`` or
    ``async for``. Any of them raises ``sofrito.Lagged(missed=n)`` once after
    the receiver lost its ``n`` oldest events; the next read continues with the
    oldest event still held. Drop it or ``close()`` it when done.
    """

    def __init__(
        self, hub: EventHub[T], key: int, capacity: int, skip: tuple[type[Any], ...] = ()
    ) -> None:
        self._hub = hub
        self._key = key
        self._capacity = capacity
        self._skip = skip
        """Types of event this receiver is not given (``EventHub.subscribe``)."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        """Over ``_lock``: ``with self._lock`` is the cheaper way in when not waiting."""
        self._sleepers = 0
        """Threads waiting in ``recv``: ``_push`` skips ``notify`` (Python code) without them."""
        self._queue: deque[T] = deque(maxlen=capacity)
        self._missed = 0
        self._closed = False
        self._waiters = AsyncWaiters()

    def __repr__(self) -> str:
        state = "closed, " if self._closed else ""
        return f"<EventReceiver {state}holding {len(self._queue)} of {self._capacity} events>"

    @property
    def capacity(self) -> int:
        """How many unread events it holds before dropping the oldest."""
        return self._capacity

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        """Events held and not yet read."""
        return len(self._queue)

    def _push(self, event: T) -> None:
        with self._lock:
            if self._closed:
                return
            if len(self._queue) == self._capacity:
                self._missed += 1  # the append below drops the oldest (maxlen)
            self._queue.append(event)
            if self._sleepers:
                self._cond.notify()
            taken = self._waiters.take() if self._waiters else None
        if taken:
            AsyncWaiters.wake(taken)

    def _take(self) -> T:
        """The next event, or ``_EMPTY``; ``Lagged`` first if events were lost. Lock held."""
        if self._missed:
            missed, self._missed = self._missed, 0
            raise Lagged(missed)
        if self._queue:
            return self._queue.popleft()
        if self._closed:
            raise ReceiverClosed("this event receiver was closed and has no events left")
        return _EMPTY  # type: ignore[no-any-return]

    def try_recv(self) -> T | None:
        """The next event without waiting, or None when none is held.

        Raises ``Lagged`` like ``recv``, and ``ReceiverClosed`` once closed and empty.
        """
        with self._lock:
            event = self._take()
        return None if event is _EMPTY else event

    def recv(self, timeout: float | None = None) -> T:
        """The next event, waiting for one if needed.

        Raises ``Lagged`` if events were lost since the last read,
        ``TimeoutError`` when ``timeout`` seconds pass first, and
        ``ReceiverClosed`` once closed and empty.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                event = self._take()
                if event is not _EMPTY:
                    return event
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no event within {timeout} s (recv(timeout=...) ran out)")
                self._sleepers += 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._sleepers -= 1

    async def arecv(self) -> T:
        """``recv`` for asyncio: wakes promptly on a publish from any thread.

        Cancelling the awaiting task loses no event and leaves nothing
        registered. For a timeout, wrap it: ``await asyncio.wait_for(ev.arecv(), 5)``.
        """
        import asyncio  # noqa: PLC0415 (imported on use: a sync program never pays for it)

        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                event = self._take()
                if event is not _EMPTY:
                    return event
                future = self._waiters.add(loop)
            try:
                await future
            finally:
                with self._lock:
                    self._waiters.discard(future)

    def __aiter__(self) -> EventReceiver[T]:
        return self

    async def __anext__(self) -> T:
        """The next event; ends once the receiver is closed and drained; may raise ``Lagged``."""
        try:
            return await self.arecv()
        except ReceiverClosed:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving: the hub forgets this receiver at once.

        Events already held can still be read; after them, reads raise
        ``ReceiverClosed`` and ``async for`` ends. Waiting reads wake up.
        Closing twice is fine.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            taken = self._waiters.take()
        AsyncWaiters.wake(taken)
        self._hub._detach(self._key)

    def __enter__(self) -> EventReceiver[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


EventReceiver.__module__ = "sofrito"
