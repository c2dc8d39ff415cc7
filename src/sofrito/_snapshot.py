"""The persisted form of a memo: one row, read without running any code.

A memo becomes one row, keyed by its *memo id* (the query's name and the
canonical bytes of its key), so that a commit writes only the memos that
executed since the last one, and opening a cache decodes a value only when it
is first read.

Opening a cache reads every row's header, so the header is a fixed binary
layout read with ``struct``, not a general decoder::

    B   format (2; 3: a row with no value, below)
    16s fingerprint (blake2b of the code the query reaches, and its version: _fingerprint.py)
    q   changed_at        q verified_at        B durability
    I   number of dependencies, then for each, in read order:
        c kind (b"q" query, b"i" input)   H name length, name   I key length, key
    the rest: the value, as the runtime's codec encoded it

A memo of a query declared ``persist_value=False`` is stored without its
value: format 3, the same header and dependencies, and nothing after them.
Loaded, it is an evicted memo (docs/concepts.md, "Memos stored without their
value"). A format of its own, not an empty value: a codec may encode some
value as no bytes at all.

The whole row is sealed (``_codec.Sealer``: a checksum, or an HMAC with a
secret that also covers the runtime id and the memo id, so a row cannot be
moved to another key) and the seal is checked before any of it is read.

**Node ids.** The store also keeps each memo's dependencies as reverse edges
(``SnapshotDelta.reads``), keyed by *node ids*: flat bytes, one byte of kind
then the same bytes as ``memo_id(name, key)``::

    b"q" + memo_id(query name, key)    a memo (``QUERY``; the store's QUERY_NODE)
    b"i" + memo_id(input name, key)    an input cell (``INPUT``)
    b"k" + memo_id(input name, b"")    an input family's key listing (``LISTING``)

A memo's node id is its memo id behind ``b"q"``, so the store can follow a
reader to its own readers without knowing anything else about node ids. The
edges of a row are exactly the deps its row lists (``encode_node_id`` of each).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple

from sofrito._codec import CodecError, Sealer
from sofrito._interpreted import without_context
from sofrito.stores.snapshot import QUERY_NODE

__all__ = [
    "INPUT",
    "LISTING",
    "QUERY",
    "MemoRow",
    "NodeId",
    "decode_memo_row",
    "encode_dep",
    "encode_memo_row",
    "encode_node_id",
    "memo_id",
    "seal_row",
    "split_memo_id",
    "value_at",
]

QUERY, INPUT, LISTING = QUERY_NODE, b"i", b"k"
"""The kinds of node a memo can read: a memo, an input cell, a family's key listing."""

NodeId = tuple[bytes, str, bytes]
"""(kind: ``QUERY``, ``INPUT`` or ``LISTING``, name, canonical key bytes)."""

FORMAT = 2
NO_VALUE = 3
"""The format of a row stored without its value (``persist_value=False``)."""
_HEAD = struct.Struct(">B16sqqBI")
_DEP_HEAD = struct.Struct(">cH")
_SIZE = struct.Struct(">I")


class MemoRow(NamedTuple):
    """One memo's stored row, decoded. A named tuple, not a dataclass: opening a
    cache builds one per stored memo, and a tuple is built several times faster."""

    fingerprint: bytes
    changed_at: int
    verified_at: int
    durability: int
    deps: list[NodeId]
    value: bytes | None
    """Still encoded: decoded on first read. None: stored without it (``NO_VALUE``)."""


def memo_id(name: str, key: bytes) -> bytes:
    raw = name.encode()
    return len(raw).to_bytes(4, "big") + raw + key


def encode_node_id(node: NodeId) -> bytes:
    """The flat bytes of a node id, as the store's reverse edges key it."""
    kind, name, key = node
    return kind + memo_id(name, key)


def split_memo_id(data: bytes) -> tuple[str, bytes]:
    size = int.from_bytes(data[:4], "big")
    return data[4 : 4 + size].decode(), data[4 + size :]


def encode_memo_row(row: MemoRow, sealer: Sealer, context: bytes) -> bytes:
    """``context`` (the runtime and memo id) is bound into the seal: ``Sealer``."""
    deps = [encode_dep(dep) for dep in row.deps]
    return seal_row(row, deps, sealer, context)


