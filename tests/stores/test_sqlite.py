"""SqliteStore: the contract, plus what only a file has: reopening, locks, damage."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sofrito.stores import (
    CorruptSnapshot,
    RuntimeStore,
    SqliteStore,
    StoreError,
    WriteFailed,
)
from tests.stores.contract import StoreContract, delta, state


class TestSqliteStore(StoreContract):
    durable = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[RuntimeStore]:
        with SqliteStore(tmp_path / "cache" / "store.db") as store:
            yield store


def test_store_satisfies_the_protocol_statically(tmp_path: Path) -> None:
    store: RuntimeStore = SqliteStore(tmp_path / "s.db")  # mypy checks this line
    store.close()


def test_everything_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path) as store:
        receipt = store.commit_boundary(
            "rt", delta(3, a=b"A"), "r", "c", ["src:a"], [state("src:a")]
        )
    with SqliteStore(path) as store:
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert (snapshot.revision, dict(snapshot.rows)) == (3, {b"a": b"A"})
        assert store.load_input_states("rt") == [state("src:a")]
        assert store.load_receipts("rt") == [receipt]


def test_newer_schema_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE sofrito_schema SET version = 99")
    with pytest.raises(
        StoreError, match=r"newer sofrito \(store schema 99; this sofrito knows 1\)"
    ):
        SqliteStore(path)


def test_file_that_is_not_a_database_is_reported_and_can_be_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a database at all, just some text" * 100)
    store = SqliteStore(path)
    with pytest.raises(CorruptSnapshot, match=str(path)):
        store.load_snapshot("rt")
    moved = store.recover()
    assert moved is not None
    assert moved.exists()
    assert moved.read_bytes().startswith(b"this is not a database")
    assert store.load_snapshot("rt") is None
    assert store.recover() is None
    store.close()
    with SqliteStore(path) as reopened:
        assert reopened.load_receipts("rt") == []


def test_flipped_bytes_in_a_row_are_detected_never_served(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path) as store:
        store.commit_boundary("rt", delta(1, a=b"precious value"), "r", "c", [], [state("src:a")])
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE memos SET row = ? WHERE memo_id = ?", (b"precious valuf", b"a"))
        conn.execute("UPDATE inputs SET value = ?", (b"w",))
    with SqliteStore(path) as store:
        with pytest.raises(
            CorruptSnapshot, match=r"memo row 61 of runtime 'rt' fails its checksum"
        ):
            store.load_snapshot("rt")
        with pytest.raises(CorruptSnapshot, match="input state 'src:a'"):
            store.load_input_states("rt")


def test_damaged_file_pages_are_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path) as store:
        for revision in range(1, 40):
            store.commit_boundary(
                "rt", delta(revision, **{f"k{revision}": b"x" * 500}), "r", "c", [], []
            )
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 997):  # keep the header, wreck the pages
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))

    def read_everything() -> None:
        with SqliteStore(path) as store:
            store.load_snapshot("rt")
            store.load_receipts("rt")

    with pytest.raises(CorruptSnapshot):
        read_everything()


def test_locked_database_waits_then_fails_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        with SqliteStore(path, busy_timeout=0.2) as store:
            with pytest.raises(
                WriteFailed, match=rf"{path} is locked by another process; waited 0.2 s"
            ):
                store.commit_boundary("rt", delta(1, a=b"1"), "r", "c", [], [])
            assert store.load_snapshot("rt") is None  # readers still read (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with SqliteStore(path) as store:
        assert store.commit_boundary("rt", delta(1), "r", "c", [], []).sequence == 1


CHILD = """
import sys
from sofrito.stores import SqliteStore, SnapshotDelta
store = SqliteStore(sys.argv[1])
name = sys.argv[2]
for n in range(50):
    delta = SnapshotDelta(n, b"m", {name.encode() + b"%d" % n: b"x"})
    store.commit_boundary("shared", delta, name, "c", [], [])
store.close()
"""


def test_two_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(path), name])
        for name in ("left", "right")
    ]
    for child in children:
        assert child.wait(timeout=60) == 0
    with SqliteStore(path) as store:
        receipts = store.load_receipts("shared")
        assert [r.sequence for r in receipts] == list(range(100, 0, -1))
        assert {r.run_id for r in receipts} == {"left", "right"}
        snapshot = store.load_snapshot("shared")
        assert snapshot is not None
        assert len(snapshot.rows) == 100
