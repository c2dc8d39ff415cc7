"""A from-scratch evaluator for the random graphs of ``tests/strategies.py``.

No memoization across calls, no revisions, no durability: one ``Evaluation``
computes what a node is worth given the current input values, the way plain
Python would (each node's body runs at most once per evaluation, because
bodies are pure). It also records what a correct incremental runtime is
*allowed* to run for that read:

- ``started``: every derived node whose body the evaluation entered, in
  order. Under DESIGN §1 (deep verify walks dependencies in read order and
  stops at the first change; a re-execution reads the same prefix), a read of
  the target may execute only nodes in this set.
- ``outcomes``: the value (or ``Failure``) of every node whose body finished.
  After the read, the runtime's last result for each of them must be equal.

A "keys" node reads the listing of an input family (``input.keys(db)``):
the cells of that family a write gave a value or an error, and that no
removal or invalidation took back since (``Evaluation.listed``). Its only
read is the listing, so a runtime must re-execute it when a key joins or
leaves the family, and never for a value edit alone (the property tests
check that every re-execution had a reason, and a listing changes only on
an add or a remove).

An input cell holds a value, or a ``Failure`` (``rt.resolve_error``): a
plain read raises it, as the runtime re-raises a cell's error, and a "state"
node (``sf.state``) sees it without raising, as it sees a pending cell.

The bodies themselves (``apply``) are shared with the queries under test, so
both sides read the same dependencies in the same order; what the oracle does
not share is everything the runtime adds on top: memos, verification,
backdating, durability, eviction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

Ref = tuple[str, int]
"""("i", k) for input cell k, ("q", k) for derived node k, ("k", f) for the
listing of input family f."""

OPS = (
    *("sum", "mod", "max", "min", "div", "const", "cond", "fail", "catch", "state", "keys"),
    "gather",
)
"""What a node's body does with the values it reads (see ``apply``)."""


@dataclass(frozen=True)
class Node:
    """One derived node: ``op`` over ``deps`` (read in this order), with ``param``.

    ``param`` is the modulus (mod, fail, gather), the divisor (div), the
    constant (const), the threshold (cond), the stand-in for a failed read
    (catch) or for a pending cell (state), the family whose listing it reads
    (keys). A "gather" node reads derived nodes only, through ``sf.gather``.
    """

    op: str
    deps: tuple[Ref, ...]
    param: int


@dataclass(frozen=True)
class Graph:
    """Input cells ``0 .. inputs-1`` and derived nodes ``0 .. len(nodes)-1``.

    ``families[k]`` says which input family cell ``k`` belongs to (the test
    maps it to an ``sf.Input`` with its own default durability and key shape).
    A node only reads inputs and earlier nodes, so the graph is acyclic.
    """

    families: tuple[int, ...]
    nodes: tuple[Node, ...]

    @property
    def inputs(self) -> int:
        return len(self.families)


class Failure(Exception):
    """What a "fail" node raises: a user error, cached by the runtime."""


class Missing(Exception):
    """The evaluation read inputs that have no value: the runtime must suspend,
    naming ``cells`` (one, unless a "gather" node went on past a suspended key)."""

    def __init__(self, cell: int, *more: int) -> None:
        super().__init__(cell, *more)
        self.cell = cell
        self.cells = (cell, *more)


Value = int | float
Read = Callable[[Ref], Value]
Peek = Callable[[int], "Value | Failure | None"]
"""What ``sf.state`` says of input cell k: its value, its error, or None (pending)."""
Keys = Callable[[int], tuple[int, ...]]
"""The listing of input family f: its listed cells, ascending."""
Gather = Callable[[tuple[Ref, ...]], list[Value]]
"""``sf.gather`` of derived nodes: their values in order (``gather_in_order``)."""

FAILED_STATE = 10
"""What a "state" node adds, on top of its ``param``, for a cell that holds an error."""


def apply(
    node: Node,
    read: Read,
    peek: Peek | None = None,
    keys: Keys | None = None,
    gather: Gather | None = None,
) -> Value:
    """One node's body: read ``node.deps`` through ``read`` and combine them.

    Shared by the oracle and by the query under test. ``read`` raises
    ``Failure`` for a dependency that failed (propagated unless the op is
    "catch") and whatever it likes for a missing input (never caught here).
    A "state" node reads its input cells through ``peek`` instead, which
    never raises: a pending cell counts as ``param``, a failed one as
    ``param + FAILED_STATE``; an odd ``param`` keeps the total modulo 3.
    """
    deps, param, op = node.deps, node.param, node.op
    if op == "keys":  # the listing only: its cells, not their values
        assert keys is not None, "a keys node needs keys"
        return sum(cell + 1 for cell in keys(param)) % 7  # often equal (early cutoff)
    if op == "state":
        assert peek is not None, "a state node needs peek"
        return _state(node, read, peek)
    if op == "gather":
        assert gather is not None, "a gather node needs gather"
        return sum(gather(deps)) % param
    if op == "cond":  # the dependency set depends on a value
        first = read(deps[0])
        return read(deps[1]) if first > param else read(deps[-1])
    if op == "catch":
        total = 0
        for dep in deps:
            try:
                total += read(dep)
            except Failure:
                total += param
        return total % 100
    values = [read(dep) for dep in deps]
    if op == "fail":
        total = sum(values)
        if total % param == 0:
            raise Failure(f"fail at {total}")
        return total % 100
    return _COMBINE[op](values, param)


