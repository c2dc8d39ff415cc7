"""Warm start on demand across real processes (issue 23).

Each test runs ``tests/warm_start_child.py`` in child processes on a real
SQLite file; what a child saw comes back as one JSON line.

- Another process commits between this runtime's open and a lazy load: the
  next read that must load a row raises ``StaleRead`` (a ``Conflict``) naming
  the runtime and the way on, never a value mixed from two boundaries; a
  reopened runtime serves the new boundary.
- A row damaged on disk is met in the middle of a verification (a deep chain,
  a row at depth, an input changed so the walk goes down to it): the read
  raises ``CorruptSnapshot`` naming the row, never a wrong value; opening
  did not meet it.
- A warm start in a fresh process reads the unchanged root loading exactly
  one memo row and executing nothing, and its peak RSS does not grow with
  the cache from 1,000 to 10,000 memos beyond a generous bound (an eager
  open grows it by about 2 KB a memo, 19 MB here). Counts and memory only:
  nothing is timed.

The kill -9 tests of the runtime and the store (``tests/test_persistence_crash.py``,
``tests/stores/test_sqlite_crash.py``) cover opening after a crash.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import sofrito as sf
from sofrito._keys import encode_key
from sofrito._snapshot import memo_id
from sofrito.stores import Conflict, SqliteStore, StaleRead
from tests import warm_start_child
from tests.warm_start_child import RUNTIME, root

CHILD = Path(warm_start_child.__file__)
ROOT = CHILD.parent.parent
PATH = os.environ.get("PYTHONPATH", "")
RSS_BOUND_KB = 6 * 1024
"""How much more a warm start of the 10,000-memo cache may hold at its peak than
one of the 1,000-memo cache: generous for noise, a third of an eager open's growth."""


def _child(db: Path, action: str, *args: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(CHILD), str(db), action, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PATH, str(ROOT)]))},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _damage(db: Path, mid: bytes) -> None:
    """Flip a byte in the middle of one stored memo row, its checksum left as it was."""
    with closing(sqlite3.connect(db)) as conn, conn:
        query = "SELECT row FROM memos WHERE runtime_id = ? AND memo_id = ?"
        (row,) = conn.execute(query, (RUNTIME, mid)).fetchone()
        damaged = bytearray(row)
        damaged[len(row) // 2] ^= 0x5A
        conn.execute(
            "UPDATE memos SET row = ? WHERE runtime_id = ? AND memo_id = ?",
            (bytes(damaged), RUNTIME, mid),
        )


def test_a_commit_by_another_process_makes_the_next_load_a_stale_read_never_a_mix(
    tmp_path: Path,
) -> None:
    db = tmp_path / "stale.db"
    built = _child(db, "build", 300)
    rt = sf.Runtime(store=SqliteStore(db), runtime_id=RUNTIME)  # opened: the header only
    edited = _child(db, "edit", 50)  # another process commits a new boundary
    assert edited["root"] != built["root"]
    with pytest.raises(StaleRead) as stale:
        root(rt)  # must load the root's row: from a boundary it did not open
    assert isinstance(stale.value, Conflict)
    message = str(stale.value)
    assert repr(RUNTIME) in message, message
    assert str(db) in message, message
    assert "again" in message, f"the message does not say to open the runtime again: {message}"

    reopened = sf.Runtime(store=SqliteStore(db), runtime_id=RUNTIME)
    assert root(reopened) == edited["root"]


def test_a_damaged_row_met_in_the_middle_of_a_verification_is_named_never_served(
    tmp_path: Path,
) -> None:
    db = tmp_path / "deep.db"
    depth = 30
    assert _child(db, "deep", depth)["value"] == 1 + sum(7 * k for k in range(depth + 1))
    damaged = memo_id("wsp.side", encode_key((10,)))
    _damage(db, damaged)

    walked = _child(db, "walk", 5, depth)
    assert "value" not in walked, f"a wrong value was served: {walked}"
    assert walked["error"] == "CorruptSnapshot", walked
    message = walked["message"]
    assert damaged.hex() in message or "wsp.side(10)" in message, message
    assert repr(RUNTIME) in message, message
    assert walked.get("stage") == "read", f"met at {walked.get('stage')}, not by the walk"


@pytest.mark.parametrize("cache", [1_000, 10_000])
def test_a_warm_start_reads_the_unchanged_root_loading_exactly_its_row(
    tmp_path: Path, cache: int
) -> None:
    db = tmp_path / "warm.db"
    built = _child(db, "build", cache)
    warm = _child(db, "warm")
    assert warm["root"] == built["root"]
    assert warm["executed"] == {}, f"a warm start of an unchanged root executed {warm}"
    assert warm["opening_memo_rows"] == 0, f"opening loaded memo rows: {warm}"
    assert warm["memo_rows"] == 1, f"the unchanged root must load its row alone: {warm}"


def test_the_memory_of_a_warm_start_does_not_grow_with_the_cache(tmp_path: Path) -> None:
    peaks = {}
    for cache in (1_000, 10_000):
        db = tmp_path / f"rss-{cache}.db"
        _child(db, "build", cache)
        peaks[cache] = _child(db, "warm")["peak_rss_kb"]
    grown = peaks[10_000] - peaks[1_000]
    assert grown < RSS_BOUND_KB, (
        f"peak RSS {peaks[1_000]} KB at 1,000 memos, {peaks[10_000]} KB at 10,000: "
        f"grew {grown} KB, bound {RSS_BOUND_KB} KB"
    )
