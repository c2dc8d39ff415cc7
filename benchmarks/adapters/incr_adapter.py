"""incr-compute (engine in Rust): an input node per leaf, a query node per derived node.

incr-compute has no keyed families: ``Runtime.create_query(fn)`` makes one
node, and ``fn`` receives a read-only runtime handle whose ``get`` records
the dependency. Each ``fresh`` graph is a new ``Runtime``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from benchmarks.adapters.per_node import Body, PerNodeAdapter


class IncrAdapter(PerNodeAdapter):
    name: ClassVar[str] = "incr-compute"
    native: ClassVar[bool] = True
    distribution: ClassVar[str | None] = "incr-compute"

    def __init__(self) -> None:
        super().__init__()
        import incr

        self._incr = incr
        self.fresh()

    def fresh(self) -> None:
        self.rt = self._incr.Runtime()

    def make_input(self, value: int) -> Any:
        return self.rt.create_input(value)

    def write(self, cell: Any, value: int) -> None:
        self.rt.set(cell, value)

    def make_node(self, slot: int, reads: list[Any], fn: Body) -> Any:
        tally = self.tally

        def body(r: Any) -> int:
            tally[slot] += 1
            get = r.get
            return fn([get(read) for read in reads])

        return self.rt.create_query(body)

    def read(self, node: Any) -> int:
        return self.rt.get(node)

    def hit_statement(self) -> tuple[str, dict[str, Any]]:
        rt = self._incr.Runtime()
        trivial = rt.create_query(lambda r: 1)
        rt.get(trivial)
        return "rt.get(c)", {"rt": rt, "c": trivial}
