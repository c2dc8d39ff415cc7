"""What a subscription is: something that runs while it is declared.

A subscription is a long-lived source of messages (a timer, a child process,
a file watcher). Its lifecycle is "running while declared": the program says
which subscriptions should exist, and a ``Reconciler`` starts the new ones and
stops the ones no longer declared. Identity is the ``id``: two declarations
with the same id are the same subscription, so re-declaring does not restart
it.

This module owns the three names a subscription's author needs: the
``Subscription`` protocol, the ``StopSignal`` it is handed, and ``Closed``,
which its ``send`` raises once nobody listens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

__all__ = ["Closed", "Send", "StopSignal", "Subscription"]

M = TypeVar("M")
M_co = TypeVar("M_co", covariant=True)

Send = Callable[[M], None]
"""What ``run`` is handed to deliver a message; raises ``Closed`` once nobody receives."""


class Closed(Exception):
    """Raised by ``send`` once nobody receives: the subscription must return.

    It comes after the subscription was stopped (no longer declared, or
    ``stop_all()``). Let it propagate out of ``run``, or catch it and return;
    the reconciler treats it as a normal end, not as an error.
    """


class StopSignal:
    """Tells a running subscription to stop; it should check often.

    Prefer ``wait(timeout)`` to ``time.sleep``: it returns at once when the
    stop comes, so stopping never waits out a sleep. Libraries that take an
    ``is_set()`` object (``watchfiles``' ``stop_event``) can take ``event``.
    """

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()

    def is_stopped(self) -> bool:
        """True once the subscription should return."""
        return self.event.is_set()

    def wait(self, timeout: float | None) -> bool:
        """Sleep up to ``timeout`` seconds; True (at once) if stopped meanwhile."""
        return self.event.wait(timeout)

    def stop(self) -> None:
        """Signal the stop. The reconciler calls it; a subscription may, to end itself."""
        self.event.set()

    def __repr__(self) -> str:
        return f"<StopSignal {'stopped' if self.is_stopped() else 'running'}>"


class Subscription(Protocol[M_co]):
    """A source of messages, stable across reconciles by ``id``."""

    @property
    def id(self) -> int:
        """Stable across reconciles: equal ids are the same subscription."""
        ...

    def run(self, send: Callable[[M_co], None], stop: StopSignal) -> None:
        """Send messages until ``stop`` is signalled or ``send`` raises ``Closed``.

        Runs on a thread of its own. An exception other than ``Closed`` is a
        failure: the reconciler logs it, counts it and reports it.
        """
        ...
