"""Commits boundaries to a SqliteStore forever, until it is killed.

Boundary ``k`` is a pure function of ``k`` (``boundary_for``), so a checker can
recompute every receipt's digest and know exactly what each boundary wrote.
"""

from __future__ import annotations

import sys

from sofrito.stores import InputState, InputStatus, SnapshotDelta, SqliteStore

INPUTS = 5


def boundary_for(sequence: int) -> tuple[SnapshotDelta, list[InputState]]:
    delta = SnapshotDelta(
        sequence,
        b"meta-%d" % sequence,
        {b"row-%d" % (sequence % 7): b"value-%d" % sequence, b"big-%d" % sequence: b"x" * 2000},
        frozenset({b"big-%d" % (sequence - 3)}),
    )
    states = [
        InputState(f"in:{n}", "in", b"%d" % n, b"%d" % sequence, 0, sequence, InputStatus.READY)
        for n in range(INPUTS)
    ]
    return delta, states


def main(path: str) -> None:
    store = SqliteStore(path, busy_timeout=30)
    sequence = len(store.load_receipts("crash"))
    print("ready", flush=True)
    while True:
        sequence += 1
        delta, states = boundary_for(sequence)
        store.commit_boundary("crash", delta, "child", "loop", [s.input_id for s in states], states)


if __name__ == "__main__":
    main(sys.argv[1])
