"""``python -m benchmarks.scale``: the W1/W3/W4 graph at 10,000, 100,000 and 1,000,000 nodes.

Issue 27 asks how the engine's memory and its cost per change grow with the
graph: bytes per memo, the peak RSS of a million memos, and whether W3 and
W4 cost the same per change at a million nodes as at ten thousand, where
the cone of a change is the same. This measures, per library and per size,
in a process of its own (memory is per process):

- W1 cold: one build and first read of the root (one sample: a million
  nodes take seconds), checked against a from-scratch evaluation, every
  node executed once;
- bytes per node: the growth of the process's resident set across that
  build (after ``gc.collect()``), divided by the derived nodes. It holds the
  whole library-side graph, the 20% of leaf inputs and the values (small
  ints, most of them allocated: about 32 bytes each) included;
- peak RSS: the process's high-water mark after W1, W3 and W4;
- W3 and W4: ``--edits`` changes each, the same edits as the harness's
  (``Graph.change_edit``, ``Graph.cutoff_edit``), median time per change,
  and the executions per change against the minimum.

The graph is ``benchmarks.graph``'s, 20 layers, ``nodes / 20`` wide. At a
million nodes its precomputed read lists alone would take more memory than
the engine under test, so here they are computed from the node's number
when asked (``LazyReads``), and the reference values are kept in arrays and
updated along the cone of each edit (``Evaluation``), not evaluated from
scratch per edit. A keyed library (sofrito) asks for a node's reads in its
body, so it pays that computation (a Python call) per execution, where the
per-node peers pay it once, at build: the same at every size, so the growth
from 10,000 to 1,000,000 compares like with like, but a ratio against a
peer at one size carries it.

Run: ``python -m benchmarks.scale`` (``--help``; ``--nodes 10000,100000``
for a shorter run). The ``sofrito-compiled`` column needs ``--compiled DIR``,
a mypyc build (``scripts/bench.sh`` makes ``.venv-bench/compiled``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.adapters import adapter_class
from benchmarks.adapters.base import reset_tally
from benchmarks.graph import Graph, NodeId
from benchmarks.run import COMPILED, ROOT

RESULT = "SCALE-RESULT "
LIBRARIES = ("sofrito", COMPILED, "incr-compute", "signified")
"""Measured by default: sofrito's two builds and the Rust-backed peers."""
SIZES = (10_000, 100_000, 1_000_000)
LAYERS = 20
GROUP = 500
"""Last-layer nodes per partial sum: the root reads ``nodes / 10,000`` sums, not the
whole last layer, so that the cone of a change stays the same size at any width."""


class _Row(Sequence[tuple[NodeId, ...]]):
    """One layer's read lists, each computed when asked."""

    def __init__(self, graph: ScaleGraph, layer: int) -> None:
        self._reads = graph.reads_of
        self._layer = layer
        self._width = graph.width

    def __len__(self) -> int:
        return self._width

    def __getitem__(self, k: Any) -> Any:
        if not 0 <= k < self._width:
            raise IndexError(k)
        return self._reads(self._layer, k)

    def __iter__(self) -> Iterator[tuple[NodeId, ...]]:
        reads, layer = self._reads, self._layer
        return (reads(layer, k) for k in range(self._width))


class LazyReads(Sequence[_Row]):
    """``Graph.reads`` without holding it: a row object per layer, no tuple per node."""

    def __init__(self, graph: ScaleGraph) -> None:
        self._rows = [_Row(graph, layer) for layer in range(graph.layers)]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, layer: Any) -> Any:
        return self._rows[layer]


class ScaleGraph(Graph):
    """``Graph`` of ``nodes`` derived nodes in ``LAYERS`` layers, its reads computed lazily."""

    def __init__(self, nodes: int) -> None:  # Graph.__init__ would build the read lists
        width = nodes // LAYERS
        self.leaves, self.layers, self.width, self.fanout = 2 * width, LAYERS, width, 0
        self.root_slot, self.fan_slot = LAYERS, LAYERS + 1
        self.reads = LazyReads(self)  # type: ignore[assignment]  # a Sequence like the tuple

    def reads_of(self, layer: int, k: int) -> tuple[NodeId, ...]:
        return self._reads(layer, k)

    def groups(self) -> list[list[NodeId]]:
        """The last layer in runs of ``GROUP``, each summed by a node the root reads."""
        top = self.top()
        return [top[start : start + GROUP] for start in range(0, len(top), GROUP)]


