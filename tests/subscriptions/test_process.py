"""Process: output lines, exits, signals, timeouts, and no survivors after stop.

Every test runs real children (``sys.executable -c ...``) and checks, through
/proc, that neither they nor what they spawned are left running.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import threading
import time
from typing import Any

import pytest

from sofrito.subscriptions import (
    Closed,
    Error,
    Exited,
    Killed,
    Process,
    ProcessEvent,
    Reconciler,
    Signaled,
    Stderr,
    Stdout,
    StopSignal,
)

from .helpers import alive, child_pids, gone, new_threads, thread_snapshot

PY = sys.executable
SLEEPER = "import os, time; print(os.getpid(), flush=True); time.sleep(60)"
"""Prints its pid, then sleeps until killed."""
SPAWNER = (
    "import subprocess, time; g = subprocess.Popen(['sleep', '1000']); "
    "print(g.pid, flush=True); time.sleep(60)"
)
"""Starts a grandchild, prints the grandchild's pid, then sleeps until killed."""


def events_of(process: Process[ProcessEvent], until: type, timeout: float = 20) -> list[Any]:
    """Run ``process`` under a reconciler until an event of type ``until``; then stop all."""
    events: queue.SimpleQueue[ProcessEvent] = queue.SimpleQueue()
    reconciler: Reconciler[ProcessEvent] = Reconciler(events.put)
    reconciler.reconcile([process])
    seen: list[Any] = []
    while not seen or not isinstance(seen[-1], until):
        seen.append(events.get(timeout=timeout))
    reconciler.stop_all()
    return seen


def python(script: str) -> Process[ProcessEvent]:
    return Process(PY, lambda event: event).args(["-c", script])


def test_id_covers_program_args_env_timeout() -> None:
    base = Process("prog", repr).arg("a")
    assert base.id == Process("prog", str).args(["a"]).id
    assert base == Process("prog", str).args(["a"])  # make_msg is not part of it
    assert base.id != base.arg("b").id
    assert base.id != Process("other", repr).arg("a").id
    assert base.id != base.env("K", "v").id
    assert base.id != base.timeout(3).id
    assert base.id == base.grace(0.5).id  # how it is stopped is not what it is
    assert base.with_id(42).id == 42
    assert base.env("A", "1").env("B", "2").id == base.env("B", "2").env("A", "1").id
    assert base.env("A", "0").env("A", "1").id == base.env("A", "1").id
    with pytest.raises(ValueError, match="positive number of seconds"):
        base.timeout(0)
    with pytest.raises(TypeError, match=r"use \.arg"):
        base.args("-v")


def test_repr_shows_the_command_but_not_environment_values() -> None:
    process = Process("deploy", repr).args(["--to", "prod"]).env("TOKEN", "s3cret").timeout(9)
    text = repr(process)
    assert text.startswith("Process('deploy --to prod', env=['TOKEN'], timeout=9.0, id=0x")
    assert "s3cret" not in text


@pytest.mark.timeout(30)
def test_lines_then_exit_code() -> None:
    before = thread_snapshot()
    script = "import sys; print('one'); print('two', file=sys.stderr); print('three'); sys.exit(3)"
    events = events_of(python(script), Exited)
    assert [e for e in events if isinstance(e, Stdout)] == [Stdout("one"), Stdout("three")]
    assert [e for e in events if isinstance(e, Stderr)] == [Stderr("two")]
    assert events[-1] == Exited(3)  # the ending comes after every line
    assert new_threads(before) == []  # readers and the subscription thread are joined
    assert child_pids() == set()


def describe(event: ProcessEvent) -> str:
    """A handler written the way the subscription model spells the variants."""
    match event:
        case ProcessEvent.Stdout(line):
            return f"out {line}"
        case ProcessEvent.Stderr(line):
            return f"err {line}"
        case ProcessEvent.Exited(code):
            return f"exit {code}"
        case ProcessEvent.Signaled(sig):
            return f"signal {sig}"
        case ProcessEvent.Killed():
            return "killed"
        case ProcessEvent.Error(message):
            return f"error {message}"
        case _:
            raise AssertionError(f"not a process event: {event!r}")


