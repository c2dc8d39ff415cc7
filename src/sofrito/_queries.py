"""``@sf.query``: turn a function of ``(db, *key)`` into a memoized query.

The decorator returns a plain function, not an object with ``__call__``: a
call through a Python-level ``__call__`` costs an extra frame, and the memo
hit must stay within a small multiple of a bare function call. The generated
function *is* the hot path::

    hits = db._hits
    if hits is not None:
        value = hits[index].get(key, _MISS)
        if value is not _MISS:
            return value
    return db._fetch_cold(spec, key, None)

A list index (``index``, a closure constant, is the spec's place in the
runtime's list of hit tables, so the spec is never hashed), one dict lookup,
one identity test, no lock, no allocation beyond the ``*key`` tuple Python
builds for any call, and no field of any record read (``_engine/hits.py``
says why that matters, and why the table never serves a stale value).
Inside a query, ``db`` is a frame whose ``_hits`` is None: a tracked read
must reach ``_fetch_cold``, which records the dependency.

A query with ``lru`` has an entry point of its own, which checks the memo
itself and moves it in the ring on a hit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar, overload

from sofrito._engine.spec import Eq, QuerySpec
from sofrito._registry import register_query

if TYPE_CHECKING:
    from sofrito._engine.frames import Handle
    from sofrito._runtime import Runtime

__all__ = ["Query", "QuerySpec", "query"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Query(Protocol[P, R_co]):
    """What ``@sf.query`` returns: call it as ``q(db, *key)``."""

    spec: QuerySpec[Any]

    def __call__(self, db: Runtime | Handle, /, *args: P.args, **kwargs: P.kwargs) -> R_co: ...


@overload
def query(fn: Callable[Concatenate[Any, P], R], /) -> Query[P, R]: ...


@overload
def query(
    *,
    name: str | None = None,
    output_eq: Eq | None = None,
    error_eq: Eq | None = None,
    lru: int | None = None,
    version: str | None = None,
    persist: bool = True,
) -> Callable[[Callable[Concatenate[Any, P], R]], Query[P, R]]: ...


def query(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    output_eq: Eq | None = None,
    error_eq: Eq | None = None,
    lru: int | None = None,
    version: str | None = None,
    persist: bool = True,
) -> Any:
    """Declare a memoized query ``fn(db, *key)``; usable bare or with options.

    Options: ``name`` (default: the module-qualified function name; identifies
    the query in events and the store), ``output_eq`` (equality for early
    cutoff, default ``==``), ``error_eq`` (the same for cached errors; by
    default errors never compare equal), ``lru`` (keep at most this many
    values), ``version`` (bump it to invalidate persisted memos when the
    query's meaning changes outside its own code), ``persist`` (include in
    snapshots).
    """

    def decorate(function: Callable[..., Any]) -> Any:
        spec = QuerySpec(
            function,
            name=name,
            output_eq=output_eq,
            error_eq=error_eq,
            lru=lru,
            version=version,
            persist=persist,
        )
        entry = _entry_point(spec)
        register_query(spec.name, entry)
        return entry

    if fn is not None:
        return decorate(fn)
    return decorate


_MISS: Any = object()
"""What the memo hit's ``get`` returns for a key the hit table lacks."""


def _entry_point(spec: QuerySpec[Any]) -> Any:
    index = spec.index
    if spec.lru is None:

        def entry(db: Any, *key: Any) -> Any:
            hits = db._hits
            if hits is not None:
                try:
                    value = hits[index].get(key, _MISS)
                except (TypeError, IndexError):  # an unhashable key, or a query with
                    value = _MISS  # no hit yet: the cold path handles both
                if value is not _MISS:
                    return value
            return db._fetch_cold(spec, key, None)

    else:

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

    functools.update_wrapper(entry, spec.fn)
    entry.spec = spec  # type: ignore[attr-defined]
    return entry


def spec_of(q: object) -> QuerySpec[Any]:
    spec = getattr(q, "spec", None)
    if not isinstance(spec, QuerySpec):
        raise TypeError(f"{q!r} is not a query; declare it with @sf.query")
    return spec


QuerySpec.__module__ = "sofrito"
Query.__module__ = "sofrito"
