"""``Every``: a message every ``interval`` seconds.

The message is ``make_msg(tick)``, ``tick`` counting messages from 1. A
count, not a timestamp: it is deterministic in tests, and a handler that
wants the time can read it itself. Waiting is ``stop.wait``, never
``sleep``, so a stop ends the timer at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from sofrito.subscriptions._ids import stable_id
from sofrito.subscriptions.protocol import StopSignal

__all__ = ["Every"]

M = TypeVar("M")


class Every(Generic[M]):
    """Send ``make_msg(tick)`` every ``interval`` seconds, ``tick`` counting from 1.

    The default id is derived from the interval, so two declarations of the
    same interval are one timer (and compare equal). Pass ``id=`` for
    independent timers. Ticks do not drift: each is due at the previous due
    time plus ``interval``. A timer that falls more than one interval behind
    (the machine slept, the receiver was slow) sends one tick at once and
    realigns, rather than bursting the missed ones.
    """

    def __init__(
        self, interval: float, make_msg: Callable[[int], M], id: int | None = None
    ) -> None:
        if not interval > 0:
            raise ValueError(f"Every needs a positive interval in seconds, got {interval!r}")
        self.interval = float(interval)
        self.make_msg = make_msg
        self._id = id if id is not None else stable_id("every", self.interval)

    @property
    def id(self) -> int:
        return self._id

    def run(self, send: Callable[[M], None], stop: StopSignal) -> None:
        due = time.monotonic()
        tick = 0
        while True:
            due += self.interval
            now = time.monotonic()
            if now > due + self.interval:
                due = now  # fell behind: one tick now, then on the new grid
            if stop.wait(max(0.0, due - now)):
                return
            tick += 1
            send(self.make_msg(tick))

    def __eq__(self, other: object) -> bool:
        """Equal ids are the same timer, so a re-declared list can cut off early."""
        return isinstance(other, Every) and other._id == self._id

    def __hash__(self) -> int:
        return hash(("Every", self._id))

    def __repr__(self) -> str:
        return f"Every({self.interval!r}, id={self._id:#x})"
