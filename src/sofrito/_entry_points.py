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

A query declared with ``keys=`` gets an entry point with the body's own
signature (defaults, keyword arguments), whose hit looks up only the key
parameters, exactly as above; on a miss it hands the other arguments to the
cold path, which keeps them on the memo for the body (``keyed_cold``).

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

from sofrito._engine import fetch, hits
from sofrito._engine.spec import QuerySpec

__all__ = [
    "entry_point",
    "key_names",
    "keyed_call",
    "keyed_parameters",
    "keyed_runner",
    "keyed_split",
]

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
    if spec.keys is not None:
        entry = _keyed(spec)
    elif spec.lru is not None:
        entry = _lru_entry_point(spec)
    else:
        entry = _generated(spec, names)
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
            if memo.hit_at == db._revisions.current:
                db._lru_touch(memo)
                return value
        return db._fetch_cold(spec, key, memo)

    return entry


# -- keys=: the body's own signature, a hit on the key parameters only --------

_KEYED_TEMPLATE = """\
def make(_sf_spec, _sf_index, _sf_MISS, _sf_cold, _sf_defaults):
    {defaults}
    def entry(_sf_db, /, {parameters}):
        _sf_hits = _sf_db._hits
        if _sf_hits is not None:
            try:
                _sf_value = {lookup}
            except (TypeError, IndexError):
                _sf_value = _sf_MISS
            if _sf_value is not _sf_MISS:
                return _sf_value
        return _sf_cold(_sf_db, _sf_spec, {key}, {{{extra}}})
    return entry
"""


def keyed_parameters(fn: Callable[..., Any], keys: object, name: str) -> tuple[str, ...]:
    """Check ``keys=`` against the body's signature; the key names in declaration order.

    Every name must be a parameter after ``db`` that can be passed by keyword
    (the body is called with keywords, so that key and other arguments can be
    put back together in any order); ``*args`` and ``**kwargs`` cannot be
    split into key and others. Raised at decoration, naming the query.
    """
    if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):  # type: ignore[attr-defined]
        raise TypeError(
            f"query {name}: keys= takes a tuple of parameter names, such as "
            f"keys=({keys!r},), not {keys!r}"
        )
    wanted: list[str] = list(keys)  # type: ignore[call-overload]
    try:
        parameters = list(inspect.signature(fn).parameters.values())[1:]
    except (TypeError, ValueError):
        raise TypeError(f"query {name}: keys= needs a body with a signature to read") from None
    plain = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    for p in parameters:
        if p.kind not in plain:
            raise TypeError(
                f"query {name}: keys= needs named parameters after db, but {p}'s kind is "
                f"{p.kind.description}; declare it as an ordinary parameter"
            )
        if p.name.startswith("_sf_"):
            raise ValueError(f"query {name}: parameter names starting with '_sf_' are reserved")
    names = [p.name for p in parameters]
    unknown = [k for k in wanted if k not in names]
    if unknown or len(set(wanted)) != len(wanted):
        raise ValueError(
            f"query {name}: keys={tuple(wanted)!r} must name distinct parameters of the "
            f"body after db; its parameters are {tuple(names)!r}"
            + (f" ({', '.join(map(repr, unknown))} is not one)" if unknown else "")
        )
    return tuple(n for n in names if n in wanted)


def _keyed(spec: QuerySpec[Any]) -> Callable[..., Any]:
    keys = spec.keys
    assert keys is not None
    parameters = list(inspect.signature(spec.fn).parameters.values())[1:]
    defaults = [p.default for p in parameters if p.default is not inspect.Parameter.empty]
    texts: list[str] = []
    seen_keyword_only = False
    at = 0
    for p in parameters:
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not seen_keyword_only:
            texts.append("*")
            seen_keyword_only = True
        if p.default is inspect.Parameter.empty:
            texts.append(p.name)
        else:
            texts.append(f"{p.name}=_sf_d{at}")
            at += 1
    others = [p.name for p in parameters if p.name not in keys]
    missing = _MISS
    if not keys:
        lookup, key = "_sf_hits[_sf_index]", "()"
        missing = hits.EMPTY
    else:
        key = f"({', '.join(keys)},)"
        lookup = f"_sf_hits[_sf_index].get({keys[0] if len(keys) == 1 else key}, _sf_MISS)"
    source = _KEYED_TEMPLATE.format(
        defaults="; ".join(f"_sf_d{i} = _sf_defaults[{i}]" for i in range(len(defaults))) or "pass",
        parameters=", ".join(texts),
        lookup=lookup,
        key=key,
        extra=", ".join(f"{n!r}: {n}" for n in others),
    )
    filename = f"<sofrito entry point of {spec.name}>"
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)  # our template, and identifiers
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    make: Callable[..., Callable[..., Any]] = namespace["make"]
    return make(spec, spec.index, missing, keyed_cold, defaults)


def keyed_cold(db: Any, spec: QuerySpec[Any], key: tuple[Any, ...], extra: dict[str, Any]) -> Any:
    """A ``keys=`` query's miss: keep the call's other arguments on the memo, if
    it has none yet (the first call's are the ones its body always gets), then
    the usual cold path."""
    fetch.keep_arguments(db._engine, spec, key, extra)
    return db._fetch_cold(spec, key, None)


def keyed_split(
    spec: QuerySpec[Any], args: tuple[Any, ...]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The key and the other arguments of a call of a ``keys=`` query given by
    position (``rt.query(q, *args)``, ``rt.poll``): not on any hot path."""
    bound = inspect.signature(spec.fn).bind(None, *args)
    bound.apply_defaults()
    arguments = dict(list(bound.arguments.items())[1:])
    keys = spec.keys or ()
    return tuple(arguments[k] for k in keys), {n: v for n, v in arguments.items() if n not in keys}


def keyed_call(db: Any, spec: QuerySpec[Any], args: tuple[Any, ...], retry: bool) -> Any:
    """``rt.query(q, *args, retry=False)`` of a ``keys=`` query."""
    key, others = keyed_split(spec, args)
    fetch.keep_arguments(db._engine, spec, key, others)
    return fetch.fetch_top(db._engine, db, spec, key, None, retry)


def keyed_runner(fn: Callable[..., Any], keys: tuple[str, ...], label: str) -> Callable[..., Any]:
    """What the engine calls to execute a ``keys=`` query (``QuerySpec.run``):
    the body, given the key by name and the other arguments its memo keeps.

    A memo that never met a call in this process (restored from a store, and
    re-executed because a dependent's verification found its reads changed)
    has no other arguments: the body gets their defaults, and a parameter
    without one is a ``TypeError`` naming the query and what to do.
    """
    parameters = list(inspect.signature(fn).parameters.values())[1:]
    required = [
        p.name for p in parameters if p.name not in keys and p.default is inspect.Parameter.empty
    ]

    def run(db: Any, *key: Any) -> Any:
        arguments = dict(zip(keys, key, strict=True))
        given = db.memo.args
        if given is not None:
            arguments.update(given)
        elif required:
            call = f"{label}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
            raise TypeError(
                f"{call} must re-execute, but no call in this process gave its other "
                f"arguments ({', '.join(required)}): call it directly before its readers, "
                "or give those parameters defaults"
            )
        return fn(db, **arguments)

    return run