def encode_dep(node: NodeId) -> bytes:
    """One dependency as a row lists it (``c`` kind, ``H`` name length, name,
    ``I`` key length, key). A commit encodes each node once, however many rows
    list it (``_persistence._NodeIds``): at 10,000 pages of the example site,
    70,000 rows list 255,000 dependencies of 80,000 nodes."""
    kind, name, key = node
    raw = name.encode()
    return b"".join((_DEP_HEAD.pack(kind, len(raw)), raw, _SIZE.pack(len(key)), key))


def seal_row(row: MemoRow, deps: Sequence[bytes], sealer: Sealer, context: bytes) -> bytes:
    """``row`` sealed, listing ``deps`` (its deps, each ``encode_dep``-ed) instead of
    ``row.deps``, which it ignores. The value is copied once, into the sealed row."""
    form = FORMAT if row.value is not None else NO_VALUE
    head = _HEAD.pack(
        form, row.fingerprint, row.changed_at, row.verified_at, row.durability, len(deps)
    )
    if row.value is None:
        return sealer.seal_parts([head, *deps], context)
    return sealer.seal_parts([head, *deps, row.value], context)


def value_at(raw: bytes | memoryview, start: int) -> int:
    """Where the value begins in ``raw``, a row whose layout (above) starts at
    ``start`` (behind its seal): past the header and every dependency, read
    without decoding them. For a row this process sealed itself (a commit
    holds each value as its row, ``_persistence``); ``struct.error`` for
    anything shorter than its header says."""
    count = _HEAD.unpack_from(raw, start)[5]
    at = start + _HEAD.size
    for _ in range(count):
        at += _DEP_HEAD.size + _DEP_HEAD.unpack_from(raw, at)[1]
        at += _SIZE.size + _SIZE.unpack_from(raw, at)[0]
    return at


def decode_memo_row(
    data: bytes, sealer: Sealer, context: bytes, *, store_checked: bool = False
) -> MemoRow:
    """Check the seal and read the header; raises ``IntegrityError`` or ``CodecError``,
    whose message the caller prefixes with the row's name.

    ``store_checked``: ``data`` comes from ``RuntimeStore.load_memo_rows``, which
    checked it against the store's own row checksum (the protocol requires it),
    over the row's runtime, memo id and these very bytes. Without a secret the
    seal is a checksum of the same bytes and adds nothing to that: it is
    skipped, and a row forged with a valid store checksum (anyone who can write
    the file can make one; without a secret so can they a seal) is refused by
    the header's own checks, as a ``CodecError``. With a secret the seal is a
    MAC, which no store checksum replaces: it is checked. A bulk load of the
    example site's template edit opens 40,000 rows, 3 us each."""
    if store_checked and not sealer.authenticated:
        raw = data[sealer.tag_size :]
    else:
        raw = sealer.open(data, context)
    try:
        form, fingerprint, changed_at, verified_at, durability, count = _HEAD.unpack_from(raw)
        if form not in (FORMAT, NO_VALUE):
            raise CodecError(f"row format {form}, this sofrito reads {FORMAT} and {NO_VALUE}")
        at = _HEAD.size
        deps: list[NodeId] = []
        for _ in range(count):
            kind, size = _DEP_HEAD.unpack_from(raw, at)
            at += _DEP_HEAD.size
            name = raw[at : at + size].decode()
            at += size
            (key_size,) = _SIZE.unpack_from(raw, at)
            at += _SIZE.size
            deps.append((kind, name, raw[at : at + key_size]))
            at += key_size
    except (struct.error, UnicodeDecodeError) as exc:
        raise without_context(CodecError(f"not a memo row ({exc})")) from None
    if form == NO_VALUE:
        if at != len(raw):
            raise CodecError(f"a row stored without its value holds {len(raw) - at} bytes more")
        return MemoRow(fingerprint, changed_at, verified_at, durability, deps, None)
    return MemoRow(fingerprint, changed_at, verified_at, durability, deps, raw[at:])
