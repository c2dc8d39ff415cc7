"""Function calls per operation: the engine's cost in a unit no machine can blur.

On a shared virtual machine the same build of sofrito measures 25-30% apart
from one run to the next, which hides the 5-15% an engine change is worth.
The number of calls (Python and built-in) that ``cProfile`` counts for a
workload does not move, so an engine change is judged by it first and by
the timed harness second. Same graph, same adapter and same edits as
``python -m benchmarks``.

Run: ``python -m benchmarks.calls`` (from the repository, or with
``PYTHONPATH=other/src`` to count another checkout's engine).
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable

from benchmarks.adapters.base import reset_tally
from benchmarks.adapters.sofrito_adapter import SofritoAdapter
from benchmarks.graph import Graph

EDITS = 10


def calls(operation: Callable[[], object]) -> int:
    profile = cProfile.Profile()
    profile.enable()
    operation()
    profile.disable()
    total: int = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    return total


def main() -> None:
    graph = Graph()
    adapter = SofritoAdapter()
    reset_tally(adapter.tally, graph)
    leaves = graph.initial_leaves()

    def cold() -> None:
        adapter.build(graph)
        adapter.read_root()

    def edits(edit: Callable[[list[int], int], tuple[int, int]]) -> Callable[[], None]:
        def run() -> None:
            for step in range(EDITS):
                leaf, value = edit(leaves, step)
                leaves[leaf] = value
                adapter.set_leaf(leaf, value)
                adapter.read_root()

        return run

    rows = [("W1 cold, per executed node", calls(cold) / (graph.derived + 1))]
    rows.append(("W2 warm hit", calls(adapter.read_root)))
    rows.append(("W3 one change", calls(edits(graph.change_edit)) / EDITS))
    rows.append(("W4 early cutoff", calls(edits(graph.cutoff_edit)) / EDITS))
    adapter.build_fanout(graph)
    adapter.read_all_fanout()

    def fan_out() -> None:
        adapter.set_fanout(1)
        adapter.read_all_fanout()

    rows.append(("W5 fan-out, per query", calls(fan_out) / graph.fanout))
    for label, count in rows:
        print(f"{label:<28} {count:>10,.1f} calls")


if __name__ == "__main__":
    main()
