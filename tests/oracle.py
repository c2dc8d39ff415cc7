"""A from-scratch evaluator for the random graphs of ``tests/strategies.py``.

No memoization, no revisions: every call recomputes everything from the
current input values. The runtime must agree with it on every read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Ref = tuple[str, int]
"""("i", k) for input cell k, ("q", k) for derived node k."""


@dataclass(frozen=True)
class Node:
    op: str  # "sum", "mod", "max", "div", "cond", "fail"
    deps: tuple[Ref, ...]
    param: int


class Failure(Exception):
    """What a "fail" node raises; compared by message."""


class Missing(Exception):
    """The oracle read an input that has no value: the runtime must suspend."""


def evaluate(graph: Mapping[int, Node], inputs: Mapping[int, int], node: int) -> int:
    """The value of ``node``; raises ``Failure`` or ``Missing`` like the runtime must."""
    cache: dict[int, int | BaseException] = {}

    def read(ref: Ref) -> int:
        kind, index = ref
        if kind == "i":
            if index not in inputs:
                raise Missing(index)
            return inputs[index]
        if index not in cache:
            try:
                cache[index] = compute(index)
            except Failure as exc:
                cache[index] = exc
        result = cache[index]
        if isinstance(result, BaseException):
            raise result
        return result

    def compute(index: int) -> int:
        return apply(graph[index], read)

    return read(("q", node))


def apply(node: Node, read: object) -> int:
    """One node's body, shared by the oracle and the query under test."""
    fetch = read  # type: ignore[assignment]
    deps, param = node.deps, node.param
    if node.op == "cond":
        first = fetch(deps[0])  # type: ignore[operator]
        chosen = deps[1] if first % 2 == 0 else deps[min(2, len(deps) - 1)]
        return int(fetch(chosen))  # type: ignore[operator]
    values = [fetch(dep) for dep in deps]  # type: ignore[operator]
    if node.op == "sum":
        return sum(values) % 1000
    if node.op == "mod":
        return sum(values) % param
    if node.op == "max":
        return max(values, default=0)
    if node.op == "div":
        return sum(values) // param
    if node.op == "fail":
        total = sum(values)
        if total % param == 0:
            raise Failure(f"fail at {total}")
        return total % 100
    raise AssertionError(node.op)
