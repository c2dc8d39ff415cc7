"""Makes one large first commit into a new SqliteStore file, then waits to be killed.

``test_sqlite_journal.py`` kills it at a random instant of that commit, which
goes through a rollback journal (``SqliteStore._journal_for``), and checks
what the file holds after. Every row is a pure function of its number
(``large_delta``), so the checker knows what a whole commit holds.
"""

from __future__ import annotations

import sys
import time

from sofrito.stores import SnapshotDelta, SqliteStore

RUNTIME = "journal"
ROWS = 4_000
ROW_BYTES = 4_000
"""16 MB of rows: a commit of a few tenths of a second, past the threshold."""


def large_delta(revision: int = 1) -> SnapshotDelta:
    upserts = {b"memo-%05d" % n: (b"%05d" % n) * (ROW_BYTES // 5) for n in range(ROWS)}
    return SnapshotDelta(revision, b"meta-%d" % revision, upserts)


def main(path: str) -> None:
    store = SqliteStore(path)
    delta = large_delta()
    print("ready", flush=True)
    store.commit_boundary(RUNTIME, delta, "child", "large", [], [])
    print("committed", flush=True)
    time.sleep(60)


if __name__ == "__main__":
    main(sys.argv[1])
