"""W1-W4: the generated graph of ``benchmarks.graph``, built, read, and edited.

They run in order on one adapter, each leaving the graph for the next:

- W1 cold: from nothing to the root's value. A fresh ``build`` (inputs set,
  derived nodes declared, a new runtime where the library has one) and the
  first ``read_root``, timed together, because declaring 10,000 node objects
  is part of what a per-node library costs before its first result and
  setting 1,000 inputs is part of what every library costs. The setup part
  is also shown on its own. Every node must execute exactly once.
- W2 warm hit: ``read_root`` again, nothing changed. Nothing may execute.
- W3 one change: one leaf moves its bucket, then ``read_root``; a different
  leaf each time. The executions are compared with the minimum
  (``Graph.must_execute``): the nodes that read a value that changed.
- W4 early cutoff: one leaf changes but its layer-0 node computes an equal
  value, then ``read_root``. Downstream of that node nothing may execute
  (the count reported is the most any edit executed).
- W3 on a graph twice as wide (2,000 leaves, 20,000 nodes, same depth): the
  cone of a change is the same size but for the root, which reads the whole
  last layer (twice as many nodes), so an engine whose cost follows the
  change takes a little more than in W3, and one that walks the graph at
  least twice as long. The build and first read are not timed.

Every root value is checked against the from-scratch evaluation; a wrong one
ends the family for that library and is reported in its cell.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable

from benchmarks.adapters.base import Adapter, reset_tally
from benchmarks.graph import Graph
from benchmarks.timing import Budget, median_ms, per_call_ns, timed_once
from benchmarks.workloads.measurement import Measurement, Mismatch, check

SETUP = "  of which setup"
"""The part of W1 spent in ``build`` (inputs and node objects), before the first read."""

COLD, WARM, CHANGE, CUTOFF = "W1 cold", "W2 warm hit", "W3 one change", "W4 early cutoff"
WIDE = "W3, graph 2x as wide"
"""W3 again on a graph with twice the nodes and the same depth: the same cone."""
ROWS = (COLD, SETUP, WARM, CHANGE, CUTOFF, WIDE)


class _State:
    """The leaves as the adapter holds them, and their from-scratch evaluation."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.leaves = graph.initial_leaves()
        self.evaluation = graph.evaluate(self.leaves)


def measure(adapter: Adapter, graph: Graph, scale: float) -> list[Measurement]:
    state = _State(graph)
    steps: list[Callable[[Adapter, _State, float], list[Measurement]]] = [
        cold,
        lambda *args: [warm(*args)],
        lambda *args: [change(*args)],
        lambda *args: [cutoff(*args)],
        lambda *args: [wide(*args)],
    ]
    done: list[Measurement] = []
    for step in steps:
        row = ROWS[len(done)]
        try:
            done += step(adapter, state, scale)
        except Mismatch as exc:
            done.append(Measurement(row, wrong=str(exc)))
            break
        except Exception as exc:  # a peer's crash is reported in its cell, not fatal
            done.append(Measurement(row, wrong=f"{type(exc).__name__}: {exc}"))
            break
    failed = done[-1].row
    done += [Measurement(row, na=f"not run after {failed} failed") for row in ROWS[len(done) :]]
    return done


def cold(adapter: Adapter, state: _State, scale: float) -> list[Measurement]:
    graph = state.graph
    budget = Budget(6 * scale, least=3, most=7)
    samples, setups = [], []
    while budget.more():
        reset_tally(adapter.tally, graph)
        gc.collect()
        start = time.perf_counter_ns()
        adapter.build(graph)
        built = time.perf_counter_ns()
        root = adapter.read_root()
        end = time.perf_counter_ns()
        check("W1 root", root, state.evaluation.root)
        budget.add(end - start)
        samples.append(end - start)
        setups.append(built - start)
    return [
        Measurement(
            COLD,
            median_ms(samples),
            runs=len(samples),
            executed=sum(adapter.tally),
            expected=graph.derived + 1,
        ),
        Measurement(SETUP, median_ms(setups), runs=len(setups)),
    ]


def warm(adapter: Adapter, state: _State, scale: float) -> Measurement:
    read = adapter.read_root
    check("W2 root", read(), state.evaluation.root)
    ns = per_call_ns(read, batch_seconds=0.05 * scale)
    reset_tally(adapter.tally)
    check("W2 root", read(), state.evaluation.root)
    return Measurement(WARM, ns, unit="ns", runs=7, executed=sum(adapter.tally), expected=0)


def _edits(
    adapter: Adapter,
    state: _State,
    budget: Budget,
    edit: Callable[[list[int], int], tuple[int, int]],
    what: str,
) -> tuple[list[int], list[list[int]], list[list[int]]]:
    """Apply edits while the budget lasts: (times, executions, minimal executions) per edit."""
    graph = state.graph
    samples: list[int] = []
    executed: list[list[int]] = []
    minimum: list[list[int]] = []
    step = 0
    while budget.more():
        leaf, value = edit(state.leaves, step)
        step += 1
        state.leaves[leaf] = value
        after = graph.evaluate(state.leaves)
        minimum.append(graph.must_execute(state.evaluation, after))
        state.evaluation = after
        reset_tally(adapter.tally)

        def write_and_read(leaf: int = leaf, value: int = value) -> int:
            adapter.set_leaf(leaf, value)
            return adapter.read_root()

        elapsed, root = timed_once(write_and_read)
        check(f"{what} root after leaf {leaf} = {value}", root, after.root)
        budget.add(elapsed)
        samples.append(elapsed)
        executed.append(list(adapter.tally))
    return samples, executed, minimum


def change(adapter: Adapter, state: _State, scale: float) -> Measurement:
    budget = Budget(3 * scale, least=3, most=30)
    return _changes(CHANGE, *_edits(adapter, state, budget, state.graph.change_edit, "W3"))


def cutoff(adapter: Adapter, state: _State, scale: float) -> Measurement:
    budget = Budget(3 * scale, least=3, most=30)
    samples, executed, minimum = _edits(adapter, state, budget, state.graph.cutoff_edit, "W4")
    if any(sum(t[1:]) for t in minimum):  # the edits are built so that this cannot happen
        raise AssertionError("a W4 edit changed a value downstream of layer 0")
    downstream = max(sum(t[1:]) for t in executed)
    return Measurement(
        CUTOFF,
        None if adapter.no_cutoff else median_ms(samples),
        runs=len(samples),
        executed=downstream,
        expected=0,
        na=adapter.no_cutoff,
    )


def wide(adapter: Adapter, state: _State, scale: float) -> Measurement:
    graph = state.graph
    wider = Graph(
        leaves=2 * graph.leaves, layers=graph.layers, width=2 * graph.width, fanout=graph.fanout
    )
    wide_state = _State(wider)
    reset_tally(adapter.tally, wider)
    adapter.build(wider)
    check("W3 (2x) first root", adapter.read_root(), wide_state.evaluation.root)
    budget = Budget(3 * scale, least=3, most=15)
    return _changes(WIDE, *_edits(adapter, wide_state, budget, wider.change_edit, "W3 (2x)"))


def _changes(
    row: str, samples: list[int], executed: list[list[int]], minimum: list[list[int]]
) -> Measurement:
    """A W3 row: the median time, and the median executions against the minimum."""
    return Measurement(
        row,
        median_ms(samples),
        runs=len(samples),
        executed=round(statistics.median(sum(t) for t in executed)),
        expected=round(statistics.median(sum(t) for t in minimum)),
    )
