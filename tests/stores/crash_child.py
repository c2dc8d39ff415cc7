"""Writes to a SqliteStore forever, until it is killed.

Each round ``k`` commits boundary ``k``, then persists the durable input, and
every fifth round makes a lifecycle commit (a new child first redoes those two
for the last committed round, which its predecessor may have been killed
before). Everything written is a pure
function of ``k`` (``boundary_for``, ``durable_for``, ``lifecycle_for``), so a
checker can replay the rounds and know exactly what a reopened store must hold.
"""

from __future__ import annotations

import sys

from sofrito.stores import InputState, InputStatus, RuntimeState, SnapshotDelta, SqliteStore

RUNTIME = "crash"
INPUTS = 5
LIFECYCLE_EVERY = 5


def _input(input_id: str, round_: int) -> InputState:
    value = b"%d" % round_
    return InputState(input_id, "in", input_id.encode(), value, 0, round_, InputStatus.READY)


def boundary_for(round_: int) -> tuple[SnapshotDelta, list[InputState]]:
    """Boundary ``round_``: a changing row, a big row, the big row of three rounds
    ago deleted, and every tenth boundary a full replacement."""
    delta = SnapshotDelta(
        round_,
        b"meta-%d" % round_,
        {b"row-%d" % (round_ % 7): b"value-%d" % round_, b"big-%d" % round_: b"x" * 2000},
        frozenset({b"big-%d" % (round_ - 3)}),
        full=round_ % 10 == 0,
    )
    return delta, [_input(f"in:{n}", round_) for n in range(INPUTS)]


def durable_for(round_: int) -> InputState:
    return _input("durable", round_)


def lifecycle_for(round_: int) -> tuple[RuntimeState, InputState]:
    state = RuntimeState.RUNNING if round_ // LIFECYCLE_EVERY % 2 else RuntimeState.IDLE
    return state, _input("life", round_)


def main(path: str) -> None:
    store = SqliteStore(path, busy_timeout=30)
    round_ = len(store.load_receipts(RUNTIME))
    if round_:
        _after_boundary(store, round_)  # what the previous child may have been killed before
    print("ready", flush=True)
    while True:
        round_ += 1
        delta, states = boundary_for(round_)
        ids = [state.input_id for state in states]
        store.commit_boundary(RUNTIME, delta, "child", "loop", ids, states)
        _after_boundary(store, round_)


def _after_boundary(store: SqliteStore, round_: int) -> None:
    store.persist_input_state(RUNTIME, durable_for(round_))
    if round_ % LIFECYCLE_EVERY == 0:
        lifecycle, life = lifecycle_for(round_)
        store.atomic_lifecycle_commit(RUNTIME, lifecycle, [life])


if __name__ == "__main__":
    main(sys.argv[1])
