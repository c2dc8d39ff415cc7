"""A writer process for tests/stores/test_postgres.py: commits to one runtime, racing others.

``python -m tests.stores.postgres_child DSN SCHEMA NAME COMMITS`` waits for the
file ``SCHEMA.go`` (so every writer starts at once), then commits ``COMMITS``
boundaries to runtime ``shared``, each based on the head it last read; a
``Conflict`` re-reads the head and tries again. Prints one JSON line: the
receipts it got (each with the delta's rows, so the parent can verify the
digest), the conflicts' messages, and the input states it wrote.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sofrito.stores import Conflict, InputState, InputStatus, PostgresStore, SnapshotDelta


def main(dsn: str, schema: str, name: str, commits: int, gate: Path) -> None:
    store = PostgresStore(dsn, schema=schema, min_size=1, max_size=1)
    while not gate.exists():
        time.sleep(0.005)
    got: list[dict[str, object]] = []
    conflicts: list[str] = []
    for n in range(commits):
        memo_id = f"{name}-{n}".encode()
        state = InputState(f"src:{name}-{n}", "src", memo_id, b"v", 0, n, InputStatus.READY)
        while True:
            head = store.load_head("shared")
            delta = SnapshotDelta(n, name.encode(), {memo_id: b"row-" + memo_id})
            try:
                receipt = store.commit_boundary(
                    "shared", delta, name, "c", [state.input_id], [state], base_head=head
                )
            except Conflict as exc:
                conflicts.append(str(exc))
                continue
            got.append(
                {
                    "sequence": receipt.sequence,
                    "digest": receipt.digest,
                    "memo": memo_id.decode(),
                    "revision": n,
                    "input": state.input_id,
                }
            )
            break
    store.close()
    print(json.dumps({"name": name, "receipts": got, "conflicts": conflicts}))


if __name__ == "__main__":
    dsn, schema, name, commits, gate = sys.argv[1:]
    main(dsn, schema, name, int(commits), Path(gate))
