"""Row checksums and set seals: how a store knows the bytes it reads back are whole.

Two failures must never turn into wrong data:

- **A damaged row** (a flipped bit, a torn page). Every stored row carries a
  checksum over its runtime id, its own id and its content, verified on every
  read. Binding the ids means a row that moved (to another runtime or another
  memo id) fails too.
- **A row that vanished**, e.g. because damage to its runtime id moved it out
  of the runtime's key range. A per-row checksum cannot see a row that is not
  there, so each runtime's header keeps a *seal* per table: the XOR of the
  checksums of all its rows. Writes update the seal in proportion to the rows
  they touch (out goes the old checksum, in goes the new); a full load XORs
  what it read and compares. A missing, extra or stale row breaks the seal.

Reverse edges (``dep -> reader``) are rows like any other: each carries a
checksum (tagged, so an edge can never pass for a memo row), and the header
seals them. The SQLite store keeps them in groups, a row per dependency
listing its readers and a row per reader listing its dependencies
(``_sqlite_edges``): a checksum per group, each kind with its own tag, both
kinds folded into the one edge seal.

An *on-demand* read (some rows, a reader closure) can check only the
checksums of what it reads: a seal is over all of a runtime's rows, so
seeing that one has vanished needs them all. What that leaves open, and why
it is acceptable, is in docs/persistence.md ("What an on-demand read can
detect").

The checksum is BLAKE2b with a 16-byte digest over ``_encoding.encode`` of
the row's fields. It detects accidents, not attackers: someone who can write
the file can recompute it (the runtime's ``secret=`` MAC is the defence there).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sofrito.stores import _encoding

__all__ = [
    "EMPTY_SEAL",
    "SUM_SIZE",
    "EdgeSums",
    "InputSums",
    "checksum",
    "edge_checksummer",
    "fold",
    "group_checksummers",
    "input_checksummer",
    "memo_checksummer",
]

SUM_SIZE = 16
EMPTY_SEAL = bytes(SUM_SIZE)

_STR, _BYTES, _INT = bytes([_encoding.STR]), bytes([_encoding.BYTES]), bytes([_encoding.INT])
_INPUT_TAGS = (_STR, _STR, _BYTES, _BYTES, _INT, _INT, _STR)
"""The encoding's tag of each field of an input state row, in order."""


def checksum(*parts: _encoding.Plain) -> bytes:
    """The checksum of one row: BLAKE2b-128 of the encoded tuple of its fields."""
    return hashlib.blake2b(_encoding.encode(parts), digest_size=SUM_SIZE).digest()


def memo_checksummer(runtime_id: str) -> _MemoSums:
    """``checksum(runtime_id, memo_id, row)`` without re-encoding the runtime id per row:
    a load verifies every memo row, so this is on the path that opens a cache."""
    return _MemoSums(runtime_id)


def input_checksummer(runtime_id: str) -> InputSums:
    """``checksum(runtime_id, *fields)`` of an input state row, the runtime id
    encoded once: a load verifies every input row too."""
    return InputSums(runtime_id)


def edge_checksummer(runtime_id: str) -> EdgeSums:
    """``checksum("sofrito.edge", runtime_id, reader, dep)``: a full load verifies
    every edge of the runtime, a closure every edge it follows."""
    return EdgeSums(runtime_id)


def _hashed_prefix(runtime_id: str, fields: int) -> hashlib.blake2b:
    """The hasher state after the start of ``encode((runtime_id, *fields))``: the
    tuple's tag and count, then the runtime id, which every row of a load shares."""
    head = bytearray([_encoding.TUPLE]) + (fields + 1).to_bytes(4, "big")
    _encoding.encode_into(head, runtime_id)
    return hashlib.blake2b(bytes(head), digest_size=SUM_SIZE)


