"""The query libraries: incr-compute, revlet, query-cascade, pytracked."""

from __future__ import annotations

from typing import Any

from benchmarks import graph


class IncrAdapter:
    """incr-compute (Rust): one input node per leaf, one query node per derived node."""

    name, package, supports_cutoff = "incr-compute", "incr-compute", True

    def __init__(self) -> None:
        import incr

        self._incr = incr
        self.executions = 0

    def _query(self, rt: Any, body: Any) -> Any:
        def counted(ref: Any) -> int:
            self.executions += 1
            return int(body(ref))

        return rt.create_query(counted)

    def build(self) -> None:
        rt = self.rt = self._incr.Runtime()
        self.leaves = [rt.create_input(graph.initial(i)) for i in range(graph.LEAVES)]
        below = self.leaves
        for layer in range(graph.LAYERS):
            current = []
            for k in range(graph.WIDTH):
                (_, ka), (_, kb) = graph.deps(layer, k)
                a, b = below[ka], below[kb]
                current.append(
                    self._query(
                        rt,
                        lambda r, a=a, b=b, layer=layer: graph.combine(layer, r.get(a), r.get(b)),
                    )
                )
            below = current
        top = below
        self.root = self._query(rt, lambda r: sum(r.get(n) for n in top))

    def read_root(self) -> int:
        return int(self.rt.get(self.root))

    def set_leaf(self, i: int, value: int) -> None:
        self.rt.set(self.leaves[i], value)

    def build_fanout(self) -> None:
        rt = self.fan_rt = self._incr.Runtime()
        self.fan_input = rt.create_input(0)
        source = self.fan_input
        self.fan = [
            self._query(rt, lambda r, i=i: graph.fanout_value(r.get(source), i))
            for i in range(graph.FANOUT)
        ]

    def set_fanout(self, value: int) -> None:
        self.fan_rt.set(self.fan_input, value)

    def read_fanout(self) -> list[int]:
        get = self.fan_rt.get
        return [get(node) for node in self.fan]

    def build_hit(self) -> None:
        self.hit_rt = self._incr.Runtime()
        self.trivial = self.hit_rt.create_query(lambda r: 1)
        self.hit_rt.get(self.trivial)

    def hit(self) -> int:
        return int(self.hit_rt.get(self.trivial))


class RevletAdapter:
    """revlet: keyed tracked functions; a database anchor input names the database."""

    name, package, supports_cutoff = "revlet", "revlet", True

    def __init__(self) -> None:
        self.executions = 0

    def build(self) -> None:
        from revlet import Database, tracked

        self.db = Database()
        leaves = self.leaves = [self.db.input(graph.initial(i)) for i in range(graph.LEAVES)]
        anchor = self.anchor = self.db.input(0)
        adapter = self

        @tracked
        def node(anchor: Any, layer: int, k: int) -> int:
            adapter.executions += 1
            (la, ka), (lb, kb) = graph.deps(layer, k)
            if layer == 0:
                return graph.combine(0, leaves[ka].value, leaves[kb].value)
            return graph.combine(layer, node(anchor, la, ka), node(anchor, lb, kb))

        @tracked
        def root(anchor: Any) -> int:
            adapter.executions += 1
            return sum(node(anchor, graph.LAYERS - 1, k) for k in range(graph.WIDTH))

        self._root = root
        del anchor

    def read_root(self) -> int:
        return int(self._root(self.anchor))

    def set_leaf(self, i: int, value: int) -> None:
        self.leaves[i].value = value

    def build_fanout(self) -> None:
        from revlet import Database, tracked

        self.fan_db = Database()
        self.fan_input = self.fan_db.input(0)
        adapter = self

        @tracked
        def fan(source: Any, i: int) -> int:
            adapter.executions += 1
            return graph.fanout_value(source.value, i)

        self._fan = fan

    def set_fanout(self, value: int) -> None:
        self.fan_input.value = value

    def read_fanout(self) -> list[int]:
        fan, source = self._fan, self.fan_input
        return [fan(source, i) for i in range(graph.FANOUT)]

    def build_hit(self) -> None:
        from revlet import Database, tracked

        self.hit_db = Database()
        self.hit_anchor = self.hit_db.input(0)

        @tracked
        def trivial(anchor: Any, x: int) -> int:
            return x

        self._trivial = trivial
        trivial(self.hit_anchor, 1)

    def hit(self) -> int:
        return int(self._trivial(self.hit_anchor, 1))


