"""SqliteStore: the contract, plus what only a file has: schema, damage, locks, processes."""

from __future__ import annotations

import gc
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sofrito.stores import (
    Conflict,
    CorruptSnapshot,
    InputState,
    InputStatus,
    MemoryStore,
    RuntimeState,
    RuntimeStore,
    SchemaMismatch,
    SnapshotDelta,
    SnapshotHeader,
    SqliteStore,
    StaleRead,
    StoreError,
    WriteFailed,
    _encoding,
    compute_digest,
    reader_node,
)
from sofrito.stores._integrity import (
    EMPTY_SEAL,
    checksum,
    edge_checksummer,
    fold,
    group_checksummers,
)
from sofrito.stores._sqlite_edges import pack_ids, unpack_ids
from sofrito.stores._sqlite_rows import read_header, write_header
from sofrito.stores.sqlite import SCHEMA_VERSION
from tests.stores.contract import (
    Damage,
    DurableStoreContract,
    Reopen,
    delta,
    foreign_receipt,
    graph,
    node,
    state,
)

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CHILD_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


class TestSqliteStore(DurableStoreContract):
    @pytest.fixture
    def db(self, tmp_path: Path) -> Path:
        return tmp_path / "cache" / "store.db"

    @pytest.fixture
    def store(self, db: Path) -> Iterator[RuntimeStore]:
        with SqliteStore(db) as store:
            yield store

    @pytest.fixture
    def reopen(self, db: Path) -> Reopen:
        return lambda: SqliteStore(db)

    @pytest.fixture
    def damage(self, db: Path) -> Damage:
        def damage(runtime_id: str, memo_id: bytes) -> None:
            where = "WHERE runtime_id = ? AND memo_id = ?"
            with closing(sqlite3.connect(db)) as conn, conn:
                (row,) = conn.execute(f"SELECT row FROM memos {where}", (runtime_id, memo_id))
                flipped = bytes([row[0][0] ^ 0x01]) + row[0][1:]  # still bytes, one bit off
                conn.execute(f"UPDATE memos SET row = ? {where}", (flipped, runtime_id, memo_id))

        return damage


def test_store_satisfies_the_protocol_statically(tmp_path: Path) -> None:
    store: RuntimeStore = SqliteStore(tmp_path / "s.db")  # mypy checks this line
    assert store.location == str(tmp_path / "s.db")
    store.close()


def test_the_file_and_its_directory_are_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "cache.db"
    with SqliteStore(path) as store:
        store.commit_boundary("rt", delta(1), "r", "c", [], [])
        assert repr(store) == f"SqliteStore({str(path)!r})"
    assert path.is_file()
    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT version FROM sofrito_schema").fetchall() == [(SCHEMA_VERSION,)]


def test_a_folder_that_cannot_be_created_is_a_store_error_naming_the_path(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    path = blocker / "cache" / "store.db"
    with pytest.raises(StoreError, match="cannot create the store's folder") as caught:
        SqliteStore(path)
    assert str(path) in str(caught.value)
    assert str(blocker / "cache") in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__  # sofrito says it; no OSError chained above


def test_a_folder_in_place_of_the_file_is_a_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.mkdir()
    with pytest.raises(WriteFailed, match=rf"{path}: could not open") as caught:
        SqliteStore(path)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_negative_busy_timeout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="busy_timeout must be >= 0"):
        SqliteStore(tmp_path / "s.db", busy_timeout=-1)


# -- schema versions ---------------------------------------------------------------------


def test_a_newer_schema_is_refused_naming_the_file_and_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE sofrito_schema SET version = 99")
    with pytest.raises(SchemaMismatch) as caught:
        SqliteStore(path)
    assert str(path) in str(caught.value)
    assert f"newer sofrito (store schema 99; this sofrito knows {SCHEMA_VERSION})" in str(
        caught.value
    )
    assert not isinstance(caught.value, CorruptSnapshot)
    assert (caught.value.found, caught.value.expected, caught.value.older) == (
        99,
        SCHEMA_VERSION,
        False,
    )
    assert caught.value.location == str(path)


