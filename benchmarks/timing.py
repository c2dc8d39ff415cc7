"""How the harness takes times: one clock, medians, and a budget per workload.

- Operations that take micro- to milliseconds (W1, W3, W4, W5) are timed one
  at a time with ``time.perf_counter_ns``, after a ``gc.collect()`` so that
  one operation does not pay for the garbage of the one before; the
  collector stays on while timing, because allocation is part of what a
  library costs. The figure is the median.
- Operations of nanoseconds (W2, the memo hit, the bare call) are timed in
  batches: ``timeit`` for a statement (its loop adds the same few ns to the
  memo hit and to the bare call), a plain loop for an adapter method. The
  figure is the median batch divided by the batch size.
- ``Budget`` decides how many times to repeat: at least ``least`` runs,
  then more while the workload's time budget lasts, at most ``most``. A slow
  peer (one W3 change of more than a second) thus gets three runs, not
  thirty, and the whole comparison stays within a few minutes.
"""

from __future__ import annotations

import gc
import statistics
import time
import timeit
from collections.abc import Callable
from typing import Any

NS_PER_MS = 1_000_000


class Budget:
    def __init__(self, seconds: float, *, least: int = 3, most: int = 30) -> None:
        self.seconds, self.least, self.most = seconds, least, most
        self.spent_ns = 0
        self.runs = 0

    def more(self) -> bool:
        if self.runs < self.least:
            return True
        return self.runs < self.most and self.spent_ns < self.seconds * 1e9

    def add(self, elapsed_ns: int) -> None:
        self.runs += 1
        self.spent_ns += elapsed_ns


def timed_once(operation: Callable[[], Any]) -> tuple[int, Any]:
    """Collect garbage, then time one call of ``operation``: (ns, its result)."""
    gc.collect()
    start = time.perf_counter_ns()
    result = operation()
    return time.perf_counter_ns() - start, result


def median_ms(samples_ns: list[int]) -> float:
    return statistics.median(samples_ns) / NS_PER_MS


def per_call_ns(operation: Callable[[], Any], *, batch_seconds: float = 0.05) -> float:
    """The median time of one call of ``operation`` over 7 batches of calls."""
    start = time.perf_counter_ns()
    operation()
    once = max(time.perf_counter_ns() - start, 50)
    number = max(10, int(batch_seconds * 1e9 / once))
    batches = []
    for _ in range(7):
        start = time.perf_counter_ns()
        for _ in range(number):
            operation()
        batches.append(time.perf_counter_ns() - start)
    return statistics.median(batches) / number


def statement_ns(statement: str, namespace: dict[str, Any]) -> float:
    """The median time of one execution of ``statement`` over 7 ``timeit`` batches."""
    timer = timeit.Timer(statement, globals=namespace)
    number, _ = timer.autorange()  # at least 0.2 s per batch
    return statistics.median(timer.repeat(repeat=7, number=number)) / number * 1e9
