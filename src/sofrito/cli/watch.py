"""``sofrito watch``: run a flow, then run it again after each batch of changes.

One ``Session`` (``runner.open_session``) stays open for the whole watch, so
every run after the first is warm: the scan stats the sources against the
manifest already in memory, and ``run_once`` re-executes only what the
changed files reached. The loop is the subscriptions ``Driver`` with a fixed
declaration: a ``FileWatch`` on the flow's folder, and ``_Now``, a one-shot
subscription that asks for the first run. Both start in the same reconcile,
so the first run's scan begins once the watcher is starting, and an edit
made during a long first build is a batch of its own, not lost.

Why the ``Driver`` and not the ``Reconciler`` or ``watchfiles`` directly: the
driver already runs ``update`` on one thread (so runs never overlap and the
session needs no lock), has a ``stop()`` that is safe from a signal handler,
and joins its subscriptions before returning. The subscriptions "query" is
a plain function returning the same list each time: nothing about the watch
depends on an input, and a query would have to store a list of live
objects.

Decisions (docs/flows.md, "watch and serve"):

- A batch carries the time it was made. A run's scan sees every change made
  before it started, so a batch made before the last run's scan began is
  already built and is skipped: a burst of saves during a long run costs
  one more run, not one per batch.
- A batch whose run changed no source and no output (a file only touched,
  an editor's temporary file) runs quietly: no summary line. A render that
  still fails the same way is no change either: failures are not stored,
  so each run executes a failing render again, and printing its line again
  on every touch would read as news (``Outcome.before``). A run that lost
  a race and ran again (below) always prints its line, after the note that
  says it runs again, even when the other process left it nothing to do.
- A problem a user can fix while watching (a render or ``main`` raised, a
  source is unreadable, the output folder is not writable, the cache is
  busy) prints its line and the watch goes on; the next change runs again.
- Another process committing to the cache (a ``sofrito run`` in another
  terminal, a teammate on a shared PostgreSQL store) makes the watch's
  session stale: it reopens at the newest head and runs again, as ``run``
  does (``rerun.py``), so the watch never keeps losing to a head it does
  not hold.
- Edits to the flow's Python code (the flow file, a helper module) are not
  reloaded: a query's memos are keyed by its name, not its code, so in one
  process old memos would answer for new code. The watch prints that a
  restart picks the change up; a restart is a warm start from the cache.
- Ctrl-C (or SIGTERM) stops after the run in progress, whose commit
  completes: exit 0, as stopping is how a watch ends. A second Ctrl-C
  while that run finishes interrupts it (exit 130); the cache keeps the
  last committed run, as SQLite commits whole or not at all.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from sofrito._fs.patterns import compile_pattern
from sofrito.cli.errors import EXIT_INTERRUPTED, CliError
from sofrito.cli.rerun import Reopening, run_retrying
from sofrito.cli.runner import Failure, Progress, RunSummary, Session, run_once
from sofrito.stores import Conflict
from sofrito.subscriptions import Batch, Driver, FileWatch, StopSignal, Subscription

if TYPE_CHECKING:
    from watchfiles import Change

__all__ = ["Changes", "Outcome", "Watch", "stop_on_signals", "watch_command"]


@dataclass(frozen=True, slots=True)
class Changes:
    """One batch of relevant changes, as relpaths under the flow's folder, and when it was made."""

    paths: frozenset[str]
    """What a run may pick up: sources, folders, paths that are gone."""
    code: frozenset[str]
    """The flow's Python files (not sources) that changed: a restart picks them up."""
    made_at: float
    """``time.monotonic()`` when the batch was handed over, after its last change."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run of the watch came to: a summary, or the error a user can fix."""

    changed: tuple[str, ...]
    """The relpaths that triggered the run; empty for the first run."""
    summary: RunSummary | None = None
    error: CliError | None = None
    before: tuple[Failure, ...] = ()
    """The failures the watch's previous run reported: the same ones again are no news."""
    retried: bool = False
    """The run lost a race and ran again on a fresh session (``rerun.py``)."""

    @property
    def quiet(self) -> bool:
        """Whether a run after a change changed nothing anyone would see (module docstring)."""
        summary = self.summary
        if summary is None or not self.changed or self.retried:
            return False  # (after "running again", the line that says how it went)
        changed = summary.scan.any or summary.written or summary.deleted
        return not changed and summary.failures == self.before


