"""``SqliteStore``: the embedded default, one file, safe under kill -9.

- **WAL and one transaction per method.** Every method runs in a single
  transaction (``BEGIN IMMEDIATE`` for writes), so a process killed at any
  instant leaves either the whole call or none of it. ``synchronous=FULL`` on
  every call: a call that returned is on disk, power loss included
  (durable-before-ack for ``persist_input_state``; a receipt handed out is a
  receipt kept). On this project's reference disk that costs about 0.2 ms per
  commit over ``NORMAL`` (docs/persistence.md has the numbers).
- **Several processes, one file.** WAL lets readers run beside a writer. A
  writer that finds the file locked waits up to ``busy_timeout`` seconds, then
  fails with ``WriteFailed`` naming the file. Opening a current store takes no
  write lock.
- **Integrity without a full scan.** ``PRAGMA integrity_check`` reads the
  whole file, too slow for every open. Instead every row carries a checksum and
  every runtime's header seals its rows (``_integrity``), all verified as they
  are read; SQLite's own "malformed" / "not a database" errors are reported as
  ``CorruptSnapshot``, and ``recover()`` moves such a file aside.
- **On demand.** ``load_header`` reads one row; ``load_memo_rows``,
  ``load_input_rows``, ``load_family`` and ``load_reader_closure`` read what
  they are asked for by primary key or index, in one read transaction that
  first checks the head (``StaleRead``), so what they return is the boundary
  the caller opened. They check each row's checksum; only a full load can
  check a seal (``_integrity``).
- **A schema version table** (``_sqlite_schema``): a newer file is refused
  with both versions named, an older one upgraded, a foreign one left alone.
- **Threads.** One connection behind a lock: a store object may be shared by
  the threads of one process; their calls run one at a time.
"""

from __future__ import annotations

import contextlib
import operator
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Literal

from sofrito.stores import receipt as receipts
from sofrito.stores._checks import (
    check_base,
    check_drop,
    check_foreign_receipt,
    check_opened_at,
)
from sofrito.stores._integrity import EMPTY_SEAL, fold, input_checksummer
from sofrito.stores._sqlite_rows import (
    INPUT_COLUMNS,
    RECEIPT_COLUMNS,
    Header,
    Malformed,
    read_header,
    read_input,
    read_receipt,
    write_header,
)
from sofrito.stores._sqlite_schema import SCHEMA_VERSION, prepare
from sofrito.stores._sqlite_tables import (
    ASTRAY,
    SEAL_BROKEN,
    apply_boundary,
    check_edges,
    drop_edges,
    has_edges,
    has_rows,
    header_before_drop,
    read_deps_by_prefix,
    read_family,
    read_input_rows,
    read_inputs_changed_after,
    read_memo_rows,
    read_memos,
    read_reader_closure,
    read_readers,
    write_inputs,
)
from sofrito.stores.errors import CorruptSnapshot, ReadFailed, StoreError, WriteFailed
from sofrito.stores.protocol import (
    Drop,
    InputState,
    Receipt,
    RuntimeState,
    SnapshotDelta,
    SnapshotHeader,
    StoredSnapshot,
)

__all__ = ["SCHEMA_VERSION", "SqliteStore"]


def _refuse_orphan_rows(conn: sqlite3.Connection, runtime_id: str) -> None:
    """A runtime with no header has no rows either: rows without one mean the
    header vanished (a damaged page of ``runtimes`` hid it from its key), and
    opening that as a new runtime would serve a cache with nothing in it and
    lose the inputs without a word. ``Malformed``, so ``on_corrupt`` decides."""
    for table, what in (("inputs", "the input states"), ("memos", "the memo rows")):
        if has_rows(conn, table, runtime_id):
            raise Malformed(what, "exist without the runtime's header (damaged)")
    if has_edges(conn, runtime_id):
        raise Malformed("the reverse edges", "exist without the runtime's header (damaged)")


Action = Literal["open", "read", "write"]

