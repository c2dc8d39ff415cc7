"""Every: ticks, dedupe by interval, explicit ids, prompt stop."""

from __future__ import annotations

import queue
import threading

import pytest

from sofrito.subscriptions import Closed, Every, Reconciler, StopSignal

from .helpers import new_threads, thread_snapshot


def test_equal_intervals_dedupe_and_explicit_ids_do_not() -> None:
    assert Every(0.5, str).id == Every(0.5, repr).id
    assert Every(1, str).id == Every(1.0, str).id
    assert Every(0.5, str) == Every(0.5, repr)  # equal declarations: a list cuts off early
    assert len({Every(0.5, str), Every(0.5, repr)}) == 1
    assert Every(0.5, str).id != Every(1.0, str).id
    assert Every(0.5, str, id=1).id == 1
    assert Every(0.5, str, id=1) != Every(0.5, str)
    with pytest.raises(ValueError, match="positive interval"):
        Every(0, str)


@pytest.mark.timeout(30)
def test_equal_intervals_run_one_timer() -> None:
    ticks: queue.SimpleQueue[str] = queue.SimpleQueue()
    reconciler: Reconciler[str] = Reconciler(ticks.put)
    reconciler.reconcile([Every(0.01, lambda t: f"a{t}"), Every(0.01, lambda t: f"b{t}")])
    assert ticks.get(timeout=5) == "a1"  # the first declaration wins; the second never runs
    assert reconciler.stats.starts == 1
    reconciler.stop_all()


@pytest.mark.timeout(30)
def test_ticks_arrive_counted_and_stop_promptly() -> None:
    before = thread_snapshot()
    ticks: queue.SimpleQueue[str] = queue.SimpleQueue()
    reconciler: Reconciler[str] = Reconciler(ticks.put, join_timeout=5)
    reconciler.reconcile([Every(0.01, lambda tick: f"tick {tick}")])
    assert [ticks.get(timeout=5) for _ in range(3)] == ["tick 1", "tick 2", "tick 3"]
    reconciler.stop_all()
    assert new_threads(before) == []


@pytest.mark.timeout(30)
def test_a_long_interval_does_not_delay_the_stop() -> None:
    stop = StopSignal()
    finished = threading.Event()

    def run() -> None:
        Every(3600, str).run(lambda _: None, stop)
        finished.set()

    thread = threading.Thread(target=run)
    thread.start()
    stop.stop()
    assert finished.wait(5)  # an hour-long wait ended at once
    thread.join()


@pytest.mark.timeout(30)
def test_closed_ends_the_timer() -> None:
    def send(_: str) -> None:
        raise Closed("gone")

    with pytest.raises(Closed):
        Every(0.001, str).run(send, StopSignal())
