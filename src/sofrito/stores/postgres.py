"""``PostgresStore``: one cache shared by a team's processes and machines.

The same contract as ``SqliteStore`` (``protocol.RuntimeStore``), on psycopg 3
and psycopg_pool, with what a server shared over a network adds:

- **One transaction per method**, receipts minted inside the commit's
  transaction, and the head advanced by compare-and-swap on the header row
  (``_postgres_tables``): a writer that lost the race gets ``Conflict``
  naming the head it lost to, with nothing written. The receipts' primary
  key makes two receipts with one sequence number impossible.
- **A pool, opened explicitly** by the constructor (``min_size`` ..
  ``max_size`` connections), each connection checked on checkout (a
  connection the server dropped is replaced, not handed out), with a bounded
  lifetime (``max_lifetime``) and idle time (``max_idle``).
- **Retries, for what is safe to retry.** A read that loses its connection is
  retried with exponential backoff (``retries`` times from ``backoff``
  seconds): it wrote nothing. A write that loses its connection *before* it
  sent ``COMMIT`` is retried the same way: the server rolled it back, and the
  compare-and-swap still guards the head. A write that loses its connection
  *while committing* has an unknown outcome, and is never sent again: a second
  attempt of a commit that did land would mint a second receipt (sequence
  n + 1) for the same boundary, or lose the race to itself. Instead
  ``commit_boundary`` reconnects and reads back: it locks the header row
  (``FOR SHARE``, which waits for the lost transaction if the server is
  still finishing it, since every write holds that row's lock to its end)
  and looks up the receipt it minted; the same digest there means the commit
  landed and that receipt is returned, anything else means it did not
  (``WriteFailed``, "nothing was written"). When the read-back cannot reach
  the server either, or for writes without a receipt, ``WriteFailed`` says
  that the outcome is unknown and how to find out. (A server configured with
  ``synchronous_commit = off`` may forget a commit it acknowledged if it
  crashes: keep it on for a shared cache.)
- **LISTEN/NOTIFY.** Every write that advances a head notifies the store's
  channel (``sofrito.<schema>``) with a small JSON payload, the runtime id
  and its new head, delivered when the transaction commits. ``listen()``
  hands a watching process an iterator of those (``CommitListener``), a cue
  to re-read the head; it never carries data.
- **A versioned schema, upgraded explicitly** (``_postgres_schema``): a new
  database or schema gets its tables on first use; an older one is refused
  with the command to run (``sofrito store upgrade URL``, or
  ``upgrade_schema``), a newer one with both versions.
- **Errors name the server, never the password**: ``location`` is the DSN
  with its password left out.

psycopg is imported by this module only; ``import sofrito.stores`` does not
import it (``sofrito.stores.__getattr__``).
"""

from __future__ import annotations

import collections
import contextlib
import json
import operator
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from sofrito.stores import _postgres_tables as tables
from sofrito.stores import receipt as receipts
from sofrito.stores._checks import (
    check_base,
    check_drop,
    check_foreign_receipt,
    check_opened_at,
)
from sofrito.stores._postgres_schema import SCHEMA_VERSION, prepare, upgrade
from sofrito.stores._sqlite_rows import Header, Malformed, read_receipt
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

__all__ = ["SCHEMA_VERSION", "CommitListener", "Committed", "PostgresStore", "upgrade_schema"]

T = TypeVar("T")
Conn = psycopg.Connection[Any]
Action = Literal["read", "write"]

_COLD = 'open the runtime with on_corrupt="cold" to drop its cached state'
_PAYLOAD_LIMIT = 7900  # NOTIFY payloads must stay under 8000 bytes


class _CommitUnknown(Exception):
    """The connection was lost while ``COMMIT`` was in flight."""


