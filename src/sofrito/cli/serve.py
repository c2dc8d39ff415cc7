"""``sofrito serve``: ``watch``, plus the output folder over HTTP with live reload.

The server is the standard library's ``ThreadingHTTPServer`` on 127.0.0.1,
in a thread beside the watch (a development server: no dependency, one
thread per connection is plenty for a few tabs). What it adds to serving
files:

- **The reload script is injected into the HTML it serves**, before the
  last ``</body>``, and never written into an output file: the files on
  disk are exactly what ``sofrito run`` writes. The script
  (``reload.js``, package data) opens a server-sent event stream.
- **Reload per page, from the runs themselves.** After each run the watch
  hands its ``RunSummary`` to ``Reloads.publish``, which pushes the output
  paths the run wrote or deleted (``changed``). A tab compares them with its
  own path (``/`` and ``/blog/`` are ``index.html`` and
  ``blog/index.html``) and reloads only when its page is among them; an
  edit of another page leaves it alone.
  Why the summary and not the runtime's events: the events name queries
  and cells, and which output a query feeds is the runner's business; the
  summary already names the written files, and a file whose bytes did not
  change is not a reason to reload.
- **No missed reload.** Each served page carries the number of the last
  run at the time it was served; its stream asks for the changes since
  then, so a run that finished between the page's load and the stream's
  connection still reloads it.
- **Failures as an overlay.** ``failures`` carries the outputs whose render
  failed in the last run, with the source and the ``file:line`` in the flow
  (``runner.Failure``); a run that failed as a whole (``main`` raised, a
  source unreadable) is a failure of every page (``output`` null). A tab
  shows the overlay while its page is failing and removes it when a run
  no longer lists it. A page that failed before it was ever built is served
  as an empty page with the script, status 500, so the overlay shows.
- Responses are ``Cache-Control: no-store``: a reload must fetch.

Rejected: WebSockets (a dependency or a hand-written framing for a one-way
stream, which server-sent events already are, with reconnects built into
the browser); polling (latency and noise in the log).
"""

from __future__ import annotations

import contextlib
import functools
import json
import queue
import re
import sys
import threading
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sofrito.cli.errors import CliError
from sofrito.cli.rerun import Reopening
from sofrito.cli.runner import Progress, Session
from sofrito.cli.watch import Explain, Outcome, watch_command

__all__ = ["EVENTS_PATH", "RELOAD_PATH", "PortInUse", "Reloads", "inject", "serve_command"]

RELOAD_PATH = "/__sofrito/reload.js"
EVENTS_PATH = "/__sofrito/events"
_KEEPALIVE = 15.0
"""Seconds between comments on an idle stream, so a closed tab is noticed."""
_HTML = (".html", ".htm")


class PortInUse(CliError):
    """The port cannot be bound on 127.0.0.1."""

    exit_code = 2


