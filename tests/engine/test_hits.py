"""The hit table: what a top-level call returns without entering the engine.

A value is served from it only while the revision it was read in lasts, and
a query that reads a value held there still records the read.
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections import Counter
from typing import Any

import pytest

import sofrito as sf
from tests.boxes import Box

source = sf.Input("tests.hits.source")
runs: Counter[str] = Counter()


@sf.query
def length(db: Any, path: str) -> int:
    runs[f"length:{path}"] += 1
    return len(source(db, path))


@sf.query
def doubled(db: Any, path: str) -> int:
    runs[f"doubled:{path}"] += 1
    return 2 * int(length(db, path))


@sf.query
def boxed(db: Any, path: str) -> Box[str]:
    return Box(source(db, path))


def _runtime() -> sf.Runtime:
    runs.clear()
    rt = sf.Runtime()
    rt.set(source["a"], "abc")
    return rt


def _entries(rt: sf.Runtime) -> int:
    return sum(len(table) for table in rt._hits)


def test_a_query_reading_a_value_held_for_the_hit_still_depends_on_it() -> None:
    rt = _runtime()
    assert length(rt, "a") == length(rt, "a") == 3  # now in the hit table
    assert doubled(rt, "a") == 6
    rt.set(source["a"], "abcd")
    assert doubled(rt, "a") == 8, "the read inside doubled was recorded"
    assert runs == {"length:a": 2, "doubled:a": 2}


def test_every_revision_move_and_clear_empties_the_table() -> None:
    rt = _runtime()
    moves = [
        lambda: rt.set(source["a"], "abcd"),
        rt.bump_revision,
        lambda: rt.set_current_revision(rt.revision + 5),
        rt.clear_cache,
    ]
    for move in moves:
        length(rt, "a")
        assert _entries(rt) == 0, "a key read once in a revision is not held"
        length(rt, "a")
        assert _entries(rt) == 1, "the second call put it there"
        move()
        assert _entries(rt) == 0
    rt.set(source["a"], "abcd")  # equal: no new revision, so nothing is forgotten
    length(rt, "a")
    length(rt, "a")
    rt.set(source["a"], "abcd")
    assert _entries(rt) == 1


def test_errors_and_lru_values_are_never_held_for_the_hit() -> None:
    rt = _runtime()

    @sf.query(name="tests.hits.fails")
    def fails(db: Any) -> int:
        raise ValueError(source(db, "a"))

    @sf.query(name="tests.hits.bounded", lru=1)
    def bounded(db: Any, path: str) -> int:
        runs[f"bounded:{path}"] += 1
        return len(path)

    for _ in range(2):
        with pytest.raises(ValueError, match="abc"):
            fails(rt)
    bounded(rt, "x")
    rt.query(bounded, "x", retry=False)  # a second call straight to the engine
    bounded(rt, "yy")  # evicts "x": its next call must execute it again
    bounded(rt, "x")
    assert runs["bounded:x"] == 2
    assert _entries(rt) == 0, "neither the error nor the lru value is held"


def test_clear_cache_lets_go_of_the_values_the_hit_held() -> None:
    rt = _runtime()
    held = weakref.ref(boxed(rt, "a"))
    assert boxed(rt, "a") is held()
    rt.clear_cache()
    gc.collect()
    assert held() is None


def test_after_a_write_returns_no_thread_is_served_the_old_value() -> None:
    # Readers keep the hit table busy while the main thread writes; each
    # write's new value must be what every call made after it returns sees.
    rt = _runtime()
    stop = threading.Event()
    seen_after: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    written = [3]

    def read() -> None:
        try:
            while not stop.is_set():
                floor = written[0]  # written before this read started
                got = length(rt, "a")
                if got < floor:
                    seen_after.append((floor, got))
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for size in range(4, 304):
            rt.set(source["a"], "x" * size)
            written[0] = size
            assert length(rt, "a") == size
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
    assert not errors
    assert not any(thread.is_alive() for thread in readers)
    assert seen_after == [], "a value from before a finished write"
