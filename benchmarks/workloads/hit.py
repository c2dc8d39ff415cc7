"""The memo hit: a trivial memoized call, already computed, called again.

The statement comes from the adapter (``q(rt, 1)`` for sofrito, ``c.value``
for a signal) and is timed by ``timeit`` with nothing around it. In the same
process, the same way, the harness times a bare Python call, ``f(1)`` with
``def f(x): return x``: the memo hit is reported as a multiple of it, so the
multiple does not depend on the machine. (The ``timeit`` loop adds a few ns
to both.)
"""

from __future__ import annotations

from benchmarks.adapters.base import Adapter
from benchmarks.graph import Graph
from benchmarks.timing import statement_ns
from benchmarks.workloads.measurement import Measurement

ROWS = ("memo hit", "hit / bare call")
BARE = "bare call"
"""Not a table row: the reference the multiple is taken against, shown under the table."""


def bare(x: int) -> int:
    return x


def measure(adapter: Adapter, graph: Graph, scale: float) -> list[Measurement]:
    del graph, scale  # the hit does not depend on the graph; its timing is self-calibrating
    bare_ns = statement_ns("f(1)", {"f": bare})
    reference = Measurement(BARE, bare_ns, unit="ns", runs=7)
    try:
        statement = adapter.hit_statement()
    except Exception as exc:  # a peer's crash is reported in its cell, not fatal
        problem = f"{type(exc).__name__}: {exc}"
        return [*(Measurement(row, wrong=problem) for row in ROWS), reference]
    if statement is None:
        return [*(Measurement(row, na="no memo") for row in ROWS), reference]
    hit_ns = statement_ns(*statement)
    return [
        Measurement(ROWS[0], hit_ns, unit="ns", runs=7),
        Measurement(ROWS[1], hit_ns / bare_ns, unit="x", runs=7),
        reference,
    ]
