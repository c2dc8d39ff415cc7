"""Property tests: the runtime agrees with a from-scratch oracle, and does no needless work.

On random graphs (conditional reads, cutoffs, errors) and random edit
sequences, after every read:

1. the value (or error, or suspension) equals the oracle's;
2. every node that executed had a reason to: it is new, or something it read
   in its previous execution changed after that execution. An input changed
   when an effective write hit it; a derived node changed when one of its
   executions produced a value different from the one before (early cutoff),
   or an error (errors never compare equal). This is the design's rule, which
   compares revisions, not values: a cell set away and back has changed.
3. no node executed twice in one revision;
4. the revision moved by exactly one per effective write or batch.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sofrito as sf
from tests.oracle import Failure, Missing, Node, Ref, apply, evaluate
from tests.strategies import Graph, graphs, steps

cells = sf.Input("prop.cell")


class World:
    """The graph under test, and what each node read when it last executed."""

    graph: Graph
    last_reads: dict[int, dict[Ref, object]]
    executions: Counter[tuple[int, int]]
    runtime: sf.Runtime
    input_changed: dict[int, int]
    """Revision of the last effective write to each input cell."""
    history: dict[int, list[tuple[int, object]]]
    """Every execution of each node: (revision, value or ERROR)."""

    def reset(self, graph: Graph) -> None:
        self.graph, self.last_reads, self.executions = graph, {}, Counter()
        self.input_changed, self.history = {}, {}
        self.runtime = sf.Runtime()

    def changed_at(self, ref: Ref) -> int:
        """When ``ref`` last changed, by the design's rule."""
        kind, position = ref
        if kind == "i":
            return self.input_changed.get(position, 0)
        runs = self.history.get(position, [])
        for at in range(len(runs) - 1, -1, -1):
            revision, value = runs[at]
            if at == 0 or value is ERROR or runs[at - 1][1] != value:
                return revision
        return 0


world = World()
ERROR = object()


def _run(db: Any, index: int) -> int:
    reads: dict[Ref, object] = {}

    def read(ref: Ref) -> int:
        kind, position = ref
        try:
            value = cells(db, position) if kind == "i" else node(db, position)
        except Failure:
            reads[ref] = ERROR
            raise
        reads[ref] = value
        return value  # type: ignore[no-any-return]

    revision = world.runtime.revision
    world.executions[(index, revision)] += 1
    try:
        outcome = apply(world.graph.nodes[index], read)
    except Failure:
        _completed(index, revision, reads, ERROR)
        raise
    _completed(index, revision, reads, outcome)
    return outcome


def _completed(index: int, revision: int, reads: dict[Ref, object], outcome: object) -> None:
    """Remember an execution that produced a value or a (cached) error; a
    suspended one produced nothing and changes nothing."""
    world.last_reads[index] = reads
    world.history.setdefault(index, []).append((revision, outcome))


@sf.query(name="prop.node")
def node(db: Any, index: int) -> int:
    return _run(db, index)


@sf.query(name="prop.node_lru", lru=2)
def node_lru(db: Any, index: int) -> int:
    return _run(db, index)


def _check_read(
    target: int,
    inputs: dict[int, int],
    before: dict[int, dict[Ref, object]],
    last_run: dict[int, int],
) -> None:
    rt = world.runtime
    try:
        expected: object = evaluate(world.graph.nodes, inputs, target)
    except (Failure, Missing) as exc:
        expected = type(exc)
    revision = rt.revision
    executed_before = {key for key, count in world.executions.items() if count}
    try:
        got: object = node(rt, target)
    except Failure:
        got = Failure
    except sf.Suspend:
        got = Missing
    assert got == expected, (target, got, expected)
    ran = [
        index
        for (index, at), count in world.executions.items()
        if at == revision and count and (index, at) not in executed_before
    ]
    for index in ran:
        assert world.executions[(index, revision)] == 1, f"node {index} ran twice"
        previous = before.get(index)
        if previous is None or index not in last_run:
            continue  # its first (complete) execution
        reasons = [
            ref
            for ref, value in previous.items()
            if value is ERROR or world.changed_at(ref) > last_run[index]
        ]
        assert reasons, f"node {index} re-executed though nothing it read changed"


