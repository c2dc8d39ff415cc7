"""Reconcile keeps, starts and stops by id; errors are contained; nothing leaks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from sofrito.subscriptions import Closed, Reconciler, StopSignal


@dataclass
class Recorder:
    """A subscription that reports its lifecycle through events."""

    sub_id: int
    started: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)
    runs: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.sub_id

    def run(self, send: Callable[[str], None], stop: StopSignal) -> None:
        self.runs.append(1)
        self.started.set()
        send(f"hello from {self.sub_id}")
        stop.wait(None)
        self.stopped.set()


def _sofrito_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sofrito-sub-")]


@pytest.mark.timeout(30)
def test_reconcile_starts_keeps_and_stops_by_id() -> None:
    messages: list[str] = []
    reconciler: Reconciler[str] = Reconciler(messages.append)
    one, two, three = Recorder(1), Recorder(2), Recorder(3)
    reconciler.reconcile([one, two])
    assert one.started.wait(5)
    assert two.started.wait(5)
    reconciler.reconcile([Recorder(2), three])  # 2 kept (same id), 1 stopped, 3 started
    assert one.stopped.wait(5)
    assert three.started.wait(5)
    assert two.runs == [1]  # never restarted
    assert not two.stopped.is_set()
    assert reconciler.running_ids == {2, 3}
    assert sorted(messages) == ["hello from 1", "hello from 2", "hello from 3"]
    assert (reconciler.stats.starts, reconciler.stats.stops, reconciler.stats.reconciles) == (
        3,
        1,
        2,
    )
    reconciler.stop_all()
    assert two.stopped.is_set()
    assert three.stopped.is_set()
    assert _sofrito_threads() == []


def test_duplicate_ids_first_declaration_wins() -> None:
    reconciler: Reconciler[str] = Reconciler(lambda _: None)
    first, second = Recorder(7), Recorder(7)
    reconciler.reconcile([first, second])
    assert first.started.wait(5)
    assert second.runs == []
    reconciler.stop_all()


@pytest.mark.timeout(30)
def test_raising_subscription_is_counted_logged_removed_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors: list[tuple[int, BaseException]] = []
    reported = threading.Event()

    def on_error(sub_id: int, exc: BaseException) -> None:
        errors.append((sub_id, exc))
        reported.set()

    class Broken:
        id = 9

        def run(self, send: Callable[[str], None], stop: StopSignal) -> None:
            raise RuntimeError("sensor unplugged")

    reconciler: Reconciler[str] = Reconciler(lambda _: None, on_error=on_error)
    with caplog.at_level(logging.ERROR, logger="sofrito.subscriptions"):
        reconciler.reconcile([Broken()])
        assert reported.wait(5)
    assert errors[0][0] == 9
    assert str(errors[0][1]) == "sensor unplugged"
    assert reconciler.stats.panics == 1
    assert reconciler.running_ids == set()
    assert "subscription 9 raised" in caplog.text
    reconciler.reconcile([Broken()])  # declared again: it starts again
    assert reconciler.stats.starts == 2
    reconciler.stop_all()


@pytest.mark.timeout(30)
def test_send_after_removal_raises_closed() -> None:
    outcome: list[str] = []
    removed = threading.Event()
    finished = threading.Event()

    class Stubborn:
        id = 4

        def run(self, send: Callable[[str], None], stop: StopSignal) -> None:
            send("first")
            removed.wait(5)
            try:
                send("too late")
            except Closed:
                outcome.append("closed")
            finished.set()

    reconciler: Reconciler[str] = Reconciler(outcome.append, join_timeout=0.1)
    reconciler.reconcile([Stubborn()])
    reconciler.reconcile([])
    removed.set()
    assert finished.wait(5)
    assert outcome == ["first", "closed"]


@pytest.mark.timeout(30)
def test_thread_that_will_not_exit_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()

    class Deaf:
        id = 5

        def run(self, send: Callable[[str], None], stop: StopSignal) -> None:
            release.wait(10)  # ignores its stop signal

    reconciler: Reconciler[str] = Reconciler(lambda _: None, join_timeout=0.05)
    reconciler.reconcile([Deaf()])
    with caplog.at_level(logging.ERROR, logger="sofrito.subscriptions"):
        reconciler.stop_all()
    assert "did not exit within 0.1 s" in caplog.text
    release.set()
