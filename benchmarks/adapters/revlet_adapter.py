"""revlet (pure Python, Salsa-style): ``@tracked`` keyed queries over database inputs.

A leaf is a ``db.input``; ``node(layer, k)`` and ``root()`` are ``@tracked``
functions whose arguments are their key. They take no input argument, so the
database is named once with ``db.bind`` (revlet's way for such queries);
nested calls inherit it. Validation is pull-only: after a write, a read
re-verifies the root's whole dependency graph, bottom-up, once per revision.
"""

from __future__ import annotations

from typing import Any, ClassVar

from benchmarks.graph import Graph, combine, fan_value


class RevletAdapter:
    name: ClassVar[str] = "revlet"
    distribution: ClassVar[str | None] = "revlet"
    no_cutoff: ClassVar[str | None] = None
    native: ClassVar[bool] = False
    untracked_warm: ClassVar[str | None] = None

    def __init__(self) -> None:
        import revlet

        self._revlet = revlet
        self.tally: list[int] = []

    def build(self, graph: Graph) -> None:
        tracked = self._revlet.tracked
        tally, reads, top, root_slot = self.tally, graph.reads, graph.top(), graph.root_slot
        db = self._revlet.Database()
        leaves = self.leaves = [db.input(value) for value in graph.initial_leaves()]

        @tracked
        def node(layer: int, k: int) -> int:
            tally[layer] += 1
            if layer == 0:
                return combine(0, [leaves[j].value for _, j in reads[0][k]])
            return combine(layer, [node(lb, j) for lb, j in reads[layer][k]])

        @tracked
        def root() -> int:
            tally[root_slot] += 1
            return sum(node(layer, k) for layer, k in top)

        self._root = db.bind(root)

    def read_root(self) -> int:
        return self._root()

    def set_leaf(self, leaf: int, value: int) -> None:
        self.leaves[leaf].value = value

    def build_fanout(self, graph: Graph) -> None:
        tally, slot = self.tally, graph.fan_slot
        db = self._revlet.Database()
        source = self.source = db.input(0)

        @self._revlet.tracked
        def fan(i: int) -> int:
            tally[slot] += 1
            return fan_value(source.value, i)

        self._fan, self.count = db.bind(fan), graph.fanout

    def set_fanout(self, value: int) -> None:
        self.source.value = value

    def read_all_fanout(self) -> list[int]:
        fan = self._fan
        return [fan(i) for i in range(self.count)]

    def hit_statement(self) -> tuple[str, dict[str, Any]]:
        @self._revlet.tracked
        def trivial(x: int) -> int:
            return x

        q = self._revlet.Database().bind(trivial)
        q(1)
        return "q(1)", {"q": q}
