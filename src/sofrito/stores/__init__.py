"""Durable runtime state: the ``RuntimeStore`` protocol and its implementations.

- ``MemoryStore()``: the contract without durability, for tests.
- ``SqliteStore(path)``: the embedded default; one file, WAL, survives kill -9.
- ``PostgresStore(dsn)``: one cache shared by processes and machines
  (``postgres``, with ``_postgres_schema`` and ``_postgres_tables``); psycopg
  is imported only when it is first asked for.

Layout, one idea per module:

- ``protocol``: ``RuntimeStore`` and the records it moves (``InputState``,
  ``RuntimeState``, ``Drop``); ``snapshot``: ``SnapshotDelta``,
  ``StoredSnapshot``, ``SnapshotHeader`` and the one rule about node ids a
  store knows (``QUERY_NODE``, ``reader_node``); ``receipt``: ``Receipt``
  and ``compute_digest``; ``errors``: the ``StoreError`` family.
- ``_encoding``: the frozen byte encoding digests and checksums are computed
  over; ``_integrity``: row checksums and the seals that catch vanished rows;
  ``_checks``: what every store refuses, in the same words.
- ``traces``: ``Traces``, a runtime's trace settings (sharing memos by content).
- ``memory`` and ``sqlite``, with the SQLite store's ``_sqlite_schema``
  (versions, upgrades), ``_sqlite_rows`` (a checked row per record) and
  ``_sqlite_tables`` (what one call does to the tables).

See docs/persistence.md for the model, the digest encoding and the guarantees.
"""

import warnings
from typing import TYPE_CHECKING

from sofrito.stores.errors import (
    Conflict,
    CorruptSnapshot,
    ReadFailed,
    RecordNotFound,
    SchemaMismatch,
    StaleRead,
    StoreError,
    TraceRefused,
    UnstoredValueWarning,
    WriteFailed,
)
from sofrito.stores.memory import MemoryStore
from sofrito.stores.protocol import (
    Drop,
    InputState,
    InputStatus,
    Receipt,
    RuntimeState,
    RuntimeStore,
    SnapshotDelta,
    SnapshotHeader,
    StoredSnapshot,
)
from sofrito.stores.receipt import compute_digest
from sofrito.stores.snapshot import QUERY_NODE, reader_node
from sofrito.stores.traces import Traces

if TYPE_CHECKING:
    from sofrito.stores.postgres import CommitListener, Committed, PostgresStore
    from sofrito.stores.sqlite import SqliteStore

__all__ = [
    "RuntimeStore",
    "MemoryStore",
    "SqliteStore",
    "PostgresStore",
    "Committed",
    "CommitListener",
    "Receipt",
    "InputState",
    "InputStatus",
    "RuntimeState",
    "SnapshotDelta",
    "SnapshotHeader",
    "StoredSnapshot",
    "Drop",
    "compute_digest",
    "QUERY_NODE",
    "reader_node",
    "StoreError",
    "WriteFailed",
    "ReadFailed",
    "RecordNotFound",
    "Conflict",
    "StaleRead",
    "SchemaMismatch",
    "CorruptSnapshot",
    "UnstoredValueWarning",
    "Traces",
    "TraceRefused",
]


def __getattr__(name: str) -> object:
    """``SqliteStore`` on first use, and ``NotFound``, the old name of ``RecordNotFound``.

    ``SqliteStore`` is imported when first asked for: sqlite3, pathlib and the
    SQLite store's own modules are a sixth of ``import sofrito``, which a
    runtime without a store, or on ``MemoryStore``, never needs. Once imported
    it is an ordinary attribute.

    ``NotFound`` stays importable (with a ``DeprecationWarning``) because it
    shared its name with ``sofrito.NotFound``, a locator's answer, which is
    another thing.
    """
    if name == "SqliteStore":
        from sofrito.stores.sqlite import SqliteStore  # noqa: PLC0415 (see the docstring)

        globals()[name] = SqliteStore
        return SqliteStore
    if name in _POSTGRES:
        return _postgres(name)
    if name == "NotFound":
        warnings.warn(
            "sofrito.stores.NotFound is renamed sofrito.stores.RecordNotFound "
            "(sofrito.NotFound is the locator's answer, another exception)",
            DeprecationWarning,
            stacklevel=2,
        )
        return RecordNotFound
    raise AttributeError(f"module 'sofrito.stores' has no attribute {name!r}")


_POSTGRES = frozenset({"PostgresStore", "Committed", "CommitListener"})


def _postgres(name: str) -> object:
    """``PostgresStore`` and its records, importing psycopg on first use only."""
    try:
        from sofrito.stores import postgres  # noqa: PLC0415 (psycopg only when used)
    except ImportError as exc:
        raise ImportError(
            f"sofrito.stores.{name} needs psycopg 3 and psycopg_pool ({exc}); "
            "install them with: pip install 'sofrito[postgres]'"
        ) from None
    for one in _POSTGRES:
        globals()[one] = getattr(postgres, one)
    return globals()[name]