@pytest.mark.timeout(30)
def test_the_variants_are_reached_through_process_event_and_match() -> None:
    script = "import sys; print('hello'); print('oops', file=sys.stderr); sys.exit(3)"
    events = events_of(python(script), ProcessEvent.Exited)
    assert sorted(map(describe, events[:-1])) == ["err oops", "out hello"]
    assert describe(events[-1]) == "exit 3"
    assert ProcessEvent.Stdout("hello") in events
    assert events[-1] == ProcessEvent.Exited(3) == Exited(3)
    assert all(isinstance(event, ProcessEvent) for event in events)
    [missing] = events_of(Process("/nonexistent/program", describe), str)
    assert missing.startswith("error cannot start '/nonexistent/program'")


def test_each_variant_is_one_class_under_two_names() -> None:
    named = {
        "Stdout": Stdout,
        "Stderr": Stderr,
        "Exited": Exited,
        "Signaled": Signaled,
        "Killed": Killed,
        "Error": Error,
    }
    for name, variant in named.items():
        assert getattr(ProcessEvent, name) is variant
        assert issubclass(variant, ProcessEvent)
        assert variant.__module__ == "sofrito.subscriptions"
    assert ProcessEvent.Stdout("hello") == Stdout("hello")
    assert not isinstance("hello", ProcessEvent)


@pytest.mark.timeout(30)
def test_environment_reaches_the_child() -> None:
    script = "import os; print(os.environ['SOFRITO_TEST'])"
    events = events_of(python(script).env("SOFRITO_TEST", "42"), Exited)
    assert events == [Stdout("42"), Exited(0)]


@pytest.mark.timeout(30)
def test_killed_by_a_signal_it_did_not_get_from_us() -> None:
    script = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    events = events_of(python(script), Signaled)
    assert events == [Signaled(signal.SIGTERM)]


@pytest.mark.timeout(30)
def test_child_that_ignores_sigterm_and_outlives_its_timeout_is_killed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = (
        "import signal, time, os; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(os.getpid(), flush=True); time.sleep(60)"
    )
    with caplog.at_level(logging.INFO, logger="sofrito.subscriptions"):
        events = events_of(python(script).timeout(0.2).grace(0.2), Killed)
    pid = int(events[0].line)
    assert events[1:] == [Killed()]
    assert gone(pid)
    assert child_pids() == set()
    log = caplog.text
    assert log.index("ran past its timeout of 0.2 s") < log.index("SIGTERM to its group")
    assert log.index("SIGTERM to its group") < log.index("ignored SIGTERM for 0.2 s: SIGKILL")


@pytest.mark.timeout(30)
def test_stop_kills_the_child_and_its_grandchildren() -> None:
    before = thread_snapshot()
    events: queue.SimpleQueue[ProcessEvent] = queue.SimpleQueue()
    reconciler: Reconciler[ProcessEvent] = Reconciler(events.put)
    reconciler.reconcile([python(SPAWNER)])
    first = events.get(timeout=20)
    assert isinstance(first, Stdout)
    grandchild = int(first.line)
    assert alive(grandchild)
    assert len(child_pids()) == 1
    reconciler.stop_all()
    assert child_pids() == set()  # the child is dead and reaped when stop_all returns
    assert gone(grandchild)  # the grandchild, now init's, is dead too
    assert events.empty()  # a stop reports no ending: nobody declared it any more
    assert new_threads(before) == []


@pytest.mark.timeout(30)
def test_grandchildren_die_with_a_child_that_exits_by_itself() -> None:
    script = "import subprocess; g = subprocess.Popen(['sleep', '1000']); print(g.pid, flush=True)"
    events = events_of(python(script), Exited)
    assert events[-1] == Exited(0)
    assert gone(int(events[0].line))


@pytest.mark.timeout(30)
def test_nothing_is_left_after_stop_all_with_several_children() -> None:
    before = thread_snapshot()
    events: queue.SimpleQueue[ProcessEvent] = queue.SimpleQueue()
    reconciler: Reconciler[ProcessEvent] = Reconciler(events.put)
    reconciler.reconcile([python(SLEEPER), python(SPAWNER), python(SLEEPER).arg("x")])
    lines = [events.get(timeout=20) for _ in range(3)]
    pids = {int(line.line) for line in lines if isinstance(line, Stdout)}
    assert len(pids) == 3
    assert len(child_pids()) == 3
    reconciler.stop_all()
    assert child_pids() == set()
    assert all(gone(pid) for pid in pids)
    assert new_threads(before) == []


