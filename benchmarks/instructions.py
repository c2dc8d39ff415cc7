"""Instructions per operation, counted by valgrind: the compiled engine's call counts.

``benchmarks.calls`` counts Python calls with cProfile, which sees nothing
inside compiled code. ``valgrind --tool=callgrind`` counts the machine
instructions a process executes, the same from run to run whatever else the
machine does, so it judges a change to either build where timings cannot.

Each workload runs twice in a child process under callgrind, once with one
operation and once with ``1 + N``; the difference over ``N`` is the cost of
one operation, free of start-up, imports and building the graph, and of the
first operation's one-time costs (the interpreter specializing code that
only an operation runs, first allocations). Both runs use the same hash
seed: the set-up's count depends on it (the order of sets and dicts), and
with a seed each, W4's figure moved by a third from one invocation to the
next; with one seed, it is the same to the instruction on every run. The graph is
smaller than the harness's (callgrind runs about 50x slower): 2,000 fan-out
queries, and the harness's W1 (a new runtime, its leaves set and the root
read), W3 and W4 edits on a graph of 100 nodes per layer.
``hit`` is the harness's memo hit, ``q(rt, 1)`` in a ``for`` loop, whose
own few instructions per call are counted with it.

With ``--cache``, callgrind also simulates the caches (``--cache-sim=yes``,
about twice as slow) and each line adds the data misses per operation of
the simulated first level and last level (reads and writes; the levels are
the machine's sizes, so a graph that fits in its last level misses little
there, and ``--width`` makes it bigger):
what a layout of fewer, denser records saves (issue 27), which an
instruction count does not show. A simulation, not the machine's own
counters, but as deterministic as the instruction count.

``--width 5000`` measures on the harness's graph 50 times as wide (100,000
nodes), whose records no cache holds; ``--only W3,W4`` keeps a run short.

Run: ``python -m benchmarks.instructions`` for the sofrito on the path, or
``PYTHONPATH=.venv-bench/compiled:. python -m benchmarks.instructions`` for
the compiled build that ``scripts/bench.sh`` makes. Needs valgrind (Debian:
``apt install valgrind``). Takes a few minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.adapters.base import reset_tally
from benchmarks.adapters.sofrito_adapter import CompiledSofritoAdapter, SofritoAdapter
from benchmarks.graph import Graph

OPERATIONS = 5
FANOUT = 2_000
WIDTH = 100
HITS = 10_000
"""Memo hits per operation of the ``hit`` workload (the loop's own cost included)."""


def _adapter() -> SofritoAdapter:
    import sofrito._engine

    compiled = getattr(sofrito._engine, "COMPILED", False)
    return CompiledSofritoAdapter() if compiled else SofritoAdapter()


def child(workload: str, operations: int, width: int = WIDTH) -> None:
    """Set up ``workload`` and run it ``operations`` times (under callgrind)."""
    graph = Graph(leaves=2 * width, width=width, fanout=FANOUT)
    adapter = _adapter()
    reset_tally(adapter.tally, graph)
    if workload == "hit":
        _, namespace = adapter.hit_statement()
        query, rt = namespace["q"], namespace["rt"]
        for _ in range(operations * HITS):
            query(rt, 1)
        return
    if workload == "W5":
        adapter.build_fanout(graph)
        adapter.read_all_fanout()
        for value in range(1, operations + 1):
            adapter.set_fanout(value)
            adapter.read_all_fanout()
        return
    leaves = graph.initial_leaves()
    adapter.build(graph)
    adapter.read_root()
    if workload == "W1":
        for _ in range(operations):
            adapter.build(graph)
            adapter.read_root()
        return
    edit = graph.change_edit if workload == "W3" else graph.cutoff_edit
    for step in range(operations):
        leaf, value = edit(leaves, step)
        leaves[leaf] = value
        adapter.set_leaf(leaf, value)
        adapter.read_root()


def _instructions(
    workload: str, operations: int, cache: bool = False, width: int = WIDTH
) -> tuple[int, int, int]:
    """Instructions and (with ``cache``) first- and last-level data misses of a child's run."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--cache-sim={'yes' if cache else 'no'}",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                "benchmarks.instructions",
                "--child",
                workload,
                str(operations),
                str(width),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    found = re.search(r"Collected : ([\d ]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr}")
    counts = [int(count) for count in found.group(1).split()]
    # With the cache simulated: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw.
    if not cache:
        return counts[0], 0, 0
    return counts[0], counts[4] + counts[5], counts[7] + counts[8]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__)
    parser.add_argument("--cache", action="store_true", help="simulate the caches too")
    parser.add_argument(
        "--width", type=int, default=WIDTH, help=f"nodes per layer (default {WIDTH})"
    )
    parser.add_argument("--only", help="comma-separated workloads: W1,W3,W4,W5,hit")
    return parser.parse_args()


def main() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt install valgrind)")
    import sofrito._engine

    args = _arguments()
    cache, width = args.cache, args.width
    build = "compiled" if getattr(sofrito._engine, "COMPILED", False) else "pure Python"
    what = "instructions, first- and last-level data misses" if cache else "instructions"
    nodes = Graph(leaves=2 * width, width=width).derived + 1
    print(
        f"sofrito ({build}), {nodes:,} nodes, {OPERATIONS} operations each, {what} per operation:"
    )
    wanted = set(args.only.split(",")) if args.only else None
    for workload, unit, per in (
        ("W1", "per node", nodes),
        ("W3", "per change", 1),
        ("W4", "per change", 1),
        ("W5", "per query", FANOUT),
        ("hit", "per call", HITS),
    ):
        if wanted is not None and workload not in wanted:
            continue
        base, base_d1, base_ll = _instructions(workload, 1, cache, width)
        total, total_d1, total_ll = _instructions(workload, 1 + OPERATIONS, cache, width)
        each = (total - base) / OPERATIONS / per
        d1 = (total_d1 - base_d1) / OPERATIONS / per
        ll = (total_ll - base_ll) / OPERATIONS / per
        shown = f" {d1:>12,.1f} D1 misses {ll:>10,.1f} LL misses" if cache else ""
        print(f"{workload} {unit:<12} {each:>14,.0f}{shown}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
