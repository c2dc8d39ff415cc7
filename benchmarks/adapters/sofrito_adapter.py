"""sofrito: one keyed input family for the leaves, one keyed query for every node.

Two columns use it: ``sofrito`` (pure Python) and ``sofrito-compiled`` (the
engine compiled with mypyc); each refuses to run on the other build.

The queries are module-level, as DESIGN §1 intends; a fresh ``sf.Runtime()``
per ``build`` holds no memos, so the next read is a cold start. The graph's
shape is module state too (``_reads``, ``_top``), set by ``build`` before any
query runs (a query body may only depend on ``db`` and its key, and reading a
module global costs the same as the closure the other adapters use).
"""

from __future__ import annotations

from typing import Any, ClassVar

import sofrito as sf
from benchmarks.graph import Graph, combine, fan_value

leaf = sf.Input("bench.leaf")
fan_input = sf.Input("bench.fan_input")

_tally: list[int] = []
_reads: tuple[tuple[tuple[tuple[int, int], ...], ...], ...] = ()
_top: list[tuple[int, int]] = []
_groups: list[list[tuple[int, int]]] | None = None
_root_slot = _fan_slot = 0


@sf.query(name="bench.node")
def node(db: Any, layer: int, k: int) -> int:
    _tally[layer] += 1
    reads = _reads[layer][k]
    if layer == 0:
        return combine(0, [leaf(db, j) for _, j in reads])
    return combine(layer, [node(db, lb, j) for lb, j in reads])


@sf.query(name="bench.root")
def root(db: Any) -> int:
    _tally[_root_slot] += 1
    if _groups is not None:
        return sum(group(db, g) for g in range(len(_groups)))
    return sum(node(db, layer, k) for layer, k in _top)


@sf.query(name="bench.group")
def group(db: Any, g: int) -> int:
    """A partial sum of the last layer, which the root reads on a graph that has them."""
    _tally[_root_slot] += 1
    return sum(node(db, layer, k) for layer, k in _groups[g])  # type: ignore[index]


@sf.query(name="bench.fan")
def fan(db: Any, i: int) -> int:
    _tally[_fan_slot] += 1
    return fan_value(fan_input(db), i)


@sf.query(name="bench.trivial")
def trivial(db: Any, x: int) -> int:
    return x


def _set_shape(graph: Graph) -> None:
    global _reads, _top, _groups, _root_slot, _fan_slot
    _reads, _top, _groups = graph.reads, graph.top(), graph.groups()
    _root_slot, _fan_slot = graph.root_slot, graph.fan_slot


class SofritoAdapter:
    name: ClassVar[str] = "sofrito"
    distribution: ClassVar[str | None] = None
    no_cutoff: ClassVar[str | None] = None
    native: ClassVar[bool] = False
    untracked_warm: ClassVar[str | None] = None

    compiled: ClassVar[bool] = False
    """Which build of the engine this column measures (``sofrito._engine.COMPILED``)."""

    def __init__(self) -> None:
        import sofrito._engine

        # getattr: an older checkout (PYTHONPATH=other/src, for a before/after) has no flag
        compiled = getattr(sofrito._engine, "COMPILED", False)
        if self.compiled != compiled:
            build = "the compiled build" if compiled else "pure Python"
            raise RuntimeError(f"the sofrito imported here ({sf.__file__}) is {build}")
        self.tally = _tally

    def build(self, graph: Graph) -> None:
        _set_shape(graph)
        self.rt = rt = sf.Runtime()
        with rt.batch():
            for j, value in enumerate(graph.initial_leaves()):
                rt.set(leaf[j], value)

    def read_root(self) -> int:
        return root(self.rt)

    def set_leaf(self, leaf_index: int, value: int) -> None:
        self.rt.set(leaf[leaf_index], value)

    def build_fanout(self, graph: Graph) -> None:
        _set_shape(graph)
        self.count = graph.fanout
        self.fan_rt = sf.Runtime()
        self.fan_rt.set(fan_input, 0)

    def set_fanout(self, value: int) -> None:
        self.fan_rt.set(fan_input, value)

    def read_all_fanout(self) -> list[int]:
        rt = self.fan_rt
        return [fan(rt, i) for i in range(self.count)]

    def hit_statement(self) -> tuple[str, dict[str, Any]]:
        rt = sf.Runtime()
        trivial(rt, 1)
        return "q(rt, 1)", {"q": trivial, "rt": rt}


class CompiledSofritoAdapter(SofritoAdapter):
    """The same adapter on the mypyc-compiled engine (docs/concepts.md), which the
    harness puts on the child's path (``--compiled``)."""

    name: ClassVar[str] = "sofrito-compiled"
    compiled: ClassVar[bool] = True
