"""The function ``@sf.query`` returns, whose first lines are the memo hit.

The hit must stay within a small multiple of a bare function call, so the
entry point is a plain function (a call through a Python-level ``__call__``
costs an extra frame), and for a body whose signature fixes the key
(``def words(db, path)``) it is written for that key::

    def entry(db, path, /):
        hits = db._hits
        if hits is not None:
            value = hits[index].get(path, _MISS)
            if value is not _MISS:
                return value
        return db._fetch_cold(spec, (path,), None)

A list index (``index``, a closure constant, is the query's place in the
runtime's list of hit tables, so the spec is never hashed), one dict lookup,
one identity test: no lock, no allocation, no field of any record read
(``_engine/hits.py`` says why that matters, and why the table never serves a
stale value). A key of one part is looked up as itself: a ``*key`` entry
point would build a tuple per call and hash it, which cost a third of the
hit. Keys of two or more parts are looked up as tuples. A query whose key
has no parts (``def site(db)``) has its value in the slot itself, and its
hit is a list index and an identity test.

Inside a query, ``db`` is a frame whose ``_hits`` is None: a tracked read
must reach ``_fetch_cold``, which records the dependency.

A body with defaults, ``*args`` or keyword-only parameters gets an entry
point with ``*key``, the same in every other way; a query with ``lru`` gets
one of its own, which checks the memo itself and moves it in the ring.

Entry points are generated from one template (``_TEMPLATE``), as
``dataclasses`` and ``attrs`` generate ``__init__``, and their source is put
in ``linecache`` so that tracebacks show it.
"""

from __future__ import annotations

import functools
import inspect
import linecache
from collections.abc import Callable
from typing import Any

from sofrito._engine import hits
from sofrito._engine.spec import QuerySpec

__all__ = ["entry_point", "key_names"]

_MISS: Any = object()
"""What the memo hit's ``get`` returns for a key the hit table lacks."""

_TEMPLATE = """\
def make(spec, index, _MISS):
    def entry(db, {parameters}):
        hits = db._hits
        if hits is not None:
            try:
                value = {lookup}
            except (TypeError, IndexError):  # an unhashable key, or a query with
                value = _MISS  # no hit yet: the cold path handles both
            if value is not _MISS:
                return value
        return db._fetch_cold(spec, {key}, None)
    return entry
"""

_TEMPLATE_NAMES = frozenset(
    {"db", "entry", "hits", "index", "make", "spec", "value", "_MISS", "IndexError", "TypeError"}
)
"""Names the template uses: a key part named like one of them is renamed."""


def key_names(fn: Callable[..., Any]) -> list[str] | None:
    """The names of the key's parts, if the body's signature fixes them.

    ``def words(db, path)`` gives ``["path"]``. None when the body takes
    defaults, ``*args``, keyword-only parameters, or has no signature to
    read: then how many parts a key has is only known per call.
    """
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not parameters or any(
        p.kind not in plain or p.default is not inspect.Parameter.empty for p in parameters
    ):
        return None
    return [p.name for p in parameters[1:]]


def entry_point(spec: QuerySpec[Any], names: list[str] | None) -> Callable[..., Any]:
    """The function that ``@sf.query`` returns for ``spec``, whose key's parts
    are ``names`` (``key_names``; the same as ``spec.arity``)."""
    entry = _lru_entry_point(spec) if spec.lru is not None else _generated(spec, names)
    functools.update_wrapper(entry, spec.fn)
    entry.spec = spec  # type: ignore[attr-defined]
    return entry


def _generated(spec: QuerySpec[Any], names: list[str] | None) -> Callable[..., Any]:
    missing = _MISS
    if names is None:
        source = _TEMPLATE.format(
            parameters="/, *key", lookup="hits[index].get(key, _MISS)", key="key"
        )
    elif not names:  # the slot holds the value, or is empty (hits.py)
        source = _TEMPLATE.format(parameters="/", lookup="hits[index]", key="()")
        missing = hits.EMPTY
    else:
        if _TEMPLATE_NAMES.intersection(names):  # keep the template's own names
            names = [f"part{i}" for i in range(len(names))]
        key = f"({', '.join(names)},)"
        hit_key = names[0] if len(names) == 1 else key
        source = _TEMPLATE.format(
            parameters=", ".join([*names, "/"]),
            lookup=f"hits[index].get({hit_key}, _MISS)",
            key=key,
        )
    filename = f"<sofrito entry point of {spec.name}>"
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)  # our template, and identifiers
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    make: Callable[..., Callable[..., Any]] = namespace["make"]
    return make(spec, spec.index, missing)


def _lru_entry_point(spec: QuerySpec[Any]) -> Callable[..., Any]:
    index = spec.index

    def entry(db: Any, *key: Any) -> Any:
        try:
            memo = db._tables[index].get(key)
        except (TypeError, IndexError):
            memo = None
        if memo is not None:
            # Value first, then the check: eviction (on another thread) clears
            # hit_at before the value, so a value read before a passing check
            # is one that was still valid.
            value = memo.value
            if memo.hit_at == db._revision:
                db._lru_touch(memo)
                return value
        return db._fetch_cold(spec, key, memo)

    return entry
