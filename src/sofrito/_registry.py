"""Inputs and queries by name, for restoring persisted state.

A snapshot names queries and inputs, not Python objects. When a runtime opens
a store, it finds the objects through this registry, which every ``Input``
and ``@sf.query`` joins when it is created. So define (import) your queries
and inputs before you open a runtime on a store: rows naming something this
process has not defined are dropped and recomputed when needed.

If several objects share a name (tests often declare ``Input("x")`` many
times), the most recently created wins. The registry holds them weakly, and
indirectly, because inputs and query specs can be compiled classes, which
cannot be weakly referenced: an input through its ``lifetime.Anchor``, a
query through its entry point (the function ``@sf.query`` returns, which
holds its ``QuerySpec``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sofrito._keys import decode_key

if TYPE_CHECKING:
    from sofrito._engine.family import Input
    from sofrito._engine.lifetime import Anchor
    from sofrito._engine.spec import QuerySpec

__all__ = [
    "entry_named",
    "input_named",
    "query_and_key",
    "query_named",
    "register_input",
    "register_query",
]

_inputs: weakref.WeakValueDictionary[str, Anchor] = weakref.WeakValueDictionary()
"""Input anchors by name; each anchor's ``owner`` is its input."""
_queries: weakref.WeakValueDictionary[str, Callable[..., Any]] = weakref.WeakValueDictionary()
"""Query entry points by name; each has a ``spec`` attribute."""


def register_input(name: str, anchor: Anchor) -> None:
    _inputs[name] = anchor


def register_query(name: str, entry: Callable[..., Any]) -> None:
    _queries[name] = entry


def input_named(name: str) -> Input | None:
    anchor = _inputs.get(name)
    return None if anchor is None else anchor.owner


def entry_named(name: str) -> Callable[..., Any] | None:
    """The entry point (what ``@sf.query`` returned) of the query named ``name``:
    what a process that was sent the name calls (``sofrito._shipping``)."""
    return _queries.get(name)


def query_named(name: str) -> QuerySpec[Any] | None:
    entry = _queries.get(name)
    return None if entry is None else entry.spec  # type: ignore[attr-defined]


def query_and_key(name: str, key_bytes: bytes) -> tuple[QuerySpec[Any], tuple[Any, ...]] | None:
    """The query defined under ``name`` and a stored key decoded for it, or None
    when this process defines no such query or the key no longer decodes (a
    class that moved): either way, a stored row of it cannot be used."""
    spec = query_named(name)
    if spec is None:
        return None
    try:
        return spec, decode_key(key_bytes)
    except ValueError:
        return None