Explain = Callable[[Exception], "CliError | None"]
"""Turns an exception from a run into the line a user reads, or None for a bug."""


class _Now:
    """A subscription that sends one message, the first run's, and ends."""

    id = 0x5F1
    """Fixed: there is only ever one, and the declaration never changes."""

    def run(self, send: Callable[[Changes], None], stop: StopSignal) -> None:
        send(Changes(frozenset(), frozenset(), time.monotonic()))


class Watch:
    """Run ``session`` now and after each batch of changes, until ``stop()``.

    ``on_run(outcome)`` is called after every run, ``on_code_edit(relpaths)``
    when the flow's Python files changed; both, and the runs, on the thread
    that called ``run()``.
    """

    def __init__(
        self,
        session: Session,
        *,
        on_run: Callable[[Outcome], None],
        on_code_edit: Callable[[tuple[str, ...]], None] = lambda paths: None,
        explain: Explain = lambda exc: exc if isinstance(exc, CliError) else None,
        progress: Callable[[], Progress] = Progress,
        debounce: int = 50,
        reopening: Reopening | None = None,
    ) -> None:
        self.session = session
        self.reopening = reopening
        """Where a session comes from after a lost race; None: report the loss only."""
        self.on_run = on_run
        self.on_code_edit = on_code_edit
        self.explain = explain
        self.progress = progress
        self.runs = 0
        self.failure: BaseException | None = None
        """What ended the watch other than ``stop()``: ``run()`` raises it."""
        self._last_scan_began = float("-inf")
        self._failures: tuple[Failure, ...] = ()
        """The last run's failures, as ``Outcome.before`` of the next run."""
        self._retried = False
        """The run in progress lost a race and runs again (``Outcome.retried``)."""
        self._relevant = _Relevant(session)
        watch = FileWatch(
            [session.flow.root], self._changes, debounce=debounce, filter=self._relevant
        )
        declared: list[Subscription[Changes]] = [_Now(), watch]
        self.driver: Driver[Changes] = Driver(
            session.rt,
            subscriptions=lambda rt: declared,
            update=lambda rt, message: self._on_message(message),
            on_error=self._on_failure,
        )

    def run(self) -> None:
        """Block, running the flow per batch, until ``stop()`` (or Ctrl-C, see the module)."""
        self.driver.run()
        if self.failure is not None:
            raise self.failure

    def stop(self) -> None:
        """Stop after the run in progress; safe from any thread and from a signal handler."""
        self.driver.stop()

    def _changes(self, batch: Batch) -> Changes:
        """On the watcher's thread: the batch as relpaths, stamped with the time."""
        paths: set[str] = set()
        code: set[str] = set()
        for _change, path in batch:
            relpath = self._relevant.relpath(path)
            (code if self._relevant.is_code(relpath) else paths).add(relpath)
        return Changes(frozenset(paths), frozenset(code), time.monotonic())

    def _on_message(self, message: Changes) -> None:
        if message.code:
            self.on_code_edit(tuple(sorted(message.code)))
        if self.runs and not message.paths:
            return  # only code changed: nothing a run would pick up
        if message.made_at < self._last_scan_began:
            return  # the last run's scan began after these changes: it saw them
        self.on_run(self._run(tuple(sorted(message.paths))))

    def _run(self, changed: tuple[str, ...]) -> Outcome:
        self._last_scan_began = time.monotonic()
        self.runs += 1
        before, self._failures = self._failures, ()
        self._retried = False
        try:
            summary = self._run_once()
        except Exception as exc:
            error = self.explain(exc)
            if error is None:
                raise  # a bug: the driver hands it to _on_failure
            return Outcome(changed, error=error)
        self._failures = summary.failures
        return Outcome(changed, summary=summary, before=before, retried=self._retried)

    def _run_once(self) -> RunSummary:
        """``run_once`` on the session, once more on a fresh one after a lost race."""
        reopening = self.reopening
        if reopening is None:
            return run_once(self.session, self.progress())
        return run_retrying(lambda: self.session, self._attempt, reopening)

    def _attempt(self, session: Session) -> RunSummary:
        """One run on ``session``; when it loses the race, the watch's session is a fresh
        one from then on, whatever comes of this run."""
        self.session = session
        try:
            return run_once(session, self.progress())
        except Conflict:
            assert self.reopening is not None
            self.session = self.reopening.open_session()
            self._retried = True
            raise

    def _on_failure(self, exc: BaseException) -> None:
        """The watcher failed (the folder vanished, no inotify watches left) or a run hit a
        bug: end the watch, and let ``run()`` raise it."""
        self.failure = exc
        self.driver.stop()


