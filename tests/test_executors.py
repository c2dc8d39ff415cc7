"""``sofrito.executors.Threads``: keys computed on threads, results equal to the serial loop.

Real threads in the caller's runtime. Where a test needs the keys to run at
the same time, their bodies meet at a ``threading.Barrier`` (which the serial
loop could never pass: it breaks on its timeout), never at a sleep. Every test
is bounded by ``pytest.mark.timeout``: a deadlock fails, it does not hang.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

import sofrito as sf
from sofrito.executors import Dispatch, Threads
from tests.test_gather import Broken, deps_of, outcome

WAIT = 10.0
pytestmark = pytest.mark.timeout(60)

cells = sf.Input("executors.cells")
shared = sf.Input("executors.shared")
runs: Counter[tuple[str, int]] = Counter()
barrier: list[threading.Barrier] = []


@sf.query(name="executors.scale")
def scale(db: Any) -> int:
    runs["scale", 0] += 1
    return shared(db)  # type: ignore[no-any-return]


@sf.query(name="executors.item")
def item(db: Any, k: int) -> int:
    runs["item", k] += 1
    if barrier:
        barrier[0].wait()  # its own timeout
    value = cells(db, k)
    if value < 0:
        raise Broken(f"item {k} is negative")
    return value * scale(db)  # type: ignore[no-any-return]


@sf.query(name="executors.items")
def items(db: Any, n: int) -> list[int]:
    return sf.gather(db, item, [(k,) for k in range(n)])


@pytest.fixture(autouse=True)
def _reset() -> None:
    runs.clear()
    barrier.clear()


def _runtime(n: int, executor: Threads | None, first: int = 1) -> sf.Runtime:
    rt = sf.Runtime(executor=executor)
    with rt.batch():
        rt.set(shared, 3)
        for k in range(n):
            rt.set(cells[k], k + first)
    return rt


def test_bodies_that_wait_run_at_the_same_time_on_threads() -> None:
    """Four keys whose bodies wait for each other: only concurrent threads pass."""
    with Threads(4) as threads:
        rt = _runtime(4, threads)
        barrier.append(threading.Barrier(4, timeout=WAIT))
        assert items(rt, 4) == [3, 6, 9, 12]
        assert not barrier[0].broken


def test_the_serial_loop_cannot_pass_where_threads_do() -> None:
    """The barrier above is a real test: without an executor it breaks."""
    rt = _runtime(2, None)
    barrier.append(threading.Barrier(2, timeout=0.2))
    error = outcome(lambda: items(rt, 2))
    assert isinstance(error, threading.BrokenBarrierError)


def test_threads_give_the_serial_values_dependencies_and_executions_through_edits() -> None:
    n = 24
    with Threads(3) as threads:
        serial, threaded = _runtime(n, None), _runtime(n, threads)
        edits: list[tuple[Any, int]] = [
            (cells[5], 50),
            (shared, 4),
            (cells[7], -1),
            (cells[7], 7),
            (cells[0], 1),  # no-op
        ]
        for edit in [None, *edits]:
            if edit is not None:
                serial.set(*edit)
                threaded.set(*edit)
            runs.clear()
            want = outcome(lambda: items(serial, n))
            ran_serial = Counter(runs)
            runs.clear()
            got = outcome(lambda: items(threaded, n))
            assert type(got) is type(want)
            if not isinstance(want, Broken):
                assert got == want
            assert deps_of(threaded, items, n) == deps_of(serial, items, n)
            assert runs == ran_serial, edit  # each body as often as serially, scale once


def test_a_user_error_is_the_first_failing_keys_and_later_keys_are_not_recorded() -> None:
    with Threads(4) as threads:
        rt = _runtime(8, threads)
        rt.set(cells[5], -1)
        rt.set(cells[2], -2)
        error = outcome(lambda: items(rt, 8))
        assert isinstance(error, Broken)
        assert "item 2" in str(error)
        assert deps_of(rt, items, 8) == [("executors.item", (k,)) for k in range(3)]


def test_suspensions_of_every_key_are_collected_on_threads() -> None:
    with Threads(4) as threads:
        rt = _runtime(6, threads)
        rt.remove(cells[1])
        rt.remove(cells[4])
        with pytest.raises(sf.Suspend) as info:
            items(rt, 6)
        assert info.value.pending == [cells[1], cells[4]]
        with pytest.raises(sf.Suspend) as top:
            rt.query_many(item, [(k,) for k in range(6)])
        assert top.value.pending == [cells[1], cells[4]]


cycle_at = sf.Input("executors.cycle_at")


@sf.query(name="executors.cycle_key")
def cycle_key(db: Any, k: int) -> int:
    if barrier:
        barrier[0].wait()  # its own timeout
    if k == cycle_at(db):
        return sum(cycle_root(db))
    return k


@sf.query(name="executors.cycle_root")
def cycle_root(db: Any) -> list[int]:
    return sf.gather(db, cycle_key, [(k,) for k in range(4)])


def test_a_cycle_through_the_gatherer_and_a_thread_is_a_cycle_error_not_a_deadlock() -> None:
    """Key 3 reads the gathering query while a thread of the executor computes it:
    the engine sees the gatherer waiting on that key's claim and reports a cycle."""
    with Threads(4) as threads:
        rt = sf.Runtime(executor=threads)
        rt.set(cycle_at, 3)
        barrier.append(threading.Barrier(4, timeout=WAIT))
        with pytest.raises(sf.CycleError) as info:
            cycle_root(rt)
        assert {ref.kind for ref in info.value.cycle} == {
            "executors.cycle_root",
            "executors.cycle_key",
        }
        barrier.clear()
        rt.set(cycle_at, 99)
        assert cycle_root(rt) == [0, 1, 2, 3]


