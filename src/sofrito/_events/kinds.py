"""The event records, and ``QueryRef``: how events name inputs and queries.

A ref carries the canonical key bytes and their deterministic hash rather than
the key object. So an event means the same thing in every process, can be
stored, sent or compared across runs, and holds no reference to a user's key
objects. ``str(ref)`` shows it the way errors do, ``html('index.md')``, by
decoding the bytes for display only: enum members and dataclasses appear by
name without importing their classes.

Events are frozen, slotted dataclasses: cheap to build on a write, safe to
hand to any number of receivers and threads, and equal when they say the same
thing, which is what tests compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

from sofrito import _canonical
from sofrito._durability import Durability
from sofrito._keys import encode_key, key_hash

__all__ = [
    "Event",
    "InputRemoved",
    "InputSet",
    "QueryChanged",
    "QueryExecuting",
    "QueryInvalidated",
    "QueryRef",
    "QueryTraced",
    "QueryVerified",
    "RevisionBumped",
    "RevisionSet",
]


@dataclass(frozen=True, slots=True)
class QueryRef:
    """An input cell or a query call, as events and errors name it.

    ``kind`` is the input or query name, ``key`` the canonical key bytes
    (``encode_key``) and ``key_hash`` their deterministic 64-bit hash, the same
    in every process. Build one with ``QueryRef.of(kind, key)``.
    """

    kind: str
    key_hash: int
    key: bytes
    display: str | None = field(default=None, compare=False, repr=False)
    """How to show the ref when its key has no bytes (an unencodable key in an
    error report); not compared."""

    @classmethod
    def of(cls, kind: str, key: tuple[Any, ...]) -> QueryRef:
        """The ref of ``kind`` at ``key``; raises ``KeyEncodingError`` (a TypeError)
        for a key with no canonical encoding."""
        encoded = encode_key(key)
        return cls(kind, key_hash(encoded), encoded)

    def __str__(self) -> str:
        if self.display is not None:
            return self.display
        try:
            parts = _canonical.decode(self.key, _SHOW_ANY_CLASS)
        except Exception:  # display only: any bytes at all must print
            return f"{self.kind}(<key {self.key.hex()}>)"
        if type(parts) is not tuple:
            return f"{self.kind}(<key {self.key.hex()}>)"
        return f"{self.kind}({', '.join(map(_show, parts))})"


@dataclass(frozen=True, slots=True)
class RevisionBumped:
    """A write (or a batch, or ``bump_revision``) started ``revision``."""

    revision: int


@dataclass(frozen=True, slots=True)
class RevisionSet:
    """``set_current_revision`` (loading a snapshot) moved to ``revision``."""

    revision: int


@dataclass(frozen=True, slots=True)
class InputSet:
    """A cell got a value (or an error, by ``resolve_error``) in ``revision``."""

    ref: QueryRef
    revision: int
    durability: Durability


@dataclass(frozen=True, slots=True)
class InputRemoved:
    """A cell was removed or invalidated in ``revision``."""

    ref: QueryRef
    revision: int


@dataclass(frozen=True, slots=True)
class QueryInvalidated:
    """A write to ``by`` reached ``ref`` through the reverse dependencies: it may
    have changed, and will be verified on its next read."""

    ref: QueryRef
    by: QueryRef
    revision: int


@dataclass(frozen=True, slots=True)
class QueryChanged:
    """``ref`` re-executed in ``revision`` and its value differs (no early cutoff)."""

    ref: QueryRef
    revision: int


@dataclass(frozen=True, slots=True)
class QueryExecuting:
    """``ref``'s body is about to run in ``revision`` (salsa's ``WillExecute``).

    ``first``: it has no earlier value (never computed, or dropped): no
    ``QueryChanged`` and no early cutoff can follow, there is nothing to
    compare with. Otherwise a ``QueryChanged`` for ``ref`` follows once the
    body has returned a different value, and none when the value came out
    equal (early cutoff).
    """

    ref: QueryRef
    revision: int
    first: bool


@dataclass(frozen=True, slots=True)
class QueryVerified:
    """``ref``'s memo, from an earlier revision, was found valid in ``revision``
    without executing: nothing it read changed (salsa's ``DidValidateMemoizedValue``)."""

    ref: QueryRef
    revision: int


@dataclass(frozen=True, slots=True)
class QueryTraced:
    """``ref``'s execution in ``revision``, announced by its ``QueryExecuting``, did
    not run the body: a published trace whose reads all matched gave the value
    (docs/persistence.md, "Traces: sharing by content"). ``QueryChanged``
    follows as for an execution, when the value differs from an earlier one."""

    ref: QueryRef
    revision: int


Event: TypeAlias = (
    RevisionBumped
    | RevisionSet
    | InputSet
    | InputRemoved
    | QueryInvalidated
    | QueryChanged
    | QueryExecuting
    | QueryVerified
    | QueryTraced
)
"""Any of the nine events a receiver gets, for annotations: ``def apply(event: sf.Event)``."""

for _cls in (
    QueryRef,
    RevisionBumped,
    RevisionSet,
    InputSet,
    InputRemoved,
    QueryInvalidated,
    QueryChanged,
    QueryExecuting,
    QueryVerified,
    QueryTraced,
):
    _cls.__module__ = "sofrito"


# -- display -------------------------------------------------------------------------


class _Shown:
    """An enum member or dataclass decoded for display: its repr, built from names."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class _ShownClass:
    """Stands in for the class named ``module:qualname`` while decoding for display."""

    __slots__ = ("name",)

    def __init__(self, qualified: str) -> None:
        self.name = qualified.rpartition(":")[2]

    def __getitem__(self, member: object) -> _Shown:  # an enum member: Color.RED
        return _Shown(f"{self.name}.{member}")

    def __call__(self, *fields: object) -> _Shown:  # a dataclass: Point(1, 'y')
        return _Shown(f"{self.name}({', '.join(map(_show, fields))})")


class _AnyClass:
    """A ``types`` mapping that knows every class name, without importing any.

    Only ``get`` is used by the decoder. Not a dict subclass: an empty dict is
    falsy, and the decoder treats a falsy ``types`` as none given.
    """

    def get(self, name: str, default: object = None) -> _ShownClass:
        return _ShownClass(name)


_SHOW_ANY_CLASS = cast("Mapping[str, type]", _AnyClass())


def _show(value: object) -> str:
    """``repr``, except that frozenset members are sorted: the same text in every process."""
    if type(value) is tuple:
        inner = ", ".join(map(_show, value))
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if type(value) is frozenset:
        return f"frozenset({{{', '.join(sorted(map(_show, value)))}}})" if value else "frozenset()"
    return repr(value)
