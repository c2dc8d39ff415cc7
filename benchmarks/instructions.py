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

Run: ``python -m benchmarks.instructions`` for the sofrito on the path, or
``PYTHONPATH=.venv-bench/compiled:. python -m benchmarks.instructions`` for
the compiled build that ``scripts/bench.sh`` makes. Needs valgrind (Debian:
``apt install valgrind``). Takes a few minutes.
"""

from __future__ import annotations

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


def child(workload: str, operations: int) -> None:
    """Set up ``workload`` and run it ``operations`` times (under callgrind)."""
    graph = Graph(leaves=2 * WIDTH, width=WIDTH, fanout=FANOUT)
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


def _instructions(workload: str, operations: int) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                "benchmarks.instructions",
                "--child",
                workload,
                str(operations),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr}")
    return int(found.group(1))


def main() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt install valgrind)")
    import sofrito._engine

    build = "compiled" if getattr(sofrito._engine, "COMPILED", False) else "pure Python"
    print(f"sofrito ({build}), {OPERATIONS} operations each, instructions per operation:")
    nodes = Graph(leaves=2 * WIDTH, width=WIDTH).derived + 1
    for workload, unit, per in (
        ("W1", "per node", nodes),
        ("W3", "per change", 1),
        ("W4", "per change", 1),
        ("W5", "per query", FANOUT),
        ("hit", "per call", HITS),
    ):
        base = _instructions(workload, 1)
        total = _instructions(workload, 1 + OPERATIONS)
        each = (total - base) / OPERATIONS / per
        print(f"{workload} {unit:<12} {each:>14,.0f}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