class Counting:
    """An executor of the protocol that counts what is dispatched, around ``Threads``."""

    def __init__(self, threads: Threads) -> None:
        self.threads = threads
        self.sent: list[list[tuple[Any, ...]]] = []

    def dispatch(self, rt: sf.Runtime, q: Any, keys: Sequence[tuple[Any, ...]], /) -> Dispatch:
        self.sent.append(list(keys))
        return self.threads.dispatch(rt, q, keys)


def test_query_many_sends_only_keys_that_are_not_current_and_a_no_op_sends_nothing() -> None:
    with Threads(2) as threads:
        counting = Counting(threads)
        rt = _runtime(6, None)
        keys = [(k,) for k in range(6)]
        assert rt.query_many(item, keys, executor=counting) == [3, 6, 9, 12, 15, 18]
        assert counting.sent == [keys]
        assert rt.query_many(item, keys, executor=counting) == [3, 6, 9, 12, 15, 18]
        assert len(counting.sent) == 1  # every key a hit: nothing shipped
        rt.set(cells[4], 0)
        rt.set(cells[1], 0)
        assert rt.query_many(item, keys, executor=counting) == [3, 0, 9, 12, 0, 18]
        # Keys 0, 2, 3, 5 are not verified in the new revision yet: they are sent too
        # (a thread verifies them); a single key would not be worth a hand-off.
        assert counting.sent[1] == keys
        assert rt.query_many(item, [(1,), (2,)], executor=counting) == [0, 9]
        assert len(counting.sent) == 2


held = sf.Input("executors.held")
started: list[int] = []
hold = threading.Event()


@sf.query(name="executors.held_item")
def held_item(db: Any, k: int) -> int:
    started.append(k)
    assert hold.wait(WAIT)
    return held(db, k) * shared(db)  # type: ignore[no-any-return]


@sf.query(name="executors.held_items")
def held_items(db: Any, n: int) -> list[int]:
    return sf.gather(db, held_item, [(k,) for k in range(n)])


def _until(condition: Any) -> None:
    for _ in range(int(WAIT / 0.001)):
        if condition():
            return
        threading.Event().wait(0.001)
    raise AssertionError("the condition never held")


def test_a_write_while_threads_compute_cancels_the_gather_and_the_retry_is_right() -> None:
    started.clear()
    hold.clear()
    with Threads(3) as threads:
        rt = sf.Runtime(executor=threads)
        with rt.batch():
            rt.set(shared, 1)
            for k in range(6):
                rt.set(held[k], k + 1)
        result: list[Any] = []
        reader = threading.Thread(target=lambda: result.append(outcome(lambda: held_items(rt, 6))))
        reader.start()
        _until(lambda: len(started) >= 3)  # three keys in flight, on threads
        writer = threading.Thread(target=lambda: rt.set(shared, 10))
        writer.start()
        _until(lambda: rt._engine.gate.cancel_requested)  # the write waits for them
        hold.set()
        reader.join(WAIT)
        writer.join(WAIT)
        assert not reader.is_alive()
        assert not writer.is_alive()
        assert result == [[10 * (k + 1) for k in range(6)]]
        assert rt.revision == 2


def test_threads_refuse_a_bad_worker_count_and_work_after_shutdown_is_refused() -> None:
    with pytest.raises(ValueError, match="positive int, got 0"):
        Threads(0)
    with pytest.raises(ValueError, match="positive int"):
        Threads(True)  # type: ignore[arg-type]
    threads = Threads(2)
    rt = _runtime(3, threads)
    assert items(rt, 3) == [3, 6, 9]
    threads.shutdown()
    rt.set(shared, 1)
    with pytest.raises(RuntimeError, match="was shut down; make a new one"):
        items(rt, 3)
    assert repr(threads) == "Threads(workers=2)"
