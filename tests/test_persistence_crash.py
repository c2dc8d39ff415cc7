"""kill -9 a runtime that commits in a loop: every reopen resumes one whole boundary.

The store's own crash test (``tests/stores/test_sqlite_crash.py``) holds the
store to a byte-exact replay. This one goes through the runtime: a child
process (``crash_flow.py``) sets a batch of inputs, computes, and calls
``rt.commit()`` in a loop until it is SIGKILLed at a random instant. After
each kill a runtime reopened here must see the inputs of exactly one batch,
contiguous receipts that end at that batch, and memos from the same boundary:
every value is served warm, executing nothing, and agrees with the inputs.
"""

from __future__ import annotations

import random
from pathlib import Path

import sofrito as sf
from sofrito.stores import InputStatus, SqliteStore
from tests import crash_flow
from tests.crash_flow import CELLS, RUNTIME, cell, tenfold, total
from tests.sigkill import kill_at_random

CHILD = Path(crash_flow.__file__)
KILLS = 12


def _check_one_whole_boundary(path: Path) -> int:
    """Reopen the runtime and check it resumes one boundary; return its round."""
    with SqliteStore(path) as store:
        receipts = store.load_receipts(RUNTIME)
        last = len(receipts)
        assert [r.sequence for r in receipts] == list(range(last, 0, -1))
        assert [r.boundary for r in receipts] == [f"round-{n}" for n in range(last, 0, -1)]
        states = store.load_input_states(RUNTIME)
    if last == 0:
        assert states == []
        return 0
    assert len(receipts[0].contributing_inputs) == CELLS  # the whole batch contributed
    assert sorted(receipts[0].contributing_inputs) == sorted(s.input_id for s in states)
    assert all(s.status is InputStatus.READY and s.changed_at > 0 for s in states)
    crash_flow.executed.clear()
    rt = sf.Runtime(store=SqliteStore(path), runtime_id=RUNTIME)
    assert [rt.get(cell[n]) for n in range(CELLS)] == [last] * CELLS  # one batch, whole
    assert total(rt) == CELLS * last
    assert [tenfold(rt, n) for n in range(CELLS)] == [10 * last] * CELLS
    assert crash_flow.executed == {}  # the memos came from that same boundary: all warm
    return last


def test_a_runtime_killed_while_committing_reopens_at_one_whole_boundary(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crash.db"
    rng = random.Random(606)
    seen = []
    for _ in range(KILLS):
        kill_at_random(CHILD, path, rng, within=0.3)
        seen.append(_check_one_whole_boundary(path))
    assert seen == sorted(seen)
    assert seen[-1] > KILLS  # the children did commit, many times
