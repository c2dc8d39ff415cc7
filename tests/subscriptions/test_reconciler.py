"""Reconcile keeps, starts and stops by id; errors are contained; nothing leaks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from sofrito.subscriptions import Closed, Reconciler, StopSignal

from .helpers import new_threads, thread_snapshot


@dataclass(eq=False)
class Recorder:
    """A subscription that reports its lifecycle through events, then waits for its stop."""

    sub_id: int
    started: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)
    runs: int = 0

    @property
    def id(self) -> int:
        return self.sub_id

    def run(self, send: Callable[[str], None], stop: StopSignal) -> None:
        self.runs += 1
        self.started.set()
        send(f"hello from {self.sub_id}")
        stop.wait(None)
        self.stopped.set()


@dataclass(eq=False)
class OneShot:
    """Sends one message and returns by itself, like a command that finished."""

    sub_id: int
    done: threading.Event = field(default_factory=threading.Event)
    runs: int = 0

    @property
    def id(self) -> int:
        return self.sub_id

    def run(self, send: Callable[[str], None], stop: StopSignal) -> None:
        self.runs += 1
        send("done")
        self.done.set()


class Broken:
    id = 9

    def run(self, send: Callable[[str], None], stop: StopSignal) -> None:
        raise RuntimeError("sensor unplugged")


@pytest.mark.timeout(30)
def test_reconcile_starts_keeps_and_stops_by_id() -> None:
    before = thread_snapshot()
    messages: list[str] = []
    reconciler: Reconciler[str] = Reconciler(messages.append)
    one, two, three = Recorder(1), Recorder(2), Recorder(3)
    reconciler.reconcile([one, two])
    assert one.started.wait(5)
    assert two.started.wait(5)
    reconciler.reconcile([Recorder(2), three])  # 2 kept (same id), 1 stopped, 3 started
    assert one.stopped.is_set()  # stopping joins: it has returned by now
    assert three.started.wait(5)
    assert two.runs == 1  # never restarted
    assert not two.stopped.is_set()
    assert reconciler.running_ids == {2, 3}
    assert sorted(messages) == ["hello from 1", "hello from 2", "hello from 3"]
    stats = reconciler.stats
    assert (stats.starts, stats.stops, stats.reconciles, stats.panics) == (3, 1, 2, 0)
    reconciler.stop_all()
    assert two.stopped.is_set()
    assert three.stopped.is_set()
    assert reconciler.running_ids == frozenset()
    assert reconciler.stats.stops == 3
    assert new_threads(before) == []


@pytest.mark.timeout(30)
def test_duplicate_ids_first_declaration_wins() -> None:
    reconciler: Reconciler[str] = Reconciler(lambda _: None)
    first, second = Recorder(7), Recorder(7)
    reconciler.reconcile([first, second])
    assert first.started.wait(5)
    reconciler.stop_all()
    assert (first.runs, second.runs) == (1, 0)
    assert reconciler.stats.starts == 1


@pytest.mark.timeout(30)
def test_start_stop_and_stop_all_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    reconciler: Reconciler[str] = Reconciler(lambda _: None)
    with caplog.at_level(logging.INFO, logger="sofrito.subscriptions"):
        reconciler.reconcile([Recorder(0x1A)])
        reconciler.reconcile([])
        reconciler.stop_all()
    text = caplog.text
    assert "start 0x1a" in text
    assert "stop 0x1a" in text
    assert "stop_all: 0 subscription(s)" in text


@pytest.mark.timeout(30)
def test_a_finished_subscription_is_not_rerun_while_it_stays_declared() -> None:
    reconciler: Reconciler[str] = Reconciler(lambda _: None)
    shot = OneShot(3)
    reconciler.reconcile([shot])
    assert shot.done.wait(5)
    reconciler.reconcile([shot])  # still declared: it finished, it is not started again
    assert shot.runs == 1
    assert reconciler.running_ids == {3}
    reconciler.reconcile([])
    reconciler.reconcile([shot])  # removed, then declared again: a new start
    reconciler.stop_all()
    assert shot.runs == 2
    assert reconciler.stats.starts == 2


@pytest.mark.timeout(30)
def test_raising_subscription_is_counted_logged_removed_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = thread_snapshot()
    errors: list[tuple[int, BaseException]] = []
    reported = threading.Event()

    def on_error(sub_id: int, exc: BaseException) -> None:
        errors.append((sub_id, exc))
        reported.set()

    reconciler: Reconciler[str] = Reconciler(lambda _: None, on_error=on_error)
    with caplog.at_level(logging.ERROR, logger="sofrito.subscriptions"):
        reconciler.reconcile([Broken()])
        assert reported.wait(5)
    assert [(sub_id, str(exc)) for sub_id, exc in errors] == [(9, "sensor unplugged")]
    assert reconciler.stats.panics == 1
    assert reconciler.running_ids == frozenset()
    assert "subscription 0x9 raised; it is removed" in caplog.text
    assert "sensor unplugged" in caplog.text  # the traceback is logged
    reported.clear()
    reconciler.reconcile([Broken()])  # declared again: it starts again
    assert reported.wait(5)
    assert (reconciler.stats.starts, reconciler.stats.panics) == (2, 2)
    reconciler.stop_all()
    assert new_threads(before) == []


class Heard(logging.Handler):
    """Sets ``heard`` once a record containing ``text`` is logged, from any thread."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.heard = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.heard.set()


