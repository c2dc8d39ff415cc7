"""The receipt digest: what it covers, encoded so that anyone can recompute it.

``digest = sha256(canonical((
    "sofrito.receipt.v1", runtime_id, run_id, sequence, boundary,
    tuple(sorted(contributing_inputs)), snapshot.to_bytes())))``

where ``canonical`` is sofrito's type-tagged, length-prefixed encoding
(``sofrito._canonical``; the byte layout is in docs/persistence.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sofrito import _canonical
from sofrito.stores.snapshot import SnapshotDelta

__all__ = ["Receipt", "compute_digest", "mint"]

_PLAIN = _canonical.Policy(mutable_containers=False, objects=False)


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of one committed run boundary, minted by the store in the same transaction.

    ``sequence`` counts a runtime's boundaries from 1. ``digest`` is the hex
    SHA-256 of the canonical encoding of the runtime id, run id, sequence,
    boundary, sorted contributing input ids and the snapshot delta's bytes:
    anyone holding the delta can recompute it (``receipt.verify(delta)``).
    """

    runtime_id: str
    run_id: str
    sequence: int
    boundary: str
    contributing_inputs: tuple[str, ...]
    digest: str

    def verify(self, snapshot: SnapshotDelta) -> bool:
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
    payload = _canonical.encode(
        (
            "sofrito.receipt.v1",
            runtime_id,
            run_id,
            sequence,
            boundary,
            tuple(sorted(contributing_inputs)),
            snapshot.to_bytes(),
        ),
        _PLAIN,
    )
    return hashlib.sha256(payload).hexdigest()


def mint(
    runtime_id: str,
    run_id: str,
    sequence: int,
    boundary: str,
    contributing_inputs: Sequence[str],
    snapshot: SnapshotDelta,
) -> Receipt:
    inputs = tuple(sorted(contributing_inputs))
    digest = compute_digest(runtime_id, run_id, sequence, boundary, inputs, snapshot)
    return Receipt(runtime_id, run_id, sequence, boundary, inputs, digest)
