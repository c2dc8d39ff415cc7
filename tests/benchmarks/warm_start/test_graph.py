"""The warm-start graph: exact sizes, an oracle the runtime agrees with, needs that hold.

The benchmark judges the lazy loader against needs computed from the
graph's shape (``Shape.cone``, ``Shape.needed``); these tests check those
against a real runtime, so a wrong need cannot pass for a met target.
"""

from __future__ import annotations

import pytest
from benchmarks.warm_start.graph import FAN_IN, ROOT, Shape, expected_root, initial, root, source

import sofrito as sf
from benchmarks.warm_start import graph


@pytest.mark.parametrize("memos", [100, 1_000, 10_000, 100_000])
def test_a_power_of_ten_is_exact(memos: int) -> None:
    assert Shape.of(memos).memos == memos


@pytest.mark.parametrize("memos", [12, 57, 1_234, 99_999])
def test_other_sizes_round_down_to_a_tree(memos: int) -> None:
    shape = Shape.of(memos)
    assert shape.memos <= memos
    assert shape.leaves % FAN_IN == 0


def test_too_small_a_cache_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 12 memos"):
        Shape.of(11)


def test_needs_at_1000_memos() -> None:
    shape = Shape.of(1_000)
    cell = shape.edited_cell()
    assert (shape.top, shape.width, shape.leaves) == (2, 9, 900)
    # two leaves, their parent and grandparent, the root; each reads ten (the root nine)
    assert len(shape.cone(cell)) == 5
    assert len(shape.needed(cell)) == 30
    assert shape.cone_edges(cell) == 6
    assert shape.cone_reads(cell) == 2 * 2 + 10 + 10 + 9


def test_the_runtime_agrees_with_the_oracle_and_re_executes_the_cone() -> None:
    shape = Shape.of(1_000)
    rt = sf.Runtime()
    with rt.batch():
        for i in range(shape.leaves):
            rt.set(source[i], initial(i))
    assert root(rt, shape.top, shape.width) == expected_root(shape)
    assert sum(graph.executions.values()) >= shape.memos
    cell = shape.edited_cell()
    graph.executions.clear()
    rt.set(source[cell], initial(cell) + 1)
    assert root(rt, shape.top, shape.width) == expected_root(shape, {cell: initial(cell) + 1})
    assert sum(graph.executions.values()) == len(shape.cone(cell))
    assert ROOT in shape.cone(cell)