class PostgresStore:
    """A store in a PostgreSQL database, shared by every process that opens it.

    ``dsn`` is a libpq connection string or URL (``postgresql://user@host/db``),
    passed to psycopg unchanged. ``schema`` puts the store's tables in that
    PostgreSQL schema (created if missing), so that one database can hold
    several stores; without it, the DSN's ``search_path`` decides.

    The pool holds ``min_size`` to ``max_size`` connections; ``connect_timeout``
    bounds the wait for one; ``max_lifetime`` and ``max_idle`` (seconds) bound
    how long one is kept. ``retries`` and ``backoff`` shape the retries of what
    is safe to retry (the module docstring says what is).
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 4,
        connect_timeout: float = 10.0,
        max_lifetime: float = 1800.0,
        max_idle: float = 300.0,
        retries: int = 3,
        backoff: float = 0.1,
    ) -> None:
        if not 0 < min_size <= max_size:
            raise ValueError(f"need 0 < min_size <= max_size, not {min_size} and {max_size}")
        if retries < 0 or backoff < 0 or connect_timeout <= 0:
            raise ValueError("retries and backoff must be >= 0, and connect_timeout > 0")
        self._dsn = dsn
        self._schema = schema
        self._location = _describe(dsn, schema)
        self._connect_timeout = float(connect_timeout)
        self._retries = retries
        self._backoff = float(backoff)
        self._closed = False
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Conn] = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            open=False,
            configure=self._configure,
            check=ConnectionPool.check_connection,
            timeout=self._connect_timeout,
            max_lifetime=max_lifetime,
            max_idle=max_idle,
            name=f"sofrito {self._location}",
        )
        try:
            self._pool.open(wait=True, timeout=self._connect_timeout)
        except PoolTimeout:
            self._pool.close()
            raise StoreError(
                f"cannot connect to PostgreSQL at {self._location} within "
                f"{self._connect_timeout:g} s; check that the server runs and the URL, user "
                "and password are right (psql with the same URL tells why)"
            ) from None
        weakref.finalize(self, self._pool.close)
        try:
            self._channel = self._prepare()
        except BaseException:
            self.close()
            raise

    @property
    def location(self) -> str:
        return self._location

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel this store's commits are announced on."""
        return self._channel

    # -- connections ------------------------------------------------------------------------

    def _configure(self, conn: Conn) -> None:
        """A new pooled connection: autocommit (each method says BEGIN and COMMIT
        itself), the schema, and the temporary tables that COPY fills."""
        conn.autocommit = True
        if self._schema is not None:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema)))
        for statement in tables.TEMP_TABLES:
            conn.execute(statement)

    def _prepare(self) -> str:
        """Create or check the schema; return the channel name."""

        def work(conn: Conn) -> str:
            if self._schema is not None:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema))
                )
            (schema,) = conn.execute("SELECT current_schema()").fetchone() or (None,)
            if schema is None:
                raise StoreError(
                    f"{self._location}: the search_path names no schema that exists; create "
                    "it, or pass PostgresStore(..., schema=NAME)"
                )
            prepare(conn, self._location)
            return _channel_name(str(schema))

        return self._attempts(None, "read", lambda: self._plain(work))

    def _plain(self, work: Callable[[Conn], T]) -> T:
        if self._closed:
            raise StoreError(f"{self._location}: the store is closed")
        with self._pool.connection() as conn:
            return work(conn)

    def _attempts(self, runtime_id: str | None, action: Action, attempt: Callable[[], T]) -> T:
        """Run ``attempt``, again after a lost connection, with backoff; translate errors.

        Only failures that prove nothing was committed come back here to be retried
        (``psycopg.OperationalError`` before COMMIT); ``_CommitUnknown`` is the caller's."""
        delay = self._backoff
        for tries in range(self._retries + 1):
            try:
                return attempt()
            except psycopg.OperationalError as exc:
                if tries == self._retries or self._closed:
                    raise self._unreachable(exc, action, runtime_id, tries + 1) from None
            except Malformed as exc:
                raise self._corrupt(runtime_id, exc, action) from None
            except psycopg.Error as exc:
                raise self._failed(exc, action, runtime_id) from None
            time.sleep(delay * (1 + random.random()))  # jitter: writers retrying together spread
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(self, runtime_id: str, work: Callable[[Conn], T]) -> T:
        """One read-only REPEATABLE READ transaction: every statement sees one snapshot,
        so a head checked first is the head of every row read after it."""

        def attempt() -> T:
            with self._checked_out() as conn:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    result = work(conn)
                finally:
                    _rollback(conn)  # read only: nothing to commit
                return result

        return self._attempts(runtime_id, "read", attempt)

    def _write(
        self,
        runtime_id: str,
        work: Callable[[Conn], T],
        *,
        notify: bool = True,
    ) -> T:
        """One READ COMMITTED write transaction (the header row's lock orders writers).

        Raises ``_CommitUnknown`` (carrying the work's result) if the connection was
        lost during COMMIT; every other loss happened before it and is retried."""

        def attempt() -> T:
            with self._checked_out() as conn:
                tables.ensure_header(conn, runtime_id)
                conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                try:
                    result = work(conn)
                    if notify:
                        self._notify(conn, runtime_id)
                except BaseException:
                    _rollback(conn)
                    raise
                try:
                    conn.execute("COMMIT")
                except psycopg.OperationalError as exc:
                    raise _CommitUnknown(result, exc) from None
                return result

        return self._attempts(runtime_id, "write", attempt)

    @contextlib.contextmanager
    def _checked_out(self) -> Iterator[Conn]:
        if self._closed:
            raise StoreError(f"{self._location}: the store is closed")
        with self._pool.connection() as conn:
            yield conn

    def _notify(self, conn: Conn, runtime_id: str) -> None:
        head = tables.current_head(conn, runtime_id)
        payload = json.dumps({"runtime_id": runtime_id, "head": head})
        if len(payload.encode()) > _PAYLOAD_LIMIT:  # a huge runtime id: say "some runtime"
            payload = json.dumps({"runtime_id": None, "head": head})
        conn.execute("SELECT pg_notify(%s, %s)", (self._channel, payload))

    # -- errors ---------------------------------------------------------------------------

    def _whose(self, runtime_id: str | None) -> str:
        return f" (runtime {runtime_id!r})" if runtime_id else ""

    def _unreachable(
        self, exc: Exception, action: Action, runtime_id: str | None, tries: int
    ) -> StoreError:
        failed = ReadFailed if action == "read" else WriteFailed
        return failed(
            f"lost the connection to PostgreSQL at {self._location} and could not get it "
            f"back to {action}{self._whose(runtime_id)} after {tries} tries "
            f"({_first_line(exc)}); nothing was written. Check the server, then run again"
        )

    def _failed(self, exc: psycopg.Error, action: Action, runtime_id: str | None) -> StoreError:
        failed = ReadFailed if action == "read" else WriteFailed
        return failed(
            f"{self._location}: could not {action}{self._whose(runtime_id)}: "
            f"{_first_line(exc)}; nothing was written"
        )

    def _corrupt(self, runtime_id: str | None, exc: Malformed, action: Action) -> CorruptSnapshot:
        whose = f" of runtime {runtime_id!r}" if runtime_id else ""
        written = "; nothing was written" if action == "write" else ""
        return CorruptSnapshot(f"{self._location}: {exc.what}{whose} {exc.why}{written}; {_COLD}")

    def _unknown(self, runtime_id: str, what: str, cause: BaseException) -> WriteFailed:
        return WriteFailed(
            f"lost the connection to PostgreSQL at {self._location} while committing {what} "
            f"of runtime {runtime_id!r} ({_first_line(cause)}); whether it was committed is "
            "unknown, and it was not sent again. Open the runtime again once the server is "
            "back: its head and receipts (sofrito receipts) show whether it landed"
        )

    # -- boundaries -----------------------------------------------------------------------

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
        def work(conn: Conn) -> Receipt:
            header = self._advance(conn, runtime_id, base_head)
            receipt = receipts.mint(
                runtime_id, run_id, header.sequence + 1, boundary, contributing_inputs, snapshot
            )
            tables.apply_boundary(conn, runtime_id, header, snapshot, receipt, input_updates)
            return receipt

        try:
            return self._write(runtime_id, work)
        except _CommitUnknown as unknown:
            minted, cause = unknown.args
            return self._read_back(runtime_id, minted, cause)

    def _read_back(self, runtime_id: str, minted: Receipt, cause: BaseException) -> Receipt:
        """Did the commit whose COMMIT was lost land? Its receipt says (module docstring)."""

        def work(conn: Conn) -> Receipt | None:
            conn.execute("BEGIN")
            try:
                conn.execute(
                    "SELECT 1 FROM runtimes WHERE runtime_id = %s FOR SHARE", (runtime_id,)
                )
                row = conn.execute(
                    "SELECT sequence, run_id, boundary, contributing, digest, sum FROM receipts "
                    "WHERE runtime_id = %s AND sequence = %s",
                    (runtime_id, minted.sequence),
                ).fetchone()
            finally:
                _rollback(conn)
            if row is None:
                return None
            return read_receipt(runtime_id, row)

        try:
            found = self._attempts(runtime_id, "read", lambda: self._plain(work))
        except StoreError:
            raise self._unknown(runtime_id, f"boundary {minted.sequence}", cause) from None
        if found == minted:
            return minted
        raise WriteFailed(
            f"lost the connection to PostgreSQL at {self._location} while committing boundary "
            f"{minted.sequence} of runtime {runtime_id!r} ({_first_line(cause)}); read back "
            "after reconnecting, it was not committed: nothing was written. Run again"
        )

    def _advance(self, conn: Conn, runtime_id: str, base_head: int | None) -> Header:
        """The compare-and-swap; the checked header as it was before this write."""
        advanced = tables.advance_head(conn, runtime_id, base_head)
        if advanced is None:
            check_base(self._location, runtime_id, base_head, tables.current_head(conn, runtime_id))
            raise AssertionError("the head moved without a base")  # pragma: no cover
        row, _ = advanced
        return tables.checked_header(runtime_id, row)

    def atomic_apply(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        receipt: Receipt,
        input_updates: Sequence[InputState],
    ) -> None:
        def work(conn: Conn) -> None:
            header = self._advance(conn, runtime_id, None)
            check_foreign_receipt(self._location, runtime_id, receipt, snapshot, header.sequence)
            tables.apply_boundary(conn, runtime_id, header, snapshot, receipt, input_updates)

        self._write_once(runtime_id, work, f"receipt {receipt.sequence}")

    def _write_once(self, runtime_id: str, work: Callable[[Conn], T], what: str) -> T:
        try:
            return self._write(runtime_id, work)
        except _CommitUnknown as unknown:
            raise self._unknown(runtime_id, what, unknown.args[1]) from None

    # -- loads --------------------------------------------------------------------------------

    def load_snapshot(self, runtime_id: str) -> StoredSnapshot | None:
        def work(conn: Conn) -> StoredSnapshot | None:
            header = tables.read_header(conn, runtime_id)
            if header is None or header.meta is None:
                for table, what in (("memos", "the memo rows"), ("edges", "the reverse edges")):
                    if _has_rows(conn, table, runtime_id):
                        raise Malformed(what, "exist without a snapshot header (damaged)")
                return None
            rows = tables.read_memos(conn, runtime_id, header.memo_seal)
            tables.check_edges(conn, runtime_id, header.edge_seal)
            return StoredSnapshot(header.revision, header.meta, rows)

        return self._read(runtime_id, work)

    def load_input_states(self, runtime_id: str) -> list[InputState]:
        def work(conn: Conn) -> list[InputState]:
            header = tables.read_header(conn, runtime_id) or Header()
            return tables.read_all_inputs(conn, runtime_id, header.input_seal)

        return self._read(runtime_id, work)

    def load_input_state(self, runtime_id: str, input_id: str) -> InputState | None:
        return self._read(
            runtime_id, lambda conn: tables.read_one_input(conn, runtime_id, input_id)
        )

    def load_receipts(self, runtime_id: str) -> list[Receipt]:
        def work(conn: Conn) -> list[Receipt]:
            last = (tables.read_header(conn, runtime_id) or Header()).sequence
            return tables.read_receipts(conn, runtime_id, last)

        return self._read(runtime_id, work)

    def load_receipt(self, runtime_id: str, run_id: str, sequence: int) -> Receipt | None:
        wanted = operator.index(sequence)

        def work(conn: Conn) -> Receipt | None:
            row = conn.execute(
                "SELECT sequence, run_id, boundary, contributing, digest, sum FROM receipts "
                "WHERE runtime_id = %s AND sequence = %s",
                (runtime_id, wanted),
            ).fetchone()
            if row is None:
                last = (tables.read_header(conn, runtime_id) or Header()).sequence
                if 1 <= wanted <= last:
                    raise Malformed(f"receipt {wanted}", f"is missing below {last} (damaged)")
                return None
            found = read_receipt(runtime_id, row)
            return found if found.run_id == run_id else None

        return self._read(runtime_id, work)

    # -- on demand ------------------------------------------------------------------------------

    def load_header(self, runtime_id: str) -> SnapshotHeader | None:
        def work(conn: Conn) -> SnapshotHeader | None:
            header = tables.read_header(conn, runtime_id)
            if header is None:
                return None
            return SnapshotHeader(
                header.revision, header.meta, header.head, header.sequence, header.state
            )

        return self._read(runtime_id, work)

    def _opened(self, runtime_id: str, head: int, work: Callable[[Conn], T]) -> T:
        """A read of the boundary opened at ``head``, or ``StaleRead``."""

        def checked(conn: Conn) -> T:
            current = tables.current_head(conn, runtime_id)
            check_opened_at(self._location, runtime_id, head, current)
            return work(conn)

        return self._read(runtime_id, checked)

    def load_memo_rows(
        self, runtime_id: str, memo_ids: Iterable[bytes], *, head: int
    ) -> dict[bytes, bytes]:
        ids = list(dict.fromkeys(memo_ids))
        return self._opened(
            runtime_id, head, lambda conn: tables.read_memo_rows(conn, runtime_id, ids)
        )

    def load_input_rows(
        self, runtime_id: str, input_ids: Iterable[str], *, head: int
    ) -> dict[str, InputState]:
        ids = list(dict.fromkeys(input_ids))
        return self._opened(
            runtime_id, head, lambda conn: tables.read_input_rows(conn, runtime_id, ids)
        )

    def load_family(self, runtime_id: str, kind: str, *, head: int) -> list[InputState]:
        return self._opened(
            runtime_id, head, lambda conn: tables.read_family(conn, runtime_id, kind)
        )

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

        def work(conn: Conn) -> list[tuple[bytes, bytes]]:
            found = seeds
            if prefixes:
                by_prefix = tables.read_deps_by_prefix(conn, runtime_id, prefixes)
                found = list(dict.fromkeys([*seeds, *by_prefix]))
            return tables.read_reader_closure(conn, runtime_id, found) if found else []

        return self._opened(runtime_id, head, work)

    def load_readers(
        self, runtime_id: str, node_ids: Iterable[bytes], *, head: int
    ) -> list[tuple[bytes, bytes]]:
        nodes = list(dict.fromkeys(node_ids))
        if not nodes:
            return []
        return self._opened(
            runtime_id, head, lambda conn: tables.read_readers(conn, runtime_id, nodes)
        )

    def load_inputs_changed_after(
        self, runtime_id: str, revision: int, *, head: int
    ) -> list[InputState]:
        return self._opened(
            runtime_id,
            head,
            lambda conn: tables.read_inputs_changed_after(conn, runtime_id, revision),
        )

    # -- traces: rows of no runtime, insert-only ---------------------------------------------

    def publish_traces(self, traces: Iterable[tuple[bytes, bytes, bytes]]) -> None:
        """Insert, on conflict do nothing. Idempotent, so unlike a boundary it is
        sent again even when a connection was lost during COMMIT: a second
        attempt of one that landed inserts nothing."""
        rows = [(bytes(lookup), bytes(trace_id), bytes(row)) for lookup, trace_id, row in traces]
        if not rows:
            if self._closed:
                raise StoreError(f"{self._location}: the store is closed")
            return

        def attempt() -> None:
            with self._checked_out() as conn:
                conn.execute("BEGIN")
                try:
                    tables.publish_traces(conn, rows)
                except BaseException:
                    _rollback(conn)
                    raise
                conn.execute("COMMIT")

        self._attempts(None, "write", attempt)

    def load_traces(self, lookup: bytes) -> list[bytes]:
        def attempt() -> list[bytes]:
            with self._checked_out() as conn:
                return tables.read_traces(conn, bytes(lookup))

        return self._attempts(None, "read", attempt)

    def load_trace_rows(self, lookups: Sequence[bytes]) -> dict[bytes, list[bytes]]:
        wanted = list(dict.fromkeys(bytes(lookup) for lookup in lookups))

        def attempt() -> dict[bytes, list[bytes]]:
            with self._checked_out() as conn:
                return tables.read_trace_rows(conn, wanted)

        return self._attempts(None, "read", attempt)

    # -- input states and lifecycle -------------------------------------------------------

    def persist_input_state(
        self, runtime_id: str, state: InputState, *, base_head: int | None = None
    ) -> None:
        def work(conn: Conn) -> None:
            header = self._advance(conn, runtime_id, base_head)
            seal = tables.write_inputs(conn, runtime_id, header.input_seal, [state])
            tables.write_header(conn, runtime_id, replace(header.advanced(), input_seal=seal))

        self._write_once(runtime_id, work, f"input state {state.input_id!r}")

    def load_head(self, runtime_id: str) -> int:
        return self._read(runtime_id, lambda conn: tables.current_head(conn, runtime_id))

    def persist_runtime_state(self, runtime_id: str, state: RuntimeState) -> None:
        def work(conn: Conn) -> None:
            header = tables.lock_header(conn, runtime_id)
            tables.write_header(conn, runtime_id, replace(header, state=RuntimeState(state)))

        self._write_once_label(runtime_id, work)

    def _write_once_label(self, runtime_id: str, work: Callable[[Conn], None]) -> None:
        """A label (no head change, no notification): writing it twice is harmless."""
        try:
            self._write(runtime_id, work, notify=False)
        except _CommitUnknown as unknown:
            raise self._unknown(runtime_id, "the lifecycle label", unknown.args[1]) from None

    def load_runtime_state(self, runtime_id: str) -> RuntimeState | None:
        def work(conn: Conn) -> RuntimeState | None:
            header = tables.read_header(conn, runtime_id)
            return None if header is None else header.state

        return self._read(runtime_id, work)

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

        def work(conn: Conn) -> None:
            header = self._header_before_drop(conn, runtime_id, base_head, drop)
            if drop != "nothing":
                tables.drop_rows(conn, runtime_id, receipts=drop == "everything")
            header = header.advanced()
            seal = tables.write_inputs(conn, runtime_id, header.input_seal, input_states)
            state = RuntimeState(runtime_state)
            tables.write_header(conn, runtime_id, replace(header, state=state, input_seal=seal))

        self._write_once(runtime_id, work, "the lifecycle change")

    def _header_before_drop(
        self, conn: Conn, runtime_id: str, base_head: int | None, drop: Drop
    ) -> Header:
        """As ``_sqlite_tables.header_before_drop``: a reset or destroy works on a
        damaged header (it is how a runtime recovers), keeping the receipt count
        and the head."""
        advanced = tables.advance_head(conn, runtime_id, base_head)
        if advanced is None:
            check_base(self._location, runtime_id, base_head, tables.current_head(conn, runtime_id))
            raise AssertionError("the head moved without a base")  # pragma: no cover
        row, head = advanced
        if drop == "nothing":
            return tables.checked_header(runtime_id, row)
        try:
            header = tables.checked_header(runtime_id, row)
        except Malformed:
            header = tables.salvaged(conn, runtime_id, head)
        if drop == "everything":
            return Header(head=header.head)
        return header.without_cache()

    # -- watching -------------------------------------------------------------------------------

    def listen(self, runtime_id: str | None = None) -> CommitListener:
        """Start listening for commits (of ``runtime_id``, or of every runtime).

        Listening starts before this returns, so read the head *after* calling it
        and no commit falls in between. The listener has its own connection (a
        pooled one would be reset under it); close it, or use it as a context
        manager."""
        if self._closed:
            raise StoreError(f"{self._location}: the store is closed")
        return CommitListener(self._dsn, self._channel, runtime_id, self._location)

    # -- housekeeping -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pool; later calls raise ``StoreError``. Safe to call twice."""
        with self._lock:
            self._closed = True
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self._location!r})"


