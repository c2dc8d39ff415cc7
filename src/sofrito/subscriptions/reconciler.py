"""``Reconciler``: keep the running subscriptions equal to the declared ones.

``reconcile(declared)`` diffs by id against the running set. New ids start,
each on its own thread. Ids no longer declared are stopped: signal, then join
with a bounded timeout, and a thread that does not exit is logged, never
silently leaked. Unchanged ids keep running untouched. The first of several
declarations with one id wins.

A subscription that raises is caught, counted (``stats.panics``), logged,
removed from the running set and reported to ``on_error(sub_id, exc)``. It
never takes the process down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sofrito.subscriptions.protocol import Closed, StopSignal, Subscription

__all__ = ["Reconciler", "ReconcilerStats"]

log = logging.getLogger("sofrito.subscriptions")
M = TypeVar("M")


@dataclass
class ReconcilerStats:
    """Counters; read them, don't write them."""

    starts: int = 0
    stops: int = 0
    panics: int = 0
    reconciles: int = 0


class _Running:
    __slots__ = ("closed", "stop", "subscription", "thread")

    def __init__(self, subscription: Subscription[Any]) -> None:
        self.subscription = subscription
        self.stop = StopSignal()
        self.closed = False
        self.thread: threading.Thread | None = None


class Reconciler(Generic[M]):
    """Runs subscriptions while they are declared; ``send`` receives their messages."""

    def __init__(
        self,
        send: Callable[[M], None],
        on_error: Callable[[int, BaseException], None] | None = None,
        join_timeout: float = 5.0,
    ) -> None:
        self._send = send
        self._on_error = on_error
        self._join_timeout = join_timeout
        self._lock = threading.Lock()
        self._running: dict[int, _Running] = {}
        self.stats = ReconcilerStats()

    @property
    def running_ids(self) -> set[int]:
        with self._lock:
            return set(self._running)

    def reconcile(self, declared: Iterable[Subscription[M]]) -> None:
        wanted: dict[int, Subscription[M]] = {}
        for subscription in declared:
            wanted.setdefault(subscription.id, subscription)  # the first declaration wins
        with self._lock:
            self.stats.reconciles += 1
            gone = [self._running.pop(i) for i in list(self._running) if i not in wanted]
            new = [sub for i, sub in wanted.items() if i not in self._running]
            for subscription in new:
                self._start(subscription)
        self._stop(gone)

    def stop_all(self) -> None:
        with self._lock:
            gone = list(self._running.values())
            self._running.clear()
        log.info("stop_all: %d subscription(s)", len(gone))
        self._stop(gone)

    def _start(self, subscription: Subscription[M]) -> None:
        running = _Running(subscription)
        running.thread = threading.Thread(
            target=self._run, args=(running,), name=f"sofrito-sub-{subscription.id:x}", daemon=True
        )
        self._running[subscription.id] = running
        self.stats.starts += 1
        log.info("start %x (%r)", subscription.id, subscription)
        running.thread.start()

    def _run(self, running: _Running) -> None:
        subscription = running.subscription

        def send(message: M) -> None:
            if running.closed or running.stop.is_stopped():
                raise Closed(f"subscription {subscription.id:x} is no longer declared")
            self._send(message)

        try:
            subscription.run(send, running.stop)
        except Closed:
            pass
        except Exception as exc:
            self._panic(running, exc)

    def _panic(self, running: _Running, exc: Exception) -> None:
        sub_id = running.subscription.id
        with self._lock:
            self.stats.panics += 1
            if self._running.get(sub_id) is running:
                del self._running[sub_id]
        log.exception("subscription %x raised; it is removed", sub_id)
        if self._on_error is not None:
            self._on_error(sub_id, exc)

    def _stop(self, gone: list[_Running]) -> None:
        for running in gone:
            running.closed = True
            running.stop.stop()
        for running in gone:
            thread = running.thread
            assert thread is not None
            if thread is not threading.current_thread():
                thread.join(self._join_timeout)
            self.stats.stops += 1
            if thread.is_alive():
                log.error(
                    "stop %x: its thread did not exit within %.1f s; it keeps running "
                    "until it next checks its stop signal",
                    running.subscription.id,
                    self._join_timeout,
                )
            else:
                log.info("stop %x", running.subscription.id)
