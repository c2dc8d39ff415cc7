"""``sofrito receipts FLOW``: the flow's committed boundaries, newest first.

Each line: sequence, run id (prefix), the time the run committed, how many
input cells it wrote (``contributing_inputs``) and the digest's prefix.
``sofrito run``, ``watch`` and ``serve`` label each boundary with a small JSON
object naming the command (``{"command": "watch", "time": ...}``) because a
``Receipt`` has no time of its own and the label is the one free field the
store keeps with it;
a boundary committed by other code shows its label as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sofrito.stores import Receipt, RuntimeStore

__all__ = ["receipt_lines"]


def receipt_lines(store: RuntimeStore, runtime_id: str) -> Iterator[str]:
    """One line per committed boundary of ``runtime_id``, newest first."""
    receipts = sorted(store.load_receipts(runtime_id), key=lambda r: r.sequence, reverse=True)
    for receipt in receipts:
        yield _line(receipt)


def _line(receipt: Receipt) -> str:
    try:
        label = json.loads(receipt.boundary)
    except ValueError:
        label = None
    if isinstance(label, dict):
        what = f"{label.get('command', '?')} {label.get('time', '')}".rstrip()
    else:
        what = receipt.boundary
    return (
        f"#{receipt.sequence}  {what}  run {receipt.run_id[:12]}  "
        f"inputs {len(receipt.contributing_inputs)}  digest {receipt.digest[:12]}"
    )