class Reloads:
    """The live-reload state and its fan-out to the connected streams, thread-safe.

    ``publish`` is called on the watch's thread after each run; each stream's
    handler thread reads its own queue of ready-made event frames (``None``
    when the server closes).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: set[queue.SimpleQueue[str | None]] = set()
        self.run = 0
        """How many runs were published: the number a served page carries."""
        self._changed_at: dict[str, int] = {}
        self._failures: list[dict[str, Any]] = []

    def publish(self, outcome: Outcome) -> None:
        """A run finished: record and push what it changed and what fails now."""
        summary = outcome.summary
        with self._lock:
            self.run += 1
            if summary is None:
                message = str(outcome.error)
                self._failures = [{"output": None, "message": message}]
                changed: list[str] = []
            else:
                changed = [*summary.written_paths, *summary.deleted_paths]
                for path in changed:
                    self._changed_at[path] = self.run
                self._failures = [
                    {
                        "output": failure.output,
                        "message": failure.message,
                        "source": failure.source,
                        "where": failure.where,
                    }
                    for failure in summary.failures
                ]
            frames = _frame("failures", self._failures) + _frame("changed", changed)
            for client in self._clients:
                client.put(frames)

    def connect(self, since: int) -> queue.SimpleQueue[str | None]:
        """A new stream: it gets the current failures and the changes after run ``since``."""
        client: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        with self._lock:
            missed = sorted(path for path, run in self._changed_at.items() if run > since)
            client.put(_frame("failures", self._failures) + _frame("changed", missed))
            self._clients.add(client)
        return client

    def disconnect(self, client: queue.SimpleQueue[str | None]) -> None:
        with self._lock:
            self._clients.discard(client)

    def failing(self, output: str) -> bool:
        """Whether ``output`` failed in the last run (or the whole run did)."""
        with self._lock:
            return any(item["output"] in (None, output) for item in self._failures)

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        with self._lock:
            for client in self._clients:
                client.put(None)
            self._clients.clear()


def _frame(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def inject(html: bytes, run: int) -> bytes:
    """``html`` with the reload script before its last ``</body>`` (or at its end)."""
    tag = f'<script src="{RELOAD_PATH}" data-sofrito-run="{run}"></script>'.encode()
    found = None
    for found in re.finditer(rb"</body\s*>", html, re.IGNORECASE):  # noqa: B007 (the last one)
        pass
    if found is None:
        return html + tag
    return html[: found.start()] + tag + html[found.start() :]


@functools.cache
def _reload_script() -> bytes:
    return resources.files("sofrito.cli").joinpath("reload.js").read_bytes()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    reloads: Reloads
    out_dir: Path


class _Handler(SimpleHTTPRequestHandler):
    """Files from the output folder, HTML with the script, and the event stream."""

    server: _Server
    body = True
    """False for a HEAD request: the same status and headers as GET, no body."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == EVENTS_PATH:
            self._stream(url.query)
        elif url.path == RELOAD_PATH:
            self._send(200, "text/javascript; charset=utf-8", _reload_script())
        elif not self._page(url.path):
            super().do_GET()

    def do_HEAD(self) -> None:
        """What GET would answer, without the body: a page's length is the served
        page's, script included (the base class would give the file's), and a
        failed page is 500 as with GET. The event stream is not opened."""
        self.body = False
        url = urlsplit(self.path)
        if url.path == EVENTS_PATH:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
        elif url.path == RELOAD_PATH:
            self._send(200, "text/javascript; charset=utf-8", _reload_script())
        elif not self._page(url.path):
            super().do_HEAD()

    def _page(self, url_path: str) -> bool:
        """Serve an HTML page with the script injected; False to leave it to the base class."""
        file = Path(self.translate_path(url_path))
        if url_path.endswith("/"):
            file = file / "index.html"
        elif file.is_dir():
            return False  # the base class redirects to the folder with a "/"
        out_dir = self.server.out_dir
        if file.suffix not in _HTML or not file.is_relative_to(out_dir):
            return False
        reloads = self.server.reloads
        run = reloads.run  # before reading the file: a later write is a change after it
        try:
            content = file.read_bytes()
        except OSError:
            if not reloads.failing(file.relative_to(out_dir).as_posix()):
                return False
            content, status = b"<!doctype html><title>failed</title><body></body>", 500
        else:
            status = 200
        self._send(status, "text/html; charset=utf-8", inject(content, run))
        return True

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.body:
            self.wfile.write(body)

    def _stream(self, query: str) -> None:
        """Server-sent events until the tab goes away or the server stops."""
        try:
            since = int(parse_qs(query).get("since", ["0"])[0])
        except ValueError:
            since = 0
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        client = self.server.reloads.connect(since)
        try:
            while True:
                try:
                    frame = client.get(timeout=_KEEPALIVE)
                except queue.Empty:
                    frame = ": keepalive\n\n"
                if frame is None:
                    return
                self.wfile.write(frame.encode())
                self.wfile.flush()
        except OSError:
            return  # the tab went away (BrokenPipeError, ConnectionResetError)
        finally:
            self.server.reloads.disconnect(client)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the summary lines are the output."""


def start_server(out_dir: Path, port: int, reloads: Reloads) -> _Server:
    """Bind 127.0.0.1:``port`` (0: a free one) and serve ``out_dir`` from a thread."""
    out_dir.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_Handler, directory=str(out_dir))
    try:
        server = _Server(("127.0.0.1", port), handler)
    except OSError as exc:
        raise PortInUse(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); "
            "choose another port with --port (0 picks a free one)"
        ) from None
    server.reloads = reloads
    server.out_dir = out_dir
    threading.Thread(target=server.serve_forever, name="sofrito-serve", daemon=True).start()
    return server


def serve_command(
    session: Session,
    *,
    port: int,
    explain: Explain,
    debug: bool,
    progress: Callable[[], Progress] = Progress,
    reopening: Reopening | None = None,
) -> int:
    """``sofrito serve``: bind, print the URL, watch with ``Reloads.publish`` after each run."""
    reloads = Reloads()
    server = start_server(session.out_dir, port, reloads)
    try:
        print(
            f"sofrito: serving {session.out_dir} at http://127.0.0.1:{server.server_port}/",
            flush=True,
        )
        return watch_command(
            session,
            explain=explain,
            debug=debug,
            progress=progress,
            on_run=reloads.publish,
            reopening=reopening,
        )
    finally:
        reloads.close()
        with contextlib.suppress(OSError):
            server.shutdown()
            server.server_close()
        sys.stdout.flush()
