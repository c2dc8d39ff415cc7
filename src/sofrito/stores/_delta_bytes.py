"""A ``SnapshotDelta``'s rows and edges in the store encoding, in loops mypyc compiles.

A receipt's digest hashes the delta it proves (``receipt.compute_digest``):
its length first (``SnapshotDelta.encoded_size``), then its bytes as they
are made (``SnapshotDelta.iter_parts``). A first build of the example site at
10,000 pages commits 60,000 rows and 300,000 edges, and in Python those two
walks took about 0.4 s of a 0.5 s digest: a check and a few byte appends
per edge, three passes over the edges (the size, each reader's sorted set,
its encoding). Here they are the same loops, compiled with the engine (the
wheel's list in pyproject.toml); ``snapshot.py`` stays Python, being public
(docs/concepts.md, "A compiled engine": what a compiled class would change).

Every id is checked to be bytes where it is met (``check_bytes``): a str
would encode too, as something else. So the mappings' items are typed
``Any``, where a compiled function would check a declared type itself, with
another error than the one the protocol documents.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from sofrito.stores import _encoding

__all__ = ["check_bytes", "edges_size", "encode_edges", "row_parts", "rows_size"]

PAIR: Final = bytes([_encoding.TUPLE, 0, 0, 0, 2, _encoding.BYTES])
"""How the encoding of a (bytes, bytes) pair starts: its tag, its count, the first tag."""
_BYTES: Final = bytes([_encoding.BYTES])
_TUPLE: Final = _encoding.TUPLE
_CHUNK: Final = 1 << 20
"""The size of the pieces the encoded edges are cut into."""
_FIXED: Final = len(PAIR) + 4 + 1 + 4
"""A pair's bytes besides its two items: its head, the first length, the second's tag and length."""


def check_bytes(memo_id: object, row: object) -> None:
    """Memo ids, rows and node ids are bytes: a str would encode too, as something else."""
    if type(memo_id) is not bytes or type(row) is not bytes:
        raise TypeError(
            f"memo ids, rows and node ids in a SnapshotDelta are bytes, not "
            f"{type(memo_id).__name__} and {type(row).__name__} (memo id {memo_id!r:.60})"
        )


def rows_size(upserts: Mapping[Any, Any]) -> int:
    """The encoded size of the rows' pairs, each ``(memo_id, row)``, each checked."""
    size = 0
    for memo_id, row in upserts.items():
        check_bytes(memo_id, row)
        size += _FIXED + len(memo_id) + len(row)
    return size


def row_parts(upserts: Mapping[Any, Any]) -> Iterator[bytes]:
    """The rows' pairs in memo id order, each its head and then the row itself, not
    copied: a first build's rows are most of its delta."""
    for memo_id in sorted(upserts):
        row = upserts[memo_id]
        check_bytes(memo_id, row)
        yield PAIR + _length(len(memo_id)) + memo_id + _BYTES + _length(len(row))
        yield row


def edges_size(reads: Mapping[Any, Sequence[Any]]) -> int:
    """The encoded size of the readers' pairs: each reader with the set of what it read."""
    size = 0
    for memo_id, node_ids in reads.items():
        deps = set(node_ids)
        if not deps:
            continue
        size += _FIXED + len(memo_id)
        for node_id in deps:
            check_bytes(memo_id, node_id)
            size += 5 + len(node_id)
    return size


def encode_edges(out: bytearray, count: int, reads: Mapping[Any, Sequence[Any]]) -> Iterator[bytes]:
    """The ``count`` readers' pairs, written after what ``out`` holds: per reader in
    memo id order, the sorted set of what it read (the edges as the store keeps
    them). ``out`` is yielded and emptied every ``_CHUNK`` bytes, and the
    caller yields what is left: the edges encode to 20 MB at 10,000 pages,
    which one part would hold twice (the buffer and its copy)."""
    out.append(_TUPLE)
    out += _length(count)
    for memo_id in sorted(reads):
        deps = sorted(set(reads[memo_id]))
        for node_id in deps:
            check_bytes(memo_id, node_id)
        if not deps:
            continue
        out += PAIR
        out += _length(len(memo_id))
        out += memo_id
        out.append(_TUPLE)
        out += _length(len(deps))
        for node_id in deps:
            out += _BYTES
            out += _length(len(node_id))
            out += node_id
        if len(out) >= _CHUNK:
            yield bytes(out)
            out.clear()


def _length(size: int) -> bytes:
    """``_encoding.length``, here so that the compiled loops call no Python function."""
    if size > _encoding.MAX_LENGTH:
        raise ValueError(f"{size} bytes or items do not fit the store encoding (at most 4 GiB)")
    return size.to_bytes(4, "big")
