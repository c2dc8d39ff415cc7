"""The Driver end to end: a query declares subscriptions, messages update inputs.

Each scenario runs the real loop with real threads, files and child
processes, and ends by checking that nothing is left: no new thread, no child
process, no grandchild.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from watchfiles import Change

import sofrito as sf
from sofrito.subscriptions import (
    Batch,
    Driver,
    Every,
    FileWatch,
    Process,
    ProcessEvent,
    Stdout,
    StopSignal,
    Subscription,
)

from .helpers import child_pids, gone, new_threads, thread_snapshot

PY = sys.executable
SPAWNER = (
    "import subprocess, time; g = subprocess.Popen(['sleep', '1000']); "
    "print(g.pid, flush=True); time.sleep(60)"
)
"""Starts a grandchild, prints the grandchild's pid, then sleeps until killed."""

Message = tuple[str, Any]


def tick(n: int) -> Message:
    return ("tick", n)


def in_background(driver: Driver[Any]) -> threading.Thread:
    runner = threading.Thread(target=driver.run, name="test-driver")
    runner.start()
    return runner


# -- files in, inputs out, the watcher follows the declared directory ---------------------

watched = sf.Input("driver.watched")
seen = sf.Input("driver.seen")


def files(batch: Batch) -> Message:
    return ("files", batch)


@sf.query(name="driver.declared", persist=False)
def declared(db: Any) -> list[Subscription[Message]]:
    return [FileWatch([watched(db)], files, debounce=20)]


@sf.query(name="driver.report")
def report(db: Any) -> list[str]:
    return sorted(Path(path).name for path in seen(db))


def record_files(rt: sf.Runtime, message: Message) -> None:
    kind, batch = message
    if kind == "files":
        names = {path for change, path in batch if change != Change.deleted}
        rt.set(seen, rt.get(seen) | frozenset(names))


def wait_until_reported(rt: sf.Runtime, name: str, poke: Callable[[], object]) -> None:
    """Write (``poke``) until ``name`` shows in the report: a new watcher arms asynchronously."""
    revisions = rt.subscribe_revisions()
    for _ in range(100):
        if name in report(rt):
            return
        poke()
        with contextlib.suppress(TimeoutError):
            revisions.changed(timeout=0.2)
    raise AssertionError(f"{name} never reached the runtime")


@pytest.mark.timeout(60)
def test_file_changes_become_inputs_and_the_watcher_follows_the_declared_set(
    tmp_path: Path,
) -> None:
    before = thread_snapshot()
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    rt = sf.Runtime()
    rt.set(watched, str(first))
    rt.set(seen, frozenset())
    driver: Driver[Message] = Driver(rt, subscriptions=declared, update=record_files)
    runner = in_background(driver)
    try:
        wait_until_reported(rt, "a.md", lambda: (first / "a.md").write_text("x"))
        wait_until_reported(rt, "b.md", lambda: (first / "b.md").write_text("y"))
        stats = driver.reconciler.stats
        assert (stats.starts, stats.stops) == (1, 0)  # messages and writes did not restart it
        rt.set(watched, str(second))  # written from outside the loop: the watcher moves
        wait_until_reported(rt, "c.md", lambda: (second / "c.md").write_text("z"))
        assert (stats.starts, stats.stops) == (2, 1)
    finally:
        driver.stop()
        runner.join(10)
    assert not runner.is_alive()
    assert new_threads(before) == []
    assert driver.messages >= 3


# -- messages change the declared set: a process, then a timer ---------------------------

phase = sf.Input("driver.phase")
ticks = sf.Input("driver.ticks")


def from_process(event: ProcessEvent) -> Message:
    return ("process", event)


@sf.query(name="driver.by_phase", persist=False)
def by_phase(db: Any) -> list[Subscription[Message]]:
    if phase(db) == "process":
        return [Process(PY, from_process).args(["-c", SPAWNER])]
    return [Every(0.01, tick)]


@pytest.mark.timeout(60)
def test_messages_change_the_declared_set_and_nothing_survives_run() -> None:
    before = thread_snapshot()
    rt = sf.Runtime()
    rt.set(phase, "process")
    rt.set(ticks, 0)
    grandchildren: list[int] = []
    drivers: list[Driver[Message]] = []

    def update(rt: sf.Runtime, message: Message) -> None:
        kind, payload = message
        if kind == "process" and isinstance(payload, Stdout):
            grandchildren.append(int(payload.line))
            rt.set(phase, "timer")  # the process is no longer declared; a timer is
        elif kind == "tick":
            rt.set(ticks, payload)
            if payload >= 3:
                drivers[0].stop()  # from inside update, on the driver's own thread

    driver: Driver[Message] = Driver(rt, subscriptions=by_phase, update=update)
    drivers.append(driver)
    driver.run()
    stats = driver.reconciler.stats
    assert (stats.starts, stats.stops, stats.panics) == (2, 2, 0)
    assert rt.get(ticks) == 3
    assert child_pids() == set()
    assert gone(grandchildren[0])
    assert new_threads(before) == []


# -- errors ------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_update_errors_go_to_on_error_and_the_loop_goes_on() -> None:
    failures: list[BaseException] = []
    rt = sf.Runtime()
    rt.set(ticks, 0)
    drivers: list[Driver[Message]] = []

    @sf.query(name="driver.timer", persist=False)
    def timer(db: Any) -> list[Subscription[Message]]:
        return [Every(0.01, tick)]

    def update(rt: sf.Runtime, message: Message) -> None:
        n = message[1]
        if n == 2:
            raise ValueError("bad tick")
        rt.set(ticks, n)
        if n >= 4:
            drivers[0].stop()

    driver: Driver[Message] = Driver(
        rt, subscriptions=timer, update=update, on_error=failures.append
    )
    drivers.append(driver)
    driver.run()
    assert [str(f) for f in failures] == ["bad tick"]
    assert rt.get(ticks) == 4
    assert driver.messages == 3  # ticks 1, 3 and 4