_COMBINE: dict[str, Callable[[list[Value], int], Value]] = {
    "sum": lambda values, _: sum(values) % 1000,
    "mod": lambda values, param: sum(values) % param,
    "max": lambda values, _: max(values, default=0),
    "min": lambda values, _: min(values, default=0),
    "div": lambda values, param: sum(values) // param,
    "const": lambda _, param: param,
}
"""The ops that read every dependency, in order, and combine the values."""


def gather_in_order(refs: tuple[Ref, ...], read: Read) -> list[Value]:
    """What ``sf.gather`` means (``sofrito._gather``): the loop, except that
    after a key that is missing inputs it reads the later keys only to learn
    theirs (a later ``Failure`` is ignored), then raises them all at once."""
    values: list[Value] = []
    missing: dict[int, None] = {}
    for ref in refs:
        try:
            value = read(ref)
        except Missing as exc:
            missing.update(dict.fromkeys(exc.cells))
            continue
        except Failure:
            if not missing:
                raise
            continue
        values.append(value)
    if missing:
        raise Missing(*missing)
    return values


def _state(node: Node, read: Read, peek: Peek) -> Value:
    total: Value = 0
    for kind, index in node.deps:
        if kind == "q":
            total += read((kind, index))
            continue
        seen = peek(index)
        if seen is None:
            total += node.param
        elif isinstance(seen, Failure):
            total += node.param + FAILED_STATE
        else:
            total += seen
    return total % (3 if node.param % 2 else 1000)  # odd: often equal (early cutoff)


class Evaluation:
    """A from-scratch evaluation of a graph at fixed input values."""

    def __init__(
        self,
        graph: Graph,
        inputs: Mapping[int, Value | Failure],
        locate: Callable[[int, bool], object] | None = None,
        listed: Collection[int] = (),
    ) -> None:
        self.graph = graph
        self.inputs = inputs
        self.listed = listed
        """The cells a write gave a value or an error, not taken back since: what
        a family's listing holds (a cell a locator resolved is not listed)."""
        """Read live: ``locate`` may resolve a pending cell on the spot."""
        self.locate = locate
        """Called before every read of input cell k, ``locate(k, False)``, or
        ``locate(k, True)`` through ``peek`` (``sf.state``): what a runtime does
        with the cell's locator when a read finds it pending."""
        self.started: list[int] = []
        self.outcomes: dict[int, Value | Failure] = {}

    def value(self, node: int) -> Value:
        """The value of ``node``; raises ``Failure`` or ``Missing`` like the runtime must."""
        return self._read(("q", node))

    def result(self, node: int) -> Value | Failure | Missing:
        """``value(node)``, with a raised ``Failure`` or ``Missing`` returned instead."""
        try:
            return self.value(node)
        except (Failure, Missing) as exc:
            return exc

    def _read(self, ref: Ref) -> Value:
        kind, index = ref
        if kind == "i":
            if self.locate is not None:
                self.locate(index, False)
            if index not in self.inputs:
                raise Missing(index)
            value = self.inputs[index]
            if isinstance(value, Failure):  # a cell resolved to an error
                raise value
            return value
        if index not in self.outcomes:
            self.started.append(index)
            try:
                outcome: Value | Failure = apply(
                    self.graph.nodes[index], self._read, self._peek, self._keys, self._gather
                )
            except Failure as exc:
                outcome = exc
            self.outcomes[index] = outcome  # a Missing propagates: no outcome
        outcome = self.outcomes[index]
        if isinstance(outcome, Failure):
            raise outcome
        return outcome

    def _gather(self, refs: tuple[Ref, ...]) -> list[Value]:
        return gather_in_order(refs, self._read)

    def _peek(self, index: int) -> Value | Failure | None:
        if self.locate is not None:
            self.locate(index, True)
        return self.inputs.get(index)

    def _keys(self, family: int) -> tuple[int, ...]:
        families = self.graph.families
        return tuple(sorted(cell for cell in self.listed if families[cell] == family))


def expected_outcome(graph: Graph, inputs: Mapping[int, Value], index: int) -> Any:
    """What reading node ``index`` must give at ``inputs`` (every cell with a value
    listed), as the oracle tests compare: the value, "error" or "missing"."""
    result = Evaluation(graph, inputs, listed=set(inputs)).result(index)
    if isinstance(result, Failure):
        return "error"
    if isinstance(result, Missing):
        return "missing"
    return result


def outcome(read: Callable[[], Value]) -> Any:
    """What a runtime's read gave, in ``expected_outcome``'s terms."""
    import sofrito as sf  # (the oracle itself needs no runtime)

    try:
        return read()
    except Failure:
        return "error"
    except sf.Suspend:
        return "missing"
