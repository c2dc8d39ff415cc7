"""Plain Python, no memoization: every read recomputes everything from scratch."""

from __future__ import annotations

from benchmarks import graph


class BaselineAdapter:
    name = "from-scratch"
    package = None
    supports_cutoff = False

    def __init__(self) -> None:
        self.executions = 0

    def build(self) -> None:
        self.values = graph.Values([graph.initial(i) for i in range(graph.LEAVES)])

    def read_root(self) -> int:
        self.executions += graph.WIDTH * graph.LAYERS + 1
        return self.values.root()

    def set_leaf(self, i: int, value: int) -> None:
        self.values.leaves[i] = value

    def build_fanout(self) -> None:
        self.fan = 0

    def set_fanout(self, value: int) -> None:
        self.fan = value

    def read_fanout(self) -> list[int]:
        self.executions += graph.FANOUT
        return [graph.fanout_value(self.fan, i) for i in range(graph.FANOUT)]

    def build_hit(self) -> None:
        self.cache = {1: 1}

    def hit(self) -> int:
        return self.cache[1]
