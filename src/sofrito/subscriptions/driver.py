"""``Driver``: the loop that closes the circle.

    subscriptions query --declares--> Reconciler --runs--> subscriptions
           ^                                                   | messages
           |                                                   v
      inputs <--------------- update(rt, message) <------- the driver loop

Everything the user supplies runs on the thread that called ``run()``: the
subscriptions query, ``update`` and ``on_error``. Subscription threads only
put messages (and their failures) on a queue. So ``update`` never races
another ``update``, and the query is read where the writes happen.

The driver reads the query again after each burst of messages and after any
write to the runtime by anyone (a helper thread watches the revision), which
is a memo hit unless an input it read changed. It reconciles only when the
declared *ids* change, so editing a watched file does not restart the
watcher, while changing what is watched does.

``stop()`` takes no lock, so it is safe from any thread and from a signal
handler: it sets a flag and puts a wake-up item on a ``SimpleQueue``, whose
``put`` the standard library documents as reentrant. Ctrl-C
(``KeyboardInterrupt`` in ``run()``) stops the same way. On the way out,
every subscription is stopped (threads joined, child process groups
killed) before ``run()`` returns, and a second Ctrl-C during that does not
cut it short: the children live in sessions of their own and would
otherwise outlive the program.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

from sofrito import RevisionReceiver, Runtime
from sofrito.subscriptions.protocol import Subscription
from sofrito.subscriptions.reconciler import Reconciler

__all__ = ["Driver"]

log = logging.getLogger("sofrito.subscriptions")
M = TypeVar("M")

_WAKE = object()
"""Queued to make the loop look at the flag and the declared set again."""
_REVISION_POLL = 0.1
"""How often the revision watcher looks at the stop flag between writes."""


class _Failure:
    """A subscription's exception, carried to the driver thread for ``on_error``."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Driver(Generic[M]):
    """Run ``rt`` with the subscriptions that its ``subscriptions`` query declares.

    ``subscriptions(rt)`` is a query taking only ``db`` and returning the
    declared list. ``update(rt, message)`` applies one message (it writes
    inputs). ``on_error(exc)`` receives what ``update``, a subscription or the
    query raised; the default logs it and carries on. To make errors fatal,
    re-raise from ``on_error``: ``run()`` then stops everything and lets the
    exception out. A subscription's exception carries a note naming its id;
    it is removed from the running set and starts again only when the
    declared ids change while it is still declared.

    A driver runs once: a second ``run()`` is a ``RuntimeError``. A ``stop()``
    before ``run()`` makes ``run()`` return at once, starting nothing.
    """

    def __init__(
        self,
        rt: Runtime,
        *,
        subscriptions: Callable[[Runtime], Sequence[Subscription[M]]],
        update: Callable[[Runtime, M], None],
        on_error: Callable[[BaseException], None] | None = None,
        join_timeout: float = 5.0,
    ) -> None:
        self._rt = rt
        self._subscriptions = subscriptions
        self._update = update
        self._on_error = on_error or _log_error
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stopping = False
        self._ran = False
        self._declared_ids: tuple[int, ...] | None = None
        self.reconciler: Reconciler[M] = Reconciler(
            self._queue.put, on_error=self._subscription_failed, join_timeout=join_timeout
        )
        self.messages = 0
        """How many messages ``update`` applied without raising."""

    def run(self) -> None:
        """Apply messages until ``stop()`` or Ctrl-C; stop every subscription on the way out."""
        if self._ran:
            raise RuntimeError("Driver.run() was called before: a driver runs once; make a new one")
        self._ran = True
        revisions = self._rt.subscribe_revisions()  # before the first read: no write is missed
        watcher = threading.Thread(
            target=self._watch_revisions,
            args=(revisions,),
            name="sofrito-driver-revisions",
            daemon=True,
        )
        try:
            watcher.start()
            self._loop()
        except KeyboardInterrupt:
            log.info("interrupted: stopping")
        finally:
            self._stopping = True
            self._shutdown(watcher)

    def stop(self) -> None:
        """Ask ``run()`` to return; safe from any thread and from a signal handler."""
        self._stopping = True
        self._queue.put(_WAKE)

    def _loop(self) -> None:
        while not self._stopping:
            self._reconcile()
            self._drain(self._queue.get())

    def _drain(self, item: object) -> None:
        """Handle ``item`` and whatever queued up behind it, then let the loop reconcile once."""
        while not self._stopping:
            if isinstance(item, _Failure):
                self._on_error(item.exc)
            elif item is not _WAKE:
                self._apply(cast("M", item))  # anything else came from a subscription
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return

    def _apply(self, message: M) -> None:
        try:
            self._update(self._rt, message)
        except Exception as exc:
            self._on_error(exc)
        else:
            self.messages += 1

    def _reconcile(self) -> None:
        """Read the declared set; reconcile only if its ids changed."""
        try:
            declared = list(self._subscriptions(self._rt))
            ids = tuple(subscription.id for subscription in declared)
            if ids != self._declared_ids:
                self.reconciler.reconcile(declared)
                self._declared_ids = ids
        except Exception as exc:  # keep what runs; report
            self._on_error(exc)

    def _watch_revisions(self, revisions: RevisionReceiver) -> None:
        """Wake the loop on every write, so a declared set changed from outside is seen."""
        while not self._stopping:
            try:
                revisions.changed(timeout=_REVISION_POLL)
            except TimeoutError:
                continue
            self._queue.put(_WAKE)

    def _subscription_failed(self, sub_id: int, exc: BaseException) -> None:
        """On the failing subscription's thread: hand the error to the driver thread."""
        exc.add_note(f"raised by subscription {sub_id:#x}")
        self._queue.put(_Failure(exc))

    def _shutdown(self, watcher: threading.Thread) -> None:
        """Stop everything; a Ctrl-C meanwhile must not leave children behind."""
        while True:
            try:
                self.reconciler.stop_all()
                if watcher.ident is not None:  # None: interrupted before it started
                    watcher.join(_REVISION_POLL * 20)
            except KeyboardInterrupt:
                log.warning("interrupted while stopping the subscriptions; finishing the stop")
            else:
                return


def _log_error(exc: BaseException) -> None:
    log.error("%s: %s", type(exc).__name__, exc, exc_info=exc)
