"""reaktiv (pure Python signals): a ``Signal`` per leaf, a ``Computed`` per node.

reaktiv compares a recomputed value with the old one by identity (``is``)
unless given ``equal=``; ints above 256 are distinct objects, so without it a
node recomputed to an equal value would still count as changed. Early cutoff
compares values, so every ``Computed`` here gets ``equal=operator.eq``, the
library's documented way to ask for it.
"""

from __future__ import annotations

import operator
from typing import Any, ClassVar

from benchmarks.adapters.per_node import Body, PerNodeAdapter


class ReaktivAdapter(PerNodeAdapter):
    name: ClassVar[str] = "reaktiv"
    distribution: ClassVar[str | None] = "reaktiv"

    def __init__(self) -> None:
        super().__init__()
        from reaktiv import Computed, Signal

        self._signal, self._computed = Signal, Computed

    def make_input(self, value: int) -> Any:
        return self._signal(value)

    def write(self, cell: Any, value: int) -> None:
        cell.set(value)

    def make_node(self, slot: int, reads: list[Any], fn: Body) -> Any:
        tally = self.tally

        def body() -> int:
            tally[slot] += 1
            return fn([read() for read in reads])

        return self._computed(body, equal=operator.eq)

    def read(self, node: Any) -> int:
        return node()

    def hit_statement(self) -> tuple[str, dict[str, Any]]:
        trivial = self._computed(lambda: 1, equal=operator.eq)
        trivial()
        return "c()", {"c": trivial}
