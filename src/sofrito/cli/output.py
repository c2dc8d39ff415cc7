"""What the command prints: the summary line, failures, progress, ``--events``.

- The summary is one line on stdout (``summary_line``), so scripts can read
  it; failures are one line each on stderr, before it.
- Progress: on a terminal (stderr is a tty), a ``rich`` progress bar that
  appears only once a run has taken half a second, so quick runs print
  their one line and nothing else. Piped, nothing: no bar, no escape codes.
  ``rich`` is imported only when a bar is shown.
- ``--events``: every runtime event as one JSON object per line on stdout
  (the summary then goes to stderr, so stdout stays JSON lines), printed by
  a thread that drains an event receiver while the run goes on: the
  receiver is bounded, and a run that sets 10,000 files must not wait for
  a printer. A receiver that falls behind anyway prints
  ``{"event": "Lagged", "missed": n}`` and goes on.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import IO, Any

import sofrito as sf
from sofrito.cli.runner import Progress, RunSummary

__all__ = ["EventPrinter", "TerminalProgress", "event_record", "progress_for", "summary_line"]


def summary_line(summary: RunSummary) -> str:
    """``3 executed, 5 reused, 1 written, 4 unchanged, 0 deleted, 0 failed in 0.12 s``."""
    counts = summary.as_dict()
    parts = [
        f"{counts[name]} {name}"
        for name in ("executed", "reused", "written", "unchanged", "deleted", "failed")
    ]
    return f"{', '.join(parts)} in {summary.elapsed:.2f} s"


def progress_for(stream: IO[str], *, delay: float = 0.5) -> Progress:
    """A bar on a terminal after ``delay`` seconds; nothing when ``stream`` is not a tty."""
    if stream.isatty():
        return TerminalProgress(delay)
    return Progress()


class TerminalProgress(Progress):
    """A ``rich`` bar on stderr, shown only once the run has taken ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.began = time.perf_counter()
        self.total = 0
        self.done = 0
        self.bar: Any = None
        self.task: Any = None

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, path: str) -> None:
        self.done += 1
        if self.bar is None:
            if time.perf_counter() - self.began < self.delay:
                return
            from rich.console import Console  # noqa: PLC0415 (only when a bar shows)
            from rich.progress import Progress as Bar  # noqa: PLC0415

            self.bar = Bar(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("building", total=self.total, completed=self.done)
        self.bar.update(self.task, completed=self.done, description=path[-40:])

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def event_record(event: sf.Event) -> dict[str, Any]:
    """An event as a JSON-ready dict: its kind, and its ref's name, hash and readable key."""
    record: dict[str, Any] = {"event": type(event).__name__}
    ref = getattr(event, "ref", None)
    if ref is not None:
        record.update(kind=ref.kind, key_hash=ref.key_hash, key=str(ref))
    by = getattr(event, "by", None)
    if by is not None:
        record["by"] = str(by)
    record["revision"] = event.revision
    durability = getattr(event, "durability", None)
    if durability is not None:
        record["durability"] = sf.Durability(durability).name
    return record


class EventPrinter:
    """Prints a runtime's events as JSON lines from a thread, until ``close``."""

    def __init__(self, rt: sf.Runtime, stream: IO[str] = sys.stdout) -> None:
        self.receiver = rt.subscribe_events(capacity=1 << 16)
        self.stream = stream
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sofrito-events", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                try:
                    event = self.receiver.recv(timeout=0.05)
                except TimeoutError:
                    if self.closing.is_set():
                        return
                    continue
                except sf.Lagged as lagged:
                    self._print({"event": "Lagged", "missed": lagged.missed})
                    continue
                self._print(event_record(event))
        except BrokenPipeError:
            self._reader_gone()

    def _print(self, record: dict[str, Any]) -> None:
        self.stream.write(json.dumps(record, separators=(",", ":")) + "\n")

    def _reader_gone(self) -> None:
        """The reader of the stream closed it (``sofrito run --events | head``): stop
        listening and send the rest of the stream to ``/dev/null``, so neither this
        thread nor the interpreter's last flush prints a ``BrokenPipeError`` traceback.
        The run itself goes on: its outputs, commit and exit code do not depend on
        who reads its events."""
        self.receiver.close()
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # a stream with no file descriptor: nothing to redirect
            pass

    def close(self) -> None:
        """Print what is left, then stop."""
        self.closing.set()
        self.thread.join()
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._reader_gone()
