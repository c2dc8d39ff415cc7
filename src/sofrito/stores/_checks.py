"""Checks every store makes the same way, before it writes anything.

Kept apart so that each backend refuses the same things with the same words,
and the contract suite can hold them all to it.
"""

from __future__ import annotations

from typing import get_args

from sofrito.stores.errors import Conflict, StaleRead, WriteFailed
from sofrito.stores.protocol import Drop, Receipt, SnapshotDelta

__all__ = ["check_base", "check_drop", "check_foreign_receipt", "check_opened_at"]

_DROPS = frozenset(get_args(Drop))


def check_drop(drop: str) -> None:
    if drop not in _DROPS:
        raise ValueError(f"drop must be one of 'nothing', 'cache', 'everything', not {drop!r}")


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


def check_base(location: str, runtime_id: str, base_head: int | None, head: int) -> None:
    """The compare of compare-and-swap: refuse a write based on a head that moved."""
    if base_head is None or base_head == head:
        return
    raise Conflict(
        f"{location}: runtime {runtime_id!r} was written by another process or runtime "
        f"object since this one read it (this write was based on head {base_head}, the "
        f"head is now {head}); nothing was written. Open the runtime again "
        "(sf.Runtime(store=..., runtime_id=...)) to load what the other wrote, and run again",
        runtime_id,
        base_head,
        head,
    )


def check_opened_at(location: str, runtime_id: str, opened_at: int, head: int) -> None:
    """An on-demand load reads the boundary its process opened, or nothing."""
    if opened_at == head:
        return
    raise StaleRead(
        f"{location}: runtime {runtime_id!r} was written by another process or runtime "
        f"object since this one opened it (opened at head {opened_at}, the head is now "
        f"{head}); what this process has not loaded yet belongs to a boundary it did not "
        "open, so nothing was loaded. Open the runtime again "
        "(sf.Runtime(store=..., runtime_id=...)) to continue from what the other wrote",
        runtime_id,
        opened_at,
        head,
    )
