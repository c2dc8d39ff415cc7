"""Holds the write lock of a SQLite file, as another process would.

Usage: ``lock_child.py PATH SECONDS``. Takes the lock, prints ``locked``, holds
it for SECONDS (or, if SECONDS is ``stdin``, until a line arrives on stdin),
then releases it and exits.
"""

from __future__ import annotations

import sqlite3
import sys
import time


def main(path: str, hold: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    if hold == "stdin":
        sys.stdin.readline()
    else:
        time.sleep(float(hold))
    conn.execute("ROLLBACK")
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
