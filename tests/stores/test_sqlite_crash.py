"""kill -9 at random instants: every reopen sees whole boundaries, never half of one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sofrito.stores import SqliteStore
from tests.stores.crash_child import INPUTS, boundary_for

CHILD = Path(__file__).with_name("crash_child.py")
KILLS = 30


def _kill_at_random(path: Path, rng: random.Random) -> None:
    env = {**os.environ, "PYTHONPATH": str(CHILD.parent.parent.parent)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(path)], stdout=subprocess.PIPE, env=env
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    time.sleep(rng.uniform(0.0, 0.15))
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL


def _check_consistent(path: Path) -> int:
    with SqliteStore(path) as store:
        receipts = store.load_receipts("crash")
        last = len(receipts)
        assert [r.sequence for r in receipts] == list(range(last, 0, -1))
        for receipt in receipts:
            delta, _ = boundary_for(receipt.sequence)
            assert receipt.verify(delta), f"receipt {receipt.sequence} does not verify"
        snapshot = store.load_snapshot("crash")
        states = store.load_input_states("crash")
        if last == 0:
            assert snapshot is None
            assert states == []
            return 0
        assert snapshot is not None
        assert (snapshot.revision, snapshot.meta) == (last, b"meta-%d" % last)
        assert snapshot.rows[b"row-%d" % (last % 7)] == b"value-%d" % last
        bigs = sorted(int(key.split(b"-")[1]) for key in snapshot.rows if key.startswith(b"big-"))
        assert bigs == list(range(max(1, last - 2), last + 1))  # boundary k deletes big-(k-3)
        assert len(states) == INPUTS
        assert {state.value for state in states} == {b"%d" % last}
        return last


def test_sqlite_store_survives_kill_9_at_any_instant(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    rng = random.Random(1234)
    seen = []
    for _ in range(KILLS):
        _kill_at_random(path, rng)
        seen.append(_check_consistent(path))
    assert seen == sorted(seen)
    assert seen[-1] > KILLS  # the children did commit, many times
