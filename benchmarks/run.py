"""Run W1-W5 and the memo hit for sofrito, a from-scratch baseline and the peers.

Every library computes the same graph (``graph.py``). Every result is checked
against the from-scratch evaluation, and executions are counted where a
workload promises something (W4: nothing downstream of a cut-off change may
execute). Times are medians of several runs, taken with
``time.perf_counter_ns``, all in one process. The table shows the time per
operation and, for each peer, ``peer / sofrito``: above 1 means sofrito is
faster.

A peer that fails to import is listed with the reason and skipped.
"""

from __future__ import annotations

import importlib.metadata
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

from benchmarks import graph
from benchmarks.adapters import others, signals
from benchmarks.adapters.baseline import BaselineAdapter
from benchmarks.adapters.sofrito_adapter import SofritoAdapter

FACTORIES: list[tuple[str, Callable[[], Any]]] = [
    ("sofrito", SofritoAdapter),
    ("from-scratch", BaselineAdapter),
    ("incr-compute", others.IncrAdapter),
    ("signified", signals.signified),
    ("reaktiv", signals.reaktiv),
    ("nervio", signals.nervio),
    ("revlet", others.RevletAdapter),
    ("query-cascade", others.CascadeAdapter),
    ("pytracked", others.PytrackedAdapter),
]

WORKLOADS = ["W1 cold", "W2 warm hit", "W3 one change", "W4 early cutoff", "W5 fan-out", "memo hit"]


class Mismatch(AssertionError):
    pass


def _timed(operation: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter_ns()
    result = operation()
    return (time.perf_counter_ns() - start) / 1e6, result


def _check(name: str, what: str, got: Any, expected: Any) -> None:
    if got != expected:
        raise Mismatch(f"{name}: {what} gave {got!r}, expected {expected!r}")


def measure(adapter: Any) -> dict[str, Any]:
    name = adapter.name
    results: dict[str, Any] = {}
    leaves = [graph.initial(i) for i in range(graph.LEAVES)]
    expected_root = graph.Values(list(leaves)).root()

    cold = []
    for _ in range(3):
        adapter.build()
        elapsed, value = _timed(adapter.read_root)
        _check(name, "W1 root", value, expected_root)
        cold.append(elapsed)
    results["W1 cold"] = statistics.median(cold)

    reps = 2_000 if results["W1 cold"] < 5_000 else 20
    elapsed, _ = _timed(lambda: [adapter.read_root() for _ in range(reps)])
    results["W2 warm hit"] = elapsed / reps

    changes, executed = [], []
    for step in range(10):
        leaf = 2 * ((step * 97) % graph.WIDTH)
        leaves[leaf] += 100
        adapter.executions = 0
        elapsed, value = _timed(
            lambda leaf=leaf: (adapter.set_leaf(leaf, leaves[leaf]), adapter.read_root())[1]
        )
        changes.append(elapsed)
        executed.append(adapter.executions)
        if elapsed > 2_000 and step >= 2:
            break
    _check(name, "W3 root", value, graph.Values(list(leaves)).root())
    results["W3 one change"] = statistics.median(changes)
    results["W3 executions"] = int(statistics.median(executed))

    cutoffs, downstream = [], []
    for step in range(10):
        leaf = 2 * ((step * 131 + 7) % graph.WIDTH) + 1
        leaves[leaf] += 1  # the pair's sum stays in its bucket of ten
        adapter.executions = 0
        elapsed, value = _timed(
            lambda leaf=leaf: (adapter.set_leaf(leaf, leaves[leaf]), adapter.read_root())[1]
        )
        cutoffs.append(elapsed)
        downstream.append(adapter.executions - 1)  # minus the layer-0 node itself
        if elapsed > 2_000 and step >= 2:
            break
    _check(name, "W4 root", value, graph.Values(list(leaves)).root())
    results["W4 early cutoff"] = statistics.median(cutoffs)
    results["W4 downstream"] = max(downstream)

    adapter.build_fanout()
    _check(name, "W5 cold", adapter.read_fanout()[:3], [0, 1, 2])
    fan = []
    for value in range(1, 6):
        elapsed, values = _timed(
            lambda value=value: (adapter.set_fanout(value), adapter.read_fanout())[1]
        )
        fan.append(elapsed)
        if elapsed > 2_000 and value >= 2:
            break
    _check(
        name,
        "W5 values",
        values[:3] + values[-1:],
        [value, value + 1, value + 2, value + graph.FANOUT - 1],
    )
    results["W5 fan-out"] = statistics.median(fan)

    adapter.build_hit()
    number = 200_000
    best = min(timeit.repeat(adapter.hit, number=number, repeat=5))
    results["memo hit"] = best / number * 1e9
    return results


def bare_call_ns() -> float:
    def bare(x: int) -> int:
        return x

    number = 1_000_000
    return min(timeit.repeat(lambda: bare(1), number=number, repeat=5)) / number * 1e9


def _version(package: str | None) -> str:
    if package is None:
        return "-"
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _cell(workload: str, value: float) -> str:
    if workload == "memo hit":
        return f"{value:,.0f} ns"
    if workload == "W2 warm hit":
        return f"{value * 1e6:,.0f} ns"
    return f"{value:,.2f} ms"


def main() -> None:
    print(f"Python {sys.version.split()[0]} on {platform.machine()}, {platform.system()}")
    measured: dict[str, dict[str, Any]] = {}
    versions: dict[str, str] = {}
    wrong: dict[str, str] = {}
    for name, factory in FACTORIES:
        try:
            adapter = factory()
        except Exception as exc:  # an uninstallable peer is reported, not fatal
            print(f"skipped {name}: {type(exc).__name__}: {exc}")
            continue
        versions[name] = _version(adapter.package)
        print(f"measuring {name} {versions[name]} ...", flush=True)
        try:
            measured[name] = measure(adapter)
        except Mismatch as exc:  # a wrong answer disqualifies, loudly
            print(f"  WRONG RESULT, not timed further: {exc}")
            wrong[name] = str(exc)
    bare = bare_call_ns()
    print()
    names = list(measured)
    header = ["workload", *[f"{n} {versions[n]}".strip(" -") for n in names]]
    rows = [header]
    for workload in WORKLOADS:
        rows.append([workload, *[_cell(workload, measured[n][workload]) for n in names]])
        rows.append(
            ["  peer/sofrito"]
            + [
                "1.00x"
                if n == "sofrito"
                else f"{measured[n][workload] / measured['sofrito'][workload]:.2f}x"
                for n in names
            ]
        )
    rows.append(["W3 executions", *[str(measured[n]["W3 executions"]) for n in names]])
    rows.append(["W4 downstream execs", *[str(measured[n]["W4 downstream"]) for n in names]])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        print(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("-|-".join("-" * w for w in widths))
    hit = measured["sofrito"]["memo hit"]
    for name, problem in wrong.items():
        print(f"\n{name} {versions[name]} is not in the table: {problem}")
    print()
    multiple = hit / bare
    print(f"bare Python call: {bare:.1f} ns; sofrito memo hit: {hit:.1f} ns = {multiple:.1f}x")


if __name__ == "__main__":
    main()
