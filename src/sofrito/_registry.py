"""Inputs and queries by name, for restoring persisted state.

A snapshot names queries and inputs, not Python objects. When a runtime opens
a store, it finds the objects through this registry, which every ``Input``
and ``@sf.query`` joins when it is created. So define (import) your queries
and inputs before you open a runtime on a store: rows naming something this
process has not defined are dropped and recomputed when needed.

If several objects share a name (tests often declare ``Input("x")`` many
times), the most recently created wins. The registry holds them weakly.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sofrito._inputs import Input
    from sofrito._queries import QuerySpec

__all__ = ["input_named", "register_input", "register_query", "query_named"]

_inputs: weakref.WeakValueDictionary[str, Input] = weakref.WeakValueDictionary()
_queries: weakref.WeakValueDictionary[str, QuerySpec[Any]] = weakref.WeakValueDictionary()


def register_input(input: Input) -> None:
    _inputs[input.name] = input


def register_query(spec: QuerySpec[Any]) -> None:
    _queries[spec.name] = spec


def input_named(name: str) -> Input | None:
    return _inputs.get(name)


def query_named(name: str) -> QuerySpec[Any] | None:
    return _queries.get(name)
