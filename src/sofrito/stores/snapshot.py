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

from sofrito import _canonical

__all__ = ["SnapshotDelta", "StoredSnapshot"]

_PLAIN = _canonical.Policy(mutable_containers=False, objects=False)


@dataclass(frozen=True, slots=True)
class SnapshotDelta:
    """What one run boundary changes in a runtime's stored snapshot."""

    revision: int
    meta: bytes
    upserts: Mapping[bytes, bytes] = field(default_factory=dict)
    deletes: frozenset[bytes] = frozenset()
    full: bool = False
    """True: this delta replaces every stored memo (after ``clear_cache``)."""

    def to_bytes(self) -> bytes:
        """The canonical encoding the receipt digest covers (docs/persistence.md)."""
        return _canonical.encode(
            (
                "sofrito.snapshot.v1",
                self.revision,
                self.meta,
                tuple(sorted(self.upserts.items())),
                tuple(sorted(self.deletes)),
                self.full,
            ),
            _PLAIN,
        )


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """A runtime's latest committed snapshot: memo rows still encoded."""

    revision: int
    meta: bytes
    rows: Mapping[bytes, bytes]


for _cls in (SnapshotDelta, StoredSnapshot):
    _cls.__module__ = "sofrito.stores"
