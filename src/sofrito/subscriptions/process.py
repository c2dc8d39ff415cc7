"""``Process``: a child process whose output lines and ending become messages.

The child runs in a new session, so it leads its own process group, and
everything it spawns stays in that group unless it deliberately leaves it.
Ending the child, for a stop or a ``timeout``, goes the way watchfiles'
``CombinedProcess.stop`` goes, each step logged: SIGTERM to the whole group,
a bounded grace period for the child, then SIGKILL to the group. The SIGKILL
goes out whenever the subscription ends, even after a clean exit, so no
grandchild outlives it. (A grandchild that starts a session of its own has
left the group and is out of reach.)

Three threads per child: two readers turn stdout and stderr lines into
``Stdout`` / ``Stderr`` events, and the subscription's own thread supervises
(exit, timeout, stop). The readers keep draining after a stop, so the child
never blocks on a full pipe while it is being ended, and they are joined with
a bounded timeout. The ending event comes last, after every line.

A new session also means a Ctrl-C at the terminal does not reach the child:
stopping it is the subscription's job, which is why the ``Driver`` always
stops its subscriptions before ``run()`` returns.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, ClassVar, Generic, TypeVar

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

_POLL = 0.05
"""How often the supervisor looks at the child (exit, timeout); stops wake it at once."""
_READER_JOIN = 2.0
"""How long to wait for the readers once the group is dead (pipes closed)."""


class ProcessEvent:
    """What ``make_msg`` receives: lines, then at most one ending.

    The variants are reachable through this class (``ProcessEvent.Stdout``)
    and by their own names (``Stdout``); both are the same class. They
    subclass it, so ``isinstance(event, ProcessEvent)`` holds and a ``match``
    reads like the subscription model sofrito follows::

        match event:
            case ProcessEvent.Stdout(line): ...
            case ProcessEvent.Exited(code): ...

    A base class rather than a ``Union``, because a union cannot carry the
    variants as attributes. What that costs: mypy does not know the set is
    closed, so a ``match`` over it needs a ``case _`` to be exhaustive.

    A stop sends no ending: the subscription was not declared any more, so
    nobody is waiting for one.
    """

    __slots__ = ()

    Stdout: ClassVar[type[Stdout]]
    Stderr: ClassVar[type[Stderr]]
    Exited: ClassVar[type[Exited]]
    Signaled: ClassVar[type[Signaled]]
    Killed: ClassVar[type[Killed]]
    Error: ClassVar[type[Error]]


@dataclass(frozen=True)
class Stdout(ProcessEvent):
    """One line the child wrote to stdout, without its line ending."""

    line: str


@dataclass(frozen=True)
class Stderr(ProcessEvent):
    """One line the child wrote to stderr, without its line ending."""

    line: str


@dataclass(frozen=True)
class Exited(ProcessEvent):
    """The child exited by itself with ``code`` (0 is success)."""

    code: int


@dataclass(frozen=True)
class Signaled(ProcessEvent):
    """The child was ended by ``signal``, which the subscription did not send."""

    signal: int


@dataclass(frozen=True)
class Killed(ProcessEvent):
    """The subscription killed the child because it ran past its ``timeout``."""


@dataclass(frozen=True)
class Error(ProcessEvent):
    """The child could not be started; ``message`` says why."""

    message: str


ProcessEvent.Stdout = Stdout
ProcessEvent.Stderr = Stderr
ProcessEvent.Exited = Exited
ProcessEvent.Signaled = Signaled
ProcessEvent.Killed = Killed
ProcessEvent.Error = Error


@dataclass(frozen=True, repr=False)
class Process(Generic[M]):
    """``Process(program, make_msg).arg(a).args([...]).env(k, v).timeout(s)``.

    Each builder returns a new declaration, so a query can build one freely.
    The id is hashed from the program, arguments, environment and timeout
    (``with_id`` overrides it): declaring the same command again keeps the
    running child; changing any of them restarts it. Equality ignores
    ``make_msg`` for the same reason.
    """

    program: str
    make_msg: Callable[[ProcessEvent], M] = field(compare=False, repr=False)
    arguments: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    time_limit: float | None = None
    grace_period: float = 2.0
    explicit_id: int | None = None

    def arg(self, value: str) -> Process[M]:
        """Append one argument."""
        return dataclasses.replace(self, arguments=(*self.arguments, str(value)))

    def args(self, values: Iterable[str]) -> Process[M]:
        """Append several arguments."""
        if isinstance(values, str | bytes):
            raise TypeError(
                f"Process.args takes a list of arguments, got {values!r}; use .arg(...)"
            )
        return dataclasses.replace(self, arguments=(*self.arguments, *map(str, values)))

    def env(self, key: str, value: str) -> Process[M]:
        """Set one environment variable on top of the parent's environment.

        Kept sorted, the last value of a key winning, so the order of ``env``
        calls does not change the id.
        """
        merged = dict(self.environment) | {str(key): str(value)}
        return dataclasses.replace(self, environment=tuple(sorted(merged.items())))

    def timeout(self, seconds: float) -> Process[M]:
        """Kill the child (emitting ``Killed``) when it runs longer than ``seconds``."""
        if not seconds > 0:
            raise ValueError(f"Process.timeout needs a positive number of seconds, got {seconds!r}")
        return dataclasses.replace(self, time_limit=float(seconds))

    def grace(self, seconds: float) -> Process[M]:
        """How long the child has between SIGTERM and SIGKILL (default 2 s; not part of the id)."""
        if not seconds >= 0:
            raise ValueError(f"Process.grace needs a number of seconds >= 0, got {seconds!r}")
        return dataclasses.replace(self, grace_period=float(seconds))

    def with_id(self, id: int) -> Process[M]:
        """Use ``id`` instead of the hashed one, e.g. to keep one child across argument edits."""
        return dataclasses.replace(self, explicit_id=id)

    @property
    def id(self) -> int:
        if self.explicit_id is not None:
            return self.explicit_id
        return stable_id("process", self.program, self.arguments, self.environment, self.time_limit)

    def run(self, send: Callable[[M], None], stop: StopSignal) -> None:
        child = self._spawn(send)
        if child is None:
            return
        readers: _Readers[M] = _Readers(child, self.make_msg, send, stop)
        try:
            ending = self._supervise(child, stop)
        finally:
            _end_group(child, self.grace_period)
            readers.join()
        if readers.error is not None:
            raise readers.error
        if ending is not None and not stop.is_stopped():
            send(self.make_msg(ending))

    def _spawn(self, send: Callable[[M], None]) -> subprocess.Popen[bytes] | None:
        """Start the child in its own session; an ``Error`` event if it cannot start."""
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
            return None
        log.info("process %d started: %s", child.pid, self._command())
        return child

    def _supervise(self, child: subprocess.Popen[bytes], stop: StopSignal) -> ProcessEvent | None:
        """Wait for the child's exit, its timeout or the stop; say which ending to report."""
        deadline = None if self.time_limit is None else time.monotonic() + self.time_limit
        while (code := child.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                log.info("process %d ran past its timeout of %s s", child.pid, self.time_limit)
                return Killed()
            if stop.wait(_POLL):
                return None
        return Exited(code) if code >= 0 else Signaled(-code)

    def _command(self) -> str:
        return shlex.join([self.program, *self.arguments])

    def __repr__(self) -> str:
        """The command, and only the names of the variables: their values may be secrets."""
        parts = [repr(self._command())]
        if self.environment:
            parts.append(f"env={[key for key, _ in self.environment]!r}")
        if self.time_limit is not None:
            parts.append(f"timeout={self.time_limit!r}")
        return f"Process({', '.join(parts)}, id={self.id:#x})"


class _Readers(Generic[M]):
    """The stdout and stderr reader threads of one child.

    A reader whose ``send`` raises ``Closed`` stops the subscription; one
    whose ``make_msg`` raises records the error (``run`` re-raises it, so the
    reconciler reports it) and stops the subscription too. Either way it
    keeps draining its pipe until the group is dead.
    """

    def __init__(
        self,
        child: subprocess.Popen[bytes],
        make_msg: Callable[[ProcessEvent], M],
        send: Callable[[M], None],
        stop: StopSignal,
    ) -> None:
        self._pid = child.pid
        self._make_msg = make_msg
        self._send = send
        self._stop = stop
        self.error: Exception | None = None
        self._threads = [self._start(child.stdout, Stdout), self._start(child.stderr, Stderr)]

    def _start(
        self, stream: IO[bytes] | None, kind: Callable[[str], ProcessEvent]
    ) -> threading.Thread:
        def read() -> None:
            assert stream is not None
            with stream:
                for raw in stream:
                    if not self._stop.is_stopped():  # else drain: a full pipe would block the child
                        self._deliver(kind(raw.decode("utf-8", "replace").rstrip("\r\n")))

        name = f"sofrito-process-{self._pid}-{kind.__name__.lower()}"
        thread = threading.Thread(target=read, name=name, daemon=True)
        thread.start()
        return thread

    def _deliver(self, event: ProcessEvent) -> None:
        try:
            self._send(self._make_msg(event))
        except Closed:
            self._stop.stop()
        except Exception as exc:
            self.error = self.error or exc
            self._stop.stop()

    def join(self) -> None:
        deadline = time.monotonic() + _READER_JOIN
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.error(
                    "process %d: reader %s still blocked after %.1f s: a process that left "
                    "the group holds its pipe open",
                    self._pid,
                    thread.name,
                    _READER_JOIN,
                )


def _end_group(child: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the group, give the child ``grace`` seconds, SIGKILL the group; log each step."""
    group = child.pid  # the child leads its own session and group
    if child.poll() is None:
        log.info("process %d: SIGTERM to its group", group)
        _signal_group(group, signal.SIGTERM)
        try:
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log.warning("process %d ignored SIGTERM for %.1f s: SIGKILL to its group", group, grace)
    if _signal_group(group, signal.SIGKILL):
        log.debug("process %d: SIGKILL to whatever is left of its group", group)
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log.error("process %d did not exit even after SIGKILL", group)


def _signal_group(group: int, sig: int) -> bool:
    """Signal the group; False when nobody is left in it."""
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True
