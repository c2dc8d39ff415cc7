"""sofrito: one keyed input family, one keyed query for every node."""

from __future__ import annotations

from typing import Any

import sofrito as sf
from benchmarks import graph

leaf = sf.Input("bench.leaf")
fan_input = sf.Input("bench.fan_input")
_counter = [0]


@sf.query(name="bench.node")
def node(db: Any, layer: int, k: int) -> int:
    _counter[0] += 1
    (la, ka), (lb, kb) = graph.deps(layer, k)
    if layer == 0:
        return graph.combine(0, leaf(db, ka), leaf(db, kb))
    return graph.combine(layer, node(db, la, ka), node(db, lb, kb))


@sf.query(name="bench.root")
def root(db: Any) -> int:
    _counter[0] += 1
    return sum(node(db, graph.LAYERS - 1, k) for k in range(graph.WIDTH))


@sf.query(name="bench.fan")
def fan(db: Any, i: int) -> int:
    _counter[0] += 1
    return graph.fanout_value(fan_input(db), i)


@sf.query(name="bench.trivial")
def trivial(db: Any, x: int) -> int:
    return x


class SofritoAdapter:
    name = "sofrito"
    package = None
    supports_cutoff = True

    @property
    def executions(self) -> int:
        return _counter[0]

    @executions.setter
    def executions(self, value: int) -> None:
        _counter[0] = value

    def build(self) -> None:
        self.rt = sf.Runtime()
        with self.rt.batch():
            for i in range(graph.LEAVES):
                self.rt.set(leaf[i], graph.initial(i))

    def read_root(self) -> int:
        return root(self.rt)

    def set_leaf(self, i: int, value: int) -> None:
        self.rt.set(leaf[i], value)

    def build_fanout(self) -> None:
        self.fan_rt = sf.Runtime()
        self.fan_rt.set(fan_input, 0)

    def set_fanout(self, value: int) -> None:
        self.fan_rt.set(fan_input, value)

    def read_fanout(self) -> list[int]:
        rt = self.fan_rt
        return [fan(rt, i) for i in range(graph.FANOUT)]

    def build_hit(self) -> None:
        self.hit_rt = sf.Runtime()
        trivial(self.hit_rt, 1)

    def hit(self) -> int:
        return trivial(self.hit_rt, 1)