class CascadeAdapter:
    """query-cascade: keyed inputs and queries on one engine."""

    name, package, supports_cutoff = "query-cascade", "query-cascade", True

    def __init__(self) -> None:
        self.executions = 0

    def _engine(self) -> Any:
        from cascade import Engine

        return Engine(max_entries=100_000)

    def build(self) -> None:
        engine = self._engine()
        adapter = self

        @engine.input
        def leaf(i: int) -> int:
            return graph.initial(i)

        @engine.query
        def node(layer: int, k: int) -> int:
            adapter.executions += 1
            (la, ka), (lb, kb) = graph.deps(layer, k)
            if layer == 0:
                return graph.combine(0, leaf(ka), leaf(kb))
            return graph.combine(layer, node(la, ka), node(lb, kb))

        @engine.query
        def root() -> int:
            adapter.executions += 1
            return sum(node(graph.LAYERS - 1, k) for k in range(graph.WIDTH))

        self.leaf, self._root = leaf, root

    def read_root(self) -> int:
        return int(self._root())

    def set_leaf(self, i: int, value: int) -> None:
        self.leaf.set(i, value=value)

    def build_fanout(self) -> None:
        engine = self._engine()
        adapter = self

        @engine.input
        def source() -> int:
            return 0

        @engine.query
        def fan(i: int) -> int:
            adapter.executions += 1
            return graph.fanout_value(source(), i)

        self.fan_source, self._fan = source, fan

    def set_fanout(self, value: int) -> None:
        self.fan_source.set(value=value)

    def read_fanout(self) -> list[int]:
        fan = self._fan
        return [fan(i) for i in range(graph.FANOUT)]

    def build_hit(self) -> None:
        engine = self._engine()

        @engine.query
        def trivial(x: int) -> int:
            return x

        self._trivial = trivial
        trivial(1)

    def hit(self) -> int:
        return int(self._trivial(1))


class PytrackedAdapter:
    """pytracked: an object per node with a tracked attribute; tokens for leaves.

    pytracked flushes dependents on write and has no early cutoff.
    """

    name, package, supports_cutoff = "pytracked", "pytracked", False

    def __init__(self) -> None:
        self.executions = 0

    def _classes(self) -> tuple[type, type]:
        from pytracked import token, tracked

        adapter = self

        class Leaf:
            value = token(0)

        def compute(node: Any) -> int:
            adapter.executions += 1
            return node.body()

        class Node:
            value = tracked(compute)

            def __init__(self, body: Any) -> None:
                self.body = body

        return Leaf, Node

    def build(self) -> None:
        leaf_cls, node_cls = self._classes()
        self.leaves = []
        for i in range(graph.LEAVES):
            cell = leaf_cls()
            cell.value = graph.initial(i)
            self.leaves.append(cell)
        below: list[Any] = self.leaves
        for layer in range(graph.LAYERS):
            current = []
            for k in range(graph.WIDTH):
                (_, ka), (_, kb) = graph.deps(layer, k)
                a, b = below[ka], below[kb]
                current.append(
                    node_cls(lambda a=a, b=b, layer=layer: graph.combine(layer, a.value, b.value))
                )
            below = current
        top = below
        self.root = node_cls(lambda: sum(n.value for n in top))

    def read_root(self) -> int:
        return int(self.root.value)

    def set_leaf(self, i: int, value: int) -> None:
        self.leaves[i].value = value

    def build_fanout(self) -> None:
        leaf_cls, node_cls = self._classes()
        source = self.fan_input = leaf_cls()
        source.value = 0
        self.fan = [
            node_cls(lambda i=i: graph.fanout_value(source.value, i)) for i in range(graph.FANOUT)
        ]

    def set_fanout(self, value: int) -> None:
        self.fan_input.value = value

    def read_fanout(self) -> list[int]:
        return [node.value for node in self.fan]

    def build_hit(self) -> None:
        _, node_cls = self._classes()
        self.trivial = node_cls(lambda: 1)
        _ = self.trivial.value

    def hit(self) -> int:
        return int(self.trivial.value)
