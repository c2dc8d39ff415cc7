"""``SqliteStore``: the embedded default, one file, safe under kill -9.

- **WAL and one transaction per method.** Every method runs in a single
  transaction (``BEGIN IMMEDIATE`` for writes), so a process killed at any
  instant leaves either the whole boundary or none of it. ``synchronous=FULL``
  makes a returned call durable (durable-before-ack).
- **Several processes, one file.** WAL lets readers run beside a writer. A
  writer that finds the file locked waits up to ``busy_timeout`` seconds, then
  fails with ``WriteFailed`` naming the file.
- **Integrity without a full scan.** ``PRAGMA integrity_check`` reads the
  whole file, too slow for every open. Instead every memo row, input state
  and meta blob carries a checksum, verified when it is read, and SQLite's own
  "malformed"/"not a database" errors are reported as ``CorruptSnapshot``.
  Bytes that fail a check are never handed out.
- **A schema version table.** A file written by a newer sofrito is refused
  with both versions named, never half-understood.
- **Threads.** One connection, guarded by a lock: a store object may be
  shared by the threads of one process.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sofrito import _canonical
from sofrito.stores import receipt as receipts
from sofrito.stores._checks import check_foreign_receipt
from sofrito.stores.errors import CorruptSnapshot, ReadFailed, StoreError, WriteFailed
from sofrito.stores.protocol import (
    Drop,
    InputState,
    InputStatus,
    Receipt,
    RuntimeState,
    SnapshotDelta,
    StoredSnapshot,
)

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sofrito_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runtimes (
    runtime_id TEXT PRIMARY KEY,
    state TEXT,
    revision INTEGER NOT NULL DEFAULT 0,
    meta BLOB,
    meta_sum BLOB,
    sequence INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS memos (
    runtime_id TEXT NOT NULL,
    memo_id BLOB NOT NULL,
    row BLOB NOT NULL,
    sum BLOB NOT NULL,
    PRIMARY KEY (runtime_id, memo_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inputs (
    runtime_id TEXT NOT NULL,
    input_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    durability INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    sum BLOB NOT NULL,
    PRIMARY KEY (runtime_id, input_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipts (
    runtime_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    boundary TEXT NOT NULL,
    contributing BLOB NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (runtime_id, sequence)
) WITHOUT ROWID;
"""

_PLAIN = _canonical.Policy(mutable_containers=False, objects=False)