@dataclass(frozen=True, slots=True)
class Committed:
    """A commit another process announced: ``runtime_id`` (None: a runtime whose id
    was too long to send) and its new ``head``. A cue to re-read, never data."""

    runtime_id: str | None
    head: int


class CommitListener:
    """The commits announced on a store's channel, from ``PostgresStore.listen``.

    ``wait(timeout)`` returns the next ``Committed`` (or None once ``timeout``
    seconds pass); iterating yields them as they come, blocking. Notifications
    sent while this listener was not connected are gone: after ``ReadFailed``
    (the connection was lost), listen again and re-read the head.
    """

    def __init__(self, dsn: str, channel: str, runtime_id: str | None, location: str) -> None:
        self._runtime_id = runtime_id
        self._location = location
        self._pending: collections.deque[Committed] = collections.deque()
        try:
            self._conn: Conn = psycopg.connect(dsn, autocommit=True)
            self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except psycopg.Error as exc:
            raise ReadFailed(
                f"cannot listen for commits at {location}: {_first_line(exc)}"
            ) from None

    def wait(self, timeout: float | None = None) -> Committed | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                # stop_after=1 may still hand over several: one packet can carry many
                notices = list(self._conn.notifies(timeout=left, stop_after=1))
            except psycopg.Error as exc:
                raise ReadFailed(
                    f"stopped listening for commits at {self._location}: {_first_line(exc)}; "
                    "listen again and re-read the head (commits meanwhile were not announced)"
                ) from None
            for notice in notices:
                committed = _parse(notice.payload)
                if committed is not None and self._wanted(committed):
                    self._pending.append(committed)
            if not self._pending and deadline is not None and time.monotonic() >= deadline:
                return None
        return self._pending.popleft()

    def _wanted(self, committed: Committed) -> bool:
        return self._runtime_id is None or committed.runtime_id in (None, self._runtime_id)

    def __iter__(self) -> Iterator[Committed]:
        while True:
            committed = self.wait()
            if committed is not None:
                yield committed

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> CommitListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def upgrade_schema(dsn: str, *, schema: str | None = None) -> tuple[int | None, int]:
    """Bring the store schema at ``dsn`` to this sofrito's version (``sofrito store
    upgrade URL``); return the version found (None: there was no store, it was
    created) and the version now. Needs a role that may create and alter tables."""
    location = _describe(dsn, schema)
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            if schema is not None:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
                conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            return upgrade(conn, location)
    except psycopg.Error as exc:
        raise WriteFailed(
            f"could not upgrade the store schema at {location}: {_first_line(exc)}; nothing "
            "was changed"
        ) from None


