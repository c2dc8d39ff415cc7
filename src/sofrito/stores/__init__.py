"""Durable runtime state: the ``RuntimeStore`` protocol and its implementations.

- ``MemoryStore()``: the contract without durability, for tests.
- ``SqliteStore(path)``: the embedded default; one file, WAL, survives kill -9.

Layout, one idea per module:

- ``protocol``: ``RuntimeStore`` and the records it moves (``InputState``,
  ``RuntimeState``, ``Drop``); ``snapshot``: ``SnapshotDelta`` and
  ``StoredSnapshot``; ``receipt``: ``Receipt`` and ``compute_digest``;
  ``errors``: the ``StoreError`` family.
- ``_encoding``: the frozen byte encoding digests and checksums are computed
  over; ``_integrity``: row checksums and the seals that catch vanished rows;
  ``_checks``: what every store refuses, in the same words.
- ``memory`` and ``sqlite``, with the SQLite store's ``_sqlite_schema``
  (versions, upgrades), ``_sqlite_rows`` (a checked row per record) and
  ``_sqlite_tables`` (what one call does to the tables).

See docs/persistence.md for the model, the digest encoding and the guarantees.
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