@pytest.mark.timeout(30)
def test_an_on_error_that_raises_is_logged_not_fatal() -> None:
    def on_error(sub_id: int, exc: BaseException) -> None:
        raise ValueError("bad handler")

    logger = logging.getLogger("sofrito.subscriptions")
    handler = Heard("on_error raised while reporting subscription 0x9")
    logger.addHandler(handler)
    try:
        reconciler: Reconciler[str] = Reconciler(lambda _: None, on_error=on_error)
        reconciler.reconcile([Broken()])
        assert handler.heard.wait(5)
    finally:
        logger.removeHandler(handler)
    assert reconciler.stats.panics == 1
    reconciler.stop_all()


@pytest.mark.timeout(30)
def test_on_error_may_reconcile_from_the_failing_thread() -> None:
    reconciled = threading.Event()
    reconcilers: list[Reconciler[str]] = []

    def on_error(sub_id: int, exc: BaseException) -> None:
        reconcilers[0].reconcile([Recorder(11)])  # no deadlock: the lock is not held here
        reconciled.set()

    reconciler: Reconciler[str] = Reconciler(lambda _: None, on_error=on_error)
    reconcilers.append(reconciler)
    reconciler.reconcile([Broken()])
    assert reconciled.wait(5)
    assert reconciler.running_ids == {11}
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
            removed.wait(5)  # does not look at its stop signal
            try:
                send("too late")
            except Closed:
                outcome.append("closed")
            finished.set()

    reconciler: Reconciler[str] = Reconciler(outcome.append, join_timeout=0.01)
    reconciler.reconcile([Stubborn()])
    reconciler.reconcile([])
    removed.set()
    assert finished.wait(5)
    assert outcome == ["first", "closed"]


@pytest.mark.timeout(30)
def test_send_after_stop_all_raises_closed_and_run_ends() -> None:
    before = thread_snapshot()
    received: list[str] = []
    results: list[str] = []
    sent_once = threading.Event()

    class Chatty:
        id = 6

        def run(self, send: Callable[[str], None], stop: StopSignal) -> None:
            send("first")
            sent_once.set()
            try:
                while True:  # ignores its stop signal: only Closed ends it
                    send("more")
                    stop.wait(0.001)
            except Closed as closed:
                results.append(str(closed))
                raise

    reconciler: Reconciler[str] = Reconciler(received.append)
    reconciler.reconcile([Chatty()])
    assert sent_once.wait(5)
    reconciler.stop_all()
    assert results == ["subscription 0x6 was stopped; return from run"]
    assert reconciler.stats.panics == 0  # Closed is an ordinary end
    assert new_threads(before) == []


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
    assert "stop 0x5: its thread did not exit within 0.1 s" in caplog.text
    release.set()


@pytest.mark.timeout(30)
def test_stop_all_twice_and_reuse_after_it() -> None:
    reconciler: Reconciler[str] = Reconciler(lambda _: None)
    first = Recorder(1)
    reconciler.reconcile([first])
    assert first.started.wait(5)
    reconciler.stop_all()
    reconciler.stop_all()
    assert reconciler.stats.stops == 1
    again = Recorder(1)
    reconciler.reconcile([again])  # a stopped reconciler can run things again
    assert again.started.wait(5)
    reconciler.stop_all()
    assert again.stopped.is_set()


def reporter_held_until(release: threading.Event, entered: threading.Event) -> Callable[..., None]:
    """An ``on_error`` that stays in the report until ``release``."""

    def on_error(sub_id: int, exc: BaseException) -> None:
        entered.set()
        release.wait(10)

    return on_error


@pytest.mark.timeout(30)
def test_stop_all_joins_a_failed_subscription_still_reporting() -> None:
    before = thread_snapshot()
    entered, release = threading.Event(), threading.Event()
    on_error = reporter_held_until(release, entered)
    reconciler: Reconciler[str] = Reconciler(lambda _: None, on_error=on_error)
    reconciler.reconcile([Broken()])
    assert entered.wait(5)
    release.set()
    reconciler.stop_all()  # not in the running set any more, but its thread is joined
    assert new_threads(before) == []


@pytest.mark.timeout(30)
def test_a_failed_subscription_stuck_in_its_report_is_logged_by_stop_all(
    caplog: pytest.LogCaptureFixture,
) -> None:
    entered, release = threading.Event(), threading.Event()
    on_error = reporter_held_until(release, entered)
    reconciler: Reconciler[str] = Reconciler(lambda _: None, on_error=on_error, join_timeout=0.05)
    reconciler.reconcile([Broken()])
    assert entered.wait(5)
    with caplog.at_level(logging.ERROR, logger="sofrito.subscriptions"):
        reconciler.stop_all()
    release.set()
    assert "0x9 failed and is still reporting it after 0.1 s" in caplog.text