class _Relevant:
    """The watcher's filter: the changes that could change a run, or are the flow's code.

    Kept: what watchfiles' default filter keeps (no ``.git``, ``__pycache__``,
    editor swap files) that is a source (matches ``SOURCES``), a ``.py``
    file (the flow's code), a folder, or a path that is gone (maybe a
    folder: moving a folder reports only the folder; the scan finds what
    moved with it). Never in the output folder or the cache's: runs write
    there. One object for the watch, so the ``FileWatch``'s id is stable.
    """

    def __init__(self, session: Session) -> None:
        from watchfiles import DefaultFilter  # noqa: PLC0415 (only when watching)

        self.default = DefaultFilter()
        self.root = session.flow.root.resolve()
        self.skip = tuple(path.resolve() for path in session.exclude)
        self.patterns = [compile_pattern(text) for text in session.flow.sources]

    def __call__(self, change: Change, raw: str) -> bool:
        path = Path(raw)
        if not self.default(change, raw) or not path.is_relative_to(self.root):
            return False
        if any(path.is_relative_to(folder) for folder in self.skip):
            return False
        relpath = self.relpath(raw)
        return self.is_source(relpath) or relpath.endswith(".py") or not path.is_file()

    def relpath(self, raw: str) -> str:
        return Path(raw).relative_to(self.root).as_posix()

    def is_source(self, relpath: str) -> bool:
        return any(pattern.matches(relpath) for pattern in self.patterns)

    def is_code(self, relpath: str) -> bool:
        return relpath.endswith(".py") and not self.is_source(relpath)


@contextmanager
def stop_on_signals(watch: Watch) -> Iterator[list[int]]:
    """While inside: SIGINT and SIGTERM stop ``watch`` after its run; a second one interrupts.

    Yields a list that holds the signals received, so the caller can tell
    how the watch ended. Only from the main thread (signal handlers live
    there).
    """
    received: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        watch.stop()

    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def watch_command(
    session: Session,
    *,
    explain: Explain,
    debug: bool,
    progress: Callable[[], Progress] = Progress,
    on_run: Callable[[Outcome], None] = lambda outcome: None,
    on_ready: Callable[[Watch], None] = lambda watch: None,
    reopening: Reopening | None = None,
) -> int:
    """``sofrito watch``'s loop with its printing; ``serve`` adds ``on_run`` and ``on_ready``."""
    name = session.flow.path.name

    def report(outcome: Outcome) -> None:
        print_outcome(outcome, debug=debug)
        on_run(outcome)

    def code_edited(paths: tuple[str, ...]) -> None:
        print(
            f"sofrito: {', '.join(paths)} changed; restart the command to use the new code "
            f"(sources are rebuilt as they change, {name}'s code is loaded once)",
            file=sys.stderr,
            flush=True,
        )

    watch = Watch(
        session,
        on_run=report,
        on_code_edit=code_edited,
        explain=explain,
        progress=progress,
        reopening=reopening,
    )
    print(
        f"sofrito: watching {session.flow.root} for {name} (Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    with stop_on_signals(watch) as received:
        on_ready(watch)
        try:
            watch.run()
        except KeyboardInterrupt:
            received.append(signal.SIGINT)
    if len(received) > 1:
        print("sofrito: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    print(f"sofrito: stopped watching after {watch.runs} runs", file=sys.stderr, flush=True)
    return 0


def print_outcome(outcome: Outcome, *, debug: bool = False) -> None:
    """One run's lines: failures and errors on stderr, the summary on stdout."""
    from sofrito.cli.output import summary_line  # noqa: PLC0415

    if outcome.error is not None:
        if debug:
            traceback.print_exception(outcome.error)
        print(f"sofrito: error: {outcome.error}", file=sys.stderr, flush=True)
        return
    assert outcome.summary is not None
    if outcome.quiet:
        return
    for failure in outcome.summary.failures:
        print(f"sofrito: failed: {failure}", file=sys.stderr, flush=True)
    print(summary_line(outcome.summary), flush=True)
