"""Durable runtime state: the ``RuntimeStore`` protocol and its implementations.

- ``MemoryStore``: no durability, for tests.
- ``SqliteStore(path)``: the embedded default; one file, WAL, survives kill -9.

See docs/persistence.md for the model and its guarantees.
"""

from sofrito.stores.errors import CorruptSnapshot, NotFound, ReadFailed, StoreError, WriteFailed
from sofrito.stores.memory import MemoryStore
from sofrito.stores.protocol import (
    Drop,
    InputState,
    InputStatus,
    Receipt,
    RuntimeState,
    RuntimeStore,
    SnapshotDelta,
    StoredSnapshot,
)
from sofrito.stores.receipt import compute_digest
from sofrito.stores.sqlite import SqliteStore

__all__ = [
    "RuntimeStore",
    "MemoryStore",
    "SqliteStore",
    "Receipt",
    "InputState",
    "InputStatus",
    "RuntimeState",
    "SnapshotDelta",
    "StoredSnapshot",
    "Drop",
    "compute_digest",
    "StoreError",
    "WriteFailed",
    "ReadFailed",
    "NotFound",
    "CorruptSnapshot",
]
