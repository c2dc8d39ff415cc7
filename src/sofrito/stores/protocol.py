"""What a store is: the ``RuntimeStore`` protocol and the records it moves.

A store holds many logical runtimes, each named by a ``runtime_id``. Every
method is atomic: it happens entirely or not at all. The snapshot records are
in ``snapshot.py``, the receipt and its digest in ``receipt.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from sofrito.stores.receipt import Receipt
from sofrito.stores.snapshot import SnapshotDelta, StoredSnapshot

__all__ = [
    "Drop",
    "InputState",
    "InputStatus",
    "Receipt",
    "RuntimeState",
    "RuntimeStore",
    "SnapshotDelta",
    "StoredSnapshot",
]


class InputStatus(enum.StrEnum):
    READY = "ready"
    PENDING = "pending"
    FAILED = "failed"
    REMOVED = "removed"


class RuntimeState(enum.StrEnum):
    """A runtime's lifecycle. Writes are refused in ``retired``, ``stopped`` and ``destroyed``."""

    INITIALIZING = "initializing"
    IDLE = "idle"
    RUNNING = "running"
    RETIRED = "retired"
    STOPPED = "stopped"
    DESTROYED = "destroyed"


Drop = Literal["nothing", "cache", "everything"]
"""What ``atomic_lifecycle_commit`` deletes: nothing; the memos, meta and input
states (``reset``: receipts and the sequence stay); or every trace of the runtime."""


@dataclass(frozen=True, slots=True)
class InputState:
    """One input cell as stored. ``value`` is already encoded by the runtime's codec."""

    input_id: str
    kind: str
    key: bytes
    value: bytes
    durability: int
    changed_at: int
    status: InputStatus


class RuntimeStore(Protocol):
    """Durable runtime state. Every method is atomic and names the ``runtime_id``."""

    def commit_boundary(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        run_id: str,
        boundary: str,
        contributing_inputs: Sequence[str],
        input_updates: Sequence[InputState],
    ) -> Receipt:
        """Write the delta, the input states and a receipt minted here, atomically."""
        ...

    def atomic_apply(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        receipt: Receipt,
        input_updates: Sequence[InputState],
    ) -> None:
        """The same writes with a receipt minted elsewhere; refused unless it is the
        next in sequence and its digest matches the delta."""
        ...

    def load_input_states(self, runtime_id: str) -> list[InputState]: ...

    def load_input_state(self, runtime_id: str, input_id: str) -> InputState | None: ...

    def persist_input_state(self, runtime_id: str, state: InputState) -> None:
        """Durable before it returns."""
        ...

    def load_receipt(self, runtime_id: str, run_id: str, sequence: int) -> Receipt | None: ...

    def load_receipts(self, runtime_id: str) -> list[Receipt]:
        """All receipts of a runtime, newest first."""
        ...

    def load_snapshot(self, runtime_id: str) -> StoredSnapshot | None: ...

    def persist_runtime_state(self, runtime_id: str, state: RuntimeState) -> None: ...

    def load_runtime_state(self, runtime_id: str) -> RuntimeState | None: ...

    def atomic_lifecycle_commit(
        self,
        runtime_id: str,
        runtime_state: RuntimeState,
        input_states: Sequence[InputState],
        drop: Drop = "nothing",
    ) -> None:
        """A lifecycle change plus input states, and optionally dropped state, at once."""
        ...

    @property
    def location(self) -> str:
        """What to name in messages: a file path or a server."""
        ...

    def close(self) -> None: ...


for _cls in (InputStatus, RuntimeState, InputState):
    _cls.__module__ = "sofrito.stores"