_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=FULL",
    "trusted_schema=OFF",  # the file's schema may not call functions: a shared file runs no code
    "cell_size_check=ON",  # damaged b-tree cells are refused as they are read, not followed
)
_UPDATE_CACHE = -32768
"""SQLite's page cache during a commit that updates stored rows: up to 32 MiB
(``SqliteStore._make_room``), allocated only as pages are read."""
_DEFAULT_CACHE = -2000
"""SQLite's default page cache (2 MB), which every other call keeps."""
_NEW_FILE_PAGES = 256
"""A file of at most this many pages (1 MiB at SQLite's 4 KiB) is new: a large
commit into it bypasses the WAL (``SqliteStore._journal_for``)."""
_LARGE_COMMIT = 4 << 20
"""The bytes of rows from which a commit into a new file bypasses the WAL: a
small one would pay for switching the journal twice (a few ``fsync``s)."""
# Words in SQLite's messages that mean the file itself is damaged or not a store.
_DAMAGE = (
    "not a database",
    "malformed",
    "corrupt",
    "disk image",
    "could not decode",
    "no such table",
    "no such column",
    "encrypted",
)
_COLD = 'open the runtime with on_corrupt="cold" to start fresh'
_TRACE_CHUNK = 500
"""Lookups per ``IN (...)`` in ``load_trace_rows``, well under SQLite's parameter limit."""


def _large(snapshot: SnapshotDelta) -> bool:
    """Whether the delta's rows hold ``_LARGE_COMMIT`` bytes or more."""
    size = 0
    for row in snapshot.upserts.values():
        size += len(row)
        if size >= _LARGE_COMMIT:
            return True
    return False


def _leave_wal(conn: sqlite3.Connection) -> bool:
    """Switch a new file (``_NEW_FILE_PAGES``) to a rollback journal; whether it did."""
    if conn.execute("PRAGMA page_count").fetchone()[0] > _NEW_FILE_PAGES:
        return False
    mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    return str(mode).lower() != "wal"