def _checksum(*parts: bytes | str | int) -> bytes:
    """blake2b over each part, length-prefixed so parts cannot run into each other."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        raw = part if isinstance(part, bytes) else str(part).encode()
        digest.update(len(raw).to_bytes(8, "big"))
        digest.update(raw)
    return digest.digest()


def _input_sum(runtime_id: str, state: InputState) -> bytes:
    return _checksum(
        runtime_id,
        state.input_id,
        state.kind,
        state.key,
        state.value,
        state.durability,
        state.changed_at,
        state.status.value,
    )


class SqliteStore:
    """A store in one SQLite file (created if missing, with its directory)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self._path = Path(path)
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._damage: CorruptSnapshot | None = None
        try:
            self._conn = self._open()
        except CorruptSnapshot as exc:
            # Kept, not raised: every call reports it, and recover() can move the
            # file aside (what a runtime opened with on_corrupt="cold" does).
            self._damage = exc

    @property
    def location(self) -> str:
        return str(self._path)

    @property
    def path(self) -> Path:
        return self._path

    # -- connection ------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._migrate(conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise self._translate(exc, "open", None) from exc
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if self._schema_version(conn) == SCHEMA_VERSION:
            return  # the common case takes no write lock, so opening never waits on a writer
        conn.executescript(_SCHEMA)  # idempotent; executescript commits on its own
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT version FROM sofrito_schema").fetchone()
            if row is None:
                conn.execute("INSERT INTO sofrito_schema VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                raise StoreError(
                    f"{self._path} was written by a newer sofrito (store schema {row[0]}; "
                    f"this sofrito knows {SCHEMA_VERSION}); upgrade sofrito or use another file"
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int | None:
        try:
            row = conn.execute("SELECT version FROM sofrito_schema").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return int(row[0]) if row else None

    def _translate(self, exc: sqlite3.Error, action: str, runtime_id: str | None) -> StoreError:
        text = str(exc)
        whose = f" (runtime {runtime_id!r})" if runtime_id else ""
        if "locked" in text or "busy" in text:
            kind = WriteFailed if action != "read" else ReadFailed
            return kind(
                f"{self._path} is locked by another process; waited {self._busy_timeout:g} s "
                f"to {action}{whose}, nothing was changed"
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return CorruptSnapshot(
                f"{self._path} is damaged or not a sofrito store ({text}){whose}; "
                'open the runtime with on_corrupt="cold" to start fresh'
            )
        kind = WriteFailed if action != "read" else ReadFailed
        return kind(f"{self._path}: could not {action}{whose}: {text}")

    @contextmanager
    def _transaction(self, runtime_id: str | None, *, write: bool) -> Iterator[sqlite3.Connection]:
        action = "write" if write else "read"
        with self._lock:
            conn = self._conn
            if self._damage is not None:
                raise self._damage
            if conn is None:
                raise StoreError(f"{self._path}: the store is closed")
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise self._translate(exc, action, runtime_id) from exc

    # -- boundaries ------------------------------------------------------------

    def commit_boundary(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        run_id: str,
        boundary: str,
        contributing_inputs: Sequence[str],
        input_updates: Sequence[InputState],
    ) -> Receipt:
        with self._transaction(runtime_id, write=True) as conn:
            sequence = self._sequence(conn, runtime_id)
            receipt = receipts.mint(
                runtime_id, run_id, sequence + 1, boundary, contributing_inputs, snapshot
            )
            self._apply(conn, runtime_id, snapshot, receipt, input_updates)
            return receipt

    def atomic_apply(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        receipt: Receipt,
        input_updates: Sequence[InputState],
    ) -> None:
        with self._transaction(runtime_id, write=True) as conn:
            last = self._sequence(conn, runtime_id)
            check_foreign_receipt(self.location, runtime_id, receipt, snapshot, last)
            self._apply(conn, runtime_id, snapshot, receipt, input_updates)

    @staticmethod
    def _sequence(conn: sqlite3.Connection, runtime_id: str) -> int:
        row = conn.execute(
            "SELECT sequence FROM runtimes WHERE runtime_id = ?", (runtime_id,)
        ).fetchone()
        return int(row[0]) if row else 0

    def _apply(
        self,
        conn: sqlite3.Connection,
        runtime_id: str,
        snapshot: SnapshotDelta,
        receipt: Receipt,
        input_updates: Sequence[InputState],
    ) -> None:
        if snapshot.full:
            conn.execute("DELETE FROM memos WHERE runtime_id = ?", (runtime_id,))
        conn.executemany(
            "DELETE FROM memos WHERE runtime_id = ? AND memo_id = ?",
            [(runtime_id, memo_id) for memo_id in snapshot.deletes],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO memos VALUES (?, ?, ?, ?)",
            [
                (runtime_id, memo_id, row, _checksum(runtime_id, memo_id, row))
                for memo_id, row in snapshot.upserts.items()
            ],
        )
        self._write_inputs(conn, runtime_id, input_updates)
        conn.execute(
            "INSERT INTO runtimes (runtime_id, revision, meta, meta_sum, sequence) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (runtime_id) DO UPDATE SET "
            "revision = excluded.revision, meta = excluded.meta, "
            "meta_sum = excluded.meta_sum, sequence = excluded.sequence",
            (
                runtime_id,
                snapshot.revision,
                snapshot.meta,
                _checksum(runtime_id, snapshot.revision, snapshot.meta),
                receipt.sequence,
            ),
        )
        conn.execute(
            "INSERT INTO receipts VALUES (?, ?, ?, ?, ?, ?)",
            (
                runtime_id,
                receipt.sequence,
                receipt.run_id,
                receipt.boundary,
                _canonical.encode(receipt.contributing_inputs, _PLAIN),
                receipt.digest,
            ),
        )

    @staticmethod
    def _write_inputs(
        conn: sqlite3.Connection, runtime_id: str, states: Sequence[InputState]
    ) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    runtime_id,
                    state.input_id,
                    state.kind,
                    state.key,
                    state.value,
                    state.durability,
                    state.changed_at,
                    state.status.value,
                    _input_sum(runtime_id, state),
                )
                for state in states
            ],
        )

    # -- loads -----------------------------------------------------------------

    def load_snapshot(self, runtime_id: str) -> StoredSnapshot | None:
        with self._transaction(runtime_id, write=False) as conn:
            head = conn.execute(
                "SELECT revision, meta, meta_sum FROM runtimes WHERE runtime_id = ?",
                (runtime_id,),
            ).fetchone()
            if head is None or head[1] is None:
                return None
            revision, meta, meta_sum = int(head[0]), bytes(head[1]), bytes(head[2])
            if _checksum(runtime_id, revision, meta) != meta_sum:
                raise self._corrupt(runtime_id, "the snapshot header")
            rows: dict[bytes, bytes] = {}
            query = "SELECT memo_id, row, sum FROM memos WHERE runtime_id = ?"
            for memo_id, row, stored_sum in conn.execute(query, (runtime_id,)):
                if _checksum(runtime_id, memo_id, row) != stored_sum:
                    raise self._corrupt(runtime_id, f"memo row {bytes(memo_id).hex()}")
                rows[bytes(memo_id)] = bytes(row)
            return StoredSnapshot(revision, meta, rows)

    def _corrupt(self, runtime_id: str, what: str) -> CorruptSnapshot:
        return CorruptSnapshot(
            f"{self._path}: {what} of runtime {runtime_id!r} fails its checksum (corrupt or "
            'truncated); open the runtime with on_corrupt="cold" to start fresh'
        )

    def load_input_states(self, runtime_id: str) -> list[InputState]:
        with self._transaction(runtime_id, write=False) as conn:
            rows = conn.execute(
                "SELECT input_id, kind, key, value, durability, changed_at, status, sum "
                "FROM inputs WHERE runtime_id = ? ORDER BY input_id",
                (runtime_id,),
            ).fetchall()
        return [self._input_state(runtime_id, row) for row in rows]

    def load_input_state(self, runtime_id: str, input_id: str) -> InputState | None:
        with self._transaction(runtime_id, write=False) as conn:
            row = conn.execute(
                "SELECT input_id, kind, key, value, durability, changed_at, status, sum "
                "FROM inputs WHERE runtime_id = ? AND input_id = ?",
                (runtime_id, input_id),
            ).fetchone()
        return self._input_state(runtime_id, row) if row else None

    def _input_state(self, runtime_id: str, row: Any) -> InputState:
        input_id, kind, key, value, durability, changed_at, status, stored_sum = row
        state = InputState(
            str(input_id),
            str(kind),
            bytes(key),
            bytes(value),
            int(durability),
            int(changed_at),
            InputStatus(status),
        )
        if _input_sum(runtime_id, state) != stored_sum:
            raise self._corrupt(runtime_id, f"input state {state.input_id!r}")
        return state

    def persist_input_state(self, runtime_id: str, state: InputState) -> None:
        with self._transaction(runtime_id, write=True) as conn:
            self._write_inputs(conn, runtime_id, [state])

    def load_receipts(self, runtime_id: str) -> list[Receipt]:
        with self._transaction(runtime_id, write=False) as conn:
            rows = conn.execute(
                "SELECT sequence, run_id, boundary, contributing, digest FROM receipts "
                "WHERE runtime_id = ? ORDER BY sequence DESC",
                (runtime_id,),
            ).fetchall()
        return [
            Receipt(runtime_id, run_id, int(seq), boundary, _canonical.decode(inputs), digest)
            for seq, run_id, boundary, inputs, digest in rows
        ]

    def load_receipt(self, runtime_id: str, run_id: str, sequence: int) -> Receipt | None:
        with self._transaction(runtime_id, write=False) as conn:
            row = conn.execute(
                "SELECT boundary, contributing, digest FROM receipts "
                "WHERE runtime_id = ? AND sequence = ? AND run_id = ?",
                (runtime_id, sequence, run_id),
            ).fetchone()
        if row is None:
            return None
        boundary, inputs, digest = row
        return Receipt(runtime_id, run_id, sequence, boundary, _canonical.decode(inputs), digest)

    # -- lifecycle -------------------------------------------------------------

    def persist_runtime_state(self, runtime_id: str, state: RuntimeState) -> None:
        with self._transaction(runtime_id, write=True) as conn:
            self._set_state(conn, runtime_id, state)

    @staticmethod
    def _set_state(conn: sqlite3.Connection, runtime_id: str, state: RuntimeState) -> None:
        conn.execute(
            "INSERT INTO runtimes (runtime_id, state) VALUES (?, ?) "
            "ON CONFLICT (runtime_id) DO UPDATE SET state = excluded.state",
            (runtime_id, state.value),
        )

    def load_runtime_state(self, runtime_id: str) -> RuntimeState | None:
        with self._transaction(runtime_id, write=False) as conn:
            row = conn.execute(
                "SELECT state FROM runtimes WHERE runtime_id = ?", (runtime_id,)
            ).fetchone()
        return RuntimeState(row[0]) if row and row[0] else None

    def atomic_lifecycle_commit(
        self,
        runtime_id: str,
        runtime_state: RuntimeState,
        input_states: Sequence[InputState],
        drop: Drop = "nothing",
    ) -> None:
        with self._transaction(runtime_id, write=True) as conn:
            if drop != "nothing":
                for table in ("memos", "inputs"):
                    conn.execute(f"DELETE FROM {table} WHERE runtime_id = ?", (runtime_id,))
                conn.execute(
                    "UPDATE runtimes SET meta = NULL, meta_sum = NULL, revision = 0 "
                    "WHERE runtime_id = ?",
                    (runtime_id,),
                )
            if drop == "everything":
                conn.execute("DELETE FROM receipts WHERE runtime_id = ?", (runtime_id,))
                conn.execute("DELETE FROM runtimes WHERE runtime_id = ?", (runtime_id,))
            self._write_inputs(conn, runtime_id, input_states)
            self._set_state(conn, runtime_id, runtime_state)

    # -- housekeeping ------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recover(self) -> Path | None:
        """If the file is not a usable store, move it aside and start an empty one.

        Returns where the damaged file went, or None if nothing was wrong.
        """
        with self._lock:
            if self._damage is None:
                return None
            moved = self.quarantine(self._path)
            self._damage = None
            self._conn = self._open()
            return moved

    @staticmethod
    def quarantine(path: str | Path) -> Path:
        """Move a damaged store file (and its WAL files) aside; return the new name.

        The next ``SqliteStore(path)`` starts a fresh, empty store.
        """
        source = Path(path)
        target = source.with_name(f"{source.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{source}{suffix}")
            if part.exists():
                part.rename(Path(f"{target}{suffix}"))
        return target

    def __repr__(self) -> str:
        return f"SqliteStore({str(self._path)!r})"
