"""Deterministic subscription ids: equal declarations get equal ids in every process."""

from __future__ import annotations

import hashlib

__all__ = ["stable_id"]


def stable_id(*parts: object) -> int:
    """A 63-bit id from the reprs of ``parts`` (Python's ``hash()`` is salted per process)."""
    text = "\x1f".join(repr(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") >> 1
