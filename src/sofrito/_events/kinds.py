"""The event records, and ``QueryRef``: how events name inputs and queries.

A ref carries the canonical key bytes and their deterministic hash rather than
the key object, so an event means the same thing in every process and can be
stored or sent. ``str(ref)`` shows it the way errors do: ``html('index.md')``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sofrito._durability import Durability
from sofrito._keys import decode_key, encode_key, key_hash

__all__ = [
    "Event",
    "InputRemoved",
    "InputSet",
    "QueryChanged",
    "QueryInvalidated",
    "QueryRef",
    "RevisionBumped",
    "RevisionSet",
]


@dataclass(frozen=True, slots=True)
class QueryRef:
    """An input cell or a query call: ``kind`` (the name), ``key_hash``, ``key`` (bytes)."""

    kind: str
    key_hash: int
    key: bytes
    display: str | None = field(default=None, compare=False, repr=False)
    """How to show the ref when its key bytes cannot be decoded; not compared."""

    @classmethod
    def of(cls, kind: str, key: tuple[Any, ...]) -> QueryRef:
        """The ref of ``kind`` at ``key``; raises ``KeyEncodingError`` for odd keys."""
        encoded = encode_key(key)
        return cls(kind, key_hash(encoded), encoded)

    def __str__(self) -> str:
        if self.display is not None:
            return self.display
        try:
            parts = decode_key(self.key)
        except ValueError:
            return f"{self.kind}(<key {self.key.hex()}>)"
        return f"{self.kind}({', '.join(map(repr, parts))})"


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
    """A write to ``by`` reached ``ref`` through the reverse dependencies."""

    ref: QueryRef
    by: QueryRef
    revision: int


@dataclass(frozen=True, slots=True)
class QueryChanged:
    """``ref`` re-executed in ``revision`` and its value differs (no early cutoff)."""

    ref: QueryRef
    revision: int


Event = RevisionBumped | RevisionSet | InputSet | InputRemoved | QueryInvalidated | QueryChanged

for _cls in (
    QueryRef,
    RevisionBumped,
    RevisionSet,
    InputSet,
    InputRemoved,
    QueryInvalidated,
    QueryChanged,
):
    _cls.__module__ = "sofrito"
