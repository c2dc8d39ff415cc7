"""Every: ticks, dedupe by interval, explicit ids, prompt stop, both kinds of factory."""

from __future__ import annotations

import functools
import queue
import threading
from typing import Any

import pytest

import sofrito as sf
from sofrito.subscriptions import Closed, Driver, Every, Reconciler, StopSignal, Subscription

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


# -- make_msg() with no argument, as the subscription model has it ------------------------

ticked = sf.Input("every.ticked")


@sf.query(name="every.zero_argument_timer", persist=False)
def zero_argument_timer(db: Any) -> list[Subscription[str]]:
    return [Every(0.01, lambda: "tick")]


@pytest.mark.timeout(30)
def test_a_zero_argument_factory_ticks_a_driver() -> None:
    before = thread_snapshot()
    rt = sf.Runtime()
    rt.set(ticked, 0)
    drivers: list[Driver[str]] = []
    failures: list[BaseException] = []

    def update(rt: sf.Runtime, message: str) -> None:
        assert message == "tick"
        rt.set(ticked, rt.get(ticked) + 1)
        if rt.get(ticked) == 3:
            drivers[0].stop()

    def on_error(exc: BaseException) -> None:
        failures.append(exc)
        drivers[0].stop()

    driver: Driver[str] = Driver(
        rt, subscriptions=zero_argument_timer, update=update, on_error=on_error
    )
    drivers.append(driver)
    driver.run()
    assert failures == []
    assert rt.get(ticked) == 3
    assert driver.reconciler.stats.panics == 0
    assert new_threads(before) == []


@pytest.mark.timeout(30)
def test_factories_get_the_tick_only_when_they_take_an_argument() -> None:
    class Beat:
        """A message class whose constructor takes nothing."""

    def counted(tick: int) -> str:
        return f"tick {tick}"

    def optional(tick: int = 0) -> str:  # can take the count: gets it
        return f"optional {tick}"

    messages: queue.SimpleQueue[object] = queue.SimpleQueue()
    for make_msg in (lambda: "bare", Beat, counted, optional, functools.partial(counted)):
        reconciler: Reconciler[object] = Reconciler(messages.put)
        reconciler.reconcile([Every(0.01, make_msg)])
        first, second = messages.get(timeout=5), messages.get(timeout=5)
        reconciler.stop_all()
        while not messages.empty():
            messages.get()
        if make_msg is Beat:
            assert isinstance(first, Beat)
            assert isinstance(second, Beat)
        else:
            assert (first, second) in {
                ("bare", "bare"),
                ("tick 1", "tick 2"),
                ("optional 1", "optional 2"),
            }, make_msg


def test_a_type_error_inside_the_factory_is_not_hidden() -> None:
    def broken() -> str:
        return len(3)  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="has no len"):
        Every(0.001, broken).run(lambda _: None, StopSignal())


def test_a_factory_that_needs_two_arguments_is_refused_at_declaration() -> None:
    def two(a: int, b: int) -> str:
        return f"{a}{b}"

    refused = r"no argument or one \(the tick count\); .*two\(a.*, b.*\).* takes neither"
    with pytest.raises(TypeError, match=refused):
        Every(1.0, two)  # type: ignore[call-overload]
