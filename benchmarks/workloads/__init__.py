"""The workload families of DESIGN §7, one module each, and what they report.

A family is a module with ``ROWS`` (its table rows, in order) and
``measure(adapter, graph, scale) -> list[Measurement]``. It drives the
adapter only through ``benchmarks.adapters.base.Adapter``, checks every
value it gets back against ``graph.evaluate``, and reads the adapter's
execution tally where the workload promises something.

- ``dag``: W1 cold, W2 warm hit, W3 one change, W4 early cutoff, on one
  graph that the four share in that order.
- ``fanout``: W5, one input read by 10,000 queries.
- ``hit``: the memo hit of a trivial query, and a bare Python call beside it.

Adding a workload means adding a family module and listing it in
``FAMILIES``. The Site workload (a 10,000-page site: cold build, no-op
rebuild in a new process from the SQLite cache, one-page edit) is the next
one: it needs ``sofrito run`` (DESIGN §6), which does not exist yet, so it is
not here, not even as a stub. It will measure sofrito alone (the peers have
no persistent cache to rebuild from) and so will add rows whose peer cells
read "n/a".
"""

from __future__ import annotations

from types import ModuleType

from benchmarks.workloads import dag, fanout, hit
from benchmarks.workloads.measurement import Measurement

__all__ = ["FAMILIES", "Measurement", "rows"]

FAMILIES: list[ModuleType] = [dag, fanout, hit]


def rows() -> list[str]:
    return [row for family in FAMILIES for row in family.ROWS]