class Broken:
    id = 0xB0

    def run(self, send: Callable[[Message], None], stop: StopSignal) -> None:
        raise RuntimeError("sensor unplugged")


@pytest.mark.timeout(30)
def test_a_failing_subscription_reaches_on_error_on_the_driver_thread() -> None:
    reports: list[tuple[BaseException, threading.Thread]] = []
    drivers: list[Driver[Message]] = []

    @sf.query(name="driver.broken", persist=False)
    def broken(db: Any) -> list[Subscription[Message]]:
        return [Broken()]

    def on_error(exc: BaseException) -> None:
        reports.append((exc, threading.current_thread()))
        drivers[0].stop()

    driver: Driver[Message] = Driver(
        sf.Runtime(), subscriptions=broken, update=lambda rt, m: None, on_error=on_error
    )
    drivers.append(driver)
    driver.run()
    [(exc, thread)] = reports
    assert str(exc) == "sensor unplugged"
    assert exc.__notes__ == ["raised by subscription 0xb0"]
    assert thread is threading.current_thread()  # not the subscription's thread
    assert driver.reconciler.stats.panics == 1


@pytest.mark.timeout(30)
def test_a_failing_query_keeps_the_loop_and_a_later_write_recovers_it() -> None:
    healthy = sf.Input("driver.healthy")
    rt = sf.Runtime()
    rt.set(healthy, False)
    failures: list[str] = []
    drivers: list[Driver[Message]] = []

    @sf.query(name="driver.fragile", persist=False)
    def fragile(db: Any) -> list[Subscription[Message]]:
        if not healthy(db):
            raise ValueError("no configuration yet")
        return [Every(0.01, tick)]

    def on_error(exc: BaseException) -> None:
        failures.append(str(exc))
        rt.set(healthy, True)  # a write, and no message: the revision watch wakes the loop

    driver: Driver[Message] = Driver(
        rt, subscriptions=fragile, update=lambda rt, m: drivers[0].stop(), on_error=on_error
    )
    drivers.append(driver)
    driver.run()
    assert failures == ["no configuration yet"]
    assert driver.messages == 1


# -- stopping ----------------------------------------------------------------------------


def stop_after_first_tick(action: Callable[[], None]) -> tuple[Driver[Message], sf.Runtime]:
    """A driver on a fast timer whose first tick fires ``action`` from another thread."""
    rt = sf.Runtime()
    rt.set(ticks, 0)
    first = threading.Event()

    @sf.query(name="driver.ticker", persist=False)
    def ticker(db: Any) -> list[Subscription[Message]]:
        return [Every(0.01, tick), Process(PY, from_process).args(["-c", SPAWNER])]

    def update(rt: sf.Runtime, message: Message) -> None:
        if message[0] == "tick":
            rt.set(ticks, message[1])
            first.set()

    def fire() -> None:
        assert first.wait(20)
        action()

    threading.Thread(target=fire, name="test-fire", daemon=True).start()
    return Driver(rt, subscriptions=ticker, update=update), rt


@pytest.mark.timeout(30)
def test_stop_from_a_signal_handler() -> None:
    before = thread_snapshot()
    driver, rt = stop_after_first_tick(lambda: os.kill(os.getpid(), signal.SIGUSR1))
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: driver.stop())
    try:
        driver.run()  # on the main thread, where the handler runs
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert rt.get(ticks) >= 1
    assert child_pids() == set()
    assert [t for t in new_threads(before) if t != "test-fire"] == []


@pytest.mark.timeout(30)
def test_ctrl_c_stops_cleanly() -> None:
    # Python's own SIGINT handler, as in any program run from a terminal (a
    # shell's background job, for one, inherits SIGINT ignored instead).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = thread_snapshot()
    driver, _ = stop_after_first_tick(lambda: os.kill(os.getpid(), signal.SIGINT))
    try:
        driver.run()  # returns instead of raising KeyboardInterrupt
    finally:
        signal.signal(signal.SIGINT, previous)
    assert driver.reconciler.stats.stops == 2
    assert child_pids() == set()
    assert [t for t in new_threads(before) if t != "test-fire"] == []


@pytest.mark.timeout(30)
def test_stop_before_run_starts_nothing() -> None:
    before = thread_snapshot()
    driver: Driver[Message] = Driver(sf.Runtime(), subscriptions=declared, update=record_files)
    driver.stop()
    driver.run()
    assert driver.reconciler.stats.starts == 0
    assert new_threads(before) == []


@pytest.mark.timeout(30)
def test_an_on_error_that_raises_ends_run_after_stopping_everything() -> None:
    before = thread_snapshot()
    rt = sf.Runtime()
    rt.set(ticks, 0)

    @sf.query(name="driver.strict", persist=False)
    def strict(db: Any) -> list[Subscription[Message]]:
        return [Every(0.01, tick), Process(PY, from_process).args(["-c", SPAWNER])]

    def update(rt: sf.Runtime, message: Message) -> None:
        if message[0] == "tick":
            raise ValueError("fatal tick")

    def on_error(exc: BaseException) -> None:
        raise exc

    driver: Driver[Message] = Driver(rt, subscriptions=strict, update=update, on_error=on_error)
    with pytest.raises(ValueError, match="fatal tick"):
        driver.run()
    assert driver.reconciler.stats.stops == 2
    assert child_pids() == set()
    assert new_threads(before) == []
    with pytest.raises(RuntimeError, match="a driver runs once"):
        driver.run()
