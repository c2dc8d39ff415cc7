"""The scale workload's graph and reference, against the harness's own (issue 27).

``benchmarks.scale`` does not hold the graph's read lists nor evaluate it
from scratch per edit, which a million nodes would not afford: it computes
reads when asked and updates its reference along the cone of each edit. A
reference that drifted from the from-scratch evaluation would make every
library's root look wrong, or a wrong root look right; these tests compare
the two on a graph small enough to evaluate both ways, and run sofrito
through the workload's child on it. They time nothing.
"""

from __future__ import annotations

import pytest
from benchmarks.graph import Graph
from benchmarks.scale import GROUP, Evaluation, ScaleGraph, child

import sofrito

NODES = 4 * GROUP * 20  # four partial sums of the last layer


def test_the_lazy_reads_are_the_graphs_reads() -> None:
    lazy = ScaleGraph(NODES)
    eager = Graph(leaves=lazy.leaves, layers=lazy.layers, width=lazy.width)
    assert [list(row) for row in lazy.reads] == [list(row) for row in eager.reads]
    assert lazy.reads[3][7] == eager.reads[3][7]
    with pytest.raises(IndexError):
        lazy.reads[0][lazy.width]


def test_edits_along_the_cone_agree_with_evaluating_from_scratch() -> None:
    lazy = ScaleGraph(NODES)
    eager = Graph(leaves=lazy.leaves, layers=lazy.layers, width=lazy.width)
    state = Evaluation(lazy, lazy.initial_leaves())
    before = eager.evaluate(lazy.initial_leaves())
    assert state.root == before.root
    for step in range(12):
        edit = lazy.change_edit if step % 2 else lazy.cutoff_edit
        leaf, value = edit(state.leaves, step)
        must = state.edit(leaf, value)
        after = eager.evaluate(state.leaves)
        assert state.root == after.root
        assert [list(row) for row in state.values] == [list(row) for row in after.nodes]
        layers = sum(eager.must_execute(before, after)[: eager.layers])
        assert layers <= must <= layers + len(lazy.groups()) + 1
        before = after


def test_sofrito_runs_the_workload_with_the_minimum_executions() -> None:
    # the column of the build this suite runs on: each refuses the other build
    result = child("sofrito-compiled" if sofrito.COMPILED else "sofrito", NODES, 3)
    assert result["W3"]["executed"] == result["W3"]["minimum"]
    assert result["W4"]["executed"] == result["W4"]["minimum"] == 1
    assert result["bytes_per_node"] > 0
