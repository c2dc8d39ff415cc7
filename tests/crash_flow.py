"""A runtime that commits in a loop until it is killed (``test_persistence_crash.py``).

``python tests/crash_flow.py DB`` opens runtime ``crash`` on the SQLite file DB
and, round after round, sets every cell of one batch to the round number,
reads ``total`` and every ``tenfold``, and commits the boundary
``round-<k>``. Round ``k`` is committed as receipt ``k``: a new child goes on
from the last receipt its predecessor committed. So whatever a reopened store
holds, its inputs, memos and receipts must all tell of the same round.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import sofrito as sf
from sofrito.stores import SqliteStore

RUNTIME = "crash"
CELLS = 8

cell = sf.Input("crash.cell")
executed: Counter[str] = Counter()


@sf.query(name="crash.tenfold")
def tenfold(db: Any, n: int) -> int:
    executed["tenfold"] += 1
    return cell(db, n) * 10  # type: ignore[no-any-return]


@sf.query(name="crash.total")
def total(db: Any) -> int:
    executed["total"] += 1
    return sum(cell(db, n) for n in range(CELLS))


def main(path: str) -> None:
    store = SqliteStore(path, busy_timeout=30)
    rt = sf.Runtime(store=store, runtime_id=RUNTIME)
    round_ = len(store.load_receipts(RUNTIME))
    print("ready", flush=True)
    while True:
        round_ += 1
        with rt.batch():
            for n in range(CELLS):
                rt.set(cell[n], round_)
        total(rt)
        for n in range(CELLS):
            tenfold(rt, n)
        receipt = rt.commit(f"round-{round_}")
        assert receipt.sequence == round_, (receipt.sequence, round_)


if __name__ == "__main__":
    main(sys.argv[1])