@pytest.mark.timeout(30)
def test_send_raising_closed_ends_run_and_the_child() -> None:
    pids: list[int] = []

    def send(event: ProcessEvent) -> None:
        assert isinstance(event, Stdout)
        pids.append(int(event.line))
        raise Closed("nobody listens")

    python(SLEEPER).run(send, StopSignal())  # returns: the Closed ended it
    assert gone(pids[0])
    assert child_pids() == set()


@pytest.mark.timeout(30)
def test_a_make_msg_that_raises_is_a_reported_failure() -> None:
    failures: queue.SimpleQueue[BaseException] = queue.SimpleQueue()

    def make_msg(event: ProcessEvent) -> str:
        raise ValueError(f"cannot handle {event!r}")

    process = Process(PY, make_msg).args(["-c", SLEEPER])
    reconciler: Reconciler[str] = Reconciler(
        lambda _: None, on_error=lambda sub_id, exc: failures.put(exc)
    )
    reconciler.reconcile([process])
    failure = failures.get(timeout=20)
    assert isinstance(failure, ValueError)
    assert "cannot handle Stdout(line=" in str(failure)
    assert reconciler.stats.panics == 1
    assert child_pids() == set()  # ended before the failure was reported
    reconciler.stop_all()


@pytest.mark.timeout(30)
def test_program_that_does_not_exist_is_an_error_message() -> None:
    events = events_of(Process("/nonexistent/program", lambda e: e), Error)
    assert len(events) == 1
    assert "cannot start '/nonexistent/program'" in events[0].message


@pytest.mark.timeout(30)
def test_a_chatty_child_is_drained_while_it_is_stopped() -> None:
    """A stop while the child floods its pipe neither blocks the child nor the stop."""
    script = "import sys\nwhile True: sys.stdout.write('x' * 1000 + '\\n')"
    flowing = threading.Event()
    reconciler: Reconciler[ProcessEvent] = Reconciler(lambda _: flowing.set())
    reconciler.reconcile([python(script)])
    assert flowing.wait(20)
    reconciler.stop_all()
    assert child_pids() == set()


@pytest.mark.timeout(30)
def test_with_id_keeps_one_child_across_argument_edits() -> None:
    events: queue.SimpleQueue[ProcessEvent] = queue.SimpleQueue()
    reconciler: Reconciler[ProcessEvent] = Reconciler(events.put)
    reconciler.reconcile([python(SLEEPER).with_id(77)])
    first = events.get(timeout=20)
    assert isinstance(first, Stdout)
    reconciler.reconcile([python(SLEEPER).arg("edited").with_id(77)])  # same id: kept
    assert alive(int(first.line))
    reconciler.reconcile([python(SLEEPER).arg("edited")])  # the hashed id: a new child
    second = events.get(timeout=20)
    assert isinstance(second, Stdout)
    assert second.line != first.line
    assert gone(int(first.line))
    assert (reconciler.stats.starts, reconciler.stats.stops) == (2, 1)
    reconciler.stop_all()
    assert child_pids() == set()


@pytest.mark.timeout(30)
def test_a_grandchild_that_left_the_group_cannot_hold_up_the_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """It keeps the output pipe open, so the readers never see EOF: they are
    abandoned after a bounded wait, with an error logged, and the stop completes."""
    before = thread_snapshot()
    script = (
        "import subprocess, time; "
        "g = subprocess.Popen(['sleep', '1000'], start_new_session=True); "
        "print(g.pid, flush=True); time.sleep(60)"
    )
    events: queue.SimpleQueue[ProcessEvent] = queue.SimpleQueue()
    reconciler: Reconciler[ProcessEvent] = Reconciler(events.put, join_timeout=10)
    reconciler.reconcile([python(script)])
    first = events.get(timeout=20)
    assert isinstance(first, Stdout)
    escaped = int(first.line)
    try:
        with caplog.at_level(logging.ERROR, logger="sofrito.subscriptions"):
            reconciler.stop_all()
        assert "still blocked after 2.0 s" in caplog.text
        assert "did not exit" not in caplog.text  # the subscription itself did stop
        assert child_pids() == set()  # the child is dead and reaped
        assert alive(escaped)  # out of reach, as documented
    finally:
        os.kill(escaped, signal.SIGKILL)
    assert gone(escaped)
    for _ in range(500):  # its pipes closed: the abandoned readers finish now
        if not new_threads(before):
            break
        time.sleep(0.01)
    assert new_threads(before) == []
