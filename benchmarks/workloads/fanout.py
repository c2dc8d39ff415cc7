"""W5 fan-out: one input read by 10,000 queries; change it, read them all.

This is the workload where nothing can be skipped: every query depends on
the changed input and must execute. What it measures is the per-query cost
of invalidating, re-executing and reading a memo, times 10,000. The first
read of all of them (cold) is not timed; each timed operation is one write
followed by 10,000 top-level reads, every value checked.
"""

from __future__ import annotations

import statistics

from benchmarks.adapters.base import Adapter, reset_tally
from benchmarks.graph import Graph, fan_value
from benchmarks.timing import Budget, median_ms, timed_once
from benchmarks.workloads.measurement import Measurement, Mismatch, check

ROWS = ("W5 fan-out",)


def measure(adapter: Adapter, graph: Graph, scale: float) -> list[Measurement]:
    try:
        return [_fanout(adapter, graph, scale)]
    except Mismatch as exc:
        return [Measurement(ROWS[0], wrong=str(exc))]
    except Exception as exc:  # a peer's crash is reported in its cell, not fatal
        return [Measurement(ROWS[0], wrong=f"{type(exc).__name__}: {exc}")]


def _fanout(adapter: Adapter, graph: Graph, scale: float) -> Measurement:
    reset_tally(adapter.tally, graph)
    adapter.build_fanout(graph)
    check("W5 cold values", adapter.read_all_fanout(), _expected(graph, 0))
    budget = Budget(4 * scale, least=3, most=9)
    samples, executed = [], []
    value = 0
    while budget.more():
        value += 1
        expected = _expected(graph, value)
        reset_tally(adapter.tally)

        def write_and_read_all(value: int = value) -> list[int]:
            adapter.set_fanout(value)
            return adapter.read_all_fanout()

        elapsed, values = timed_once(write_and_read_all)
        check(f"W5 values after the input = {value}", values, expected)
        budget.add(elapsed)
        samples.append(elapsed)
        executed.append(adapter.tally[graph.fan_slot])
    return Measurement(
        ROWS[0],
        median_ms(samples),
        runs=len(samples),
        executed=round(statistics.median(executed)),
        expected=graph.fanout,
    )


def _expected(graph: Graph, x: int) -> list[int]:
    return [fan_value(x, i) for i in range(graph.fanout)]