class InputSums:
    """``checksum(runtime_id, *fields)`` for the seven fields of an input state row.

    Their types are fixed (the store checks them before it asks), so their
    encoding is written out here instead of an encoder call per field: that
    took 7% of the instructions of opening the benchmark's cache of 10,000
    pages. ``tests/stores/test_records.py`` holds it to ``checksum``.
    """

    __slots__ = ("_prefix",)

    def __init__(self, runtime_id: str) -> None:
        self._prefix = _hashed_prefix(runtime_id, 7)

    def __call__(
        self,
        input_id: str,
        kind: str,
        key: bytes,
        value: bytes,
        durability: int,
        changed_at: int,
        status: str,
    ) -> bytes:
        if len(value) > _encoding.MAX_LENGTH or len(key) > _encoding.MAX_LENGTH:
            raise ValueError("an input's key or value does not fit the store encoding (4 GiB)")
        raws = (
            input_id.encode("utf-8", "surrogatepass"),
            kind.encode("utf-8", "surrogatepass"),
            key,
            value,
            durability.to_bytes((durability.bit_length() + 8) // 8, "big", signed=True),
            changed_at.to_bytes((changed_at.bit_length() + 8) // 8, "big", signed=True),
            status.encode("utf-8", "surrogatepass"),
        )
        hasher = self._prefix.copy()
        for tag, raw in zip(_INPUT_TAGS, raws, strict=True):
            hasher.update(tag + len(raw).to_bytes(4, "big"))
            hasher.update(raw)
        return hasher.digest()


class _MemoSums:
    """A memo row's two fields are bytes: their encoding is written out, no encoder call."""

    __slots__ = ("_prefix",)

    def __init__(self, runtime_id: str) -> None:
        self._prefix = _hashed_prefix(runtime_id, 2)

    def __call__(self, memo_id: bytes, row: bytes) -> bytes:
        hasher = self._prefix.copy()
        hasher.update(_BYTES + len(memo_id).to_bytes(4, "big"))
        hasher.update(memo_id)
        hasher.update(_BYTES + len(row).to_bytes(4, "big"))
        hasher.update(row)
        return hasher.digest()


class EdgeSums:
    """``checksum(tag, runtime_id, first, second)`` for two bytes fields, the tag
    and runtime id hashed once: ``"sofrito.edge"`` and ``(reader, dep)`` for one
    edge. The tag keeps an edge's checksum apart from a memo row's, whose
    fields would otherwise have the same types (str, bytes, bytes), and one
    kind of edge group's from the other's (``group_checksummers``)."""

    __slots__ = ("_prefix",)

    def __init__(self, runtime_id: str, tag: str = "sofrito.edge") -> None:
        head = bytearray([_encoding.TUPLE]) + (4).to_bytes(4, "big")
        _encoding.encode_into(head, tag)
        _encoding.encode_into(head, runtime_id)
        self._prefix = hashlib.blake2b(bytes(head), digest_size=SUM_SIZE)

    def __call__(self, first: bytes, second: bytes) -> bytes:
        hasher = self._prefix.copy()
        hasher.update(_BYTES + len(first).to_bytes(4, "big"))
        hasher.update(first)
        hasher.update(_BYTES + len(second).to_bytes(4, "big"))
        hasher.update(second)
        return hasher.digest()


def group_checksummers(runtime_id: str) -> tuple[EdgeSums, EdgeSums]:
    """The checksums of the SQLite store's edge groups: ``checksum("sofrito.readers",
    runtime_id, dep, readers)`` for a dependency's row (its readers packed) and
    ``checksum("sofrito.deps", runtime_id, memo_id, deps)`` for a reader's row."""
    return EdgeSums(runtime_id, "sofrito.readers"), EdgeSums(runtime_id, "sofrito.deps")


def fold(seal: bytes, sums: Iterable[bytes]) -> bytes:
    """XOR ``sums`` into ``seal``. Adding and removing a checksum are the same step."""
    value = int.from_bytes(seal, "big")
    for one in sums:
        value ^= int.from_bytes(one, "big")
    return value.to_bytes(SUM_SIZE, "big")
