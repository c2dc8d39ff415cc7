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
    "RowSums",
    "checksum",
    "fold",
    "input_checksummer",
    "memo_checksummer",
]

SUM_SIZE = 16
EMPTY_SEAL = bytes(SUM_SIZE)


def checksum(*parts: _encoding.Plain) -> bytes:
    """The checksum of one row: BLAKE2b-128 of the encoded tuple of its fields."""
    return hashlib.blake2b(_encoding.encode(parts), digest_size=SUM_SIZE).digest()


def memo_checksummer(runtime_id: str) -> _MemoSums:
    """``checksum(runtime_id, memo_id, row)`` without re-encoding the runtime id per row:
    a load verifies every memo row, so this is on the path that opens a cache."""
    return _MemoSums(runtime_id)


def input_checksummer(runtime_id: str) -> RowSums:
    """``checksum(runtime_id, *fields)`` of an input state row (seven fields), the
    runtime id encoded once: a load verifies every input row too."""
    return RowSums(runtime_id, 7)


def _hashed_prefix(runtime_id: str, fields: int) -> hashlib.blake2b:
    """The hasher state after the start of ``encode((runtime_id, *fields))``: the
    tuple's tag and count, then the runtime id, which every row of a load shares."""
    head = bytearray([_encoding.TUPLE]) + (fields + 1).to_bytes(4, "big")
    _encoding.encode_into(head, runtime_id)
    return hashlib.blake2b(bytes(head), digest_size=SUM_SIZE)


class RowSums:
    """``checksum(runtime_id, *fields)`` for rows of one runtime with ``fields`` more fields."""

    __slots__ = ("_prefix",)

    def __init__(self, runtime_id: str, fields: int) -> None:
        self._prefix = _hashed_prefix(runtime_id, fields)

    def __call__(self, *fields: _encoding.Plain) -> bytes:
        out = bytearray()
        for field in fields:
            _encoding.encode_into(out, field)
        hasher = self._prefix.copy()
        hasher.update(out)
        return hasher.digest()


class _MemoSums:
    """A memo row's two fields are bytes: their encoding is written out, no encoder call."""

    __slots__ = ("_prefix",)

    def __init__(self, runtime_id: str) -> None:
        self._prefix = _hashed_prefix(runtime_id, 2)

    def __call__(self, memo_id: bytes, row: bytes) -> bytes:
        hasher = self._prefix.copy()
        hasher.update(b"\x06" + len(memo_id).to_bytes(4, "big"))
        hasher.update(memo_id)
        hasher.update(b"\x06" + len(row).to_bytes(4, "big"))
        hasher.update(row)
        return hasher.digest()


def fold(seal: bytes, sums: Iterable[bytes]) -> bytes:
    """XOR ``sums`` into ``seal``. Adding and removing a checksum are the same step."""
    value = int.from_bytes(seal, "big")
    for one in sums:
        value ^= int.from_bytes(one, "big")
    return value.to_bytes(SUM_SIZE, "big")
