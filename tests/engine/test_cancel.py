"""The write gate with real threads: a write waits for the reads in flight, and
reads that arrive while it waits wait for it (``_engine/cancel.py``).

Readers enter and leave the gate without a lock; these tests pin the
handshake that replaces it. Threads meet at events; "blocked inside the
runtime" is read from the threads' stacks, as in ``test_threads.py``.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest

import sofrito as sf
from tests.engine.test_threads import WAIT, Outcomes, _blocked_in_runtime, _join, _start, _until

source = sf.Input("gate.source")


@pytest.mark.timeout(30)
def test_a_write_waits_for_a_read_in_flight_and_later_reads_wait_for_the_write() -> None:
    inside = threading.Event()
    finish = threading.Event()

    @sf.query(name="gate.slow")
    def slow(db: Any) -> int:
        value: int = source(db)
        inside.set()
        assert finish.wait(WAIT)  # no db access meanwhile: nothing cancels this body
        return value * 10

    @sf.query(name="gate.quick")
    def quick(db: Any) -> int:
        return source(db) + 1  # type: ignore[no-any-return]

    rt = sf.Runtime()
    rt.set(source, 1)
    before = rt.revision
    first, later = Outcomes(), Outcomes()
    reader = _start(first.call, lambda: slow(rt))
    assert inside.wait(WAIT)
    writer = _start(rt.set, source, 2)
    _until(lambda: _blocked_in_runtime(writer), "the write waits for the read in flight")
    late_reader = _start(later.call, lambda: quick(rt))
    _until(lambda: _blocked_in_runtime(late_reader), "a new read waits for the waiting write")
    assert rt.revision == before  # nothing written while the first read runs
    finish.set()
    _join([reader, writer, late_reader])
    assert first.items == [10]  # finished whole, at the revision it started in
    assert later.items == [3]  # read after the write, never before it
    assert rt.revision == before + 1


@pytest.mark.timeout(60)
def test_finished_reader_threads_leave_no_record_for_a_writer_to_wait_on() -> None:
    """Each thread's read count lives in a record of its own; a thread that ends
    takes its record with it, so writers never look at (or wait on) the dead."""

    @sf.query(name="gate.echo")
    def echo(db: Any, i: int) -> int:
        return source(db) * 100 + i  # type: ignore[no-any-return]

    rt = sf.Runtime()
    rt.set(source, 0)
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def read_once(i: int) -> None:
        value = echo(rt, i)
        with lock:
            seen.append((i, value))

    for round_ in range(1, 41):
        readers = [_start(read_once, i) for i in range(5)]  # each thread reads once and ends
        rt.set(source, round_)  # waits for the readers in flight, not for the finished ones
        _join(readers)
    assert len(seen) == 200
    assert all(value % 100 == i and 0 <= value // 100 <= 40 for i, value in seen)
    assert echo(rt, 7) == 4007
    gc.collect()
    records = list(rt._engine.gate._readers.values())
    assert len(records) <= 1  # this thread's own, at most: 200 threads came and went
    assert all(record.depth == 0 for record in records)
