"""Inputs and queries by name, for restoring persisted state.

A snapshot names queries and inputs, not Python objects. When a runtime opens
a store, it finds the objects through this registry, which every ``Input``
and ``@sf.query`` joins when it is created. So define (import) your queries
and inputs before you open a runtime on a store: rows naming something this
process has not defined are dropped and recomputed when needed.

If several objects share a name (tests often declare ``Input("x")`` many
times), the most recently created wins. The registry holds them weakly: an
input itself, and a query through its entry point (the function
``@sf.query`` returns, which holds its ``QuerySpec``), because a spec can be
a compiled class, which cannot be weakly referenced.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sofrito._engine.spec import QuerySpec
    from sofrito._inputs import Input

__all__ = ["input_named", "register_input", "register_query", "query_named"]

_inputs: weakref.WeakValueDictionary[str, Input] = weakref.WeakValueDictionary()
_queries: weakref.WeakValueDictionary[str, Callable[..., Any]] = weakref.WeakValueDictionary()
"""Query entry points by name; each has a ``spec`` attribute."""


def register_input(input: Input) -> None:
    _inputs[input.name] = input


def register_query(name: str, entry: Callable[..., Any]) -> None:
    _queries[name] = entry


def input_named(name: str) -> Input | None:
    return _inputs.get(name)


def query_named(name: str) -> QuerySpec[Any] | None:
    entry = _queries.get(name)
    return None if entry is None else entry.spec  # type: ignore[attr-defined]
