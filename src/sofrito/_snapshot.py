"""The persisted form of memos and input cells.

A memo becomes one row, keyed by its *memo id* (the query's name and the
canonical bytes of its key), so that a commit writes only the memos that
executed since the last one, and opening a cache decodes a value only when it
is first read.

A row is sealed (``_codec.Sealer``: a checksum, or an HMAC with a secret) and
holds a header encoded with the safe codec, so reading the header never runs
code. The value is encoded with the runtime's codec::

    (fingerprint, changed_at, verified_at, durability, deps, value_bytes)

``deps`` lists the node ids the memo read, in read order: ``(b"q", name,
key)`` for a query and ``(b"i", name, key)`` for an input cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sofrito._codec import Codec, CodecError, SafeCodec, Sealer

__all__ = ["MemoRow", "NodeId", "decode_memo_row", "encode_memo_row", "memo_id", "split_memo_id"]

NodeId = tuple[bytes, str, bytes]
"""(b"q" or b"i", name, canonical key bytes)."""

_SAFE = SafeCodec()
FORMAT = 1


@dataclass(frozen=True, slots=True)
class MemoRow:
    fingerprint: str
    changed_at: int
    verified_at: int
    durability: int
    deps: list[NodeId]
    value: bytes
    """Still encoded: decoded on first read."""


def memo_id(name: str, key: bytes) -> bytes:
    raw = name.encode()
    return len(raw).to_bytes(4, "big") + raw + key


def split_memo_id(data: bytes) -> tuple[str, bytes]:
    size = int.from_bytes(data[:4], "big")
    return data[4 : 4 + size].decode(), data[4 + size :]


def encode_memo_row(row: MemoRow, sealer: Sealer) -> bytes:
    header = (
        FORMAT,
        row.fingerprint,
        row.changed_at,
        row.verified_at,
        row.durability,
        [(kind, name, key) for kind, name, key in row.deps],
        row.value,
    )
    return sealer.seal(_SAFE.encode(header))


def decode_memo_row(data: bytes, sealer: Sealer, what: str) -> MemoRow:
    """Check the seal and decode the header; raises ``IntegrityError`` or ``CodecError``."""
    raw = sealer.open(data, what)
    header = _SAFE.decode(raw)
    if not isinstance(header, tuple) or len(header) != 7 or header[0] != FORMAT:
        raise CodecError(f"{what}: not a memo row of format {FORMAT}")
    _, fingerprint, changed_at, verified_at, durability, deps, value = header
    node_ids = [tuple(dep) for dep in deps]
    return MemoRow(fingerprint, changed_at, verified_at, durability, node_ids, value)


def encode_value(codec: Codec, value: Any) -> bytes:
    return codec.encode(value)
