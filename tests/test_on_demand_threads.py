"""Loads on demand from many threads at once: one memo per key, right values.

A fresh runtime on a committed cache is read by several real threads at the
same moment (they meet at a barrier, then read). Every read races to load
rows, resolve dependencies and install them; whatever the interleaving, each
key ends with exactly one memo in its table, every value equals a
from-scratch computation, and nothing executes that the cache could answer.
Then a write and the same race again, so the stored readers a write loads
race with the dependency resolution of the reads.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import sofrito as sf
from sofrito._on_demand import release_unlinked
from sofrito.stores import SqliteStore

WIDTH = 40
THREADS = 8

src = sf.Input("tests.on_demand_threads.src")
runs: Counter[str] = Counter()
runs_lock = threading.Lock()


def _ran(name: str) -> None:
    with runs_lock:
        runs[name] += 1


@sf.query
def leaf(db: Any, k: int) -> int:
    _ran("leaf")
    return int(src(db, k)) * 2


@sf.query
def pair(db: Any, k: int) -> int:
    _ran("pair")
    return leaf(db, k) + leaf(db, (k + 1) % WIDTH)


@sf.query
def total(db: Any, part: int) -> int:
    _ran("total")
    return sum(pair(db, k) for k in range(part, WIDTH, 4))


def _expected(values: dict[int, int], part: int) -> int:
    return sum(values[k] * 2 + values[(k + 1) % WIDTH] * 2 for k in range(part, WIDTH, 4))


def _race(rt: sf.Runtime) -> list[tuple[int, int]]:
    """Every thread reads every total, starting at the same moment; each returns
    what it read, in its own order."""
    barrier = threading.Barrier(THREADS)
    seen: list[tuple[int, int]] = []
    failures: list[BaseException] = []

    def read(offset: int) -> None:
        try:
            barrier.wait(timeout=10)
            for step in range(4):
                part = (offset + step) % 4
                value = total(rt, part)
                with runs_lock:
                    seen.append((part, value))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a reader did not finish"
    assert not failures, failures
    return seen


def _one_memo_per_key(rt: sf.Runtime) -> None:
    for query in (leaf, pair, total):
        table = rt._engine.tables[query.spec]
        assert len({id(memo) for memo in table.values()}) == len(table)
        for key, memo in table.items():
            assert memo.key == key


def _built(path: Path, runtime_id: str) -> dict[int, int]:
    """A cache at ``path`` with every total computed and committed; the cells' values."""
    values = {k: k + 1 for k in range(WIDTH)}
    first = sf.Runtime(store=SqliteStore(path), runtime_id=runtime_id)
    with first.batch():
        for k, value in values.items():
            first.set(src[k], value)
    assert [total(first, part) for part in range(4)] == [_expected(values, p) for p in range(4)]
    first.commit()
    return values


def test_threads_racing_on_a_fresh_runtime_load_each_memo_once(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    values = _built(path, "t")

    runs.clear()
    fresh = sf.Runtime(store=SqliteStore(path), runtime_id="t")
    seen = _race(fresh)
    assert len(seen) == THREADS * 4
    assert all(value == _expected(values, part) for part, value in seen)
    assert runs == Counter()  # the cache answered everything
    _one_memo_per_key(fresh)

    values[7] = 100
    fresh.set(src[7], 100)  # loads the stored readers of src[7] while nothing reads
    seen = _race(fresh)
    assert all(value == _expected(values, part) for part, value in seen)
    # Exactly the cone of src[7] re-ran, once each, whatever the interleaving:
    # leaf(7), the two pairs that read it (6 and 7), the two totals that read those.
    assert runs == Counter({"leaf": 1, "pair": 2, "total": 2})
    _one_memo_per_key(fresh)

    runs.clear()
    fresh.commit()
    reopened = sf.Runtime(store=SqliteStore(path), runtime_id="t")
    seen = _race(reopened)
    assert all(value == _expected(values, part) for part, value in seen)
    assert runs == Counter()


def test_memos_released_while_threads_read_are_loaded_again_never_executed(
    tmp_path: Path,
) -> None:
    """A session that stays open drops the memos it cannot mark after each commit
    (``release_unlinked``), and other threads may be reading: the release holds
    the write gate (the reads in flight unwind and retry after it, as for a
    write), and a read after it loads the rows again. Every value stays right,
    nothing executes, each key ends with one memo. The releases are spaced (5
    ms): the gate lets writers first, so a loop of them with no pause would
    starve the readers, as a loop of ``rt.set`` would."""
    path = tmp_path / "cache.db"
    values = _built(path, "r")

    runs.clear()
    rt = sf.Runtime(store=SqliteStore(path), runtime_id="r")
    released: list[int] = []
    stop = threading.Event()

    def release() -> None:
        while not stop.wait(0.005):
            rt.commit()
            released.append(release_unlinked(rt))

    releaser = threading.Thread(target=release)
    releaser.start()
    try:
        seen = [pair for _ in range(5) for pair in _race(rt)]
    finally:
        stop.set()
        releaser.join(timeout=60)
    assert not releaser.is_alive()
    assert all(value == _expected(values, part) for part, value in seen)
    assert any(released), released  # memos were dropped while the threads read
    assert runs == Counter()
    _one_memo_per_key(rt)
