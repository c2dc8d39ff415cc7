"""Shared wiring for libraries without keyed query families: one object per node.

Signal libraries (reaktiv, nervio, signified) and incr-compute have no
``node(db, layer, k)``: a derived value is an object built from a closure. So
the graph becomes 1,000 input objects and 10,001 derived objects built in
layer order, each closing over the objects it reads. A peer's module only
says how its library makes an input, writes one, makes a derived object and
reads one (four small hooks); this class builds the graph from them.

The closure a peer writes in ``make_node`` is the node body: ``tally[slot] +=
1`` and ``fn`` over the values it read, the same work as in the keyed
adapters.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from benchmarks.graph import LEAF, Graph, combine, fan_value

Body = Callable[[list[int]], int]


def _fan_body(i: int, values: list[int]) -> int:
    return fan_value(values[0], i)


class PerNodeAdapter(ABC):
    name: ClassVar[str]
    distribution: ClassVar[str | None]
    no_cutoff: ClassVar[str | None] = None
    native: ClassVar[bool] = False
    untracked_warm: ClassVar[str | None] = None

    def __init__(self) -> None:
        self.tally: list[int] = []

    # The four hooks (and ``fresh``) a peer module provides.

    def fresh(self) -> None:  # noqa: B027 (optional: most libraries need no fresh start)
        """Start a new, empty graph (a new runtime where the library has one)."""

    @abstractmethod
    def make_input(self, value: int) -> Any: ...

    @abstractmethod
    def write(self, cell: Any, value: int) -> None: ...

    @abstractmethod
    def make_node(self, slot: int, reads: list[Any], fn: Body) -> Any:
        """A derived object whose body counts ``tally[slot]`` and returns ``fn(values read)``."""

    @abstractmethod
    def read(self, node: Any) -> int:
        """A top-level read of an input or derived object."""

    # The Adapter shape, built on the hooks.

    def build(self, graph: Graph) -> None:
        self.fresh()
        self.leaves = [self.make_input(value) for value in graph.initial_leaves()]
        made: list[list[Any]] = []
        for layer, reads in enumerate(graph.reads):
            fn = functools.partial(combine, layer)
            made.append(
                [
                    self.make_node(
                        layer, [self.leaves[j] if lb == LEAF else made[lb][j] for lb, j in node], fn
                    )
                    for node in reads
                ]
            )
        groups = graph.groups()
        if groups is None:
            self.root = self.make_node(graph.root_slot, made[-1], sum)
            return
        sums = [self.make_node(graph.root_slot, [made[lb][j] for lb, j in g], sum) for g in groups]
        self.root = self.make_node(graph.root_slot, sums, sum)

    def read_root(self) -> int:
        return self.read(self.root)

    def set_leaf(self, leaf: int, value: int) -> None:
        self.write(self.leaves[leaf], value)

    def build_fanout(self, graph: Graph) -> None:
        self.fresh()
        self.source = self.make_input(0)
        self.fan = [
            self.make_node(graph.fan_slot, [self.source], functools.partial(_fan_body, i))
            for i in range(graph.fanout)
        ]

    def set_fanout(self, value: int) -> None:
        self.write(self.source, value)

    def read_all_fanout(self) -> list[int]:
        read = self.read
        return [read(node) for node in self.fan]

    @abstractmethod
    def hit_statement(self) -> tuple[str, dict[str, Any]] | None: ...
