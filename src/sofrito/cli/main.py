"""``sofrito``: arguments, subcommands, and the one place errors become exit codes.

Every subcommand is a function ``(args) -> exit code``. They raise
``CliError`` (``errors.py``) for what a user can fix; ``main`` turns that,
and the store's errors (``_store_problem``), into one line on stderr and
the documented exit code (docs/flows.md, "Exit codes"), with the traceback
only under ``--debug``. Anything else is a bug: exit 70, and the line says
to rerun with ``--debug``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from sofrito.cli.collector import tuned
from sofrito.cli.errors import (
    EXIT_BUG,
    EXIT_INTERRUPTED,
    CacheBusy,
    CacheDamaged,
    CacheVersion,
    CliError,
)

if TYPE_CHECKING:
    from sofrito.cli.flow import Flow
    from sofrito.cli.rerun import Reopening
    from sofrito.cli.runner import Session
    from sofrito.stores import RuntimeStore, SchemaMismatch
    from sofrito.stores.traces import Traces

__all__ = ["command", "main", "parser"]

EXIT_USAGE = 2


class UsageError(CliError):
    """A bad option value argparse could not see (a store URL's scheme)."""

    exit_code = EXIT_USAGE


class _Formatter(argparse.HelpFormatter):
    """argparse's help, as wide as the terminal, measured without ``shutil``.

    argparse makes a formatter for every argument it is given (to check its
    metavar) and sizes each with ``shutil.get_terminal_size``: importing
    ``shutil`` (and the ``bz2`` and ``lzma`` it imports) was 7 M instructions
    (1.3 ms) of every command's start-up, a no-op's included. ``_columns`` is the same rule."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        width = _columns() - 2 if width is None else width  # argparse keeps 2 spare
        super().__init__(prog, indent_increment, max_help_position, width)


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` has it: ``COLUMNS``,
    else the size of the terminal on stdout, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with ``_Formatter``; its subcommands' parsers are too
    (``add_subparsers`` makes them of the parser's own class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def parser() -> argparse.ArgumentParser:
    """The command's arguments (``--help`` on every command)."""
    top: argparse.ArgumentParser = _Parser(
        prog="sofrito",
        description="Run incremental flows: rebuild only what an edit reached.",
        epilog="See docs/flows.md for flows, store URLs and exit codes.",
    )
    top.add_argument("--version", action="store_true", help="print the version and build, exit")
    top.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_run, _add_watch, _add_serve, _add_receipts, _add_inspect):
        add(commands)
    from sofrito.cli.store import add_store_command  # noqa: PLC0415 (argparse only)

    add_store_command(commands)  # sofrito store upgrade URL
    return top


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="build a flow's outputs once",
        description=(
            "Scan the flow's SOURCES, compute, write only the outputs whose bytes changed, "
            "delete outputs that disappeared, commit, print a summary."
        ),
    )
    run.add_argument("flow", metavar="FLOW", help="the flow file (a .py with SOURCES and main)")
    run.add_argument("--out", metavar="DIR", help="output folder (default: <flow dir>/_site)")
    _store_option(run)
    run.add_argument(
        "--events",
        action="store_true",
        help="print runtime events as JSON lines on stdout (summary on stderr)",
    )
    from sofrito.cli.parallel import add_parallel_options  # noqa: PLC0415 (argparse only)

    add_parallel_options(run)  # --jobs N, --executor URL (docs/parallel.md)
    _debug_option(run)
    run.set_defaults(handler=_run_stopped_by_sigterm)


def _add_watch(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    watch = commands.add_parser(
        "watch",
        help="build a flow, then rebuild after each change to its sources",
        description=(
            "Run the flow, then watch its folder and run it again after each batch of changes, "
            "printing a summary per run. Ctrl-C stops after the run in progress (exit 0)."
        ),
    )
    _watch_options(watch)
    watch.set_defaults(handler=_watch)


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="watch, and serve the outputs on 127.0.0.1 with live reload",
        description=(
            "Watch the flow (see `sofrito watch --help`) and serve its output folder on "
            "http://127.0.0.1:PORT/: an open page reloads when its own output changes, and "
            "shows an overlay naming the file and line when its render fails."
        ),
    )
    _watch_options(serve)
    serve.add_argument(
        "--port", type=int, default=8000, metavar="N", help="port (default 8000; 0: a free one)"
    )
    serve.set_defaults(handler=_serve)


