"""query-cascade (pure Python, Salsa-style): an ``@engine.input`` and ``@engine.query`` family.

Leaves are one keyed input, ``leaf(j)``, set in one ``engine.transaction()``;
``node(layer, k)`` and ``root()`` are keyed queries. The engine's LRU holds
10,000 memos by default, fewer than this graph has, so it is built with
``max_entries=100_000`` (a documented option); everything else is the
default, including its registration-time rewriting of reducers such as
``sum``. Validation is pull-only (red/green marking from the root down).
"""

from __future__ import annotations

from typing import Any, ClassVar

from benchmarks.graph import Graph, combine, fan_value

MAX_ENTRIES = 100_000


class CascadeAdapter:
    name: ClassVar[str] = "query-cascade"
    distribution: ClassVar[str | None] = "query-cascade"
    no_cutoff: ClassVar[str | None] = None
    native: ClassVar[bool] = False
    untracked_warm: ClassVar[str | None] = None

    def __init__(self) -> None:
        import cascade

        self._cascade = cascade
        self.tally: list[int] = []

    def build(self, graph: Graph) -> None:
        tally, reads, top, root_slot = self.tally, graph.reads, graph.top(), graph.root_slot
        engine = self._cascade.Engine(max_entries=MAX_ENTRIES)

        @engine.input
        def leaf(j: int) -> int:
            raise LookupError(f"leaf {j} was never set")

        @engine.query
        def node(layer: int, k: int) -> int:
            tally[layer] += 1
            if layer == 0:
                return combine(0, [leaf(j) for _, j in reads[0][k]])
            return combine(layer, [node(lb, j) for lb, j in reads[layer][k]])

        @engine.query
        def root() -> int:
            tally[root_slot] += 1
            return sum(node(layer, k) for layer, k in top)

        with engine.transaction():
            for j, value in enumerate(graph.initial_leaves()):
                leaf.set(j, value=value)
        self.leaf, self._root = leaf, root

    def read_root(self) -> int:
        return self._root()

    def set_leaf(self, leaf: int, value: int) -> None:
        self.leaf.set(leaf, value=value)

    def build_fanout(self, graph: Graph) -> None:
        tally, slot = self.tally, graph.fan_slot
        engine = self._cascade.Engine(max_entries=MAX_ENTRIES)

        @engine.input
        def source() -> int:
            return 0

        @engine.query
        def fan(i: int) -> int:
            tally[slot] += 1
            return fan_value(source(), i)

        self.source, self._fan, self.count = source, fan, graph.fanout

    def set_fanout(self, value: int) -> None:
        self.source.set(value=value)

    def read_all_fanout(self) -> list[int]:
        fan = self._fan
        return [fan(i) for i in range(self.count)]

    def hit_statement(self) -> tuple[str, dict[str, Any]]:
        engine = self._cascade.Engine()

        @engine.query
        def trivial(x: int) -> int:
            return x

        trivial(1)
        return "q(1)", {"q": trivial}
