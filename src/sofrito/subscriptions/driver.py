"""``Driver``: the loop that closes the circle.

    subscriptions query --declares--> Reconciler --runs--> subscriptions
           ^                                                   | messages
           |                                                   v
      inputs <--------------- update(rt, message) <------- the driver loop

``subscriptions`` is a sofrito query returning the declared subscriptions.
The driver reads it again after each message and after every write to the
runtime by anyone (it watches the revision); that is a memo hit unless an
input it depends on changed. The driver reconciles only when the declared
*ids* change, so editing a watched file does not restart the watcher.

``run()`` blocks on the calling thread; ``stop()`` is safe from any thread
and from a signal handler (it takes no lock: a flag, and ``SimpleQueue.put``,
which is reentrant). Ctrl-C stops cleanly. When ``run()`` returns, every
subscription has been stopped (threads joined, child processes killed).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sofrito.subscriptions.protocol import Subscription
from sofrito.subscriptions.reconciler import Reconciler

__all__ = ["Driver"]

log = logging.getLogger("sofrito.subscriptions")
M = TypeVar("M")
_WAKE = object()


class Driver(Generic[M]):
    """Run ``rt`` with the subscriptions its ``subscriptions`` query declares.

    ``update(rt, message)`` applies a message (it writes inputs). An exception
    from ``update``, from a subscription, or from the subscriptions query goes
    to ``on_error(exc)``; the default logs it and carries on.
    """

    def __init__(
        self,
        rt: Any,
        subscriptions: Callable[[Any], Sequence[Subscription[M]]],
        update: Callable[[Any, M], None],
        on_error: Callable[[BaseException], None] | None = None,
        join_timeout: float = 5.0,
    ) -> None:
        self._rt = rt
        self._subscriptions = subscriptions
        self._update = update
        self._on_error = on_error or _log_error
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stopping = False
        self._declared_ids: tuple[int, ...] | None = None
        self.reconciler: Reconciler[M] = Reconciler(
            self._queue.put, on_error=self._subscription_failed, join_timeout=join_timeout
        )
        self.messages = 0
        """How many messages were applied."""

    def run(self) -> None:
        """Apply messages until ``stop()`` (or Ctrl-C); stops every subscription on the way out."""
        watcher = threading.Thread(
            target=self._watch_revisions, name="sofrito-driver-watch", daemon=True
        )
        watcher.start()
        try:
            self._reconcile()
            while not self._stopping:
                item = self._queue.get()
                if item is not _WAKE:
                    self._apply(item)
                while not self._stopping:  # apply what queued up, then reconcile once
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not _WAKE:
                        self._apply(item)
                if not self._stopping:
                    self._reconcile()
        except KeyboardInterrupt:
            log.info("interrupted: stopping")
        finally:
            self._stopping = True
            self.reconciler.stop_all()
            watcher.join(5.0)

    def _watch_revisions(self) -> None:
        """Wake the loop on every write, so a declared set changed from outside is seen."""
        watch = self._rt.subscribe_revisions()
        while not self._stopping:
            try:
                watch.changed(timeout=0.1)
            except TimeoutError:
                continue
            self._queue.put(_WAKE)

    def stop(self) -> None:
        """Ask ``run()`` to return; safe from any thread and from a signal handler."""
        self._stopping = True
        self._queue.put(_WAKE)

    def _apply(self, message: M) -> None:
        try:
            self._update(self._rt, message)
            self.messages += 1
        except Exception as exc:
            self._on_error(exc)

    def _reconcile(self) -> None:
        try:
            declared = list(self._subscriptions(self._rt))
        except Exception as exc:  # keep what runs; report
            self._on_error(exc)
            return
        ids = tuple(subscription.id for subscription in declared)
        if ids != self._declared_ids:
            self.reconciler.reconcile(declared)
            self._declared_ids = ids

    def _subscription_failed(self, sub_id: int, exc: BaseException) -> None:
        self._on_error(exc)


def _log_error(exc: BaseException) -> None:
    log.error("%s: %s", type(exc).__name__, exc, exc_info=exc)
