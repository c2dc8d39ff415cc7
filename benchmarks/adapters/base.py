"""The one shape every library adapter has; the workloads drive only this.

An adapter expresses the graph of ``benchmarks.graph`` in its library's own
idiom: keyed query families where the library has them, one object per node
where it does not. It never computes a value itself: each derived node's body
is ``graph.combine`` over what the node read through the library, preceded by
``tally[slot] += 1`` so executions are counted inside the bodies, identically
everywhere.

``tally`` is a plain list (``graph.layers + 2`` slots: one per layer, then
the root, then the fan-out queries), reset in place so that closures and
module-level query bodies can hold it directly: a counter that costs an
attribute lookup per execution would tax the libraries unevenly.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from benchmarks.graph import Graph


class Adapter(Protocol):
    name: ClassVar[str]
    """The column heading."""
    distribution: ClassVar[str | None]
    """The PyPI distribution, for the version; None for sofrito and the baseline."""
    no_cutoff: ClassVar[str | None]
    """None if the library has early cutoff, else why not (W4 then shows n/a)."""
    native: ClassVar[bool]
    """True if the engine is compiled code (Rust): the target there is "within 2x"."""
    untracked_warm: ClassVar[str | None]
    """None if W2 is a tracked read like any other, else why it is not.

    A library whose warm root read skips its own bookkeeping (no dependency
    recorded, nothing validated) is timing a plain attribute read there, not
    a memo hit; the report prints that ratio with the reason and leaves it
    out of the "ahead of every peer" target.
    """
    tally: list[int]
    """Executions per slot since the harness last reset it (``reset_tally``)."""

    def build(self, graph: Graph) -> None:
        """Set the leaves to ``graph.initial_leaves()`` and declare the derived nodes.

        Starts from nothing each time (a fresh runtime, engine or object
        graph), so the next ``read_root`` is a cold computation (W1).
        """

    def read_root(self) -> int:
        """The root's value, computed or reused by the library (top-level read)."""

    def set_leaf(self, leaf: int, value: int) -> None:
        """One input write, in the library's ordinary way."""

    def build_fanout(self, graph: Graph) -> None:
        """A fresh graph of one input (value 0) read by ``graph.fanout`` queries (W5)."""

    def set_fanout(self, value: int) -> None: ...

    def read_all_fanout(self) -> list[int]:
        """Every fan-out query's value, in order, each a top-level read."""

    def hit_statement(self) -> tuple[str, dict[str, Any]] | None:
        """A ``timeit`` statement and its namespace for one memo hit of a trivial query.

        The statement is the library's idiomatic top-level call with nothing
        around it (``q(rt, 1)``, ``c.value``, ``rt.get(c)``), already computed
        once, so the timing is the hit itself. None if the library has no
        memo (the baseline).
        """


def reset_tally(tally: list[int], graph: Graph | None = None) -> None:
    """Zero the tally in place (sized for ``graph`` if given): holders keep the same list."""
    tally[:] = [0] * (len(tally) if graph is None else graph.layers + 2)
