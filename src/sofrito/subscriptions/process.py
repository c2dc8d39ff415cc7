"""``Process``: a child process whose output lines become messages.

The child runs in its own session, so it leads a process group: stopping the
subscription (or a ``timeout``) sends SIGTERM to the whole group, waits a
bounded grace period, then SIGKILLs the group, logging each step. No
grandchild outlives the subscription. When the subscription ends for any
reason, whatever is left of the group is killed. The reader threads for
stdout and stderr are joined with a bounded timeout.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Generic, TypeVar

from sofrito.subscriptions._ids import stable_id
from sofrito.subscriptions.protocol import Closed, StopSignal

__all__ = [
    "Error",
    "Exited",
    "Killed",
    "Process",
    "ProcessEvent",
    "Signaled",
    "Stderr",
    "Stdout",
]

log = logging.getLogger("sofrito.subscriptions")
M = TypeVar("M")


@dataclass(frozen=True)
class Stdout:
    """One line the child wrote to stdout, without its newline."""

    line: str


@dataclass(frozen=True)
class Stderr:
    """One line the child wrote to stderr, without its newline."""

    line: str


@dataclass(frozen=True)
class Exited:
    """The child exited by itself with ``code``."""

    code: int


@dataclass(frozen=True)
class Signaled:
    """The child was ended by ``signal`` that the subscription did not send."""

    signal: int


@dataclass(frozen=True)
class Killed:
    """The subscription killed the child: it ran past its ``timeout``."""


@dataclass(frozen=True)
class Error:
    """The child could not be started: ``message`` says why."""

    message: str


ProcessEvent = Stdout | Stderr | Exited | Signaled | Killed | Error


@dataclass(frozen=True)
class Process(Generic[M]):
    """``Process(program, make_msg).arg(...).args(...).env(k, v).timeout(s)``.

    Each builder returns a new declaration. The id is hashed from the program,
    arguments, environment and timeout (or set with ``with_id``), so declaring
    the same command again keeps the running child.
    """

    program: str
    make_msg: Callable[[ProcessEvent], M] = field(compare=False)
    arguments: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    time_limit: float | None = None
    grace: float = 2.0
    explicit_id: int | None = None

    def arg(self, value: str) -> Process[M]:
        return dataclasses.replace(self, arguments=(*self.arguments, str(value)))

    def args(self, values: Sequence[str]) -> Process[M]:
        return dataclasses.replace(self, arguments=(*self.arguments, *map(str, values)))

    def env(self, key: str, value: str) -> Process[M]:
        return dataclasses.replace(self, environment=(*self.environment, (key, value)))

    def timeout(self, seconds: float) -> Process[M]:
        return dataclasses.replace(self, time_limit=seconds)

    def with_id(self, id: int) -> Process[M]:
        return dataclasses.replace(self, explicit_id=id)

    @property
    def id(self) -> int:
        if self.explicit_id is not None:
            return self.explicit_id
        return stable_id("process", self.program, self.arguments, self.environment, self.time_limit)

    def run(self, send: Callable[[M], None], stop: StopSignal) -> None:
        try:
            child = subprocess.Popen(
                [self.program, *self.arguments],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, **dict(self.environment)},
                start_new_session=True,
            )
        except OSError as exc:
            send(self.make_msg(Error(f"cannot start {self.program!r}: {exc}")))
            return
        log.info("process %d started: %s", child.pid, self._command())
        readers = [
            self._reader(child.stdout, Stdout, send, stop),
            self._reader(child.stderr, Stderr, send, stop),
        ]
        try:
            ending = self._supervise(child, stop)
        finally:
            _kill_group(child, self.grace)
            for reader in readers:
                reader.join(5.0)
                if reader.is_alive():
                    log.error("process %d: a reader thread did not exit in 5 s", child.pid)
        if ending is not None and not stop.is_stopped():
            send(self.make_msg(ending))

    def _supervise(self, child: subprocess.Popen[bytes], stop: StopSignal) -> ProcessEvent | None:
        deadline = None if self.time_limit is None else time.monotonic() + self.time_limit
        while True:
            try:
                code = child.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                if stop.is_stopped():
                    return None
                if deadline is not None and time.monotonic() >= deadline:
                    log.info("process %d ran past its timeout of %s s", child.pid, self.time_limit)
                    return Killed()
                continue
            return Exited(code) if code >= 0 else Signaled(-code)

    def _reader(
        self,
        stream: IO[bytes] | None,
        kind: Callable[[str], ProcessEvent],
        send: Callable[[M], None],
        stop: StopSignal,
    ) -> threading.Thread:
        def read() -> None:
            assert stream is not None
            with stream:
                for raw in stream:
                    if stop.is_stopped():
                        continue  # drain, so the child never blocks on a full pipe
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    try:
                        send(self.make_msg(kind(line)))
                    except Closed:
                        stop.stop()

        thread = threading.Thread(target=read, name="sofrito-process-reader", daemon=True)
        thread.start()
        return thread

    def _command(self) -> str:
        return " ".join([self.program, *self.arguments])


def _kill_group(child: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the child's group, wait ``grace``, SIGKILL what is left; each step logged."""
    group = child.pid  # the child leads its own session and group
    if child.poll() is None:
        log.info("process %d: SIGTERM to its group", group)
        _signal_group(group, signal.SIGTERM)
        try:
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log.warning("process %d ignored SIGTERM for %.1f s: SIGKILL to its group", group, grace)
    if _signal_group(group, signal.SIGKILL):
        log.info("process %d: killed what was left of its group", group)
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log.error("process %d did not exit after SIGKILL", group)


def _signal_group(group: int, sig: int) -> bool:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


for _cls in (Stdout, Stderr, Exited, Signaled, Killed, Error, Process):
    _cls.__module__ = "sofrito.subscriptions"
