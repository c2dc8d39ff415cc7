"""The persistence costs of issue 6, on a real SQLite file.

- commit after a one-input change in a runtime of 10,000 memos;
- open plus first query of that 10,000-memo cache, in a fresh runtime, the way
  a new process would (values stay encoded until read);
- the cache's size on disk;
- the same on PostgreSQL (issue 25) when ``SOFRITO_BENCH_POSTGRES`` names a
  server, each step beside SQLite's.

Run: ``python -m benchmarks.persistence`` (part of ``bash scripts/bench.sh``).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sofrito as sf
from sofrito.stores import RuntimeStore, SqliteStore

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


def measure(make_store: Callable[[], RuntimeStore]) -> dict[str, float]:
    """The timings of one store, in milliseconds."""
    rt = sf.Runtime(store=make_store(), runtime_id="bench")
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
        warm = sf.Runtime(store=make_store(), runtime_id="bench")
        opens.append(_ms(started))
        started = time.perf_counter()
        page(warm, 5)
        firsts.append(_ms(started))
    started = time.perf_counter()
    site(warm)
    noop = _ms(started)
    return {
        f"first commit (all {PAGES + 1:,} memos and {PAGES:,} inputs)": first_commit,
        "commit after a one-input change (median of 10)": statistics.median(commits),
        f"open a {PAGES:,}-memo cache (median of 5)": statistics.median(opens),
        "first query after opening (median of 5)": statistics.median(firsts),
        "no-op rebuild of the whole site after opening": noop,
    }


def _postgres(dsn: str) -> tuple[Callable[[], RuntimeStore], Callable[[], None]]:
    """Stores in a fresh PostgreSQL schema of ``dsn``, and what drops it afterwards."""
    import psycopg

    from sofrito.stores import PostgresStore

    schema = f"bench_{uuid.uuid4().hex[:12]}"

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return lambda: PostgresStore(dsn, schema=schema), drop


def main() -> None:
    """SQLite always; PostgreSQL beside it when ``SOFRITO_BENCH_POSTGRES`` names a server
    (``postgresql://...``; ``scripts/_postgres.sh`` starts a throwaway one)."""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cache.db"
        results["SQLite"] = measure(lambda: SqliteStore(path))
        size = sum(p.stat().st_size for p in Path(folder).iterdir()) / 1e6
    dsn = os.environ.get("SOFRITO_BENCH_POSTGRES", "")
    if dsn:
        make, drop = _postgres(dsn)
        try:
            results["PostgreSQL"] = measure(make)
        finally:
            drop()
    engine = "compiled engine" if sf.COMPILED else "pure Python"
    print(f"{PAGES:,} memos + 1 root, Python {sys.version.split()[0]}, sofrito {engine}")
    print(f"{'(ms)':<52} " + " ".join(f"{name:>10}" for name in results))
    for label in results["SQLite"]:
        values = " ".join(f"{one[label]:10.2f}" for one in results.values())
        print(f"{label + ':':<52} {values}")
    print(f"{'SQLite cache size on disk (db + wal), MB:':<52} {size:10.2f}")


if __name__ == "__main__":
    main()
