"""The from-scratch baseline: plain Python, no memo, every read recomputes everything.

It is what an incremental engine must beat to be worth having: W2, W3 and
W4 each cost a full evaluation here (so its W4 "downstream executions" are
the whole graph: it has no cutoff, and is not meant to). Its node bodies are the same
``combine`` calls with the same tally increment as every adapter's, run in a
plain loop over the layers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from benchmarks.graph import Graph, combine, fan_value


class BaselineAdapter:
    name: ClassVar[str] = "from-scratch"
    distribution: ClassVar[str | None] = None
    no_cutoff: ClassVar[str | None] = None
    native: ClassVar[bool] = False
    untracked_warm: ClassVar[str | None] = None

    def __init__(self) -> None:
        self.tally: list[int] = []

    def build(self, graph: Graph) -> None:
        self.graph = graph
        self.leaves = graph.initial_leaves()

    def read_root(self) -> int:
        tally, leaves = self.tally, self.leaves
        below: list[int] = []
        done: list[list[int]] = []
        for layer, reads in enumerate(self.graph.reads):
            row = []
            for node in reads:
                tally[layer] += 1
                if layer == 0:
                    row.append(combine(0, [leaves[j] for _, j in node]))
                else:
                    row.append(combine(layer, [done[lb][j] for lb, j in node]))
            done.append(row)
            below = row
        tally[self.graph.root_slot] += 1
        return sum(below)

    def set_leaf(self, leaf: int, value: int) -> None:
        self.leaves[leaf] = value

    def build_fanout(self, graph: Graph) -> None:
        self.fan_graph, self.fan = graph, 0

    def set_fanout(self, value: int) -> None:
        self.fan = value

    def read_all_fanout(self) -> list[int]:
        tally, slot, x = self.tally, self.fan_graph.fan_slot, self.fan
        values = []
        for i in range(self.fan_graph.fanout):
            tally[slot] += 1
            values.append(fan_value(x, i))
        return values

    def hit_statement(self) -> tuple[str, dict[str, Any]] | None:
        return None