def test_a_nonsense_schema_version_is_damage(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE sofrito_schema SET version = 'two'")
    store = SqliteStore(path)
    with pytest.raises(CorruptSnapshot, match="the schema version is"):
        store.load_snapshot("rt")
    store.close()


def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE customers (name TEXT)")
        conn.execute("INSERT INTO customers VALUES ('ada')")
    with pytest.raises(StoreError, match=r"database of something else \(tables: customers\)"):
        SqliteStore(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == [("customers",)]


def test_a_store_whose_version_table_name_was_damaged_is_damage_not_foreign(
    tmp_path: Path,
) -> None:
    """A flipped bit in ``sofrito_schema``'s name leaves every other sofrito table:
    that file is a damaged store (recover() may move it), not someone else's."""
    path = tmp_path / "s.db"
    _populate(path)
    data = path.read_bytes()
    assert data.count(b"sofrito_schema") >= 1
    path.write_bytes(data.replace(b"sofrito_schema", b"sofrito_scHema"))
    store = SqliteStore(path)  # does not raise: every call reports the damage
    with pytest.raises(CorruptSnapshot, match="schema version table is missing beside"):
        store.load_snapshot("alpha")
    moved = store.recover()
    assert moved is not None
    assert store.load_snapshot("alpha") is None
    store.close()


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.touch()
    with SqliteStore(path) as store:
        assert store.commit_boundary("rt", delta(1), "r", "c", [], []).sequence == 1


_V1_TABLES = """
CREATE TABLE sofrito_schema (version INTEGER NOT NULL);
CREATE TABLE runtimes (runtime_id TEXT PRIMARY KEY, state TEXT,
    revision INTEGER NOT NULL DEFAULT 0, meta BLOB, meta_sum BLOB,
    sequence INTEGER NOT NULL DEFAULT 0);
CREATE TABLE memos (runtime_id TEXT NOT NULL, memo_id BLOB NOT NULL, row BLOB NOT NULL,
    sum BLOB NOT NULL, PRIMARY KEY (runtime_id, memo_id)) WITHOUT ROWID;
CREATE TABLE inputs (runtime_id TEXT NOT NULL, input_id TEXT NOT NULL, kind TEXT NOT NULL,
    key BLOB NOT NULL, value BLOB NOT NULL, durability INTEGER NOT NULL,
    changed_at INTEGER NOT NULL, status TEXT NOT NULL, sum BLOB NOT NULL,
    PRIMARY KEY (runtime_id, input_id)) WITHOUT ROWID;
CREATE TABLE receipts (runtime_id TEXT NOT NULL, sequence INTEGER NOT NULL,
    run_id TEXT NOT NULL, boundary TEXT NOT NULL, contributing BLOB NOT NULL,
    digest TEXT NOT NULL, PRIMARY KEY (runtime_id, sequence)) WITHOUT ROWID;
INSERT INTO sofrito_schema VALUES (1);
"""


def _write_v1_store(path: Path, snapshot: SnapshotDelta, meta_sum: bytes | None = None) -> str:
    """A store as sofrito's schema 1 wrote it: runtime 'rt' with one boundary, and
    runtime 'inputs-only' with one input state and no header row."""
    digest = compute_digest("rt", "run", 1, "commit", ["src:a"], snapshot)
    a = state("src:a")
    fields = (a.input_id, a.kind, a.key, a.value, a.durability, a.changed_at, a.status.value)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(_V1_TABLES)
        conn.execute(
            "INSERT INTO runtimes VALUES ('rt', 'idle', ?, ?, ?, 1)",
            (
                snapshot.revision,
                snapshot.meta,
                meta_sum or checksum("rt", snapshot.revision, snapshot.meta),
            ),
        )
        for memo_id, row in snapshot.upserts.items():
            conn.execute(
                "INSERT INTO memos VALUES ('rt', ?, ?, ?)",
                (memo_id, row, checksum("rt", memo_id, row)),
            )
        for runtime_id in ("rt", "inputs-only"):
            conn.execute(
                "INSERT INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (runtime_id, *fields, checksum(runtime_id, *fields)),
            )
        conn.execute(
            "INSERT INTO receipts VALUES ('rt', 1, 'run', 'commit', ?, ?)",
            (_encoding.encode(("src:a",)), digest),
        )
    return digest


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    snapshot = delta(4, a=b"A", b=b"B")
    digest = _write_v1_store(path, snapshot)
    with SqliteStore(path) as store:
        # the memo rows go on the way to schema 4 (they have no edges), with the
        # snapshot that describes them; the rest stays
        assert store.load_snapshot("rt") is None
        assert _no_snapshot(store.load_header("rt"))
        (receipt,) = store.load_receipts("rt")
        assert receipt.digest == digest
        assert receipt.verify(snapshot)
        assert store.load_runtime_state("rt") is RuntimeState.IDLE
        assert store.load_input_states("rt") == [state("src:a")]
        assert store.load_input_states("inputs-only") == [state("src:a")]
        assert store.commit_boundary("rt", delta(5), "run", "c", [], []).sequence == 2
    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("SELECT version FROM sofrito_schema").fetchall() == [(SCHEMA_VERSION,)]


def test_a_damaged_version_1_store_is_not_upgraded_into_a_clean_one(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _write_v1_store(path, delta(4, a=b"A"), meta_sum=b"\x00" * 16)
    store = SqliteStore(path)
    with pytest.raises(CorruptSnapshot, match="version 1 header of runtime 'rt' fails"):
        store.load_snapshot("rt")
    assert store.recover() is not None
    assert store.load_snapshot("rt") is None
    store.close()


def _no_snapshot(header: SnapshotHeader | None) -> bool:
    """An upgrade that drops the memo rows drops the snapshot that describes them:
    its ``meta`` said which rows exist, and what trusts it would pass them unread
    (tests/test_persistence.py, the upgrade's own test)."""
    return header is not None and (header.revision, header.meta) == (0, None)


def _make_version_3(path: Path) -> None:
    """Turn a store into what schema 3 wrote: no edges, no family index, no edge
    seal, headers checksummed without it (computed here the way schema 3 did)."""
    with closing(sqlite3.connect(path)) as conn, conn:
        rows = conn.execute(
            "SELECT runtime_id, state, revision, meta, sequence, memo_seal, input_seal, head "
            "FROM runtimes"
        ).fetchall()
        for runtime_id, *fields, head in rows:
            extra = (head,) if head else ()
            conn.execute(
                "UPDATE runtimes SET sum = ? WHERE runtime_id = ?",
                (checksum("sofrito.header", runtime_id, *fields, *extra), runtime_id),
            )
        conn.execute("DROP TABLE readers")
        conn.execute("DROP TABLE deps")
        conn.execute("DROP INDEX inputs_by_kind")
        conn.execute("ALTER TABLE runtimes DROP COLUMN edge_seal")
        conn.execute("UPDATE sofrito_schema SET version = 3")


def _make_version_2(path: Path) -> None:
    """Turn a store into what schema 2 wrote: schema 3 without the head column,
    headers checksummed over their fields without it."""
    _make_version_3(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        rows = conn.execute(
            "SELECT runtime_id, state, revision, meta, sequence, memo_seal, input_seal "
            "FROM runtimes"
        ).fetchall()
        for runtime_id, *fields in rows:
            conn.execute(
                "UPDATE runtimes SET sum = ? WHERE runtime_id = ?",
                (checksum("sofrito.header", runtime_id, *fields), runtime_id),
            )
        conn.execute("ALTER TABLE runtimes DROP COLUMN head")
        conn.execute("UPDATE sofrito_schema SET version = 2")


def test_a_version_2_store_is_upgraded_in_place_with_its_heads_at_0(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    with SqliteStore(path) as store:
        receipt = store.commit_boundary("rt", delta(4, a=b"A"), "run", "c", [], [state("src:a")])
        store.persist_runtime_state("rt", RuntimeState.RETIRED)
        store.persist_input_state("no-memos", state("src:a"))
    _make_version_2(path)
    with SqliteStore(path) as store:
        assert store.load_snapshot("rt") is None  # memo rows and snapshot: see schema 4
        assert store.load_receipts("rt") == [receipt]
        assert store.load_input_states("rt") == [state("src:a")]
        assert store.load_runtime_state("rt") is RuntimeState.RETIRED
        assert store.load_head("rt") == 1  # 0, and one for the rows the upgrade dropped
        assert store.load_head("no-memos") == 0
        store.commit_boundary("rt", delta(5), "run", "c", [], [], base_head=1)
        assert store.load_head("rt") == 2
    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("SELECT version FROM sofrito_schema").fetchall() == [(SCHEMA_VERSION,)]
    with SqliteStore(path) as store:
        assert store.load_head("rt") == 2


def test_a_version_3_store_is_upgraded_without_its_memo_rows(tmp_path: Path) -> None:
    """The store cannot derive the edges of a memo row (rows are opaque to it), and a
    row without edges is a reader no write would find: the rows go, nothing else."""
    path = tmp_path / "v3.db"
    with SqliteStore(path) as store:
        first = store.commit_boundary("rt", delta(4, a=b"A", b=b"B"), "run", "c", [], [])
        second = store.commit_boundary("rt", delta(5), "run", "c", [], [state("src:a")])
        store.persist_input_state("inputs-only", state("src:b"))
        assert (store.load_head("rt"), store.load_head("inputs-only")) == (2, 1)
    _make_version_3(path)
    with SqliteStore(path) as store:
        assert store.load_snapshot("rt") is None
        assert _no_snapshot(store.load_header("rt"))
        assert store.load_receipts("rt") == [second, first]
        assert store.load_input_states("rt") == [state("src:a")]
        assert store.load_input_states("inputs-only") == [state("src:b")]
        # the head moved for the runtime that lost rows: a process of the older
        # sofrito that had it open (base 2) cannot add rows without edges
        assert (store.load_head("rt"), store.load_head("inputs-only")) == (3, 1)
        with pytest.raises(Conflict, match="based on head 2, the head is now 3"):
            store.commit_boundary("rt", delta(6, c=b"C"), "old", "c", [], [], base_head=2)
        store.commit_boundary(
            "rt", SnapshotDelta(6, b"m", {b"c": b"C"}, reads={b"c": [b"ix"]}), "new", "c", [], []
        )
        assert store.load_reader_closure("rt", [b"ix"], head=4) == [(b"ix", b"c")]
    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("SELECT version FROM sofrito_schema").fetchall() == [(SCHEMA_VERSION,)]


_V5_EDGES = """
CREATE TABLE edges (runtime_id TEXT NOT NULL, dep BLOB NOT NULL, reader BLOB NOT NULL,
    sum BLOB NOT NULL, PRIMARY KEY (runtime_id, dep, reader)) WITHOUT ROWID;
CREATE INDEX edges_by_reader ON edges (runtime_id, reader);
"""


def _make_version_5(path: Path) -> None:
    """Turn a store into what schema 5 wrote: a row per edge, keyed by the reader's
    node id, each with its checksum, and the reader index, where the groups are;
    each header's edge seal theirs."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(_V5_EDGES)
        groups = conn.execute("SELECT runtime_id, dep, readers FROM readers").fetchall()
        for runtime_id, dep, packed in groups:
            sums = edge_checksummer(runtime_id)
            for memo_id in unpack_ids(packed, "a test's group"):
                reader = b"q" + memo_id
                conn.execute(
                    "INSERT INTO edges VALUES (?, ?, ?, ?)",
                    (runtime_id, dep, reader, sums(reader, dep)),
                )
        for (runtime_id,) in conn.execute("SELECT runtime_id FROM runtimes").fetchall():
            header = read_header(conn, runtime_id)
            assert header is not None
            query = "SELECT sum FROM edges WHERE runtime_id = ?"
            seal = fold(EMPTY_SEAL, (row[0] for row in conn.execute(query, (runtime_id,))))
            write_header(conn, runtime_id, replace(header, edge_seal=seal))
        conn.execute("DROP TABLE readers")
        conn.execute("DROP TABLE deps")
        conn.execute("UPDATE sofrito_schema SET version = 5")


@pytest.mark.parametrize("version", [4, 5])
def test_a_version_4_or_5_store_is_upgraded_without_its_memo_rows_and_edges(
    tmp_path: Path, version: int
) -> None:
    """6 keeps the edges in groups. The old edge rows go with the memo rows (regrouped,
    a damaged edge would come out sealed as sound: docs/persistence.md, "Schema"),
    and nothing else; the head moves, so an older sofrito's process cannot write
    rows without edges into the new tables."""
    path = tmp_path / "v5.db"
    with SqliteStore(path) as store:
        first = store.commit_boundary(
            "rt", graph(4, a="i:x", b="a i:x"), "r", "c", ["src:a"], [state("src:a")]
        )
        store.commit_boundary("other", graph(1, c="i:y"), "r", "c", [], [])
    _make_version_5(path)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM edges").fetchone() == (4,)
    if version == 4:
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("DROP TABLE traces")
            conn.execute("UPDATE sofrito_schema SET version = 4")
    with SqliteStore(path) as store:
        assert store.load_snapshot("rt") is None  # no rows, and no snapshot describing any
        assert _no_snapshot(store.load_header("rt"))
        assert store.load_receipts("rt") == [first]
        assert store.load_input_states("rt") == [state("src:a")]
        assert (store.load_head("rt"), store.load_head("other")) == (2, 2)
        assert store.load_reader_closure("rt", [b"i:x"], head=2) == []
        with pytest.raises(Conflict, match="based on head 1, the head is now 2"):
            store.commit_boundary("rt", graph(5, c="i:x"), "old", "c", [], [], base_head=1)
        store.commit_boundary("rt", graph(5, c="i:x"), "new", "c", [], [], base_head=2)
        assert store.load_reader_closure("rt", [b"i:x"], head=3) == [(b"i:x", b"c")]
        assert store.load_snapshot("rt") is not None
        store.publish_traces([(b"L", b"t", b"row")])
        assert store.load_traces(b"L") == [b"row"]
    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("SELECT version FROM sofrito_schema").fetchall() == [(SCHEMA_VERSION,)]
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"readers", "deps"} <= names
        assert not names & {"edges", "edges_by_reader"}


_V6_TABLES = {
    "memos": "(runtime_id TEXT NOT NULL, memo_id BLOB NOT NULL, row BLOB NOT NULL, "
    "sum BLOB NOT NULL, PRIMARY KEY (runtime_id, memo_id)) WITHOUT ROWID",
    "traces": "(lookup BLOB NOT NULL, trace_id BLOB NOT NULL, row BLOB NOT NULL, "
    "PRIMARY KEY (lookup, trace_id)) WITHOUT ROWID",
}


def _make_version_6(path: Path) -> None:
    """Turn a store into what schema 6 wrote: ``memos`` and ``traces`` ``WITHOUT
    ROWID``, their rows as they were."""
    with closing(sqlite3.connect(path)) as conn, conn:
        for table, columns in _V6_TABLES.items():
            conn.execute(f"ALTER TABLE {table} RENAME TO {table}_new")
            conn.execute(f"CREATE TABLE {table} {columns}")
            conn.execute(f"INSERT INTO {table} SELECT * FROM {table}_new")
            conn.execute(f"DROP TABLE {table}_new")
        conn.execute("UPDATE sofrito_schema SET version = 6")


def _table_sql(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        return {name: sql.upper() for name, sql in rows}


def test_a_version_6_store_is_upgraded_keeping_every_row_as_it_was(tmp_path: Path) -> None:
    """7 makes the tables of values rowid tables (rows of a few KB spilled to
    overflow pages, mostly empty): the rows are copied byte for byte, so the
    seals, the edges, the traces and the head hold as they were, nothing recomputed."""
    path = tmp_path / "v6.db"
    big = bytes(range(256)) * 12  # 3 KB: an overflow page each in schema 6
    with SqliteStore(path) as store:
        first = store.commit_boundary(
            "rt", graph(4, a="i:x", b="a i:x"), "r", "c", ["src:a"], [state("src:a")]
        )
        store.commit_boundary("other", delta(2, c=big), "r", "c", [], [])
        store.publish_traces([(b"L", b"t1", big), (b"L", b"t2", b"small")])
        rows = store.load_snapshot("rt")
        assert rows is not None
    _make_version_6(path)
    assert "WITHOUT ROWID" in _table_sql(path)["memos"]
    with SqliteStore(path) as store:
        again = store.load_snapshot("rt")
        assert again is not None
        assert dict(again.rows) == dict(rows.rows)
        other = store.load_snapshot("other")
        assert other is not None
        assert dict(other.rows) == {b"c": big}
        assert store.load_receipts("rt") == [first]
        assert (store.load_head("rt"), store.load_head("other")) == (1, 1)  # nothing dropped
        assert store.load_reader_closure("rt", [b"i:x"], head=1) == [
            (b"i:x", b"a"),
            (b"i:x", b"b"),
            (node("a"), b"b"),
        ]
        assert store.load_memo_rows("rt", [b"a", b"zz"], head=1) == {b"a": b"row-a"}
        assert store.load_traces(b"L") == [big, b"small"]
        store.commit_boundary("rt", graph(5, c="a"), "new", "c", [], [], base_head=1)
        assert store.load_memo_rows("rt", [b"c"], head=2) == {b"c": b"row-c"}
    tables = _table_sql(path)
    assert "WITHOUT ROWID" not in tables["memos"]
    assert "WITHOUT ROWID" not in tables["traces"]
    assert "WITHOUT ROWID" in tables["inputs"]  # read as key ranges: kept (the schema's docstring)
    assert not {"memos_v6", "traces_v6"} & tables.keys()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT version FROM sofrito_schema").fetchall() == [(SCHEMA_VERSION,)]


def test_a_row_damaged_before_the_upgrade_to_7_is_still_detected(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    with SqliteStore(path) as store:
        store.commit_boundary("rt", delta(4, a=b"A", b=b"B"), "r", "c", [], [])
    _make_version_6(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE memos SET row = x'41424344' WHERE memo_id = x'61'")
    with SqliteStore(path) as store:
        with pytest.raises(CorruptSnapshot, match="memo row 61"):
            store.load_snapshot("rt")
        with pytest.raises(CorruptSnapshot, match="memo row 61"):
            store.load_memo_rows("rt", [b"a"], head=1)


def test_a_damaged_version_3_header_stays_damaged_after_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    with SqliteStore(path) as store:
        store.commit_boundary("rt", delta(4, a=b"A"), "run", "c", [], [])
        store.commit_boundary("ok", delta(4, a=b"A"), "run", "c", [], [])
    _make_version_3(path)
    _tamper(path, "UPDATE runtimes SET revision = 9 WHERE runtime_id = 'rt'")
    with SqliteStore(path) as store:
        with pytest.raises(CorruptSnapshot, match="the header of runtime 'rt' fails"):
            store.load_header("rt")
        assert store.load_snapshot("ok") is None  # emptied by the upgrade, as it should be
        assert _no_snapshot(store.load_header("ok"))


def _cache_pragmas(store: SqliteStore) -> list[str]:
    """The ``cache_size`` statements ``store`` runs from now on, as SQLite traces them."""
    seen: list[str] = []
    conn = store._connection()
    conn.set_trace_callback(lambda sql: seen.append(sql) if "cache_size" in sql else None)
    return seen


def _cache_size(store: SqliteStore) -> int:
    return int(store._connection().execute("PRAGMA cache_size").fetchone()[0])


def test_a_commit_that_updates_stored_rows_has_cache_room_and_gives_it_back(
    tmp_path: Path,
) -> None:
    """A commit into a runtime that has memo rows looks up the groups it changes
    with room in SQLite's page cache (a small cache spilled a dirty page for
    each page read: docs/persistence.md); a first commit does not take it, and
    every commit gives it back, committed or refused."""
    with SqliteStore(tmp_path / "s.db") as store:
        default = _cache_size(store)
        seen = _cache_pragmas(store)
        store.commit_boundary("rt", graph(1, a="i:x", b="a"), "r", "c", [], [])
        assert seen == []  # a first commit: nothing stored to look up
        store.commit_boundary("rt", graph(2, a="i:y", c="a b"), "r", "c", [], [])
        assert seen == ["PRAGMA cache_size=-32768", f"PRAGMA cache_size={default}"]
        assert _cache_size(store) == default
        with closing(sqlite3.connect(tmp_path / "s.db")) as conn, conn:
            conn.execute("UPDATE deps SET sum = zeroblob(16) WHERE memo_id = ?", (b"a",))
        seen.clear()
        with pytest.raises(CorruptSnapshot, match="fails its checksum"):
            store.commit_boundary("rt", graph(3, a="i:z"), "r", "c", [], [])
        assert seen == ["PRAGMA cache_size=-32768", f"PRAGMA cache_size={default}"]
        assert _cache_size(store) == default
        assert store.load_head("rt") == 2  # the refused commit wrote nothing


def test_a_damaged_head_is_caught_by_the_header_checksum(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path) as store:
        store.commit_boundary("rt", delta(1), "run", "c", [], [], base_head=0)
    for head in (0, 2):
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("UPDATE runtimes SET head = ?", (head,))
        with SqliteStore(path) as store, pytest.raises(CorruptSnapshot, match="the header"):
            store.load_head("rt")


# -- damage ---------------------------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_reported_and_can_be_moved_aside(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a database at all, just some text" * 100)
    store = SqliteStore(path)
    with pytest.raises(CorruptSnapshot, match=f"{path} is damaged or not a sofrito store"):
        store.load_snapshot("rt")
    with pytest.raises(CorruptSnapshot, match='on_corrupt="cold"'):
        store.commit_boundary("rt", delta(1), "r", "c", [], [])
    moved = store.recover()
    assert moved is not None
    assert moved.name.startswith("s.db.corrupt-")
    assert moved.read_bytes().startswith(b"this is not a database")
    assert store.load_snapshot("rt") is None
    assert store.recover() is None  # nothing wrong any more
    store.commit_boundary("rt", delta(1), "r", "c", [], [])
    store.close()
    with SqliteStore(path) as reopened:
        assert [r.sequence for r in reopened.load_receipts("rt")] == [1]


def test_quarantine_never_overwrites_an_earlier_quarantined_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    names = set()
    for n in range(3):  # within one second: the names still differ
        path.write_bytes(b"garbage %d" % n)
        Path(f"{path}-wal").write_bytes(b"wal %d" % n)
        moved = SqliteStore.quarantine(path)
        names.add(moved.name)
        assert moved.read_bytes() == b"garbage %d" % n
        assert Path(f"{moved}-wal").read_bytes() == b"wal %d" % n
    assert len(names) == 3
    assert not path.exists()


def _populate(path: Path) -> None:
    with SqliteStore(path) as store:
        for runtime_id in ("alpha", "beta"):
            for n in range(1, 6):
                ids = [b"m%d" % (n * 10 + k) for k in range(20)]
                snapshot = SnapshotDelta(
                    n,
                    b"meta%d" % n,
                    {memo_id: b"row-%d-%d" % (n, k) * 20 for k, memo_id in enumerate(ids)},
                    frozenset({b"m%d" % ((n - 1) * 10 + 1)}),
                    # each memo reads its input and the memo before it: chains to follow
                    reads={
                        memo_id: [f"i:src:{n}".encode(), *([reader_node(ids[k - 1])] if k else [])]
                        for k, memo_id in enumerate(ids)
                    },
                )
                store.commit_boundary(
                    runtime_id, snapshot, "run", "commit", [f"src:{n}"], [state(f"src:{n}")]
                )
            store.persist_runtime_state(runtime_id, RuntimeState.IDLE)
    # closing the last connection checkpoints the WAL into the main file


def _everything(path: Path) -> list[Any]:
    """Every load of every runtime, or the StoreError that stopped them."""
    with SqliteStore(path) as store:
        seen: list[Any] = []
        for runtime_id in ("alpha", "beta"):
            snapshot = store.load_snapshot(runtime_id)
            seen += [
                snapshot and (snapshot.revision, snapshot.meta, dict(snapshot.rows)),
                store.load_input_states(runtime_id),
                store.load_input_state(runtime_id, "src:2"),
                store.load_receipts(runtime_id),
                store.load_receipt(runtime_id, "run", 3),
                store.load_runtime_state(runtime_id),
            ]
            # after the full loads, which would have seen a vanished row: the
            # on-demand reads must never return other bytes than were written
            header = store.load_header(runtime_id)
            head = header.head if header else 0
            seen += [
                header,
                store.load_memo_rows(runtime_id, [b"m12", b"m33", b"m51", b"none"], head=head),
                store.load_input_rows(runtime_id, ["src:2", "src:9"], head=head),
                store.load_family(runtime_id, "src", head=head),
                _Closure(sorted(store.load_reader_closure(runtime_id, [b"i:src:3"], head=head))),
            ]
        return seen


class _Closure(list[tuple[bytes, bytes]]):
    """A reader closure in ``_everything``: compared as a subset. A seek through a
    damaged interior page can miss an edge the full load's scan still sees, and
    no on-demand read can tell a row that is not there (docs/persistence.md,
    "What an on-demand read can detect"); it must never return another edge."""


def _same(seen: list[Any], expected: list[Any]) -> bool:
    return len(seen) == len(expected) and all(
        set(got) <= set(want) if isinstance(want, _Closure) else got == want
        for got, want in zip(seen, expected, strict=True)
    )


def _everything_or_error(path: Path) -> list[Any] | CorruptSnapshot:
    try:
        return _everything(path)
    except CorruptSnapshot as exc:  # anything else fails the test
        return exc


def test_flipped_bits_anywhere_in_the_file_never_give_wrong_data(tmp_path: Path) -> None:
    original = tmp_path / "original.db"
    _populate(original)
    expected = _everything(original)
    data = original.read_bytes()
    rng = random.Random(2026)
    outcomes = {"same": 0, "corrupt": 0}
    for trial in range(800):
        damaged = bytearray(data)
        offset = rng.randrange(len(damaged))
        damaged[offset] ^= 1 << rng.randrange(8) if trial % 2 else 0xFF
        path = tmp_path / f"damaged-{trial}.db"
        path.write_bytes(bytes(damaged))
        seen = _everything_or_error(path)
        if isinstance(seen, CorruptSnapshot):
            assert str(path) in str(seen)
            outcomes["corrupt"] += 1
        else:
            assert _same(seen, expected), f"wrong data after flipping byte {offset}"
            outcomes["same"] += 1
        path.unlink()
    assert outcomes["corrupt"] > 200  # the damage did land in data, many times


def test_a_truncated_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _populate(path)
    data = path.read_bytes()
    for keep in (len(data) // 2, len(data) - 4096, 4096 + 100):
        path.write_bytes(data[:keep])
        with pytest.raises(CorruptSnapshot, match=str(path)):
            _everything(path)


def test_damaged_pages_are_reported_and_the_file_can_be_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _populate(path)
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 997):  # keep the header, wreck the pages
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    store = SqliteStore(path)
    with pytest.raises(CorruptSnapshot, match="is damaged"):
        store.load_snapshot("alpha")
    moved = store.recover()
    assert moved is not None
    assert moved.exists()
    assert store.load_snapshot("alpha") is None
    store.close()


def _tamper(path: Path, *statements: str) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        for statement in statements:
            assert conn.execute(statement).rowcount >= 1, statement


_ALPHA = "WHERE runtime_id = 'alpha'"


@pytest.mark.parametrize(
    ("edit", "load", "message"),
    [
        (
            f"UPDATE memos SET row = x'00' {_ALPHA} AND memo_id = CAST('m12' AS BLOB)",
            "snapshot",
            "memo row 6d3132 of runtime 'alpha' fails its checksum",
        ),
        (
            f"UPDATE memos SET runtime_id = 'gamma' {_ALPHA} AND memo_id = CAST('m13' AS BLOB)",
            "snapshot",
            "the memo rows of runtime 'alpha' do not match the seal",
        ),
        (
            f"DELETE FROM memos {_ALPHA} AND memo_id = CAST('m14' AS BLOB)",
            "snapshot",
            "the memo rows of runtime 'alpha' do not match the seal",
        ),
        (
            f"UPDATE memos SET row = 'text' {_ALPHA} AND memo_id = CAST('m15' AS BLOB)",
            "snapshot",
            "memo row 6d3135 of runtime 'alpha' holds a value of the wrong type",
        ),
        (
            f"UPDATE runtimes SET meta = x'00' {_ALPHA}",
            "snapshot",
            "the header of runtime 'alpha' fails its checksum",
        ),
        (
            f"UPDATE runtimes SET state = 'retired' {_ALPHA}",
            "state",
            "the header of runtime 'alpha' fails its checksum",
        ),
        (
            f"UPDATE runtimes SET state = 'sleeping' {_ALPHA}",
            "state",
            "unknown lifecycle state 'sleeping'",
        ),
        (
            f"UPDATE inputs SET value = x'00' {_ALPHA} AND input_id = 'src:2'",
            "inputs",
            "input state 'src:2' of runtime 'alpha' fails its checksum",
        ),
        (
            f"UPDATE inputs SET value = 'text' {_ALPHA} AND input_id = 'src:2'",
            "inputs",
            "input state 'src:2' of runtime 'alpha' holds str where bytes belong",
        ),
        (
            f"UPDATE inputs SET durability = 'high' {_ALPHA} AND input_id = 'src:2'",
            "inputs",
            "input state 'src:2' of runtime 'alpha' holds str where an int belongs",
        ),
        (
            f"UPDATE inputs SET sum = x'00' {_ALPHA} AND input_id = 'src:2'",
            "inputs",
            "input state 'src:2' of runtime 'alpha' has a checksum of the wrong size",
        ),
        (
            f"DELETE FROM inputs {_ALPHA} AND input_id = 'src:3'",
            "inputs",
            "the input states of runtime 'alpha' do not match the seal",
        ),
        (
            f"UPDATE receipts SET digest = 'forged' {_ALPHA} AND sequence = 2",
            "receipts",
            "receipt 2 of runtime 'alpha' fails its checksum",
        ),
        (
            f"DELETE FROM receipts {_ALPHA} AND sequence = 2",
            "receipts",
            "are not the unbroken sequence 1..5",
        ),
        (
            f"DELETE FROM receipts {_ALPHA} AND sequence = 3",
            "receipt",
            "receipt 3 of runtime 'alpha' is missing below 5",
        ),
        (
            f"DELETE FROM runtimes {_ALPHA}",
            "snapshot",
            "memo rows of runtime 'alpha' exist without a snapshot header",
        ),
        (
            f"DELETE FROM runtimes {_ALPHA}",
            "inputs",
            "the input states of runtime 'alpha' do not match the seal",
        ),
        (
            f"DELETE FROM runtimes {_ALPHA}",
            "header",
            "the input states of runtime 'alpha' exist without the runtime's header",
        ),
        (
            f"UPDATE memos SET row = x'00' {_ALPHA} AND memo_id = CAST('m33' AS BLOB)",
            "memo rows",
            "memo row 6d3333 of runtime 'alpha' fails its checksum",
        ),
        (
            f"UPDATE inputs SET value = x'00' {_ALPHA} AND input_id = 'src:2'",
            "input rows",
            "input state 'src:2' of runtime 'alpha' fails its checksum",
        ),
        (
            f"UPDATE inputs SET changed_at = 7 {_ALPHA} AND input_id = 'src:4'",
            "family",
            "input state 'src:4' of runtime 'alpha' fails its checksum",
        ),
        (
            f"UPDATE readers SET dep = CAST('i:src:9' AS BLOB) {_ALPHA} "
            "AND dep = CAST('i:src:3' AS BLOB)",
            "closure of src:9",
            "the reader list of node b'i:src:9' of runtime 'alpha' fails its checksum",
        ),
        (
            f"UPDATE readers SET sum = x'00' {_ALPHA} AND dep = CAST('qm34' AS BLOB)",
            "closure",
            "the reader list of memo row 6d3334 of runtime 'alpha' has a checksum of the wrong",
        ),
        (
            f"UPDATE readers SET readers = x'0000000300' {_ALPHA} AND dep = CAST('qm33' AS BLOB)",
            "closure",
            "the reader list of memo row 6d3333 of runtime 'alpha' fails its checksum",
        ),
        (
            f"UPDATE deps SET memo_id = CAST('m99' AS BLOB) {_ALPHA} "
            "AND memo_id = CAST('m33' AS BLOB)",
            "snapshot",
            "the dependency list of memo row 6d3939 of runtime 'alpha' fails its checksum",
        ),
        (
            f"DELETE FROM deps {_ALPHA} AND memo_id = CAST('m32' AS BLOB)",
            "snapshot",
            "the reverse edges of runtime 'alpha' do not match the seal",
        ),
        (
            f"DELETE FROM readers {_ALPHA} AND dep = CAST('i:src:5' AS BLOB)",
            "snapshot",
            "the reverse edges of runtime 'alpha' do not match the seal",
        ),
        (
            f"UPDATE runtimes SET edge_seal = x'{'00' * 16}' {_ALPHA}",
            "snapshot",
            "the header of runtime 'alpha' fails its checksum",
        ),
        (
            f"UPDATE runtimes SET meta = NULL, sum = x'{'00' * 16}' {_ALPHA}",
            "header",
            "the header of runtime 'alpha' fails its checksum",
        ),
    ],
)
def test_edited_rows_are_detected_never_served(
    tmp_path: Path, edit: str, load: str, message: str
) -> None:
    path = tmp_path / "s.db"
    _populate(path)
    _tamper(path, edit)
    loads: dict[str, Callable[[SqliteStore], object]] = {
        "snapshot": lambda s: s.load_snapshot("alpha"),
        "state": lambda s: s.load_runtime_state("alpha"),
        "inputs": lambda s: s.load_input_states("alpha"),
        "receipts": lambda s: s.load_receipts("alpha"),
        "receipt": lambda s: s.load_receipt("alpha", "run", 3),
        "header": lambda s: s.load_header("alpha"),
        "memo rows": lambda s: s.load_memo_rows("alpha", [b"m32", b"m33"], head=5),
        "input rows": lambda s: s.load_input_rows("alpha", ["src:1", "src:2"], head=5),
        "family": lambda s: s.load_family("alpha", "src", head=5),
        "closure": lambda s: s.load_reader_closure("alpha", [b"i:src:3"], head=5),
        "closure of src:9": lambda s: s.load_reader_closure("alpha", [b"i:src:9"], head=5),
    }
    with SqliteStore(path) as store:
        with pytest.raises(CorruptSnapshot, match=message):
            loads[load](store)
        assert store.load_snapshot("beta") is not None  # the other runtime is untouched


def test_a_reset_repairs_a_damaged_runtime_and_keeps_counting(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _populate(path)
    _tamper(
        path,
        "UPDATE runtimes SET meta = x'00' WHERE runtime_id = 'alpha'",
        "DELETE FROM inputs WHERE runtime_id = 'alpha' AND input_id = 'src:1'",
        "UPDATE memos SET row = x'00' WHERE runtime_id = 'alpha'",
    )
    with SqliteStore(path) as store:
        with pytest.raises(CorruptSnapshot):
            store.commit_boundary("alpha", delta(6), "r", "c", [], [])
        store.atomic_lifecycle_commit("alpha", RuntimeState.IDLE, [], drop="cache")
        assert store.load_snapshot("alpha") is None
        assert store.load_input_states("alpha") == []
        assert store.commit_boundary("alpha", delta(1), "r", "c", [], []).sequence == 6
        assert [r.sequence for r in store.load_receipts("alpha")] == [6, 5, 4, 3, 2, 1]


# -- locks and processes ---------------------------------------------------------------------


def _hold_lock(path: Path, hold: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen(
        [sys.executable, str(HERE / "lock_child.py"), str(path), hold],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"locked\n"
    return child


def _release(child: subprocess.Popen[bytes]) -> None:
    assert child.stdin is not None
    child.stdin.write(b"go\n")
    child.stdin.close()
    assert child.wait(timeout=30) == 0
    assert child.stdout is not None
    child.stdout.close()


def test_a_locked_file_waits_then_fails_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    holder = _hold_lock(path, "stdin")
    try:
        with SqliteStore(path, busy_timeout=0.3) as store:
            started = time.monotonic()
            with pytest.raises(
                WriteFailed,
                match=rf"{path} is locked by another process; waited 0.3 s to write "
                r"\(runtime 'rt'\); nothing was changed",
            ) as caught:
                store.commit_boundary("rt", delta(1, a=b"1"), "r", "c", [], [])
            assert time.monotonic() - started >= 0.25  # it did wait, then gave up
            # sofrito restates SQLite's error, so it does not arrive chained under it
            assert caught.value.__cause__ is None
            assert caught.value.__suppress_context__
            with pytest.raises(WriteFailed, match="is locked by another process"):
                store.persist_input_state("rt", state("src:a"))
            assert store.load_snapshot("rt") is None  # readers still read beside a writer
    finally:
        _release(holder)
    with SqliteStore(path) as store:
        assert store.commit_boundary("rt", delta(1), "r", "c", [], []).sequence == 1
        assert store.load_input_states("rt") == []


def test_a_lock_released_in_time_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    holder = _hold_lock(path, "0.3")  # held now, released by the holder soon
    with SqliteStore(path, busy_timeout=30) as store:
        assert store.commit_boundary("rt", delta(1), "r", "c", [], []).sequence == 1
    assert holder.wait(timeout=30) == 0
    for pipe in (holder.stdin, holder.stdout):
        assert pipe is not None
        pipe.close()


def test_opening_a_file_another_process_holds_exclusively_fails_clearly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # unlike a WAL writer, shuts out readers
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(
            WriteFailed, match=f"{path} is locked by another process; waited 0.1 s to open"
        ):
            SqliteStore(path, busy_timeout=0.1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with SqliteStore(path) as store:
        assert store.load_receipts("rt") == []


SHARING_CHILD = """
import sys
from sofrito.stores import SqliteStore, SnapshotDelta, InputState, InputStatus
store = SqliteStore(sys.argv[1], busy_timeout=30)
name = sys.argv[2]
for n in range(40):
    delta = SnapshotDelta(n, b"m", {name.encode() + b"%d" % n: b"x"})
    state = InputState(name + ":%d" % n, "src", b"k", b"v", 0, n, InputStatus.READY)
    store.commit_boundary("shared", delta, name, "c", [state.input_id], [state])
    store.persist_input_state("shared", state)
    store.load_snapshot("shared")
store.close()
"""


def test_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "new" / "s.db"  # not created yet: the children race to create it
    names = ("left", "right", "middle")
    children = [
        subprocess.Popen([sys.executable, "-c", SHARING_CHILD, str(path), name], env=CHILD_ENV)
        for name in names
    ]
    for child in children:
        assert child.wait(timeout=60) == 0
    with SqliteStore(path) as store:
        receipts = store.load_receipts("shared")
        assert [r.sequence for r in receipts] == list(range(120, 0, -1))
        assert {r.run_id for r in receipts} == set(names)
        snapshot = store.load_snapshot("shared")
        assert snapshot is not None
        assert len(snapshot.rows) == 120
        assert len(store.load_input_states("shared")) == 120


def test_a_small_commit_writes_pages_in_proportion_to_the_change(tmp_path: Path) -> None:
    """Rows, not a blob: one changed memo in a 10,000-row cache writes a handful of
    pages to the WAL, about as many as in a 100-row cache."""
    pages = {}
    for size in (100, 10_000):
        path = tmp_path / f"{size}.db"
        with SqliteStore(path) as store:
            rows = {b"q:%06d" % n: b"v" * 200 for n in range(size)}
            store.commit_boundary("rt", SnapshotDelta(1, b"m", rows), "r", "c", [], [])
            with closing(sqlite3.connect(path)) as conn, conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            assert Path(f"{path}-wal").stat().st_size == 0
            change = SnapshotDelta(2, b"m", {b"q:000042": b"w" * 200})
            store.commit_boundary("rt", change, "r", "c", ["src:a"], [state("src:a")])
            pages[size] = (Path(f"{path}-wal").stat().st_size - 32) // (page_size + 24)
    assert pages[10_000] <= 12
    assert pages[10_000] <= pages[100] + 3  # a deeper b-tree, nothing more


# -- the same answers as MemoryStore -------------------------------------------------------

_IDS = st.sampled_from([b"a", b"b", b"c", b"d", b"e"])
_INPUTS = st.lists(
    st.builds(
        state,
        st.sampled_from(["src:a", "src:b", "src:c"]),
        st.binary(max_size=6),
        changed_at=st.integers(0, 2**40),
    ),
    max_size=3,
)
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("commit"),
            st.sampled_from(["one", "two"]),
            st.dictionaries(_IDS, st.binary(max_size=6), max_size=3),
            st.frozensets(_IDS, max_size=2),
            st.booleans(),
            _INPUTS,
        ),
        st.tuples(st.just("apply"), st.sampled_from(["one", "two"]), st.binary(max_size=4)),
        st.tuples(st.just("persist"), st.sampled_from(["one", "two"]), _INPUTS),
        st.tuples(
            st.just("lifecycle"),
            st.sampled_from(["one", "two"]),
            st.sampled_from(list(RuntimeState)),
            _INPUTS,
            st.sampled_from(["nothing", "cache", "everything"]),
        ),
    ),
    max_size=12,
)


def _step(store: RuntimeStore, operation: tuple[Any, ...], revision: int) -> None:
    kind, runtime_id, *rest = operation
    if kind == "commit":
        upserts, deletes, full, inputs = rest
        deletes = deletes - upserts.keys()
        snapshot = SnapshotDelta(revision, b"m%d" % revision, upserts, deletes, full)
        ids = [one.input_id for one in inputs]
        store.commit_boundary(runtime_id, snapshot, "run", "c", ids, inputs)
    elif kind == "apply":
        snapshot = SnapshotDelta(revision, b"", {b"foreign": rest[0]})
        sequence = len(store.load_receipts(runtime_id)) + 1
        receipt = foreign_receipt(runtime_id, sequence, snapshot)
        store.atomic_apply(runtime_id, snapshot, receipt, [])
    elif kind == "persist":
        for one in rest[0]:
            store.persist_input_state(runtime_id, one)
    else:
        lifecycle, inputs, drop = rest
        store.atomic_lifecycle_commit(runtime_id, lifecycle, inputs, drop)


def _observe(store: RuntimeStore) -> list[Any]:
    seen: list[Any] = []
    for runtime_id in ("one", "two"):
        snapshot = store.load_snapshot(runtime_id)
        seen += [
            snapshot and (snapshot.revision, snapshot.meta, dict(snapshot.rows)),
            store.load_input_states(runtime_id),
            store.load_receipts(runtime_id),
            store.load_runtime_state(runtime_id),
        ]
    return seen


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_OPERATIONS)
def test_sqlite_answers_exactly_as_memory_does(operations: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        memory, sqlite = MemoryStore(), SqliteStore(Path(folder) / "s.db")
        try:
            for revision, operation in enumerate(operations, start=1):
                for store in (memory, sqlite):
                    _step(store, operation, revision)
                assert _observe(sqlite) == _observe(memory)
        finally:
            sqlite.close()


def test_a_store_dropped_without_close_closes_its_connection(tmp_path: Path) -> None:
    """``sf.Runtime(store=SqliteStore(path))`` never calls close(): collection must."""
    store = SqliteStore(tmp_path / "s.db")
    conn = store._connection()
    del store
    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        conn.execute("SELECT 1")


# -- on demand ------------------------------------------------------------------------------


def test_the_closure_walks_the_primary_key_that_a_full_load_checks(tmp_path: Path) -> None:
    """Each level of a closure looks its nodes' reader lists up by primary key."""
    from sofrito.stores._sqlite_edges import _READERS

    path = tmp_path / "s.db"
    with SqliteStore(path) as store:
        store.commit_boundary("rt", graph(1, a="i:x", b="a"), "r", "c", [], [])
    with closing(sqlite3.connect(path)) as conn:
        sql = _READERS.format(marks="?, ?")
        plan = " / ".join(
            row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", ["rt", b"x", b"y"])
        )
    assert "readers USING PRIMARY KEY (runtime_id=? AND dep=?)" in plan


def _steps_to_load(store: SqliteStore, load: Callable[[], object]) -> int:
    """SQLite virtual machine steps (in hundreds) that ``load`` takes: a count of the
    rows a query visits, the same on every machine."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn = store._connection()
    conn.set_progress_handler(count, 100)
    try:
        load()
    finally:
        conn.set_progress_handler(None, 0)
    return steps


def test_a_family_is_read_through_its_index_not_beside_every_other_input(
    tmp_path: Path,
) -> None:
    """Loading a family of one cell visits that cell, however many cells of other
    families (a site's file contents) the runtime holds (``read_family``: a range
    of the primary key, not every row of the runtime)."""
    visited = {}
    for others in (10, 3_000):
        with SqliteStore(tmp_path / f"{others}.db") as store:
            ready = InputStatus.READY
            cells = [
                InputState(f"file:{n:05d}", "file", b"%05d" % n, b"x" * 500, 0, 1, ready)
                for n in range(others)
            ]
            cells.append(state("src:a"))
            ids = [cell.input_id for cell in cells]
            store.commit_boundary("rt", delta(1), "r", "c", ids, cells)
            header = store.load_header("rt")
            assert header is not None
            head = header.head
            assert [s.input_id for s in store.load_family("rt", "src", head=head)] == ["src:a"]
            visited[others] = _steps_to_load(
                store, lambda store=store, head=head: store.load_family("rt", "src", head=head)
            )
    assert visited[3_000] <= visited[10] + 1


def test_an_edge_left_over_marks_one_reader_too_many_and_breaks_the_seal(
    tmp_path: Path,
) -> None:
    """What damage to a group's key can do: hide it from the commit that should have
    changed it, so it stays beside the new one. Here the leftover is written
    directly, whole and checksummed. A closure then finds one reader too many (marked
    for nothing, never one too few), and the seal tells the next full load."""
    path = tmp_path / "s.db"
    with SqliteStore(path) as store:
        store.commit_boundary("rt", graph(1, a="i:y"), "r", "c", [], [])
    packed = pack_ids([b"a"])
    left_over = group_checksummers("rt")[0](b"i:x", packed)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO readers VALUES ('rt', ?, ?, ?)", (b"i:x", packed, left_over))
    with SqliteStore(path) as store:
        assert store.load_reader_closure("rt", [b"i:x"], head=1) == [(b"i:x", b"a")]
        with pytest.raises(CorruptSnapshot, match="reverse edges of runtime 'rt' do not match"):
            store.load_snapshot("rt")


def test_a_deleted_edge_is_invisible_to_a_closure_and_caught_by_a_full_load(
    tmp_path: Path,
) -> None:
    """What an on-demand read cannot detect (docs/persistence.md): a vanished row."""
    path = tmp_path / "s.db"
    with SqliteStore(path) as store:
        store.commit_boundary("rt", graph(1, a="i:x", b="a"), "r", "c", [], [])
    _tamper(path, "DELETE FROM readers WHERE dep = CAST('qa' AS BLOB)")
    with SqliteStore(path) as store:
        assert store.load_reader_closure("rt", [b"i:x"], head=1) == [(b"i:x", b"a")]
        with pytest.raises(CorruptSnapshot, match="reverse edges of runtime 'rt' do not match"):
            store.load_snapshot("rt")


def test_edges_without_a_snapshot_header_are_damage(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path) as store:
        store.commit_boundary("rt", graph(1, a="i:x"), "r", "c", [], [])
    _tamper(path, "DELETE FROM memos", "DELETE FROM runtimes")
    with SqliteStore(path) as store, pytest.raises(CorruptSnapshot, match="reverse edges"):
        store.load_snapshot("rt")


_COMMIT_CHILD = """
import sys
from sofrito.stores import SqliteStore, SnapshotDelta
with SqliteStore(sys.argv[1]) as store:
    delta = SnapshotDelta(2, b"m2", {b"b": b"new"}, reads={b"b": [b"i:y"]})
    store.commit_boundary("rt", delta, "child", "c", [], [], base_head=1)
"""


def test_another_process_committing_between_open_and_a_lazy_load_is_a_clear_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path) as store:
        store.commit_boundary("rt", graph(1, a="i:x", b="a"), "r", "c", [], [])
    with SqliteStore(path) as store:
        opened = store.load_header("rt")  # this process opens at head 1
        assert opened is not None
        assert store.load_memo_rows("rt", [b"a"], head=opened.head) == {b"a": b"row-a"}
        subprocess.run([sys.executable, "-c", _COMMIT_CHILD, str(path)], env=CHILD_ENV, check=True)
        with pytest.raises(StaleRead) as caught:
            store.load_memo_rows("rt", [b"b"], head=opened.head)  # b changed in the child
        message = str(caught.value)
        assert str(path) in message
        assert "runtime 'rt'" in message
        assert "opened at head 1, the head is now 2" in message
        assert "Open the runtime again" in message
        again = store.load_header("rt")  # what reopening does: the child's boundary
        assert again is not None
        assert store.load_memo_rows("rt", [b"b"], head=again.head) == {b"b": b"new"}


# -- what a commit writes to the edge tables -----------------------------------------------


def _count_edge_writes(path: Path) -> Callable[[], dict[str, int]]:
    """Triggers in the file log every insert and delete on the two edge tables
    (``readers``, ``deps``); the returned function reads (and clears) the counts."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(
            """
            CREATE TABLE edge_log (what TEXT NOT NULL);
            CREATE TRIGGER readers_inserted AFTER INSERT ON readers
                BEGIN INSERT INTO edge_log VALUES ('readers insert'); END;
            CREATE TRIGGER readers_deleted AFTER DELETE ON readers
                BEGIN INSERT INTO edge_log VALUES ('readers delete'); END;
            CREATE TRIGGER deps_inserted AFTER INSERT ON deps
                BEGIN INSERT INTO edge_log VALUES ('deps insert'); END;
            CREATE TRIGGER deps_deleted AFTER DELETE ON deps
                BEGIN INSERT INTO edge_log VALUES ('deps delete'); END;
            """
        )

    def taken() -> dict[str, int]:
        with closing(sqlite3.connect(path)) as conn, conn:
            found = dict(conn.execute("SELECT what, count(*) FROM edge_log GROUP BY what"))
            conn.execute("DELETE FROM edge_log")
        return found

    return taken


def test_a_commit_writes_only_the_edges_that_changed(tmp_path: Path) -> None:
    """A memo rewritten with the reads it had keeps its stored edges (a wide root
    re-executed to a new value used to rewrite all 200 of them); one read more
    and one less rewrite its dependency list and the two reader lists, and the
    closures and the seal agree."""
    path = tmp_path / "s.db"
    reads = [b"i:src:%d" % k for k in range(200)]

    def commit(store: SqliteStore, revision: int, deps: list[bytes]) -> None:
        delta = SnapshotDelta(
            revision, b"meta", {b"root": b"row%d" % revision}, reads={b"root": deps}
        )
        store.commit_boundary("r", delta, "run", "commit", [], [])

    with SqliteStore(path) as store:
        commit(store, 1, reads)
    taken = _count_edge_writes(path)
    with SqliteStore(path) as store:
        commit(store, 2, reads)
        assert taken() == {}
        commit(store, 3, [*reads[1:], b"i:src:new"])
        assert taken() == {"deps insert": 1, "readers insert": 1, "readers delete": 1}
        head = store.load_head("r")
        assert store.load_reader_closure("r", [b"i:src:new"], head=head) == [
            (b"i:src:new", b"root")
        ]
        assert store.load_reader_closure("r", [b"i:src:0"], head=head) == []
        assert store.load_snapshot("r") is not None  # the edge seal matches every edge
        commit(store, 4, [])
        assert taken() == {"deps delete": 1, "readers delete": 200}
        snapshot = store.load_snapshot("r")
        assert snapshot is not None
        assert snapshot.rows == {b"root": b"row4"}


def test_a_large_commit_holds_no_list_of_its_rows_parameters(tmp_path: Path) -> None:
    """A first build writes 70,000 rows: they go to SQLite as they are made, with
    their checksums (a list of every row's parameters was 10 MB of its peak)."""
    rows = {b"memo-%06d" % n: b"r" * 40 for n in range(40_000)}
    delta = SnapshotDelta(1, b"meta", rows)
    with SqliteStore(tmp_path / "big.db") as store:
        tracemalloc.start()
        try:
            store.commit_boundary("rt", delta, "run", "b", [], [])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert len(store.load_snapshot("rt").rows) == 40_000  # type: ignore[union-attr]
    assert peak < 3_000_000, peak


def test_a_large_commit_holds_its_new_edges_by_dependency_not_by_pair(tmp_path: Path) -> None:
    """A first build adds 255,000 edges from 50,000 dependencies: held until
    written as a pair and a new reader id each, they were 23 MB of its peak."""
    rows = {b"memo-%06d" % n: b"r" for n in range(40_000)}
    reads = {
        memo_id: [b"i:%05d" % ((n * 7 + k) % 5_000) for k in range(10)]
        for n, memo_id in enumerate(rows)
    }
    delta = SnapshotDelta(1, b"meta", rows, reads=reads)
    with SqliteStore(tmp_path / "edges.db") as store:
        tracemalloc.start()
        try:
            store.commit_boundary("rt", delta, "run", "b", [], [])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        readers = store.load_reader_closure("rt", [b"i:00003"], head=1)
    assert peak < 10_000_000, peak  # 400,000 pairs were 30 MB
    assert sorted(readers) == sorted(
        (b"i:00003", memo_id) for memo_id, deps in reads.items() if b"i:00003" in deps
    )


def test_many_input_states_are_written_a_chunk_at_a_time_the_last_of_an_id_winning(
    tmp_path: Path,
) -> None:
    """A commit's input states are written 500 at a time (each holds its value
    encoded): a state whose id an earlier chunk wrote replaces it, and the
    seal still accounts for exactly the rows stored."""
    ready = InputStatus.READY
    states = [
        InputState(f"src:{n:04d}", "src", b"%04d" % n, b"v%d" % n, 0, 1, ready)
        for n in range(1_200)
    ]
    states.append(InputState("src:0003", "src", b"0003", b"later", 0, 2, ready))
    with SqliteStore(tmp_path / "inputs.db") as store:
        ids = [state.input_id for state in states]
        store.commit_boundary("rt", SnapshotDelta(1, b"meta"), "run", "b", ids, states)
        loaded = {state.input_id: state for state in store.load_input_states("rt")}
    assert len(loaded) == 1_200
    assert loaded["src:0003"].value == b"later"
    assert loaded["src:1199"].value == b"v1199"
