"""``MemoryStore``: the store contract without durability, for tests and throwaway runs.

It keeps exactly what the SQLite store keeps, with the same atomicity (one
lock, and every method builds its changes before it applies any), so code
tested against it behaves the same on disk. Nothing survives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from sofrito.stores import receipt as receipts
from sofrito.stores._checks import check_foreign_receipt
from sofrito.stores.protocol import (
    Drop,
    InputState,
    Receipt,
    RuntimeState,
    SnapshotDelta,
    StoredSnapshot,
)

__all__ = ["MemoryStore"]


@dataclass
class _Runtime:
    state: RuntimeState | None = None
    revision: int = 0
    meta: bytes = b""
    has_snapshot: bool = False
    rows: dict[bytes, bytes] = field(default_factory=dict)
    inputs: dict[str, InputState] = field(default_factory=dict)
    receipts: list[Receipt] = field(default_factory=list)
    sequence: int = 0


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runtimes: dict[str, _Runtime] = {}

    @property
    def location(self) -> str:
        return "memory store"

    def _runtime(self, runtime_id: str) -> _Runtime:
        return self._runtimes.setdefault(runtime_id, _Runtime())

    def commit_boundary(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        run_id: str,
        boundary: str,
        contributing_inputs: Sequence[str],
        input_updates: Sequence[InputState],
    ) -> Receipt:
        with self._lock:
            runtime = self._runtime(runtime_id)
            receipt = receipts.mint(
                runtime_id, run_id, runtime.sequence + 1, boundary, contributing_inputs, snapshot
            )
            self._apply(runtime, snapshot, receipt, input_updates)
            return receipt

    def atomic_apply(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        receipt: Receipt,
        input_updates: Sequence[InputState],
    ) -> None:
        with self._lock:
            runtime = self._runtime(runtime_id)
            check_foreign_receipt(self.location, runtime_id, receipt, snapshot, runtime.sequence)
            self._apply(runtime, snapshot, receipt, input_updates)

    @staticmethod
    def _apply(
        runtime: _Runtime,
        snapshot: SnapshotDelta,
        receipt: Receipt,
        input_updates: Sequence[InputState],
    ) -> None:
        rows = {} if snapshot.full else dict(runtime.rows)
        for memo_id in snapshot.deletes:
            rows.pop(memo_id, None)
        rows.update(snapshot.upserts)
        runtime.rows = rows
        runtime.revision = snapshot.revision
        runtime.meta = snapshot.meta
        runtime.has_snapshot = True
        for state in input_updates:
            runtime.inputs[state.input_id] = state
        runtime.receipts.append(receipt)
        runtime.sequence = receipt.sequence

    def load_input_states(self, runtime_id: str) -> list[InputState]:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            return sorted(runtime.inputs.values(), key=_by_id) if runtime else []

    def load_input_state(self, runtime_id: str, input_id: str) -> InputState | None:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            return runtime.inputs.get(input_id) if runtime else None

    def persist_input_state(self, runtime_id: str, state: InputState) -> None:
        with self._lock:
            self._runtime(runtime_id).inputs[state.input_id] = state

    def load_receipt(self, runtime_id: str, run_id: str, sequence: int) -> Receipt | None:
        for receipt in self.load_receipts(runtime_id):
            if receipt.sequence == sequence and receipt.run_id == run_id:
                return receipt
        return None

    def load_receipts(self, runtime_id: str) -> list[Receipt]:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            return list(reversed(runtime.receipts)) if runtime else []

    def load_snapshot(self, runtime_id: str) -> StoredSnapshot | None:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            if runtime is None or not runtime.has_snapshot:
                return None
            return StoredSnapshot(runtime.revision, runtime.meta, dict(runtime.rows))

    def persist_runtime_state(self, runtime_id: str, state: RuntimeState) -> None:
        with self._lock:
            self._runtime(runtime_id).state = state

    def load_runtime_state(self, runtime_id: str) -> RuntimeState | None:
        with self._lock:
            runtime = self._runtimes.get(runtime_id)
            return runtime.state if runtime else None

    def atomic_lifecycle_commit(
        self,
        runtime_id: str,
        runtime_state: RuntimeState,
        input_states: Sequence[InputState],
        drop: Drop = "nothing",
    ) -> None:
        with self._lock:
            if drop == "everything":
                self._runtimes.pop(runtime_id, None)
            runtime = self._runtime(runtime_id)
            if drop == "cache":
                runtime.rows, runtime.inputs = {}, {}
                runtime.meta, runtime.has_snapshot, runtime.revision = b"", False, 0
            for state in input_states:
                runtime.inputs[state.input_id] = state
            runtime.state = runtime_state

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _by_id(state: InputState) -> str:
    return state.input_id
