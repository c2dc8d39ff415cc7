"""nervio (pure Python signals): a ``signal`` per leaf, a ``computed`` per node.

nervio compares recomputed values with ``==`` by default, so early cutoff
needs no option. Its sources hold their observers weakly: the adapter keeps
the root (which holds everything below it) and the fan-out list alive.
"""

from __future__ import annotations

from typing import Any, ClassVar

from benchmarks.adapters.per_node import Body, PerNodeAdapter


class NervioAdapter(PerNodeAdapter):
    name: ClassVar[str] = "nervio"
    distribution: ClassVar[str | None] = "nervio"

    def __init__(self) -> None:
        super().__init__()
        import nervio

        self._nv = nervio

    def make_input(self, value: int) -> Any:
        return self._nv.signal(value)

    def write(self, cell: Any, value: int) -> None:
        cell.value = value

    def make_node(self, slot: int, reads: list[Any], fn: Body) -> Any:
        tally = self.tally

        def body() -> int:
            tally[slot] += 1
            return fn([read.value for read in reads])

        return self._nv.computed(body)

    def read(self, node: Any) -> int:
        return node.value

    def hit_statement(self) -> tuple[str, dict[str, Any]]:
        trivial = self._nv.computed(lambda: 1)
        _ = trivial.value
        return "c.value", {"c": trivial}
