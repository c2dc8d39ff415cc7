"""Hypothesis strategies: random DAGs of inputs and queries, random edits and reads."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from tests.oracle import Node, Ref

OPS = ("sum", "mod", "max", "div", "cond", "fail")


@dataclass(frozen=True)
class Graph:
    inputs: int
    nodes: dict[int, Node]


@st.composite
def graphs(draw: st.DrawFn, max_inputs: int = 6, max_nodes: int = 18) -> Graph:
    n_inputs = draw(st.integers(1, max_inputs))
    n_nodes = draw(st.integers(1, max_nodes))
    nodes: dict[int, Node] = {}
    for index in range(n_nodes):
        available: list[Ref] = [("i", k) for k in range(n_inputs)]
        available += [("q", k) for k in range(index)]
        op = draw(st.sampled_from(OPS))
        size = draw(st.integers(1, min(4, len(available))))
        deps = draw(st.permutations(available).map(lambda refs, size=size: tuple(refs[:size])))
        if op == "cond" and len(deps) < 2:
            op = "sum"
        param = draw(st.integers(2, 7))
        nodes[index] = Node(op, deps, param)
    return Graph(n_inputs, nodes)


# An edit: ("set", input, value) | ("durability", input, level) | ("remove", input)
#          | ("batch", [edits]) ; a read: ("read", node)
def steps(graph: Graph) -> st.SearchStrategy[list[tuple[object, ...]]]:
    cell = st.integers(0, graph.inputs - 1)
    single = st.one_of(
        st.tuples(st.just("set"), cell, st.integers(0, 12)),
        st.tuples(st.just("durability"), cell, st.integers(0, 3)),
        st.tuples(st.just("remove"), cell),
    )
    read = st.tuples(st.just("read"), st.integers(0, len(graph.nodes) - 1))
    batch = st.tuples(st.just("batch"), st.lists(single, min_size=1, max_size=3))
    return st.lists(st.one_of(read, read, single, batch), max_size=30)
