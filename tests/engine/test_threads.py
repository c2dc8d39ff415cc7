"""Real threads: single-flight, cycles across threads, cancellation, no mixed revisions.

Threads meet at staged events and barriers, never at sleeps.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

import sofrito as sf

source = sf.Input("threads.source")
values = sf.Input("threads.values")


def _start(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(30)
def test_eight_threads_share_one_execution() -> None:
    entered = threading.Event()
    release = threading.Event()
    runs = Counter[str]()

    @sf.query(name="threads.slow")
    def slow(db: Any) -> list[int]:
        runs["slow"] += 1
        entered.set()
        release.wait(10)
        return [source(db)]

    rt = sf.Runtime()
    rt.set(source, 7)
    results: list[object] = []
    lock = threading.Lock()
    arrived = threading.Barrier(9)

    def call() -> None:
        arrived.wait()
        value = slow(rt)
        with lock:
            results.append(value)

    threads = [_start(call) for _ in range(8)]
    arrived.wait()
    entered.wait(10)
    memo = rt._engine.memo_for(slow.spec, ())
    while memo.claim is None or memo.claim.done is None:  # until others wait on the claim
        threading.Event().wait(0.001)
    release.set()
    for thread in threads:
        thread.join(10)
    assert runs["slow"] == 1
    assert len(results) == 8
    assert all(result is results[0] for result in results)


@pytest.mark.timeout(30)
def test_cycle_across_threads_is_reported_not_a_deadlock() -> None:
    both_inside = threading.Barrier(2)
    first_time = {"a": True, "b": True}

    @sf.query(name="threads.a")
    def a(db: Any) -> int:
        if first_time["a"]:
            first_time["a"] = False
            both_inside.wait(10)
        return b(db) + 1

    @sf.query(name="threads.b")
    def b(db: Any) -> int:
        if first_time["b"]:
            first_time["b"] = False
            both_inside.wait(10)
        return a(db) + 1

    rt = sf.Runtime()
    errors: dict[str, BaseException] = {}

    def run(name: str, q: Any) -> None:
        try:
            q(rt)
        except BaseException as exc:
            errors[name] = exc

    threads = [_start(run, "a", a), _start(run, "b", b)]
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads)
    assert isinstance(errors["a"], sf.CycleError)
    assert isinstance(errors["b"], sf.CycleError)
    cycle = [str(ref) for ref in errors["a"].cycle]
    assert sorted(cycle) == ["threads.a()", "threads.b()"]
    with pytest.raises(sf.CycleError):
        a(rt)  # not cached: still a cycle when asked again


@pytest.mark.timeout(30)
def test_write_cancels_a_running_computation_which_retries_at_the_new_revision() -> None:
    inside = threading.Event()
    proceed = threading.Event()
    attempts = Counter[int]()

    @sf.query(name="threads.reader")
    def reader(db: Any) -> int:
        first = source(db)
        attempts[first] += 1
        if first == 1:
            inside.set()
            proceed.wait(10)
        return first + source(db)  # a db access after the write: cancelled here

    rt = sf.Runtime()
    rt.set(source, 1)
    result: list[int] = []
    thread = _start(lambda: result.append(reader(rt)))
    inside.wait(10)
    writer = _start(rt.set, source, 5)
    while not rt._engine.gate.cancel_requested:
        threading.Event().wait(0.001)
    proceed.set()
    writer.join(10)
    thread.join(10)
    assert result == [10]  # never 1 + 5: no result mixes two revisions
    assert attempts == {1: 1, 5: 1}


@pytest.mark.timeout(30)
def test_retry_false_lets_cancelled_through() -> None:
    inside = threading.Event()
    proceed = threading.Event()

    @sf.query(name="threads.once")
    def once(db: Any) -> int:
        value = source(db)
        inside.set()
        proceed.wait(10)
        return value + source(db)

    rt = sf.Runtime()
    rt.set(source, 1)
    outcome: list[BaseException | int] = []

    def call() -> None:
        try:
            outcome.append(rt.query(once, retry=False))
        except sf.Cancelled as exc:
            outcome.append(exc)

    thread = _start(call)
    inside.wait(10)
    writer = _start(rt.set, source, 2)
    while not rt._engine.gate.cancel_requested:
        threading.Event().wait(0.001)
    proceed.set()
    thread.join(10)
    writer.join(10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], sf.Cancelled)
    assert "call again" in str(outcome[0])
    assert once(rt) == 4


@pytest.mark.timeout(60)
def test_readers_never_see_a_mix_of_revisions_under_a_stream_of_batches() -> None:
    width = 20
    rounds = 150
    executions = Counter[tuple[str, int]]()
    lock = threading.Lock()

    @sf.query(name="threads.cell")
    def cell(db: Any, index: int) -> int:
        return values(db, index) * 1  # type: ignore[no-any-return]

    @sf.query(name="threads.total")
    def total(db: Any) -> int:
        revision = db.runtime.revision
        with lock:
            executions[("total", revision)] += 1
        return sum(cell(db, index) for index in range(width))

    rt = sf.Runtime()
    with rt.batch():
        for index in range(width):
            rt.set(values[index], 0)
    stop = threading.Event()
    seen: list[int] = []
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            value = total(rt)
            if value % width:
                problems.append(f"mixed result {value}")
            seen.append(value)

    def write() -> None:
        for version in range(1, rounds + 1):
            with rt.batch():
                for index in range(width):
                    rt.set(values[index], version)
            if version % 10 == 0:
                rt.set(source, version)  # single writes too
        stop.set()

    readers = [_start(read) for _ in range(4)]
    writer = _start(write)
    writer.join(50)
    for thread in readers:
        thread.join(10)
    assert not writer.is_alive()
    assert not any(thread.is_alive() for thread in readers)
    assert problems == []
    assert seen
    assert total(rt) == width * rounds
    assert max(executions.values()) == 1  # single-flight: once per revision


@pytest.mark.timeout(30)
def test_writing_from_inside_a_query_is_refused_not_a_deadlock() -> None:
    @sf.query(name="threads.impure")
    def impure(db: Any) -> int:
        db.runtime.set(source, 99)
        return 1

    rt = sf.Runtime()
    rt.set(source, 1)
    with pytest.raises(RuntimeError, match="cannot write to the runtime from inside a query"):
        impure(rt)
    assert rt.get(source) == 1
