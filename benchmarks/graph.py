"""The one generated graph every library computes, and its from-scratch evaluation.

All adapters build the same deterministic DAG, so their times compare like
with like and every result can be checked against ``evaluate``:

- ``leaves`` integer inputs, ``leaf[j] = 10 * j`` at first.
- ``layers`` layers of ``width`` derived nodes (20 x 500 = 10,000). Node
  ``(0, k)`` reads leaves ``2k`` and ``2k + 1`` and computes their sum ``// 10``:
  a bucket, so a leaf can change without its layer-0 node changing (W4).
  Node ``(l, k)`` for ``l >= 1`` reads ``(l - 1, k)`` and ``(l - 1, k + 1)``
  (mod ``width``), and every fifth node of layer 2 and up also reads
  ``(l - 2, k + 3)``: fan-in 2 or 3. It computes the sum ``% 1009``.
- One root: the sum of the last layer.

A leaf change therefore reaches a cone of a few hundred nodes, not the whole
graph: that is what lets W3 tell a cost proportional to the change from one
proportional to the graph. ``must_execute`` counts, from two evaluations,
exactly the nodes that had a dependency whose value changed: the executions
an engine with early cutoff cannot avoid, and the most it needs.

Node bodies are ``combine(layer, values)`` in every adapter, with a counter
increment before it, so the per-node work is identical everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LEAF = -1
"""The layer number of a leaf in a node id ``(layer, index)``."""

NodeId = tuple[int, int]


def combine(layer: int, values: Sequence[int]) -> int:
    """The body of node ``(layer, k)`` given the values it read, in read order."""
    return sum(values) // 10 if layer == 0 else sum(values) % 1009


def fan_value(x: int, i: int) -> int:
    """The body of fan-out query ``i`` reading the shared input ``x`` (W5)."""
    return x * 3 + i


@dataclass(frozen=True)
class Evaluation:
    """Every value of the graph for one assignment of the leaves."""

    leaves: tuple[int, ...]
    nodes: tuple[tuple[int, ...], ...]
    """``nodes[layer][k]``."""
    root: int


class Graph:
    """The shape of the DAG: who reads whom. Values live in the adapters."""

    def __init__(
        self, *, leaves: int = 1_000, layers: int = 20, width: int = 500, fanout: int = 10_000
    ) -> None:
        if leaves != 2 * width:
            raise ValueError(f"layer 0 pairs the leaves: need leaves == 2 * width, got {leaves}")
        self.leaves, self.layers, self.width, self.fanout = leaves, layers, width, fanout
        self.root_slot = layers
        """Index of the root in an execution tally (``layers + 2`` slots)."""
        self.fan_slot = layers + 1
        """Index of the fan-out queries in an execution tally."""
        self.reads: tuple[tuple[tuple[NodeId, ...], ...], ...] = tuple(
            tuple(self._reads(layer, k) for k in range(width)) for layer in range(layers)
        )
        """``reads[layer][k]``: what node ``(layer, k)`` reads, in order."""

    def _reads(self, layer: int, k: int) -> tuple[NodeId, ...]:
        width = self.width
        if layer == 0:
            return (LEAF, 2 * k), (LEAF, 2 * k + 1)
        below = (layer - 1, k), (layer - 1, (k + 1) % width)
        if layer >= 2 and k % 5 == 0:
            return (*below, (layer - 2, (k + 3) % width))
        return below

    @property
    def derived(self) -> int:
        """Derived nodes, the root not counted."""
        return self.layers * self.width

    def top(self) -> list[NodeId]:
        """What the root reads: the last layer."""
        return [(self.layers - 1, k) for k in range(self.width)]

    def groups(self) -> list[list[NodeId]] | None:
        """What the root reads through a layer of partial sums, if anything: None here,
        the root reads the last layer itself (``benchmarks.scale`` groups a wide one)."""
        return None

    def initial_leaves(self) -> list[int]:
        return [10 * j for j in range(self.leaves)]

    def evaluate(self, leaves: Sequence[int]) -> Evaluation:
        """The from-scratch evaluation every adapter is checked against."""
        done: list[tuple[int, ...]] = []
        for layer, reads in enumerate(self.reads):
            if layer == 0:
                row = tuple(combine(0, [leaves[j] for _, j in node]) for node in reads)
            else:
                row = tuple(combine(layer, [done[lb][j] for lb, j in node]) for node in reads)
            done.append(row)
        return Evaluation(tuple(leaves), tuple(done), sum(done[-1]))

    def must_execute(self, before: Evaluation, after: Evaluation) -> list[int]:
        """Per tally slot, the nodes that read a value that changed between two evaluations."""
        changed = {
            (LEAF, j)
            for j, (a, b) in enumerate(zip(before.leaves, after.leaves, strict=True))
            if a != b
        }
        for layer, (old, new) in enumerate(zip(before.nodes, after.nodes, strict=True)):
            changed.update(
                (layer, k) for k, (a, b) in enumerate(zip(old, new, strict=True)) if a != b
            )
        tally = [0] * (self.layers + 2)
        for layer, reads in enumerate(self.reads):
            tally[layer] = sum(1 for node in reads if any(ref in changed for ref in node))
        if any(ref in changed for ref in self.top()):
            tally[self.root_slot] = 1
        return tally

    def change_edit(self, leaves: Sequence[int], step: int) -> tuple[int, int]:
        """W3: a leaf edit that moves its pair's bucket, so the change travels up."""
        leaf = (step * 197 + 11) % self.leaves
        return leaf, leaves[leaf] + 100 * (1 + step % 3)

    def cutoff_edit(self, leaves: Sequence[int], step: int) -> tuple[int, int]:
        """W4: a leaf edit that keeps its pair's sum in the same bucket of ten."""
        leaf = (step * 331 + 7) % self.leaves
        pair = leaves[leaf] + leaves[leaf ^ 1]
        delta = 1 if pair % 10 != 9 else -1
        if (pair + delta) // 10 != pair // 10:  # cannot happen; kept as the guarantee
            raise AssertionError(f"edit of leaf {leaf} would change its bucket")
        return leaf, leaves[leaf] + delta
