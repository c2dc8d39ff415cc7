"""Snapshots as rows: what a commit writes, and what a load reads back.

Snapshots are stored as *rows*, one per memo, not as one blob per commit. A
commit writes a ``SnapshotDelta``: the memos that changed since the last
commit, the memos deleted, and the small runtime-level ``meta``. A commit
after a small change therefore writes in proportion to the change, and
opening a large cache reads bytes without decoding values nobody asks for
(the runtime decodes lazily). ``SnapshotDelta.to_bytes()`` is the canonical
form a receipt's digest covers, so a receipt proves exactly what its boundary
wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sofrito.stores import _encoding

__all__ = ["SnapshotDelta", "StoredSnapshot"]

_SNAPSHOT_TAG = "sofrito.snapshot.v1"


@dataclass(frozen=True, slots=True)
class SnapshotDelta:
    """What one run boundary changes in a runtime's stored snapshot.

    - ``revision``: the runtime's revision at the boundary.
    - ``meta``: opaque runtime-level state (durability marks, codec), small,
      replaced whole by every commit.
    - ``upserts``: memo id -> encoded memo row, written (inserted or replaced).
      Memo ids are opaque bytes chosen by the runtime.
    - ``deletes``: memo ids removed. An id may not be both upserted and deleted
      (``ValueError``): the delta would not say what it means.
    - ``full``: True means this delta *replaces* every stored memo of the
      runtime (after ``clear_cache``): rows not in ``upserts`` are gone.
    """

    revision: int
    meta: bytes
    upserts: Mapping[bytes, bytes] = field(default_factory=dict)
    deletes: frozenset[bytes] = frozenset()
    full: bool = False

    def __post_init__(self) -> None:
        both = self.deletes & self.upserts.keys()
        if both:
            shown = ", ".join(sorted(memo_id.hex() for memo_id in both)[:3])
            raise ValueError(
                f"memo ids both upserted and deleted in one SnapshotDelta: {shown}; "
                "a delta must either write a memo or delete it"
            )

    def to_bytes(self) -> bytes:
        """The canonical encoding the receipt digest covers (docs/persistence.md)::

            encode(("sofrito.snapshot.v1", revision, meta,
                    tuple(sorted(upserts.items())), tuple(sorted(deletes)), full))

        with the store encoding of ``sofrito.stores._encoding`` (sorted
        bytewise, so the order the runtime built the delta in never matters).
        """
        if type(self.revision) is not int or type(self.meta) is not bytes:
            raise TypeError(
                f"a SnapshotDelta has an int revision and bytes meta, not "
                f"{type(self.revision).__name__} and {type(self.meta).__name__}"
            )
        out = bytearray()
        out.append(_encoding.TUPLE)
        out += (6).to_bytes(4, "big")
        for part in (_SNAPSHOT_TAG, self.revision, self.meta):
            _encoding.encode_into(out, part)
        out.append(_encoding.TUPLE)
        out += len(self.upserts).to_bytes(4, "big")
        for memo_id, row in sorted(self.upserts.items()):
            _check_bytes(memo_id, row)
            _encoding.encode_into(out, (memo_id, row))
        out.append(_encoding.TUPLE)
        out += len(self.deletes).to_bytes(4, "big")
        for memo_id in sorted(self.deletes):
            _check_bytes(memo_id, b"")
            _encoding.encode_into(out, memo_id)
        _encoding.encode_into(out, bool(self.full))
        return bytes(out)


def _check_bytes(memo_id: object, row: object) -> None:
    """Memo ids and rows are bytes: a str would encode too, as something else."""
    if type(memo_id) is not bytes or type(row) is not bytes:
        raise TypeError(
            f"memo ids and rows in a SnapshotDelta are bytes, not {type(memo_id).__name__} "
            f"and {type(row).__name__} (memo id {memo_id!r:.60})"
        )


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """A runtime's latest committed snapshot: the revision, ``meta``, and every
    memo row still encoded (memo id -> row bytes), each already checked against
    its checksum. Decoding the rows is the runtime's business, lazily."""

    revision: int
    meta: bytes
    rows: Mapping[bytes, bytes]


for _cls in (SnapshotDelta, StoredSnapshot):
    _cls.__module__ = "sofrito.stores"
