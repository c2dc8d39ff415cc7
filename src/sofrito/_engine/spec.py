"""``QuerySpec``: everything the runtime knows about one query, shared by all runtimes.

Read on every execution (its function, its ``lru``, its equality), so it
lives in the engine and is a compiled class in the compiled engine. The
name registry holds the query's entry point weakly, not the spec
(``_registry.py``): compiled classes cannot be weakly referenced.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Eq", "QuerySpec", "default_eq"]

R = TypeVar("R")

Eq = Callable[[Any, Any], object]

_indexes = itertools.count()


def default_eq(old: Any, new: Any) -> object:
    """Early cutoff's default: equal by ``==`` (identity first, a cheap answer)."""
    return old is new or old == new


class QuerySpec(Generic[R]):
    """Everything the runtime needs to know about one query; shared by all runtimes."""

    __slots__ = (
        "_fingerprint",
        "arity",
        "error_eq",
        "fn",
        "index",
        "keys",
        "label",
        "lru",
        "name",
        "output_eq",
        "persist",
        "persist_value",
        "plain_eq",
        "run",
        "version",
    )

    def __init__(
        self,
        fn: Callable[..., R],
        *,
        name: str | None,
        output_eq: Eq | None,
        error_eq: Eq | None,
        lru: int | None,
        version: str | None,
        persist: bool,
        persist_value: bool = True,
        arity: int | None = None,
        keys: tuple[str, ...] | None = None,
        run: Callable[..., R] | None = None,
    ) -> None:
        if lru is not None and (not isinstance(lru, int) or lru < 1):
            raise ValueError(f"lru must be a positive int or None, got {lru!r}")
        self.fn = fn
        self.name = name or f"{fn.__module__}.{fn.__qualname__}"
        self.label = name or fn.__qualname__
        self.output_eq: Eq = output_eq or default_eq
        self.plain_eq = self.output_eq is default_eq
        """Early cutoff compares with ``==``: ``backdate.store`` does it inline.
        A field, not ``output_eq is default_eq`` there: the compiled engine
        looks a module's global function up by name."""
        self.error_eq = error_eq
        self.lru = lru
        self.version = version
        self.persist = persist
        self.persist_value = persist_value
        """False: a commit stores the memo's reads and revisions, not its value
        (``_persistence.Persistence._row``); loaded, it is an evicted memo."""
        self._fingerprint: bytes | None = None
        self.arity = arity
        """How many parts every key has, when the entry point fixes it (its
        body's signature does, and no ``lru``); None when it varies per call.
        The hit table keys a query of one part by the part (``hits.py``)."""
        self.keys = keys
        """``keys=``: the parameters that form the key, in declaration order; the
        others reach the body but not the key (``_entry_points.keyed_runner``)."""
        self.run: Callable[..., R] = fn if run is None else run
        """What an execution calls as ``run(db, *key)``: ``fn``, or for ``keys=``
        the body given its other arguments too."""
        self.index = next(_indexes)
        """This query's place in every runtime's list of memo tables
        (``MemoTables.by_index``), which the memo hit indexes: a list index
        by a small int costs less than a dict lookup hashing the spec."""

    def describe(self, key: tuple[Any, ...]) -> str:
        """How errors show a call: ``html('index.md')``."""
        return f"{self.label}({', '.join(map(repr, key))})"

    @property
    def fingerprint(self) -> bytes:
        """A digest of the code the query reaches and its ``version``: memos of
        other code are stale (``_fingerprint.py`` says what it covers).

        Computed on first use, when a memo row is committed or restored, not at
        declaration: a helper the body calls may be defined below it. Declaring
        a query never imports the walk.
        """
        if self._fingerprint is None:
            from sofrito._fingerprint import fingerprint  # noqa: PLC0415 (declaring stays cheap)

            self._fingerprint = fingerprint(self.fn, self.version)
        return self._fingerprint

    def __repr__(self) -> str:
        return f"<sofrito query {self.name}>"
