"""Live reload: watch a directory, rebuild, print which outputs changed.

    .venv/bin/python examples/live_reload.py DIR      # Ctrl-C to stop
    .venv/bin/python examples/live_reload.py --demo   # edits a temp dir itself, then stops

A query declares one ``FileWatch`` on the directory. Each batch of changes
reaches ``update`` on the driver's thread, which writes the changed
``.md`` files into the ``source`` input, rebuilds every page and the index,
and prints the outputs whose value changed (the runtime's ``QueryChanged``
events). Editing a file never restarts the watcher: the declared set, one
watcher on one directory, stays the same.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchfiles import Change

import sofrito as sf
from sofrito.subscriptions import Batch, Driver, FileWatch, Subscription

root_dir = sf.Input("live.root", durability=sf.Durability.STABLE)
source = sf.Input("live.source")
names = sf.Input("live.names")


def markdown_only(change: Change, path: str) -> bool:
    """Defined once, at module level, so the watcher's id is the same on every declaration."""
    return path.endswith(".md")


def keep(batch: Batch) -> Batch:
    return batch


@sf.query(name="live.watchers", persist=False)  # subscriptions are not values to store
def watchers(db: Any) -> list[Subscription[Batch]]:
    return [FileWatch([root_dir(db)], keep, debounce=30, filter=markdown_only)]


@sf.query(name="live.page")
def page(db: Any, name: str) -> str:
    text = source(db, name)
    title = text.splitlines()[0] if text else "(empty)"
    return f"<h1>{title}</h1>"


@sf.query(name="live.index")
def index(db: Any) -> str:
    return "".join(f"<li>{page(db, name)}</li>" for name in sorted(names(db)))


class LiveSite:
    """The runtime, the driver, and the last build (which the demo waits on)."""

    def __init__(self, directory: Path) -> None:
        self.root = directory.resolve()
        self.rt = sf.Runtime()
        self.events = self.rt.subscribe_events()
        self.driver: Driver[Batch] = Driver(self.rt, subscriptions=watchers, update=self.update)
        self.built = threading.Condition()
        self.html = ""
        self.texts: dict[str, str] = {}
        with self.rt.batch():
            self.rt.set(root_dir, str(self.root))
            self.rt.set(names, frozenset())
            for path in sorted(self.root.rglob("*.md")):
                self._read(path)
        self.rebuild()

    def update(self, rt: sf.Runtime, batch: Batch) -> None:
        """One batch of file changes: write the inputs, then rebuild and report."""
        with rt.batch():
            for change, path in sorted(batch):
                if change == Change.deleted:
                    self._forget(Path(path))
                else:
                    self._read(Path(path))
        self.rebuild()

    def _read(self, path: Path) -> None:
        name = path.relative_to(self.root).as_posix()
        try:
            text = path.read_text()
        except FileNotFoundError:  # deleted again before we got to it
            self._forget(path)
            return
        self.texts[name] = text
        self.rt.set(source[name], text)
        self.rt.set(names, self.rt.get(names) | {name})

    def _forget(self, path: Path) -> None:
        name = path.relative_to(self.root).as_posix()
        self.texts.pop(name, None)
        self.rt.remove(source[name])
        self.rt.set(names, self.rt.get(names) - {name})

    def rebuild(self) -> None:
        """Compute every output; only what an edit reached re-executes. Print what changed."""
        html = index(self.rt)
        for name in self.rt.get(names):
            page(self.rt, name)
        while True:
            try:
                event = self.events.try_recv()
            except sf.Lagged as lagged:
                print(f"(missed {lagged.missed} events)", flush=True)
                continue
            if event is None:
                break
            if isinstance(event, sf.QueryChanged):
                print("changed:", event.ref, flush=True)
        with self.built:
            self.html = html
            self.built.notify_all()

    def wait_for(self, condition: Callable[[LiveSite], bool], timeout: float) -> bool:
        """Wait until a build makes ``condition(self)`` true."""
        with self.built:
            return self.built.wait_for(lambda: condition(self), timeout=timeout)


def serve(directory: Path) -> None:
    site = LiveSite(directory)
    print(f"watching {site.root} ({len(site.texts)} pages; Ctrl-C to stop)", flush=True)
    site.driver.run()


def demo() -> None:
    directory = Path(tempfile.mkdtemp(prefix="sofrito-live-"))
    home = directory / "home.md"
    home.write_text("Home\nhello")
    site = LiveSite(directory)
    print(f"watching {directory}", flush=True)

    def editor() -> None:
        try:
            for attempt in range(150):  # the watcher arms on its own thread: write until seen
                (directory / "about.md").write_text(f"About\nversion {attempt}")
                if site.wait_for(lambda s: "About" in s.html, 0.2):
                    break
            print("-- a new body, the same title: nothing downstream changes", flush=True)
            home.write_text("Home\nan entirely new body")
            site.wait_for(lambda s: "new body" in s.texts["home.md"], 30)
            print("-- a new title", flush=True)
            home.write_text("Welcome\nhello")
            site.wait_for(lambda s: "Welcome" in s.html, 30)
        finally:
            site.driver.stop()

    thread = threading.Thread(target=editor, name="demo-editor")
    thread.start()
    site.driver.run()
    thread.join()
    shutil.rmtree(directory)


if __name__ == "__main__":
    if sys.argv[1:] == ["--demo"]:
        demo()
    elif len(sys.argv) == 2:
        serve(Path(sys.argv[1]))
    else:
        print(__doc__)