PostgresStore.__module__ = "sofrito.stores"
Committed.__module__ = "sofrito.stores"
CommitListener.__module__ = "sofrito.stores"


def _describe(dsn: str, schema: str | None) -> str:
    """The DSN as messages show it: user, host, port, database, schema; no password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.Error:
        raise ValueError(
            "PostgresStore: the DSN is not a PostgreSQL URL or connection string "
            "(postgresql://USER@HOST:PORT/DATABASE); it is not shown, as it may hold a password"
        ) from None
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or parts.get("hostaddr") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    shown = f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"
    return f"{shown} (schema {schema})" if schema else shown


def _channel_name(schema: str) -> str:
    """``sofrito.<schema>``, within PostgreSQL's 63-byte identifiers."""
    name = f"sofrito.{schema}"
    return name if len(name.encode()) <= 63 else name.encode()[:63].decode(errors="ignore")


def _parse(payload: str) -> Committed | None:
    try:
        data = json.loads(payload)
        runtime_id, head = data["runtime_id"], data["head"]
    except (ValueError, KeyError, TypeError):
        return None  # not ours: someone else notified the channel
    if (runtime_id is None or type(runtime_id) is str) and type(head) is int:
        return Committed(runtime_id, head)
    return None


def _has_rows(conn: Conn, table: str, runtime_id: str) -> bool:
    query = f"SELECT 1 FROM {table} WHERE runtime_id = %s LIMIT 1"
    return conn.execute(query, (runtime_id,)).fetchone() is not None


def _rollback(conn: Conn) -> None:
    """Roll back if a transaction is open; a broken connection has none left to end."""
    if conn.closed:
        return
    with contextlib.suppress(psycopg.Error):
        conn.execute("ROLLBACK")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
