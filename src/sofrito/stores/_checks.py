"""Checks every store makes the same way, before it writes anything."""

from __future__ import annotations

from sofrito.stores.errors import WriteFailed
from sofrito.stores.protocol import Receipt, SnapshotDelta

__all__ = ["check_foreign_receipt"]


def check_foreign_receipt(
    location: str, runtime_id: str, receipt: Receipt, snapshot: SnapshotDelta, last_sequence: int
) -> None:
    """Refuse a receipt minted elsewhere unless it fits: right runtime, next, matching."""
    if receipt.runtime_id != runtime_id:
        raise WriteFailed(
            f"{location}: a receipt of runtime {receipt.runtime_id!r} cannot be applied "
            f"to runtime {runtime_id!r}; nothing was written"
        )
    if receipt.sequence != last_sequence + 1:
        raise WriteFailed(
            f"{location}: runtime {runtime_id!r} is at boundary {last_sequence}, so the next "
            f"receipt must be {last_sequence + 1}, not {receipt.sequence}; nothing was written"
        )
    if not receipt.verify(snapshot):
        raise WriteFailed(
            f"{location}: the digest of receipt {receipt.sequence} of runtime {runtime_id!r} "
            "does not match the snapshot it came with; nothing was written"
        )
