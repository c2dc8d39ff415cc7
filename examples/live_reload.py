"""Live reload: watch a directory, rebuild, print which outputs changed.

    .venv/bin/python examples/live_reload.py DIR      # Ctrl-C to stop
    .venv/bin/python examples/live_reload.py --demo   # edits a temp dir itself, then stops

A ``FileWatch`` subscription, declared by a query, feeds changed file contents
into the ``source`` input; ``pages`` renders every ``.md`` file; after each
batch the loop prints the outputs whose value changed (``QueryChanged``).
"""

from __future__ import annotations

import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchfiles import Change

import sofrito as sf
from sofrito.subscriptions import Driver, FileWatch, Subscription

root_dir = sf.Input("live.root", durability=sf.Durability.STABLE)
source = sf.Input("live.source")
names = sf.Input("live.names")


@sf.query(name="live.watchers")
def watchers(db: Any) -> list[Subscription[Any]]:
    return [FileWatch([root_dir(db)], lambda batch: batch, debounce=30)]


@sf.query(name="live.page")
def page(db: Any, name: str) -> str:
    text = source(db, name)
    title = text.splitlines()[0] if text else "(empty)"
    return f"<h1>{title}</h1>"


@sf.query(name="live.index")
def index(db: Any) -> str:
    return "".join(f"<li>{page(db, name)}</li>" for name in sorted(names(db)))


def update(rt: sf.Runtime, batch: frozenset[tuple[Change, str]]) -> None:
    with rt.batch():
        current = set(rt.get(names))
        for change, path in batch:
            name = Path(path).name
            if not name.endswith(".md"):
                continue
            if change == Change.deleted:
                current.discard(name)
                rt.remove(source[name])
            else:
                current.add(name)
                rt.set(source[name], Path(path).read_text())
        rt.set(names, frozenset(current))


def rebuild_and_report(rt: sf.Runtime, events: Any) -> str:
    """Rebuild everything; print what changed; return the index."""
    html = index(rt)
    for name in rt.get(names):
        page(rt, name)
    while (event := events.try_recv()) is not None:
        if isinstance(event, sf.QueryChanged):
            print("changed:", event.ref, flush=True)
    return html


def serve(directory: Path, script: Script | None = None) -> None:
    """Watch ``directory`` until Ctrl-C; ``script`` (the demo) may drive it instead."""
    rt = sf.Runtime()
    rt.set(root_dir, str(directory))
    rt.set(names, frozenset())
    events = rt.subscribe_events()
    driver: Driver[Any] = Driver(rt, subscriptions=watchers, update=update)
    latest = [""]
    built = threading.Condition()

    def rebuild_on_every_revision() -> None:
        watch = rt.subscribe_revisions()
        while True:
            watch.changed()
            html = rebuild_and_report(rt, events)
            with built:
                latest[0] = html
                built.notify_all()

    def shows(text: str, timeout: float) -> bool:
        """Wait until the built index contains ``text``."""
        with built:
            return built.wait_for(lambda: text in latest[0], timeout=timeout)

    threading.Thread(target=rebuild_on_every_revision, daemon=True).start()
    if script is not None:
        threading.Thread(target=script, args=(driver, shows), daemon=True).start()
    print(f"watching {directory} (Ctrl-C to stop)", flush=True)
    driver.run()


Script = Callable[[Driver[Any], Callable[[str, float], bool]], None]


def demo() -> None:
    directory = Path(tempfile.mkdtemp(prefix="sofrito-live-"))
    page_file = directory / "home.md"

    def editor(driver: Driver[Any], shows: Callable[[str, float], bool]) -> None:
        for attempt in range(150):  # the watcher arms asynchronously: write until seen
            page_file.write_text(f"Home\nhello {attempt}")
            if shows("Home", 0.2):
                break
        print("-- a new body, the same title: nothing downstream changes", flush=True)
        page_file.write_text("Home\nan entirely new body")
        print("-- a new title", flush=True)
        page_file.write_text("Welcome\nhello")
        shows("Welcome", 30)
        driver.stop()

    serve(directory, editor)


if __name__ == "__main__":
    if sys.argv[1:] == ["--demo"]:
        demo()
    elif len(sys.argv) == 2:
        serve(Path(sys.argv[1]))
    else:
        print(__doc__)
