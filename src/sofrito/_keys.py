"""Canonical key bytes and a deterministic 64-bit key hash.

Events and the store name a query call by its key, across processes and
machines, so the key needs bytes that are the same everywhere. Python's
``hash()`` is salted per process for strings, and ``pickle`` is neither
canonical nor safe to read, so keys use the canonical encoding
(``_canonical``): None, bool, int, float, str, bytes, tuples and frozensets
of those, enum members and frozen dataclasses of those. ``1``, ``1.0`` and
``True`` are equal in Python but are different keys here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sofrito import _canonical

__all__ = ["KeyEncodingError", "decode_key", "encode_key", "key_hash"]

_KEYS = _canonical.Policy(mutable_containers=False, objects=True)

_HINTS = {
    "list": "use a tuple",
    "dict": "use a tuple of (key, value) pairs, or a frozenset of them",
    "set": "use a frozenset",
    "bytearray": "use bytes",
}


class KeyEncodingError(TypeError):
    """A key part has no canonical encoding.

    ``path`` says where it is (``"part 1, 0"``: item 0 of part 1), ``type_name``
    what it is.
    """

    def __init__(self, path: str, type_name: str) -> None:
        self.path = path
        self.type_name = type_name
        hint = _HINTS.get(type_name, "")
        message = f"key part {path} has type {type_name!r}, which has no canonical encoding"
        super().__init__(message + (f"; {hint}" if hint else ""))


def encode_key(key: tuple[Any, ...]) -> bytes:
    """The canonical bytes of a key tuple; raises ``KeyEncodingError``."""
    try:
        return _canonical.encode(key, _KEYS)
    except _canonical.Unencodable as exc:
        raise KeyEncodingError(exc.path, exc.type_name) from None


def decode_key(data: bytes, types: Mapping[str, type] | None = None) -> tuple[Any, ...]:
    """The key tuple ``encode_key`` made; enum and dataclass keys need ``types``."""
    key = _canonical.decode(data, types)
    if type(key) is not tuple:
        raise ValueError("these bytes are not a canonical key")
    return key


def key_hash(encoded: bytes) -> int:
    """A deterministic unsigned 64-bit hash of canonical key bytes."""
    return int.from_bytes(hashlib.blake2b(encoded, digest_size=8).digest(), "big")
