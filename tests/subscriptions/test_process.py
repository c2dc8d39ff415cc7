"""Process: output lines, exits, signals, timeouts, and no survivors after stop."""

from __future__ import annotations

import dataclasses
import queue
import signal
import sys
import threading
import time

import pytest

from sofrito.subscriptions import (
    Error,
    Exited,
    Killed,
    Process,
    Reconciler,
    Signaled,
    Stderr,
    Stdout,
)

PY = sys.executable


def _collect(process: Process[object], until: type, timeout: float = 20) -> list[object]:
    events: queue.SimpleQueue[object] = queue.SimpleQueue()
    reconciler: Reconciler[object] = Reconciler(events.put)
    reconciler.reconcile([process])
    seen: list[object] = []
    deadline = time.monotonic() + timeout
    while not seen or not isinstance(seen[-1], until):
        seen.append(events.get(timeout=max(0.1, deadline - time.monotonic())))
    reconciler.stop_all()
    return seen


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _gone(pid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_id_covers_program_args_env_timeout() -> None:
    base = Process("prog", repr).arg("a")
    assert base.id == Process("prog", str).args(["a"]).id
    assert base.id != base.arg("b").id
    assert base.id != base.env("K", "v").id
    assert base.id != base.timeout(3).id
    assert base.with_id(42).id == 42


@pytest.mark.timeout(60)
def test_lines_then_exit_code() -> None:
    script = "import sys; print('one'); print('two', file=sys.stderr); sys.exit(3)"
    events = _collect(Process(PY, lambda e: e).args(["-c", script]), Exited)
    assert Stdout("one") in events
    assert Stderr("two") in events
    assert events[-1] == Exited(3)


@pytest.mark.timeout(60)
def test_environment_reaches_the_child() -> None:
    script = "import os; print(os.environ['SOFRITO_TEST'])"
    events = _collect(
        Process(PY, lambda e: e).args(["-c", script]).env("SOFRITO_TEST", "42"), Exited
    )
    assert events == [Stdout("42"), Exited(0)]


@pytest.mark.timeout(60)
def test_killed_by_a_signal_it_did_not_get_from_us() -> None:
    script = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    events = _collect(Process(PY, lambda e: e).args(["-c", script]), Signaled)
    assert events[-1] == Signaled(signal.SIGTERM)


@pytest.mark.timeout(60)
def test_child_that_ignores_sigterm_and_outlives_its_timeout_is_killed() -> None:
    script = (
        "import signal, time, os; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(os.getpid(), flush=True); time.sleep(60)"
    )
    process = dataclasses.replace(
        Process(PY, lambda e: e).args(["-c", script]).timeout(0.3), grace=0.2
    )
    events = _collect(process, Killed)
    pid = int(events[0].line)  # type: ignore[attr-defined]
    assert events[-1] == Killed()
    assert _gone(pid)


@pytest.mark.timeout(60)
def test_stop_kills_grandchildren_too() -> None:
    script = (
        "import subprocess, sys, time; "
        "g = subprocess.Popen(['sleep', '1000']); print(g.pid, flush=True); time.sleep(60)"
    )
    events: queue.SimpleQueue[object] = queue.SimpleQueue()
    reconciler: Reconciler[object] = Reconciler(events.put)
    reconciler.reconcile([Process(PY, lambda e: e).args(["-c", script])])
    first = events.get(timeout=20)
    assert isinstance(first, Stdout)
    grandchild = int(first.line)
    assert _alive(grandchild)
    reconciler.stop_all()
    assert _gone(grandchild)


def test_program_that_does_not_exist_is_an_error_message() -> None:
    events = _collect(Process("/nonexistent/program", lambda e: e), Error)
    assert "cannot start '/nonexistent/program'" in events[-1].message  # type: ignore[attr-defined]


def test_no_reader_threads_are_left() -> None:
    _collect(Process(PY, lambda e: e).args(["-c", "print(1)"]), Exited)
    assert not [t for t in threading.enumerate() if t.name.startswith("sofrito-")]
