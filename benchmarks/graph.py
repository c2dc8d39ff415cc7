"""The one graph every library computes, so that times compare like with like.

- 1,000 integer inputs (``leaf[i]``, multiples of 10 at first).
- 20 layers of 500 derived nodes. Node ``(0, k)`` reads leaves ``2k`` and
  ``2k + 1`` and computes ``(a + b) // 10``. Node ``(l, k)`` reads
  ``(l - 1, k)`` and ``(l - 1, (k + 1) % 500)`` and computes ``(x + y) % 1009``.
  A change therefore spreads to a cone of about 200 nodes, not to the whole
  graph, which is what W3 needs to tell "proportional to the change" from
  "proportional to the graph".
- One root: the sum of the last layer.

W3 adds 100 to a leaf (its layer-0 bucket moves, so the change travels up).
W4 adds 1 to a leaf whose sum stays in its bucket of ten: the layer-0 node
re-executes to an equal value and nothing downstream may execute.
"""

from __future__ import annotations

from dataclasses import dataclass

LEAVES = 1_000
WIDTH = 500
LAYERS = 20
FANOUT = 10_000

NodeId = tuple[int, int]


def initial(leaf: int) -> int:
    return leaf * 10


def deps(layer: int, k: int) -> tuple[NodeId, NodeId]:
    """The two reads of a derived node: leaves for layer 0, the layer below otherwise."""
    if layer == 0:
        return (-1, 2 * k), (-1, 2 * k + 1)
    return (layer - 1, k), (layer - 1, (k + 1) % WIDTH)


def combine(layer: int, x: int, y: int) -> int:
    return (x + y) // 10 if layer == 0 else (x + y) % 1009


@dataclass
class Values:
    """A from-scratch evaluation: the baseline every library is checked against."""

    leaves: list[int]

    def root(self) -> int:
        layer = [combine(0, self.leaves[2 * k], self.leaves[2 * k + 1]) for k in range(WIDTH)]
        for level in range(1, LAYERS):
            layer = [combine(level, layer[k], layer[(k + 1) % WIDTH]) for k in range(WIDTH)]
        return sum(layer)


def fanout_value(x: int, i: int) -> int:
    return x + i
