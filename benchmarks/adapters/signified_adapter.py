"""signified (signals, engine in Rust): a ``Signal`` per leaf, a ``Computed`` per node.

signified compares built-in scalars by value, so early cutoff on ints needs
no option. The node bodies are Python closures called from the Rust engine.
"""

from __future__ import annotations

from typing import Any, ClassVar

from benchmarks.adapters.per_node import Body, PerNodeAdapter


class SignifiedAdapter(PerNodeAdapter):
    name: ClassVar[str] = "signified"
    native: ClassVar[bool] = True
    distribution: ClassVar[str | None] = "signified"

    def __init__(self) -> None:
        super().__init__()
        from signified import Computed, Signal

        self._signal, self._computed = Signal, Computed

    def make_input(self, value: int) -> Any:
        return self._signal(value)

    def write(self, cell: Any, value: int) -> None:
        cell.value = value

    def make_node(self, slot: int, reads: list[Any], fn: Body) -> Any:
        tally = self.tally

        def body() -> int:
            tally[slot] += 1
            return fn([read.value for read in reads])

        return self._computed(body)

    def read(self, node: Any) -> int:
        return node.value

    def hit_statement(self) -> tuple[str, dict[str, Any]]:
        trivial = self._computed(lambda: 1)
        _ = trivial.value
        return "c.value", {"c": trivial}
