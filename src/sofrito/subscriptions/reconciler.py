"""``Reconciler``: keep the running subscriptions equal to the declared ones.

``reconcile(declared)`` diffs by id against the running set. New ids start,
each on its own thread. Ids no longer declared are stopped: every one is
signalled first, then all are joined against one shared deadline
(``join_timeout``), so stopping ten slow subscriptions costs one timeout,
not ten. A thread that does not exit in time is logged as an error, never
silently leaked. Unchanged ids keep running untouched. The first of several
declarations with one id wins.

A subscription whose ``run`` returns by itself (a ``Process`` whose child
exited) stays in the running set, finished, until it is no longer declared:
re-declaring it does not start it again, so a finished command is not re-run
in a loop. A subscription that *raises* is different: it is caught, counted
(``stats.panics``), logged, removed from the running set and reported to
``on_error(sub_id, exc)``; declaring it again later starts it again. It never
takes the process down.

Stopping is re-entrant: entries that were signalled but not yet joined are
kept aside (``_retiring``), so a ``stop_all()`` interrupted by Ctrl-C can be
called again and still joins everything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sofrito.subscriptions.protocol import Closed, StopSignal, Subscription

__all__ = ["Reconciler", "ReconcilerStats"]

log = logging.getLogger("sofrito.subscriptions")
M = TypeVar("M")


@dataclass
class ReconcilerStats:
    """Counters, updated by the reconciler; read them, don't write them.

    ``starts``: threads started. ``stops``: subscriptions stopped (no longer
    declared, or ``stop_all``). ``panics``: ``run`` raised. ``reconciles``:
    calls to ``reconcile``.
    """

    starts: int = 0
    stops: int = 0
    panics: int = 0
    reconciles: int = 0


class _Running:
    """One started subscription: its id, its declaration, its stop signal, its thread."""

    __slots__ = ("stop", "sub_id", "subscription", "thread")

    def __init__(
        self, sub_id: int, subscription: Subscription[Any], target: Callable[[_Running], None]
    ) -> None:
        self.sub_id = sub_id
        self.subscription = subscription
        self.stop = StopSignal()
        self.thread = threading.Thread(
            target=target, args=(self,), name=f"sofrito-sub-{sub_id:x}", daemon=True
        )


class Reconciler(Generic[M]):
    """Runs subscriptions while they are declared; ``send`` receives their messages.

    ``send`` is called on the subscriptions' own threads, so it must be
    thread-safe (``queue.SimpleQueue.put`` is). ``on_error(sub_id, exc)`` is
    called, on the failing subscription's thread, when a ``run`` raises.
    ``join_timeout`` bounds how long stopping waits for threads to exit.
    """

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
        self._retiring: set[_Running] = set()
        self._unjoined: set[_Running] = set()
        self.stats = ReconcilerStats()

    @property
    def running_ids(self) -> frozenset[int]:
        """Ids in the running set (including finished ones still declared)."""
        with self._lock:
            return frozenset(self._running)

    def reconcile(self, declared: Iterable[Subscription[M]]) -> None:
        """Start what is newly declared, stop what is no longer declared, keep the rest."""
        wanted: dict[int, Subscription[M]] = {}
        for subscription in declared:
            wanted.setdefault(subscription.id, subscription)  # the first declaration wins
        with self._lock:
            self.stats.reconciles += 1
            gone = [self._running.pop(i) for i in list(self._running) if i not in wanted]
            for sub_id, subscription in wanted.items():
                if sub_id not in self._running:
                    self._start(sub_id, subscription)
            self._retiring.update(gone)
        self._stop(gone)

    def stop_all(self) -> None:
        """Stop every subscription and join every thread (bounded); safe to call again.

        Also joins the threads of failed subscriptions that are still
        reporting, so nothing this reconciler started outlives the call.
        """
        with self._lock:
            gone = [*self._running.values(), *self._retiring]
            self._running.clear()
            self._retiring.update(gone)
            failed = list(self._unjoined.difference(gone))
        log.info("stop_all: %d subscription(s)", len(gone))
        self._stop(gone, failed)

    def _start(self, sub_id: int, subscription: Subscription[M]) -> None:
        """Start one subscription on its own thread; called with the lock held."""
        running = _Running(sub_id, subscription, self._run)
        self._running[sub_id] = running
        self._unjoined.add(running)
        self.stats.starts += 1
        log.info("start %#x %r", sub_id, subscription)
        running.thread.start()

    def _run(self, running: _Running) -> None:
        """The subscription's thread: run it, treat ``Closed`` as an end, contain failures."""
        sub_id, stop = running.sub_id, running.stop

        def send(message: M) -> None:
            if stop.is_stopped():
                raise Closed(f"subscription {sub_id:#x} was stopped; return from run")
            self._send(message)

        try:
            running.subscription.run(send, stop)
        except Closed:
            pass
        except Exception as exc:
            self._panic(running, exc)
        else:
            log.debug("%#x returned; it stays in the running set while declared", sub_id)

    def _panic(self, running: _Running, exc: Exception) -> None:
        sub_id = running.sub_id
        with self._lock:
            self.stats.panics += 1
            if self._running.get(sub_id) is running:
                del self._running[sub_id]
        log.error("subscription %#x raised; it is removed", sub_id, exc_info=exc)
        if self._on_error is None:
            return
        try:
            self._on_error(sub_id, exc)
        except Exception:
            log.exception("on_error raised while reporting subscription %#x", sub_id)

    def _stop(self, gone: list[_Running], failed: Iterable[_Running] = ()) -> None:
        """Signal all of ``gone``, then join them (and ``failed``) against one deadline."""
        for running in gone:
            running.stop.stop()
        deadline = time.monotonic() + self._join_timeout
        for running in gone:
            self._join(running, deadline)
            self._retired(running)
        for running in failed:
            if not self._join(running, deadline):
                log.error(
                    "%#x failed and is still reporting it after %.1f s",
                    running.sub_id,
                    self._join_timeout,
                )

    def _join(self, running: _Running, deadline: float) -> bool:
        """Join the thread until ``deadline``; True if it has ended."""
        thread = running.thread
        if thread is threading.current_thread():
            return False
        if thread.ident is not None:  # None: never started (interrupted in ``_start``)
            thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            return False
        with self._lock:
            self._unjoined.discard(running)
        return True

    def _retired(self, running: _Running) -> None:
        """Count and log one stop, once, however many callers joined it."""
        with self._lock:
            if running not in self._retiring:
                return
            self._retiring.discard(running)
            self.stats.stops += 1
        if running.thread.is_alive() and running.thread is not threading.current_thread():
            log.error(
                "stop %#x: its thread did not exit within %.1f s; it keeps running "
                "until it next checks its stop signal",
                running.sub_id,
                self._join_timeout,
            )
        else:
            log.info("stop %#x", running.sub_id)
