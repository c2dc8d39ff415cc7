"""The persistence costs of issue 6, on a real SQLite file.

- commit after a one-input change in a runtime of 10,000 memos;
- open plus first query of that 10,000-memo cache, in a fresh runtime, the way
  a new process would (values stay encoded until read);
- the cache's size on disk.

Run: ``python -m benchmarks.persistence`` (part of ``bash scripts/bench.sh``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sofrito as sf
from sofrito.stores import SqliteStore

PAGES = 10_000

source = sf.Input("bench.persist.source")


@sf.query(name="bench.persist.page")
def page(db: Any, n: int) -> str:
    return f"<h1>{n}</h1><p>{source(db, n)}</p>"


@sf.query(name="bench.persist.site")
def site(db: Any) -> int:
    return sum(len(page(db, n)) for n in range(PAGES))


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cache.db"
        rt = sf.Runtime(store=SqliteStore(path), runtime_id="bench")
        with rt.batch():
            for n in range(PAGES):
                rt.set(source[n], f"page {n} " * 20)
        site(rt)
        started = time.perf_counter()
        rt.commit()
        first_commit = _ms(started)
        commits = []
        for step in range(10):
            rt.set(source[step * 97], f"edited {step}")
            site(rt)
            started = time.perf_counter()
            rt.commit()
            commits.append(_ms(started))
        opens, firsts = [], []
        for _ in range(5):
            started = time.perf_counter()
            warm = sf.Runtime(store=SqliteStore(path), runtime_id="bench")
            opens.append(_ms(started))
            started = time.perf_counter()
            page(warm, 5)
            firsts.append(_ms(started))
        started = time.perf_counter()
        site(warm)
        noop = _ms(started)
        size = sum(p.stat().st_size for p in Path(folder).iterdir()) / 1e6
    engine = "compiled engine" if sf.COMPILED else "pure Python"
    print(f"{PAGES:,} memos + 1 root, SQLite, Python {sys.version.split()[0]}, sofrito {engine}")
    rows = [
        (f"first commit (all {PAGES + 1:,} memos and {PAGES:,} inputs)", first_commit, "ms"),
        ("commit after a one-input change (median of 10)", statistics.median(commits), "ms"),
        (f"open a {PAGES:,}-memo cache (median of 5)", statistics.median(opens), "ms"),
        ("first query after opening (median of 5)", statistics.median(firsts), "ms"),
        ("no-op rebuild of the whole site after opening", noop, "ms"),
        ("cache size on disk (db + wal)", size, "MB"),
    ]
    for label, value, unit in rows:
        print(f"{label + ':':<52} {value:8.2f} {unit}")


if __name__ == "__main__":
    main()
