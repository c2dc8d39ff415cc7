"""A large first commit into a new SQLite file bypasses the WAL, safely.

``SqliteStore._journal_for`` puts such a commit through a rollback journal,
so its pages are written once rather than into the WAL and again into the
file. These tests hold it to that (the WAL does not receive the commit),
to WAL mode afterwards, to going through the WAL whenever the file is not
new or another connection holds it, and to whole commits when the process
is killed in the middle of one.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from sofrito.stores import SnapshotDelta, SqliteStore
from tests.sigkill import REPOSITORY
from tests.stores.journal_child import ROW_BYTES, ROWS, RUNTIME, large_delta

CHILD = Path(__file__).with_name("journal_child.py")
LARGE = ROWS * ROW_BYTES


def _wal_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _journal_mode(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def _commit(store: SqliteStore, delta: SnapshotDelta) -> None:
    store.commit_boundary(RUNTIME, delta, "run", "test", [], [])


def _rows_of(path: Path) -> dict[bytes, bytes] | None:
    with SqliteStore(path) as store:
        snapshot = store.load_snapshot(RUNTIME)
        receipts = store.load_receipts(RUNTIME)
    if snapshot is None:
        assert receipts == []
        return None
    assert [receipt.sequence for receipt in receipts] == [1]
    assert receipts[0].verify(large_delta())
    return dict(snapshot.rows)


def test_a_large_first_commit_writes_its_pages_once_and_leaves_wal_mode_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache.db"
    with SqliteStore(path) as store:
        _commit(store, large_delta())
        assert _wal_bytes(path) < LARGE // 10  # the WAL did not take the commit
        assert not Path(f"{path}-journal").exists()  # the journal went with the commit
    assert _journal_mode(path) == "wal"
    assert _rows_of(path) == dict(large_delta().upserts)


def test_a_large_commit_into_a_grown_file_goes_through_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with SqliteStore(path) as store:
        _commit(store, large_delta(1))
        second = SnapshotDelta(2, b"meta-2", {k: v[::-1] for k, v in large_delta().upserts.items()})
        _commit(store, second)
        assert _wal_bytes(path) >= LARGE  # an update of a full file: the WAL as always
        assert dict(store.load_snapshot(RUNTIME).rows) == dict(second.upserts)  # type: ignore[union-attr]


def test_a_small_first_commit_goes_through_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with SqliteStore(path) as store:
        _commit(store, SnapshotDelta(1, b"meta", {b"memo": b"x" * 100_000}))
        assert _wal_bytes(path) >= 100_000  # not worth two switches of the journal
        assert dict(store.load_snapshot(RUNTIME).rows) == {b"memo": b"x" * 100_000}  # type: ignore[union-attr]


def test_a_first_commit_while_another_connection_holds_the_file_goes_through_the_wal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache.db"
    with SqliteStore(path) as store, SqliteStore(path) as other:
        assert other.load_snapshot(RUNTIME) is None  # its connection is open
        _commit(store, large_delta())
        assert _wal_bytes(path) >= LARGE  # SQLite kept WAL mode: another connection
        assert dict(other.load_snapshot(RUNTIME).rows) == dict(large_delta().upserts)  # type: ignore[union-attr]
    assert _journal_mode(path) == "wal"


def test_a_process_killed_during_a_large_first_commit_leaves_none_of_it_or_all(
    tmp_path: Path,
) -> None:
    """Killed at random instants up to twice the commit's length, 16 times, each
    on a new file: reopened, the file holds no boundary or the whole one,
    never part. At least one kill fell inside the commit (a hot journal was
    left, and the reopen rolled it back) and at least one after it."""
    rng = random.Random(2026)
    window = 2 * _commit_seconds(tmp_path / "timed.db")
    outcomes = []
    for attempt in range(16):
        path = tmp_path / f"cache-{attempt}.db"
        child = _child(path)
        time.sleep(rng.uniform(0.0, window))
        _kill(child)
        journal = Path(f"{path}-journal")
        hot = journal.exists() and journal.stat().st_size > 0
        rows = _rows_of(path)
        assert rows is None or rows == dict(large_delta().upserts)
        assert _journal_mode(path) == "wal"
        outcomes.append((hot, rows is not None))
    assert (True, False) in outcomes  # rolled back from a hot journal
    assert any(whole for _, whole in outcomes)  # committed whole


def _commit_seconds(path: Path) -> float:
    """How long the child's commit takes on this machine, timed once."""
    child = _child(path)
    assert child.stdout is not None
    start = time.monotonic()
    assert child.stdout.readline() == b"committed\n"
    seconds = time.monotonic() - start
    _kill(child)
    return seconds


def _child(path: Path) -> subprocess.Popen[bytes]:
    """The child, about to start its commit (it said ``ready``)."""
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(path)], stdout=subprocess.PIPE, env=env
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    return child


def _kill(child: subprocess.Popen[bytes]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.stdout is not None
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
