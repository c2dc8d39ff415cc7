"""Receipts: the proof of one committed run boundary, and the digest anyone can recompute.

::

    digest = sha256(encode(("sofrito.receipt.v1", runtime_id, run_id, sequence,
                            boundary, tuple(sorted(contributing_inputs)),
                            snapshot.to_bytes()))).hexdigest()

``encode`` is the store encoding (``sofrito.stores._encoding``; the byte layout
is in its docstring and in docs/persistence.md). The digest covers the
snapshot delta's canonical bytes, so a receipt proves exactly what its
boundary wrote, and whoever holds the delta can check it without the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sofrito.stores import _encoding
from sofrito.stores.snapshot import SnapshotDelta

__all__ = ["Receipt", "compute_digest", "mint"]

_RECEIPT_TAG = "sofrito.receipt.v1"


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of one committed run boundary, minted by the store in the same transaction.

    - ``runtime_id``: the logical runtime the boundary belongs to.
    - ``run_id``: which run (process, session) committed it; chosen by the runtime.
    - ``sequence``: the runtime's boundaries counted from 1, one by one, with no
      gaps. A reset keeps counting; a destroy starts again from 1.
    - ``boundary``: the label of the boundary (``"commit"``, or a name the user
      passed).
    - ``contributing_inputs``: the input ids written at this boundary, sorted.
    - ``digest``: hex SHA-256 over all of the above and the delta's bytes
      (``compute_digest``); ``receipt.verify(delta)`` recomputes it.
    """

    runtime_id: str
    run_id: str
    sequence: int
    boundary: str
    contributing_inputs: tuple[str, ...]
    digest: str

    def verify(self, snapshot: SnapshotDelta) -> bool:
        """True if this receipt's digest is the one ``snapshot`` (and the rest) gives."""
        expected = compute_digest(
            self.runtime_id,
            self.run_id,
            self.sequence,
            self.boundary,
            self.contributing_inputs,
            snapshot,
        )
        return expected == self.digest


Receipt.__module__ = "sofrito.stores"


def compute_digest(
    runtime_id: str,
    run_id: str,
    sequence: int,
    boundary: str,
    contributing_inputs: Sequence[str],
    snapshot: SnapshotDelta,
) -> str:
    """The hex SHA-256 a receipt carries. The input ids are sorted first, so
    their order never matters; every field is type-checked by the encoding
    (``TypeError`` for, say, an int where a str belongs)."""
    # The same bytes as encode((tag, ..., inputs, snapshot.to_bytes())), hashed in
    # pieces as they are made: the snapshot's rows are not copied, and no list
    # of the pieces is held (``SnapshotDelta.iter_parts``).
    size = snapshot.encoded_size()
    head = bytearray()
    head.append(_encoding.TUPLE)
    head += (7).to_bytes(4, "big")
    for item in (
        _RECEIPT_TAG,
        runtime_id,
        run_id,
        sequence,
        boundary,
        tuple(sorted(contributing_inputs)),
    ):
        _encoding.encode_into(head, item)
    head.append(_encoding.BYTES)
    head += _encoding.length(size)
    digest = hashlib.sha256(head)
    hashed = 0
    for part in snapshot.iter_parts():
        digest.update(part)
        hashed += len(part)
    if hashed != size:  # a delta changed while it was hashed: no digest for it
        raise RuntimeError(f"a SnapshotDelta encoded to {hashed} bytes, not {size}")
    return digest.hexdigest()


def mint(
    runtime_id: str,
    run_id: str,
    sequence: int,
    boundary: str,
    contributing_inputs: Sequence[str],
    snapshot: SnapshotDelta,
) -> Receipt:
    """A new receipt; only stores call this, inside the transaction that stores it."""
    inputs = tuple(sorted(contributing_inputs))
    digest = compute_digest(runtime_id, run_id, sequence, boundary, inputs, snapshot)
    return Receipt(runtime_id, run_id, sequence, boundary, inputs, digest)
