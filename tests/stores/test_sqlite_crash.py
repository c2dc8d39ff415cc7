"""kill -9 at random instants: every reopen sees whole calls, never half of one.

A child process (``crash_child.py``) writes boundaries, durable inputs and
lifecycle changes in a tight loop and is SIGKILLed at a random moment, 30
times over, on one file. After each kill the store is reopened and held to a
replay of what the child wrote: receipts contiguous and verifying, the
snapshot exactly the sum of the committed deltas, the inputs of the last
boundary all there, and each lifecycle commit whole.
"""

from __future__ import annotations

import random
from pathlib import Path

from sofrito.stores import SqliteStore
from tests.sigkill import kill_at_random
from tests.stores.crash_child import (
    INPUTS,
    LIFECYCLE_EVERY,
    RUNTIME,
    boundary_for,
    durable_for,
    lifecycle_for,
)

CHILD = Path(__file__).with_name("crash_child.py")
KILLS = 30


def _replayed_rows(last: int) -> dict[bytes, bytes]:
    rows: dict[bytes, bytes] = {}
    for round_ in range(1, last + 1):
        delta, _ = boundary_for(round_)
        if delta.full:
            rows = {}
        for memo_id in delta.deletes:
            rows.pop(memo_id, None)
        rows.update(delta.upserts)
    return rows


def _check_consistent(path: Path) -> int:
    """Hold the reopened store to the replay; return how many boundaries it has."""
    with SqliteStore(path) as store:
        receipts = store.load_receipts(RUNTIME)
        last = len(receipts)
        assert [r.sequence for r in receipts] == list(range(last, 0, -1))
        for receipt in receipts:
            assert receipt.verify(boundary_for(receipt.sequence)[0]), receipt.sequence
        snapshot = store.load_snapshot(RUNTIME)
        states = {state.input_id: state for state in store.load_input_states(RUNTIME)}
        lifecycle = store.load_runtime_state(RUNTIME)
    if last == 0:
        assert snapshot is None
        assert states == {}
        return 0
    assert snapshot is not None
    assert (snapshot.revision, snapshot.meta) == (last, b"meta-%d" % last)
    assert dict(snapshot.rows) == _replayed_rows(last)
    _, committed = boundary_for(last)
    assert [states[f"in:{n}"] for n in range(INPUTS)] == committed
    # Written after boundary `last`: that round's value, or the one before if the
    # kill fell between the boundary and the write.
    durable = states.get("durable")
    durable_round = durable.changed_at if durable is not None else 0
    assert durable_round in (last, last - 1)
    assert durable is None or durable == durable_for(durable_round)
    life = states.get("life")
    life_round = life.changed_at if life is not None else 0
    assert life_round in _lifecycle_rounds(last)
    if life is not None:  # the lifecycle state and its input state are one commit
        assert (lifecycle, life) == lifecycle_for(life_round)
    return last


def _lifecycle_rounds(last: int) -> list[int]:
    """The rounds whose lifecycle commit may be the latest after boundary ``last``
    (0: none yet)."""
    latest = last - last % LIFECYCLE_EVERY
    if last % LIFECYCLE_EVERY:
        return [latest]
    return [latest, max(latest - LIFECYCLE_EVERY, 0)]


def test_sqlite_store_survives_kill_9_at_any_instant(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    rng = random.Random(1234)
    seen = []
    for _ in range(KILLS):
        kill_at_random(CHILD, path, rng, within=0.15)
        seen.append(_check_consistent(path))
    assert seen == sorted(seen)
    assert seen[-1] > KILLS  # the children did commit, many times