def _add_receipts(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    receipts = commands.add_parser(
        "receipts",
        help="list committed runs, newest first",
        description="List the flow's committed boundaries, newest first.",
    )
    receipts.add_argument("flow", metavar="FLOW", help="the flow file")
    _store_option(receipts)
    _debug_option(receipts)
    receipts.set_defaults(handler=_receipts)


def _add_inspect(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    inspect = commands.add_parser(
        "inspect",
        help="show the cached graph's size, or why an output re-rendered",
        description=(
            "Without --why: the memos stored per query and the input cells per kind in the "
            "flow's cache. With --why OUTPUT: for the last run, the input changes that made "
            "OUTPUT re-render and the chains of queries between them, each marked executed, "
            "cut off early or verified; or that OUTPUT did not re-render."
        ),
    )
    inspect.add_argument("flow", metavar="FLOW", help="the flow file")
    inspect.add_argument(
        "--why",
        metavar="OUTPUT",
        help="an output path as `run` writes it, relative to the output folder (e.g. a/b.html)",
    )
    inspect.add_argument("--json", action="store_true", help="print one JSON document")
    _store_option(inspect)
    _debug_option(inspect)
    inspect.set_defaults(handler=_inspect)


def _store_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--store",
        metavar="URL",
        help="cache: sqlite:PATH (default <flow dir>/.sofrito/cache.db), memory: "
        "or postgresql://USER@HOST/DB",
    )


def _watch_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("flow", metavar="FLOW", help="the flow file (a .py with SOURCES and main)")
    command.add_argument("--out", metavar="DIR", help="output folder (default: <flow dir>/_site)")
    _store_option(command)
    _debug_option(command)


def _debug_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = parser().parse_args(argv)
    if args.version:
        print(version_text())
        return 0
    if args.command is None:
        parser().print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with tuned():  # the collector, for a heap that only grows (collector.py)
            return int(args.handler(args))
    except KeyboardInterrupt:
        print("sofrito: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        error = _as_cli_error(exc, args)
        if args.debug:
            traceback.print_exc()
        if error is None:
            print(
                f"sofrito: internal error: {type(exc).__name__}: {exc} "
                "(rerun with --debug for the traceback, and please report it)",
                file=sys.stderr,
            )
            return EXIT_BUG
        print(f"sofrito: error: {error}", file=sys.stderr)
        return error.exit_code


def command() -> NoReturn:
    """The ``sofrito`` command as a process: ``main``, then exit without the
    interpreter's last walk of the heap.

    At exit CPython collects every object it tracks once more (after
    ``tuned()`` gave the start-up heap back to the collector): the run's
    runtime, its memos, ``main``'s 10,000 references. That walk frees nothing
    the process needs, and cost 10-20 ms of a 0.25 s no-op at 10,000 pages.
    Frozen first, the heap is left to the operating system. Everything else
    of an exit stays: ``atexit`` handlers, waiting for threads, flushing the
    standard streams. What is given up is the finalizer of an object in a
    reference cycle still alive at exit, which Python does not promise either;
    sofrito closes its store and its files itself. ``main`` restores the
    collector (``tuned``), for a program that calls it; this is for the
    console script and ``python -m sofrito`` only."""
    code = main()
    gc.freeze()
    raise SystemExit(code)


def version_text() -> str:
    """``sofrito 0.x (compiled engine, Python 3.12.1)``: which build runs."""
    import platform  # noqa: PLC0415

    import sofrito  # noqa: PLC0415

    build = "compiled engine" if sofrito.COMPILED else "pure-Python engine"
    return f"sofrito {sofrito.__version__} ({build}, Python {platform.python_version()})"


def _as_cli_error(exc: Exception, args: argparse.Namespace) -> CliError | None:
    if isinstance(exc, CliError):
        return exc
    from sofrito.stores import StoreError  # noqa: PLC0415

    if isinstance(exc, StoreError):
        return _store_problem(exc, getattr(args, "store_url", None) or "the cache")
    return None


def _store_problem(exc: Exception, where: str) -> CliError:
    """A store error as the user should read it: busy (wait, or elsewhere), another
    schema version (upgrade one side), or damaged."""
    from sofrito.stores import (  # noqa: PLC0415
        Conflict,
        CorruptSnapshot,
        ReadFailed,
        SchemaMismatch,
        WriteFailed,
    )

    text = str(exc)
    if isinstance(exc, SchemaMismatch):
        return _schema_advice(exc, where)
    if isinstance(exc, Conflict):
        return CacheBusy(
            f"another process committed to the cache {where} during this run; run again ({text})"
        )
    lowered = text.lower()
    if isinstance(exc, ReadFailed | WriteFailed) and ("locked" in lowered or "busy" in lowered):
        return CacheBusy(
            f"the cache {where} is locked by another process (another sofrito run?); "
            "wait for it to finish, or use --store with another cache"
        )
    kind = "damaged" if isinstance(exc, CorruptSnapshot) else "unreadable"
    return CacheDamaged(
        f"the cache {where} is {kind} ({type(exc).__name__}: {_without_library_advice(text)}); "
        "delete it (the next run rebuilds it from the sources) or use --store with another cache"
    )


_LIBRARY_ADVICE = re.compile(r'; open the runtime with on_corrupt="cold"[^;]*')


def _without_library_advice(text: str) -> str:
    """A store's message without its advice to a program (``on_corrupt="cold"``):
    a command's user cannot pass it, and the line already says what to do."""
    return _LIBRARY_ADVICE.sub("", text)


def _schema_advice(exc: SchemaMismatch, where: str) -> CacheVersion:
    """Which side to upgrade: the store when it is older, sofrito when it is newer."""
    where = _without_password(where)
    if exc.older:
        return CacheVersion(
            f"the cache {where} has store schema {exc.found}, older than the {exc.expected} "
            f"this sofrito uses; run `sofrito store upgrade {where}` (once "
            "every machine that uses it runs this sofrito), then run again"
        )
    return CacheVersion(
        f"the cache {where} has store schema {exc.found}, written by a newer sofrito (this "
        f"one knows {exc.expected}); upgrade sofrito here (pip install -U sofrito), or use "
        "--store with another cache; the cache itself is fine, do not delete it"
    )


def _without_password(url: str) -> str:
    """``url`` with its password, if any, shown as ``PASSWORD``: the line lands in CI logs."""
    from urllib.parse import urlsplit, urlunsplit  # noqa: PLC0415

    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:PASSWORD@{host}"))


def _open(args: argparse.Namespace) -> tuple[Flow, RuntimeStore]:
    """The flow and its store, for any command that takes FLOW and --store."""
    from sofrito.cli.flow import load_flow  # noqa: PLC0415
    from sofrito.cli.urls import default_url, open_store  # noqa: PLC0415

    flow = load_flow(args.flow)
    if getattr(args, "out", None):
        _out_dir(args, flow)  # refused before the store is opened (and created)
    url = args.store or default_url(flow.root)
    args.store_url = url
    args.traces = _traces(flow.root)
    try:
        store = open_store(url, flow.root)
    except ValueError as exc:
        raise UsageError(f"--store: {exc}") from None
    except OSError as exc:  # its folder cannot be made: a file in the way, no permission
        raise CacheDamaged(
            f"cannot open the cache {url}: {exc.strerror or exc}: {exc.filename}; make that "
            "a folder sofrito can write, or use --store with another cache"
        ) from None
    return flow, store


def _traces(root: Path) -> Traces | None:
    """Shared traces from the environment: ``SOFRITO_TRACE_SECRET`` turns them on,
    ``SOFRITO_TRACES`` says ``read``, ``publish`` or both (the default), and
    ``SOFRITO_TRACE_STORE`` names a shared store for them (default: the run's own)."""
    from sofrito.cli.urls import open_store  # noqa: PLC0415
    from sofrito.stores.traces import ENV_STORE, Traces  # noqa: PLC0415

    try:
        traces = Traces.from_environment()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    url = os.environ.get(ENV_STORE, "")
    if traces is None or not url:
        return traces
    try:
        shared = open_store(url, root)
    except ValueError as exc:
        raise UsageError(f"{ENV_STORE}: {exc}") from None
    except OSError as exc:
        raise CacheDamaged(f"cannot open the trace store {url}: {exc}") from None
    return dataclasses.replace(traces, store=shared)


def _run_stopped_by_sigterm(args: argparse.Namespace) -> int:
    """``sofrito run``, with SIGTERM (``kill``, a cancelled CI job, a process
    manager) stopping it as Ctrl-C does: the run commits what it computed, the
    writer removes its spare file, and the exit code is 130. SIGTERM's default
    action ended the process at once: nothing committed, and a hidden
    ``.sofrito-*.tmp`` left in the output folder for good (``writes.py``), to
    be deployed with the site. A SIGTERM the parent set to be ignored stays so;
    ``watch`` and ``serve`` have their own handlers (``watch.stop_on_signals``)."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return _run(args)
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN:
        return _run(args)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    from sofrito.cli.output import EventPrinter, progress_for, summary_line  # noqa: PLC0415
    from sofrito.cli.parallel import executor_for  # noqa: PLC0415
    from sofrito.cli.rerun import run_retrying  # noqa: PLC0415
    from sofrito.cli.runner import RunSummary, run_once  # noqa: PLC0415

    flow, store = _open(args)
    out = _out_dir(args, flow)
    printers: list[EventPrinter] = []
    try:
        with executor_for(args) as executor:
            session = _sessions(
                args,
                flow,
                store,
                out,
                before_load=(
                    (lambda rt: printers.append(EventPrinter(rt))) if args.events else None
                ),
                executor=executor,
            )

            def run(session: Session) -> RunSummary:
                return run_once(session, progress_for(sys.stderr) if not args.events else None)

            reopening = _reopening(args, session)
            try:
                summary = run_retrying(session, run, reopening)
            finally:
                for printer in printers:
                    printer.close()
    finally:
        store.close()
    for failure in summary.failures:
        print(f"sofrito: failed: {failure}", file=sys.stderr)
    print(summary_line(summary), file=sys.stderr if args.events else sys.stdout)
    return 1 if summary.failures else 0


def _sessions(
    args: argparse.Namespace, flow: Flow, store: RuntimeStore, out: Path, **options: Any
) -> Callable[[], Session]:
    """Opens ``flow``'s session on ``store`` the same way each time: for the first
    run, and again after a lost race (``rerun.py``)."""
    from sofrito.cli.runner import open_session  # noqa: PLC0415

    exclude = _cache_folder(args.store_url, flow.root)
    return functools.partial(
        open_session, flow, store, out, exclude=exclude, traces=args.traces, **options
    )


def _reopening(args: argparse.Namespace, session: Callable[[], Session]) -> Reopening:
    """A fresh ``session()`` after a lost race, with the note printed when a run
    lost and runs again."""
    from sofrito.cli.rerun import Reopening  # noqa: PLC0415

    url = args.store_url

    def lost(conflict: Exception) -> None:
        print(
            f"sofrito: another process committed to the cache {_without_password(url)} "
            "during this run; running again from what it committed",
            file=sys.stderr,
            flush=True,
        )

    return Reopening(session, url, lost)


def _watch(args: argparse.Namespace, serve: bool = False) -> int:
    """``watch`` and ``serve``: one session for every run (``watch.py``, ``serve.py``)."""
    from sofrito.cli.output import progress_for  # noqa: PLC0415
    from sofrito.cli.runner import Progress  # noqa: PLC0415
    from sofrito.cli.serve import serve_command  # noqa: PLC0415
    from sofrito.cli.watch import watch_command  # noqa: PLC0415

    flow, store = _open(args)
    out = _out_dir(args, flow)
    try:
        session = _sessions(args, flow, store, out, command="serve" if serve else "watch")
        reopening = _reopening(args, session)

        def explain(exc: Exception) -> CliError | None:
            return _as_cli_error(exc, args)

        def progress() -> Progress:
            return progress_for(sys.stderr)

        if serve:
            return serve_command(
                session(),
                port=args.port,
                explain=explain,
                debug=args.debug,
                progress=progress,
                reopening=reopening,
            )
        return watch_command(
            session(), explain=explain, debug=args.debug, progress=progress, reopening=reopening
        )
    finally:
        store.close()


def _serve(args: argparse.Namespace) -> int:
    return _watch(args, serve=True)


def _out_dir(args: argparse.Namespace, flow: Flow) -> Path:
    """The output folder: ``--out``, or ``_site`` beside the flow.

    Refused (exit 2) when it is the flow's folder or holds it: a run writes
    whatever paths ``main`` names there, so an output could replace
    ``flow.py``, a source or the cache, and a run deletes what it wrote
    (a watch would also ignore every change in it, sources included).
    """
    if not args.out:
        return flow.root / "_site"
    out = Path(args.out).absolute()
    root = flow.root.absolute()
    if out.resolve() == root.resolve() or out.resolve() in root.resolve().parents:
        raise UsageError(
            f"--out {args.out}: the output folder holds the flow's folder {root}, so an "
            f"output could overwrite {flow.path.name}, a source or the cache; choose a "
            f"folder of its own (the default is {root / '_site'})"
        )
    return out


def _cache_folder(url: str, root: Path) -> tuple[Path, ...]:
    """The cache's folder, for the scan to skip, when it is a folder of its own."""
    from sofrito.cli.urls import sqlite_file  # noqa: PLC0415

    path = sqlite_file(url, root)
    if path is None:
        return ()
    folder = path.parent.absolute()
    if folder == root or folder in root.parents:
        return ()
    return (folder,)


def _receipts(args: argparse.Namespace) -> int:
    from sofrito.cli.flow import load_flow  # noqa: PLC0415
    from sofrito.cli.receipts import receipt_lines  # noqa: PLC0415
    from sofrito.cli.urls import default_url, sqlite_file  # noqa: PLC0415

    flow = load_flow(args.flow)
    path = sqlite_file(args.store or default_url(flow.root), flow.root)
    if path is not None and not path.exists():
        print(f"no runs committed yet (no cache at {path})")
        return 0
    _, store = _open(args)
    try:
        lines = list(receipt_lines(store, flow.name))
    finally:
        store.close()
    for line in lines:
        print(line)
    if not lines:
        print("no runs committed yet")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415

    from sofrito.cli import inspect  # noqa: PLC0415
    from sofrito.cli.errors import NotRun  # noqa: PLC0415
    from sofrito.cli.flow import load_flow  # noqa: PLC0415
    from sofrito.cli.urls import default_url, sqlite_file  # noqa: PLC0415

    flow = load_flow(args.flow)
    url = args.store or default_url(flow.root)
    path = sqlite_file(url, flow.root)
    if path is not None and not path.exists():
        raise NotRun(
            f"no cache at {path}: run `sofrito run {flow.path.name}` first "
            "(or pass the --store it used)"
        )
    _, store = _open(args)
    try:
        if args.why is None:
            answer = inspect.graph_size(flow, store, url)
            lines = inspect.graph_size_lines(answer)
        else:
            answer = inspect.why(flow, store, url, args.why)
            lines = inspect.why_lines(answer)
        text = json.dumps(answer, indent=2) if args.json else "\n".join(lines)
    finally:
        store.close()
    print(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    command()
