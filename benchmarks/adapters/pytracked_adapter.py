"""pytracked (pure Python, attribute grammars): ``token`` leaves and a keyed ``tracked`` family.

A leaf is an object with a ``token`` attribute. The nodes are one
parameterized ``tracked`` method, ``net.node(layer, k)``, which caches per
argument tuple; the root is a plain ``tracked`` attribute, ``net.root``.

Why keyed and not one object per node: pytracked 0.1.2 caches a zero-argument
``tracked`` attribute in the instance ``__dict__``, and its descriptor has no
``__set__``, so later reads skip the descriptor and record no dependency
edge. A node read by two others is then flushed for one reader only, and the
other serves a stale value (the first version of this harness caught it as
a wrong root). Parameterized attributes always pass through the descriptor
and are correct; the root is read by no other node, so its attribute is
safe, and its hit is a plain attribute read.

Writes flush every dependent transitively and nothing compares values, so
there is no early cutoff (W4 is n/a; its execution count is still shown).
"""

from __future__ import annotations

from typing import Any, ClassVar

from benchmarks.graph import Graph, combine, fan_value


class PytrackedAdapter:
    name: ClassVar[str] = "pytracked"
    distribution: ClassVar[str | None] = "pytracked"
    no_cutoff: ClassVar[str | None] = "no early cutoff"
    native: ClassVar[bool] = False
    untracked_warm: ClassVar[str | None] = (
        "its root is an attribute cached in the instance __dict__: the read records no dependency"
    )

    def __init__(self) -> None:
        import pytracked

        self._pt = pytracked
        self.tally: list[int] = []

    def _leaf_class(self) -> type:
        token = self._pt.token

        class Leaf:
            value = token(0)

        return Leaf

    def build(self, graph: Graph) -> None:
        tracked = self._pt.tracked
        tally, reads, top, root_slot = self.tally, graph.reads, graph.top(), graph.root_slot
        leaf_class = self._leaf_class()
        leaves = self.leaves = [leaf_class() for _ in range(graph.leaves)]
        for cell, value in zip(leaves, graph.initial_leaves(), strict=True):
            cell.value = value

        class Net:
            @tracked
            def node(self, layer: int, k: int) -> int:
                tally[layer] += 1
                if layer == 0:
                    return combine(0, [leaves[j].value for _, j in reads[0][k]])
                return combine(layer, [self.node(lb, j) for lb, j in reads[layer][k]])

            @tracked
            def root(self) -> int:
                tally[root_slot] += 1
                node = self.node
                return sum(node(layer, k) for layer, k in top)

        self.net = Net()

    def read_root(self) -> int:
        return self.net.root

    def set_leaf(self, leaf: int, value: int) -> None:
        self.leaves[leaf].value = value

    def build_fanout(self, graph: Graph) -> None:
        tracked, tally, slot = self._pt.tracked, self.tally, graph.fan_slot
        source = self.source = self._leaf_class()()

        class Fan:
            @tracked
            def value(self, i: int) -> int:
                tally[slot] += 1
                return fan_value(source.value, i)

        self.fan, self.count = Fan(), graph.fanout

    def set_fanout(self, value: int) -> None:
        self.source.value = value

    def read_all_fanout(self) -> list[int]:
        fan = self.fan.value
        return [fan(i) for i in range(self.count)]

    def hit_statement(self) -> tuple[str, dict[str, Any]]:
        tracked = self._pt.tracked

        class Trivial:
            @tracked
            def value(self, x: int) -> int:
                return x

        t = Trivial()
        t.value(1)
        return "t.value(1)", {"t": t}
