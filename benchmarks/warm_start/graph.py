"""The warm-start graph: a deterministic tree of queries over inputs, and what each step needs.

One shape serves every cache size: ``FAN_IN`` children per node, leaves at
level 0 reading two inputs each, and one root over the top level. A cache
of ``10**k`` memos is exactly ``9`` subtrees of depth ``k`` under the root
(1 + 9 * (1 + 10 + ... + 10**(k-1)) memos), so the sizes of issue 23 come
out exact; other sizes are rounded down and say so.

Why a tree and not the harness's layered DAG (``benchmarks/graph.py``):
there the root reads a whole layer of 500 nodes, so a change re-executes a
root whose direct dependencies are a fixed 500 rows at any size, which
would hide the growth the lazy loader must avoid behind a large constant.
In a tree the cone of one input is one path (``depth + 2`` memos) and its
direct dependencies are ``FAN_IN`` per level, so "loads the cone and the
direct dependencies of what re-executes" is a small number that grows with
the logarithm of the cache, and anything proportional to the cache stands
out. The leaves read their input and its pair partner's (``i ^ 1``, under the
same parent), so each input has two readers and every cone holds a diamond:
a write must find every stored reader, not just a chain.

Values are sums modulo a prime, so a ``+1`` on one input changes every memo
on its path (no early cutoff: everything in the cone re-executes, which is
what target (b) is about), and ``expected_root`` recomputes them from
scratch in plain Python as the oracle.

The queries count their executions in ``executions`` (read by the child
process that ran them); the count is not part of any value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import sofrito as sf

FAN_IN = 10
"""Children per node. Even, so that a leaf's pair partner ``i ^ 1`` has the same parent."""
MOD = 1_000_003
"""Values are sums modulo this prime: small, and a +1 below changes everything above."""

source = sf.Input("bench.warm.source")
"""Leaf input ``i``: an int."""
executions: Counter[str] = Counter()
"""Bodies run in this process, by query."""


@sf.query(name="bench.warm.node")
def node(db: Any, level: int, i: int) -> int:
    """Level 0 reads inputs ``i`` and ``i ^ 1``; level ``l`` sums its ``FAN_IN`` children."""
    executions["node"] += 1
    if level == 0:
        leaf: int = (2 * source(db, i) + source(db, i ^ 1)) % MOD
        return leaf
    return sum(node(db, level - 1, FAN_IN * i + k) for k in range(FAN_IN)) % MOD


@sf.query(name="bench.warm.root")
def root(db: Any, top: int, width: int) -> int:
    """The sum of the ``width`` nodes of level ``top``."""
    executions["root"] += 1
    return sum(node(db, top, r) for r in range(width)) % MOD


def initial(i: int) -> int:
    """Input ``i``'s value as the cache was built."""
    return (i * 7919) % 1000


Memo = tuple[int, int]
"""A node memo as (level, index); the root is ``ROOT``."""
ROOT: Memo = (-1, 0)


@dataclass(frozen=True)
class Shape:
    """A tree: ``width`` nodes at level ``top``, ``FAN_IN`` children each down to level 0."""

    top: int
    width: int

    @classmethod
    def of(cls, memos: int) -> Shape:
        """The largest tree of at most ``memos`` memos (exactly ``memos`` for a power of ten).

        The deepest tree whose subtrees fit, then as many subtrees as fit:
        at least 2 levels, so that the leaves are a multiple of ``FAN_IN``
        and every pair partner exists.
        """
        if memos < 1 + _subtree(2):
            raise ValueError(
                f"a warm-start cache needs at least {1 + _subtree(2)} memos, not {memos}"
            )
        depth = 2
        while _subtree(depth + 1) <= memos - 1:
            depth += 1
        return cls(top=depth - 1, width=(memos - 1) // _subtree(depth))

    @property
    def memos(self) -> int:
        """Memos in the cache: every node and the root."""
        return self.width * _subtree(self.top + 1) + 1

    @property
    def leaves(self) -> int:
        """Nodes of level 0, and inputs: one per leaf."""
        below: int = FAN_IN**self.top
        return self.width * below

    def edited_cell(self) -> int:
        """The input step (b) changes: one in the middle of the leaves."""
        return self.leaves // 2

    def cone(self, cell: int) -> set[Memo]:
        """The memos that read input ``cell``, transitively: both leaves of its pair,
        their ancestors, the root. All of them re-execute after a +1 on it."""
        found: set[Memo] = {(0, cell), (0, cell ^ 1), ROOT}
        for level in range(1, self.top + 1):
            found.add((level, cell // FAN_IN**level))
        return found

    def reads(self, memo: Memo) -> list[Memo]:
        """The memos a memo reads (a leaf reads inputs only: ``[]``)."""
        level, i = memo
        if memo == ROOT:
            return [(self.top, r) for r in range(self.width)]
        if level == 0:
            return []
        return [(level - 1, FAN_IN * i + k) for k in range(FAN_IN)]

    def needed(self, cell: int) -> set[Memo]:
        """The memo rows step (b) needs: the cone, and what each of its memos reads
        when it re-executes."""
        cone = self.cone(cell)
        return cone | {dep for memo in cone for dep in self.reads(memo)}

    def cone_reads(self, cell: int) -> int:
        """Dependencies the cone's memos read when they re-execute (a leaf reads two
        inputs): the edges a commit that stores each written memo's reads writes."""
        return sum(2 if level == 0 else len(self.reads((level, i))) for level, i in self.cone(cell))

    def cone_edges(self, cell: int) -> int:
        """Stored edges ``(dependency, reader)`` reachable from input ``cell`` along readers."""
        cone = self.cone(cell)
        inputs = 2  # the cell is read by both leaves of its pair
        return inputs + sum(len([d for d in self.reads(m) if d in cone]) for m in cone)


def _subtree(depth: int) -> int:
    """Nodes in a subtree of ``depth`` levels: 1 + FAN_IN + ... + FAN_IN**(depth - 1)."""
    widest: int = FAN_IN**depth
    return (widest - 1) // (FAN_IN - 1)


def expected_root(shape: Shape, edits: dict[int, int] | None = None) -> int:
    """The root's value from scratch, with ``edits`` (cell -> value) over ``initial``."""
    values = [initial(i) for i in range(shape.leaves)]
    for cell, value in (edits or {}).items():
        values[cell] = value
    level = [(2 * values[i] + values[i ^ 1]) % MOD for i in range(shape.leaves)]
    for _ in range(shape.top):
        level = [sum(level[j : j + FAN_IN]) % MOD for j in range(0, len(level), FAN_IN)]
    return sum(level) % MOD