def _apply(step: tuple[Any, ...], inputs: dict[int, int], durability: dict[int, int]) -> bool:
    """Apply one edit to the runtime and the model; True if it was effective."""
    rt = world.runtime
    kind = step[0]
    if kind == "set":
        _, cell, value = step
        effective = inputs.get(cell) != value
        inputs[cell] = value
        rt.set(cells[cell], value, durability=sf.Durability(durability.get(cell, 0)))
    elif kind == "durability":
        _, cell, level = step
        effective = cell in inputs and durability.get(cell, 0) != level
        durability[cell] = level
        if cell in inputs:
            rt.set(cells[cell], inputs[cell], durability=sf.Durability(level))
    elif kind == "remove":
        _, cell = step
        effective = cell in inputs
        inputs.pop(cell, None)
        rt.remove(cells[cell])
    else:
        return _apply_batch(step[1], inputs, durability)
    if effective:
        world.input_changed[cell] = rt.revision
    return effective


def _apply_batch(
    edits: list[tuple[Any, ...]], inputs: dict[int, int], durability: dict[int, int]
) -> bool:
    effective = False
    with world.runtime.batch():
        for inner in edits:
            effective = _apply(inner, inputs, durability) or effective
    return effective


@settings(max_examples=int(os.environ.get("SOFRITO_PROP_EXAMPLES", "150")), deadline=None)
@given(st.data())
def test_runtime_agrees_with_the_oracle_and_does_no_needless_work(data: st.DataObject) -> None:
    graph = data.draw(graphs())
    world.reset(graph)
    inputs: dict[int, int] = {}
    durability: dict[int, int] = {}
    with world.runtime.batch():
        for cell in range(graph.inputs):
            inputs[cell] = cell
            world.runtime.set(cells[cell], cell)
    for step in data.draw(steps(graph)):
        if step[0] == "read":
            before = {index: dict(reads) for index, reads in world.last_reads.items()}
            last_run = {index: runs[-1][0] for index, runs in world.history.items()}
            _check_read(step[1], inputs, before, last_run)  # type: ignore[arg-type]
            continue
        revision = world.runtime.revision
        effective = _apply(step, inputs, durability)
        assert world.runtime.revision == revision + (1 if effective else 0), step


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_tiny_lru_and_clear_cache_keep_values_right(data: st.DataObject) -> None:
    graph = data.draw(graphs(max_nodes=10))
    world.reset(graph)
    rt = world.runtime
    inputs = {cell: cell for cell in range(graph.inputs)}
    with rt.batch():
        for cell, value in inputs.items():
            rt.set(cells[cell], value)
    for step in data.draw(steps(graph)):
        if step[0] == "read":
            target = step[1]
            try:
                expected: object = evaluate(graph.nodes, inputs, target)  # type: ignore[arg-type]
            except (Failure, Missing) as exc:
                expected = type(exc)
            for reader in (node_lru, node):
                try:
                    got: object = reader(rt, target)
                except Failure:
                    got = Failure
                except sf.Suspend:
                    got = Missing
                assert got == expected
            if target % 3 == 0:
                rt.clear_cache()
        elif step[0] != "durability":
            _apply(step, inputs, {})


def test_oracle_knows_each_operation() -> None:
    graph = {
        0: Node("sum", (("i", 0), ("i", 1)), 2),
        1: Node("cond", (("q", 0), ("i", 0), ("i", 1)), 2),
        2: Node("fail", (("i", 0),), 5),
    }
    assert evaluate(graph, {0: 4, 1: 5}, 0) == 9
    assert evaluate(graph, {0: 4, 1: 5}, 1) == 5  # 9 is odd: the third dependency
    with pytest.raises(Failure, match="fail at 10"):
        evaluate(graph, {0: 10, 1: 0}, 2)
