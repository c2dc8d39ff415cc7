"""``Every``: a message every ``interval`` seconds."""

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
    same interval are one timer. Pass ``id=`` for independent timers. Ticks do
    not drift: each waits until ``start + tick * interval``.
    """

    def __init__(
        self, interval: float, make_msg: Callable[[int], M], id: int | None = None
    ) -> None:
        if interval <= 0:
            raise ValueError(f"Every needs a positive interval, got {interval!r}")
        self.interval = interval
        self.make_msg = make_msg
        self._id = id if id is not None else stable_id("every", float(interval))

    @property
    def id(self) -> int:
        return self._id

    def run(self, send: Callable[[M], None], stop: StopSignal) -> None:
        start = time.monotonic()
        tick = 0
        while True:
            tick += 1
            delay = start + tick * self.interval - time.monotonic()
            if stop.wait(max(0.0, delay)):
                return
            send(self.make_msg(tick))

    def __repr__(self) -> str:
        return f"Every({self.interval!r})"