class SqliteStore:
    """A store in one SQLite file, created (with its directory) if missing.

    ``busy_timeout`` bounds how long a call waits for another process's lock
    before it fails. A file that is not a usable database does not fail the
    constructor: every call raises ``CorruptSnapshot`` naming it until
    ``recover()`` moves it aside.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        if busy_timeout < 0:
            raise ValueError(f"busy_timeout must be >= 0 seconds, not {busy_timeout!r}")
        self._path = Path(path)
        self._busy_timeout = float(busy_timeout)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._damage: str | None = None  # why the file is unusable, until recover()
        self._closed = False
        self._roomy = False  # the cache has room for a commit (_make_room)
        _make_folder(self._path)
        # A damaged file is kept in self._damage, not raised: every call reports it,
        # and recover() moves the file aside (what on_corrupt="cold" does).
        with contextlib.suppress(CorruptSnapshot):
            self._conn = self._open()

    @property
    def location(self) -> str:
        return str(self._path)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def busy_timeout(self) -> float:
        return self._busy_timeout

    # -- connection and transactions --------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,  # guarded by self._lock instead
            )
        except sqlite3.Error as exc:  # a folder in its place, no permission
            raise self._translate(exc, "open", None) from None  # it quotes SQLite
        try:
            for pragma in _PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            prepare(conn, self._path)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise self._translate(exc, "open", None) from None  # it quotes SQLite
            if isinstance(exc, Malformed):
                raise self._damaged(f"{self._path}: {exc.what} {exc.why}") from None
            if isinstance(exc, UnicodeDecodeError):  # SQLite's message quotes damaged bytes
                raise self._damaged(f"{self._path} is damaged (undecodable schema)") from None
            raise
        # The documented idiom, sf.Runtime(store=SqliteStore(path)), never calls
        # close(): when the store is collected, close its connection quietly
        # (Python 3.13 warns about a connection garbage-collected open).
        weakref.finalize(self, conn.close)
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"{self._path}: the store is closed")
        if self._damage is not None:
            raise CorruptSnapshot(self._damage)
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    @contextmanager
    def _transaction(self, runtime_id: str | None, action: Action) -> Iterator[sqlite3.Connection]:
        """One method, one transaction; every failure becomes a ``StoreError``."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN" if action == "read" else "BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
                finally:
                    self._give_room_back(conn)
            except sqlite3.Error as exc:
                raise self._translate(exc, action, runtime_id) from None  # it quotes SQLite
            except Malformed as exc:
                raise self._corrupt(runtime_id, exc, action) from None
            except UnicodeDecodeError:  # SQLite's message quotes damaged bytes
                raise self._damaged(f"{self._path} is damaged (undecodable text)") from None

    def _make_room(self, conn: sqlite3.Connection, header: Header) -> None:
        """Room in SQLite's page cache for a commit that changes rows already
        stored (``_UPDATE_CACHE``): called in its transaction once the header is
        read; the transaction gives it back (``_give_room_back``), committed or
        rolled back, under the store's lock.

        SQLite's cache is 2 MB by default. A commit that updates a runtime's
        stored rows looks up the groups it changes, and in a transaction whose
        dirty pages fill the cache each page it reads first writes a dirty one
        out to the WAL: the last commit of a ``--jobs 2`` build of 10,000
        pages (20,000 rows, 155,000 edges into tables of 40,000 rows) took
        3.3-3.5 s that way, 1.2-1.4 s with room for 8 MB or more (4 MB: no
        better). Only for such a commit: a runtime's first commit of memo
        rows looks nothing up and inserts in key order (1.8-1.9 s at 10,000
        pages with 2, 16, 32 or 64 MB), and room it does not need would be
        resident all the same (15 MB more at 16 MB), on the peak of a first
        build. The cache grows only as pages are read, so a small commit
        costs nothing; kept for the whole run, the room would hold what a
        template edit loads (15 MB more resident) for 12 ms of its commit."""
        if header.memo_seal != EMPTY_SEAL:  # rows are stored: an update
            conn.execute(f"PRAGMA cache_size={_UPDATE_CACHE}")
            self._roomy = True

    @contextmanager
    def _journal_for(self, snapshot: SnapshotDelta) -> Iterator[None]:
        """A large commit (``_LARGE_COMMIT``) into a new file (``_NEW_FILE_PAGES``)
        writes its pages once, through a rollback journal, instead of into the
        WAL and then again into the file.

        In WAL mode every page a commit writes goes to the WAL, and the
        checkpoint that follows a large commit copies it into the database:
        a first build of 10,000 pages wrote its 180 MB twice. A rollback
        journal keeps the old content of the pages a transaction changes, and
        a new file has next to none, so the commit writes each page once:
        185 MB in one transaction took 0.91 s in WAL mode and 0.52 s this way,
        and that first build's commit 3.3-3.5 s against 3.0-3.1 s
        (docs/persistence.md, "Transactions and durability"). Both journals
        make a commit atomic and, with ``synchronous=FULL``, durable; a
        process killed in the middle leaves a hot journal, which the next
        connection rolls back.

        What the rollback journal gives up is reading during a write: readers
        wait (``busy_timeout``) while the commit writes. A new file has no
        readers to speak of, and SQLite refuses to leave WAL mode while
        another connection has the file open: then the commit goes through
        the WAL as any other. WAL mode comes back right after the commit, and
        every open sets it again."""
        with self._lock:
            conn = self._conn
            left = False
            if conn is not None and self._damage is None and not self._closed:
                with contextlib.suppress(sqlite3.Error):  # the commit reports its own errors
                    left = _large(snapshot) and _leave_wal(conn)
            try:
                yield
            finally:
                if left and self._conn is conn and conn is not None:
                    with contextlib.suppress(sqlite3.Error):  # the next open sets it again
                        conn.execute("PRAGMA journal_mode=WAL")

    def _give_room_back(self, conn: sqlite3.Connection) -> None:
        if self._roomy:
            self._roomy = False
            with contextlib.suppress(sqlite3.Error):  # the transaction's own error stands
                conn.execute(f"PRAGMA cache_size={_DEFAULT_CACHE}")

    def _translate(self, exc: sqlite3.Error, action: Action, runtime_id: str | None) -> StoreError:
        message = str(exc)
        lowered = message.lower()
        whose = f" (runtime {runtime_id!r})" if runtime_id else ""
        failed = ReadFailed if action == "read" else WriteFailed
        if "locked" in lowered or "busy" in lowered:
            return failed(
                f"{self._path} is locked by another process; waited {self._busy_timeout:g} s "
                f"to {action}{whose}; nothing was changed"
            )
        if any(mark in lowered for mark in _DAMAGE):
            return self._damaged(f"{self._path} is damaged or not a sofrito store ({message})")
        return failed(f"{self._path}: could not {action}{whose}: {message}; nothing was changed")

    def _damaged(self, why: str) -> CorruptSnapshot:
        """The file itself is unusable: remember it, so that recover() moves it aside."""
        self._damage = f'{why}; open the runtime with on_corrupt="cold" to move it aside'
        return CorruptSnapshot(self._damage)

    def _corrupt(self, runtime_id: str | None, exc: Malformed, action: Action) -> CorruptSnapshot:
        whose = f" of runtime {runtime_id!r}" if runtime_id else ""
        written = "; nothing was written" if action == "write" else ""
        return CorruptSnapshot(f"{self._path}: {exc.what}{whose} {exc.why}{written}; {_COLD}")

    # -- boundaries ---------------------------------------------------------------------

    def commit_boundary(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        run_id: str,
        boundary: str,
        contributing_inputs: Sequence[str],
        input_updates: Sequence[InputState],
        *,
        base_head: int | None = None,
    ) -> Receipt:
        with self._journal_for(snapshot), self._transaction(runtime_id, "write") as conn:
            header = read_header(conn, runtime_id) or Header()
            check_base(self.location, runtime_id, base_head, header.head)
            receipt = receipts.mint(
                runtime_id, run_id, header.sequence + 1, boundary, contributing_inputs, snapshot
            )
            self._make_room(conn, header)
            apply_boundary(conn, runtime_id, header, snapshot, receipt, input_updates)
            return receipt

    def atomic_apply(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        receipt: Receipt,
        input_updates: Sequence[InputState],
    ) -> None:
        with self._journal_for(snapshot), self._transaction(runtime_id, "write") as conn:
            header = read_header(conn, runtime_id) or Header()
            check_foreign_receipt(self.location, runtime_id, receipt, snapshot, header.sequence)
            self._make_room(conn, header)
            apply_boundary(conn, runtime_id, header, snapshot, receipt, input_updates)

    # -- loads --------------------------------------------------------------------------

    def load_snapshot(self, runtime_id: str) -> StoredSnapshot | None:
        with self._transaction(runtime_id, "read") as conn:
            header = read_header(conn, runtime_id)
            if header is None or header.meta is None:
                orphans = "exist without a snapshot header (damaged)"
                if has_rows(conn, "memos", runtime_id):
                    raise Malformed("the memo rows", orphans)
                if has_edges(conn, runtime_id):
                    raise Malformed("the reverse edges", orphans)
                return None
            rows = read_memos(conn, runtime_id, header.memo_seal)
            check_edges(conn, runtime_id, header.edge_seal)
            return StoredSnapshot(header.revision, header.meta, rows)

    def load_input_states(self, runtime_id: str) -> list[InputState]:
        with self._transaction(runtime_id, "read") as conn:
            header = read_header(conn, runtime_id) or Header()
            sums = input_checksummer(runtime_id)
            found = [
                read_input(sums, row)
                for row in conn.execute(
                    f"SELECT {INPUT_COLUMNS} FROM inputs WHERE runtime_id = ? ORDER BY input_id",
                    (runtime_id,),
                )
            ]
            if fold(EMPTY_SEAL, (stored for _, stored in found)) != header.input_seal:
                raise Malformed("the input states", SEAL_BROKEN)
            return [state for state, _ in found]

    def load_input_state(self, runtime_id: str, input_id: str) -> InputState | None:
        with self._transaction(runtime_id, "read") as conn:
            row = conn.execute(
                f"SELECT {INPUT_COLUMNS} FROM inputs WHERE runtime_id = ? AND input_id = ?",
                (runtime_id, input_id),
            ).fetchone()
            if row is None:
                return None
            state = read_input(input_checksummer(runtime_id), row)[0]
            if state.input_id != input_id:  # a damaged b-tree can lead a lookup astray
                raise Malformed(f"input state {input_id!r}", ASTRAY)
            return state

    def load_receipts(self, runtime_id: str) -> list[Receipt]:
        with self._transaction(runtime_id, "read") as conn:
            header = read_header(conn, runtime_id) or Header()
            found = [
                read_receipt(runtime_id, row)
                for row in conn.execute(
                    f"SELECT {RECEIPT_COLUMNS} FROM receipts WHERE runtime_id = ? "
                    "ORDER BY sequence DESC",
                    (runtime_id,),
                )
            ]
            if [r.sequence for r in found] != list(range(header.sequence, 0, -1)):
                raise Malformed(
                    "the receipts",
                    f"are not the unbroken sequence 1..{header.sequence} its header "
                    "records (a receipt is missing or left over: damaged)",
                )
            return found

    def load_receipt(self, runtime_id: str, run_id: str, sequence: int) -> Receipt | None:
        with self._transaction(runtime_id, "read") as conn:
            row = conn.execute(
                f"SELECT {RECEIPT_COLUMNS} FROM receipts WHERE runtime_id = ? AND sequence = ?",
                (runtime_id, operator.index(sequence)),
            ).fetchone()
            if row is None:
                last = (read_header(conn, runtime_id) or Header()).sequence
                if 1 <= sequence <= last:
                    raise Malformed(f"receipt {sequence}", f"is missing below {last} (damaged)")
                return None
            found = read_receipt(runtime_id, row)
            if found.sequence != sequence:  # a damaged b-tree can lead a lookup astray
                raise Malformed(f"receipt {sequence}", ASTRAY)
            return found if found.run_id == run_id else None

    # -- on demand ----------------------------------------------------------------------

    def load_header(self, runtime_id: str) -> SnapshotHeader | None:
        with self._transaction(runtime_id, "read") as conn:
            header = read_header(conn, runtime_id)
            if header is None:
                _refuse_orphan_rows(conn, runtime_id)
                return None
            return SnapshotHeader(
                header.revision, header.meta, header.head, header.sequence, header.state
            )

    @contextmanager
    def _opened(self, runtime_id: str, head: int) -> Iterator[sqlite3.Connection]:
        """A read transaction on the boundary opened at ``head``, or ``StaleRead``."""
        with self._transaction(runtime_id, "read") as conn:
            # The head alone, not the checked header: a load only compares it
            # with the head it opened at, and every row it reads is sealed. The
            # header's checksum covers the meta, which grows with the graph: a
            # worker of ``--jobs`` that loads row by row paid it per row.
            row = conn.execute("SELECT head FROM runtimes WHERE runtime_id = ?", (runtime_id,))
            found = row.fetchone()
            current = found[0] if found is not None else Header().head
            check_opened_at(self.location, runtime_id, head, current)
            yield conn

    def load_memo_rows(
        self, runtime_id: str, memo_ids: Iterable[bytes], *, head: int
    ) -> dict[bytes, bytes]:
        ids = list(dict.fromkeys(memo_ids))
        with self._opened(runtime_id, head) as conn:
            return read_memo_rows(conn, runtime_id, ids)

    def load_input_rows(
        self, runtime_id: str, input_ids: Iterable[str], *, head: int
    ) -> dict[str, InputState]:
        ids = list(dict.fromkeys(input_ids))
        with self._opened(runtime_id, head) as conn:
            return read_input_rows(conn, runtime_id, ids)

    def load_family(self, runtime_id: str, kind: str, *, head: int) -> list[InputState]:
        with self._opened(runtime_id, head) as conn:
            return read_family(conn, runtime_id, kind)

    def load_reader_closure(
        self,
        runtime_id: str,
        node_ids: Iterable[bytes],
        *,
        head: int,
        node_prefixes: Iterable[bytes] = (),
    ) -> list[tuple[bytes, bytes]]:
        seeds = list(dict.fromkeys(node_ids))
        prefixes = list(dict.fromkeys(node_prefixes))
        with self._opened(runtime_id, head) as conn:
            if prefixes:
                seeds = list(
                    dict.fromkeys([*seeds, *read_deps_by_prefix(conn, runtime_id, prefixes)])
                )
            return read_reader_closure(conn, runtime_id, seeds) if seeds else []

    def load_readers(
        self, runtime_id: str, node_ids: Iterable[bytes], *, head: int
    ) -> list[tuple[bytes, bytes]]:
        nodes = list(dict.fromkeys(node_ids))
        with self._opened(runtime_id, head) as conn:
            return read_readers(conn, runtime_id, nodes) if nodes else []

    def load_inputs_changed_after(
        self, runtime_id: str, revision: int, *, head: int
    ) -> list[InputState]:
        with self._opened(runtime_id, head) as conn:
            return read_inputs_changed_after(conn, runtime_id, revision)

    # -- traces -----------------------------------------------------------------------------

    def publish_traces(self, traces: Iterable[tuple[bytes, bytes, bytes]]) -> None:
        rows = [(bytes(lookup), bytes(trace_id), bytes(row)) for lookup, trace_id, row in traces]
        if not rows:
            return
        with self._transaction(None, "write") as conn:
            conn.executemany("INSERT OR IGNORE INTO traces VALUES (?, ?, ?)", rows)

    def load_traces(self, lookup: bytes) -> list[bytes]:
        with self._transaction(None, "read") as conn:
            found = conn.execute(
                "SELECT row FROM traces WHERE lookup = ? ORDER BY trace_id", (bytes(lookup),)
            ).fetchall()
        # A damaged row (not a blob) is left out, as one that fails its MAC is refused:
        # a trace is only ever a way to skip work, never needed.
        return [row[0] for row in found if type(row[0]) is bytes]

    def load_trace_rows(self, lookups: Sequence[bytes]) -> dict[bytes, list[bytes]]:
        wanted = list(dict.fromkeys(bytes(lookup) for lookup in lookups))
        found: dict[bytes, list[bytes]] = {}
        with self._transaction(None, "read") as conn:
            for start in range(0, len(wanted), _TRACE_CHUNK):
                chunk = wanted[start : start + _TRACE_CHUNK]
                marks = ", ".join("?" * len(chunk))
                query = (
                    f"SELECT lookup, row FROM traces WHERE lookup IN ({marks}) "
                    "ORDER BY lookup, trace_id"
                )
                for lookup, row in conn.execute(query, chunk):
                    if type(lookup) is bytes and type(row) is bytes:  # as load_traces
                        found.setdefault(lookup, []).append(row)
        return found

    # -- input states and lifecycle -----------------------------------------------------

    def persist_input_state(
        self, runtime_id: str, state: InputState, *, base_head: int | None = None
    ) -> None:
        with self._transaction(runtime_id, "write") as conn:
            header = read_header(conn, runtime_id) or Header()
            check_base(self.location, runtime_id, base_head, header.head)
            seal = write_inputs(conn, runtime_id, header.input_seal, [state])
            write_header(conn, runtime_id, replace(header.advanced(), input_seal=seal))

    def load_head(self, runtime_id: str) -> int:
        with self._transaction(runtime_id, "read") as conn:
            return (read_header(conn, runtime_id) or Header()).head

    def persist_runtime_state(self, runtime_id: str, state: RuntimeState) -> None:
        with self._transaction(runtime_id, "write") as conn:
            header = read_header(conn, runtime_id) or Header()
            write_header(conn, runtime_id, replace(header, state=RuntimeState(state)))

    def load_runtime_state(self, runtime_id: str) -> RuntimeState | None:
        with self._transaction(runtime_id, "read") as conn:
            header = read_header(conn, runtime_id)
            return None if header is None else header.state

    def atomic_lifecycle_commit(
        self,
        runtime_id: str,
        runtime_state: RuntimeState,
        input_states: Sequence[InputState],
        drop: Drop = "nothing",
        *,
        base_head: int | None = None,
    ) -> None:
        check_drop(drop)
        with self._transaction(runtime_id, "write") as conn:
            header = header_before_drop(conn, runtime_id, drop)
            check_base(self.location, runtime_id, base_head, header.head)
            header = header.advanced()
            if drop != "nothing":
                conn.execute("DELETE FROM memos WHERE runtime_id = ?", (runtime_id,))
                drop_edges(conn, runtime_id)
                conn.execute("DELETE FROM inputs WHERE runtime_id = ?", (runtime_id,))
            if drop == "everything":
                conn.execute("DELETE FROM receipts WHERE runtime_id = ?", (runtime_id,))
            seal = write_inputs(conn, runtime_id, header.input_seal, input_states)
            state = RuntimeState(runtime_state)
            write_header(conn, runtime_id, replace(header, state=state, input_seal=seal))

    # -- housekeeping -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the file; later calls raise ``StoreError``. Safe to call twice."""
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recover(self) -> Path | None:
        """If the file is not a usable store, move it aside and start an empty one here.

        Returns where the damaged file went, or None if the file was fine (a row
        that fails its checksum is the runtime's to drop, not a reason to move
        every runtime's file). Other processes that still have the old file open
        keep writing to the moved file; stop them first where that matters.
        """
        with self._lock:
            if self._closed:
                raise StoreError(f"{self._path}: the store is closed")
            if self._damage is None:
                return None
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            moved = self.quarantine(self._path)
            self._damage = None
            self._conn = self._open()
            return moved

    @staticmethod
    def quarantine(path: str | Path) -> Path:
        """Move a store file and its ``-wal``/``-shm`` companions aside; return the new name.

        The name is ``<name>.corrupt-<YYYYmmdd-HHMMSS>`` (with ``-2``, ``-3`` ...
        if that is taken), next to the original; the next ``SqliteStore(path)``
        starts a fresh, empty store.
        """
        source = Path(path)
        base = f"{source.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
        target, counter = source.with_name(base), 1
        while any(Path(f"{target}{suffix}").exists() for suffix in ("", "-wal", "-shm")):
            counter += 1
            target = source.with_name(f"{base}-{counter}")
        for suffix in ("", "-wal", "-shm"):
            # A missing part: no such companion, or another process moved it first.
            with contextlib.suppress(FileNotFoundError):
                Path(f"{source}{suffix}").rename(Path(f"{target}{suffix}"))
        return target

    def __repr__(self) -> str:
        return f"SqliteStore({str(self._path)!r})"


SqliteStore.__module__ = "sofrito.stores"


def _make_folder(path: Path) -> None:
    """Create the store's folder, or say which file could not get one and why."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise StoreError(
            f"{path}: cannot create the store's folder: {path.parent} or a folder above "
            "it is a file; choose another store path"
        ) from None
    except OSError as exc:
        raise StoreError(
            f"{path}: cannot create the store's folder {exc.filename or path.parent} "
            f"({exc.strerror or type(exc).__name__}); create it, or choose a store path "
            "in a folder you can write"
        ) from None


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open; a failing rollback must not hide the cause."""
    if conn.in_transaction:
        # If ROLLBACK fails, SQLite's own error has already ended the transaction.
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
