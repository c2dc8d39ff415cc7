"""The Driver end to end: a query declares subscriptions, messages update inputs."""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from watchfiles import Change

import sofrito as sf
from sofrito.subscriptions import Driver, Every, FileWatch, Subscription

watched = sf.Input("driver.watched")
seen = sf.Input("driver.seen")
ticks = sf.Input("driver.ticks")


def _batch(batch: Any) -> tuple[str, Any]:
    return ("files", batch)


@sf.query(name="driver.declared")
def declared(db: Any) -> list[Subscription[Any]]:
    return [FileWatch([watched(db)], _batch, debounce=20)]


@sf.query(name="driver.report")
def report(db: Any) -> list[str]:
    return sorted(Path(path).name for path in seen(db))


def _update(rt: sf.Runtime, message: tuple[str, Any]) -> None:
    kind, payload = message
    if kind == "files":
        names = {path for change, path in payload if change != Change.deleted}
        rt.set(seen, rt.get(seen) | frozenset(names))


def _sofrito_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sofrito-")]


def _wait_for(rt: sf.Runtime, condition: Any, poke: Any, timeout: float = 20) -> None:
    """Wait on the revision watch until ``condition(rt)``; ``poke`` re-triggers the watcher."""
    watch = rt.subscribe_revisions()
    for _ in range(int(timeout / 0.2)):
        if condition(rt):
            return
        poke()
        with contextlib.suppress(TimeoutError):
            watch.changed(timeout=0.2)
    raise AssertionError("the driver never got there")


@pytest.mark.timeout(60)
def test_driver_feeds_file_changes_into_inputs_and_follows_the_declared_set(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    rt = sf.Runtime()
    rt.set(watched, str(first))
    rt.set(seen, frozenset())
    driver: Driver[tuple[str, Any]] = Driver(rt, subscriptions=declared, update=_update)
    runner = threading.Thread(target=driver.run)
    runner.start()
    try:
        _wait_for(rt, lambda r: "a.md" in report(r), lambda: (first / "a.md").write_text("x"))
        starts = driver.reconciler.stats.starts
        _wait_for(rt, lambda r: "b.md" in report(r), lambda: (first / "b.md").write_text("y"))
        assert driver.reconciler.stats.starts == starts == 1  # editing did not restart it
        rt.set(watched, str(second))  # the declared set changes: the watcher moves
        _wait_for(rt, lambda r: "c.md" in report(r), lambda: (second / "c.md").write_text("z"))
        assert driver.reconciler.stats.starts == 2
        assert driver.reconciler.stats.stops == 1
    finally:
        driver.stop()
        runner.join(10)
    assert not runner.is_alive()
    assert _sofrito_threads() == []
    assert driver.messages >= 3


@pytest.mark.timeout(30)
def test_update_errors_go_to_on_error_and_the_loop_goes_on() -> None:
    failures: list[BaseException] = []
    rt = sf.Runtime()
    rt.set(ticks, 0)
    done = threading.Event()

    @sf.query(name="driver.timer")
    def timer(db: Any) -> list[Subscription[int]]:
        return [Every(0.01, lambda tick: tick)]

    def update(rt: sf.Runtime, tick: int) -> None:
        if tick == 2:
            raise ValueError("bad tick")
        rt.set(ticks, tick)
        if tick >= 4:
            done.set()

    driver: Driver[int] = Driver(rt, subscriptions=timer, update=update, on_error=failures.append)
    runner = threading.Thread(target=driver.run)
    runner.start()
    assert done.wait(20)
    driver.stop()
    runner.join(10)
    assert [str(f) for f in failures] == ["bad tick"]
    assert rt.get(ticks) >= 4
    assert _sofrito_threads() == []


@pytest.mark.timeout(30)
def test_stop_from_a_signal_handler() -> None:
    rt = sf.Runtime()
    rt.set(ticks, 0)

    @sf.query(name="driver.slow_timer")
    def slow_timer(db: Any) -> list[Subscription[int]]:
        return [Every(0.05, lambda tick: tick)]

    driver: Driver[int] = Driver(
        rt, subscriptions=slow_timer, update=lambda rt, t: rt.set(ticks, t)
    )
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: driver.stop())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        driver.run()  # on the main thread, where signal handlers run
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert rt.get(ticks) >= 1
    assert _sofrito_threads() == []
