"""The oracle's graph as queries worker processes can import (tests/test_parallel_properties.py).

One input family of cells keyed by number, the graph itself in a cell (so a
worker reads it from the store, as it reads every input), and one query per
node: ``apply`` of the node's op, whose "gather" nodes read their keys
through ``sf.gather``: the keys a runtime with an executor ships to its
workers. A module of its own, importable by name, as ``tests.parallel_flow``.
"""

from __future__ import annotations

from typing import Any

import sofrito as sf
from tests.oracle import Graph, Ref, Value, apply

cells = sf.Input("parallel_oracle.cell")
graph_cell = sf.Input("parallel_oracle.graph", durability=sf.Durability.STATIC)


@sf.query(name="parallel_oracle.node")
def node(db: Any, index: int) -> Value:
    graph: Graph = graph_cell(db)

    def read(ref: Ref) -> Value:
        kind, position = ref
        return cells(db, position) if kind == "i" else node(db, position)  # type: ignore[no-any-return]

    def keys(family: int) -> tuple[int, ...]:
        listed = (key[0] for key in cells.keys(db))
        return tuple(sorted(cell for cell in listed if graph.families[cell] == family))

    def gather(refs: tuple[Ref, ...]) -> list[Value]:
        return sf.gather(db, node, [(position,) for _, position in refs])

    return apply(graph.nodes[index], read, None, keys, gather)