class Evaluation:
    """Every node's value in an array per layer, updated along the cone of an edit."""

    def __init__(self, graph: ScaleGraph, leaves: list[int]) -> None:
        self.graph = graph
        self.leaves = leaves
        width = graph.width
        self.values: list[array[int]] = []
        row = array("q", ((leaves[2 * k] + leaves[2 * k + 1]) // 10 for k in range(width)))
        self.values.append(row)
        for layer in range(1, graph.layers):
            self.values.append(array("q", (self._compute(layer, k) for k in range(width))))
        self.root = sum(self.values[-1])

    def _compute(self, layer: int, k: int) -> int:
        values = self.values
        if layer == 0:
            return (self.leaves[2 * k] + self.leaves[2 * k + 1]) // 10
        return sum(values[lb][j] for lb, j in self.graph.reads_of(layer, k)) % 1009

    def edit(self, leaf: int, value: int) -> int:
        """Set ``leaf`` and recompute what read a changed value; the nodes that had to
        execute (``Graph.must_execute``, summed), the root included."""
        graph, width = self.graph, self.graph.width
        self.leaves[leaf] = value
        must = 1  # the layer-0 node that reads the leaf
        changed: list[set[int]] = [self._update(0, {leaf // 2})]
        for layer in range(1, graph.layers):
            candidates = {k for c in changed[layer - 1] for k in (c, (c - 1) % width)}
            if layer >= 2:
                candidates.update(k for c in changed[layer - 2] if (k := (c - 3) % width) % 5 == 0)
            must += len(candidates)
            before = {k: self.values[layer][k] for k in candidates}
            changed.append(self._update(layer, candidates))
        deltas: dict[int, int] = {}
        for k in changed[-1]:
            deltas[k // GROUP] = deltas.get(k // GROUP, 0) + self.values[-1][k] - before[k]
        must += len({k // GROUP for k in changed[-1]})  # the partial sums that read a change
        if any(deltas.values()):
            must += 1  # the root reads a partial sum that changed
        return must

    def _update(self, layer: int, nodes: set[int]) -> set[int]:
        row, changed = self.values[layer], set()
        for k in nodes:
            new = self._compute(layer, k)
            if new != row[k]:
                if layer == self.graph.layers - 1:
                    self.root += new - row[k]
                row[k] = new
                changed.add(k)
        return changed


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _edits(adapter: Any, state: Evaluation, edit: Any, count: int) -> dict[str, Any]:
    times, executed, minimum = [], [], []
    for step in range(count):
        leaf, value = edit(state.leaves, step)
        minimum.append(state.edit(leaf, value))
        reset_tally(adapter.tally)
        gc.collect()
        start = time.perf_counter_ns()
        adapter.set_leaf(leaf, value)
        root = adapter.read_root()
        times.append(time.perf_counter_ns() - start)
        if root != state.root:
            raise AssertionError(f"root after leaf {leaf} = {value}: {root}, expected {state.root}")
        executed.append(sum(adapter.tally))
    return {
        "ms": statistics.median(times) / 1e6,
        "executed": statistics.median(executed),
        "minimum": statistics.median(minimum),
    }


def child(name: str, nodes: int, edits: int) -> dict[str, Any]:
    """Measure ``name`` on the graph of ``nodes`` nodes, in this process."""
    graph = ScaleGraph(nodes)
    adapter = adapter_class(name)()
    state = Evaluation(graph, graph.initial_leaves())
    reset_tally(adapter.tally, graph)
    gc.collect()
    before = _rss()
    start = time.perf_counter_ns()
    adapter.build(graph)
    root = adapter.read_root()
    cold = time.perf_counter_ns() - start
    if root != state.root:
        raise AssertionError(f"first root: {root}, expected {state.root}")
    expected = graph.derived + len(graph.groups()) + 1
    if sum(adapter.tally) != expected:
        raise AssertionError(f"W1 executed {sum(adapter.tally)}, expected {expected}")
    gc.collect()
    grown = _rss() - before
    change = _edits(adapter, state, graph.change_edit, edits)
    cutoff = _edits(adapter, state, graph.cutoff_edit, edits)
    return {
        "cold_ms": cold / 1e6,
        "bytes_per_node": grown / graph.derived,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "W3": change,
        "W4": cutoff,
    }


def _measure(name: str, nodes: int, args: argparse.Namespace) -> dict[str, Any] | str:
    command = [sys.executable, "-m", "benchmarks.scale", "--child", name]
    command += ["--nodes", str(nodes), "--edits", str(args.edits)]
    env = None
    if name == COMPILED:
        if args.compiled is None or not args.compiled.is_dir():
            return f"no compiled build (--compiled {args.compiled})"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(args.compiled), str(ROOT)])}
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=args.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"no result within {args.timeout:.0f} s"
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            result: dict[str, Any] = json.loads(line[len(RESULT) :])
            return result
    return (done.stderr.strip().splitlines() or ["no output"])[-1]


def _print_table(results: dict[str, dict[int, dict[str, Any] | str]], sizes: list[int]) -> None:
    names = list(results)
    print("| nodes | measure | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    rows = [
        ("W1 cold (ms)", lambda r: f"{r['cold_ms']:,.0f}"),
        ("bytes per node", lambda r: f"{r['bytes_per_node']:,.0f}"),
        ("peak RSS (MB)", lambda r: f"{r['peak_mb']:,.0f}"),
        ("W3 one change (ms)", lambda r: f"{r['W3']['ms']:.3f}"),
        ("W3 executed / minimum", lambda r: "{executed:.0f} / {minimum:.0f}".format(**r["W3"])),
        ("W4 early cutoff (ms)", lambda r: f"{r['W4']['ms']:.3f}"),
        ("W4 executed", lambda r: f"{r['W4']['executed']:.0f}"),
    ]
    for nodes in sizes:
        for label, cell in rows:
            cells = []
            for name in names:
                result = results[name].get(nodes)
                cells.append(cell(result) if isinstance(result, dict) else str(result or ""))
            print(f"| {nodes:,} | {label} | " + " | ".join(cells) + " |")
    smallest, largest = min(sizes), max(sizes)
    if smallest == largest:
        return
    print(f"\nGrowth of the cost per change from {smallest:,} to {largest:,} nodes:")
    for name in names:
        low, high = results[name].get(smallest), results[name].get(largest)
        if isinstance(low, dict) and isinstance(high, dict):
            w3 = high["W3"]["ms"] / low["W3"]["ms"]
            w4 = high["W4"]["ms"] / low["W4"]["ms"]
            print(f"  {name}: W3 x{w3:.2f}, W4 x{w4:.2f}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    default = ",".join(LIBRARIES)
    parser.add_argument("--only", help=f"comma-separated libraries (default: {default})")
    parser.add_argument(
        "--nodes",
        default=",".join(str(n) for n in SIZES),
        help="comma-separated graph sizes in derived nodes (multiples of 20)",
    )
    parser.add_argument("--edits", type=int, default=10, help="W3 and W4 changes per size")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per library and size")
    parser.add_argument("--compiled", type=Path, help="a mypyc build of sofrito (scripts/bench.sh)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    sizes = [int(n) for n in args.nodes.split(",")]
    if args.child:
        result = child(args.child, sizes[0], args.edits)
        print(RESULT + json.dumps(result), flush=True)
        return
    names = args.only.split(",") if args.only else list(LIBRARIES)
    print(f"sofrito scale benchmark (issue 27): sizes {sizes}, {args.edits} edits per workload")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    results: dict[str, dict[int, dict[str, Any] | str]] = {name: {} for name in names}
    for nodes in sizes:
        for name in names:
            print(f"  {name} at {nodes:,} nodes ...", end="", flush=True)
            started = time.perf_counter()
            outcome = _measure(name, nodes, args)
            results[name][nodes] = outcome
            said = f" {time.perf_counter() - started:.0f} s" if isinstance(outcome, dict) else ""
            print(said or f" skipped: {outcome}", flush=True)
    print()
    _print_table(results, sizes)


if __name__ == "__main__":
    main()
