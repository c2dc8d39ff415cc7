"""Live reload with runtime events: rebuild when the revision moves, report what changed.

One thread plays the editor and writes inputs; the main thread waits on the
revision watch, rebuilds, and prints the queries whose values changed. Run:
``.venv/bin/python examples/live_events.py``
"""

from __future__ import annotations

import threading
from typing import Any

import sofrito as sf

page_source = sf.Input("live.source")


@sf.query(name="live.title")
def title(db: Any, page: str) -> str:
    return str(page_source(db, page)).splitlines()[0]


@sf.query(name="live.index")
def index(db: Any) -> str:
    return " | ".join(title(db, page) for page in ("home", "about"))


def editor(rt: sf.Runtime, done: threading.Event) -> None:
    rt.set(page_source["about"], "About us\nwe make sauce")  # same title: cut off
    rt.set(page_source["home"], "Welcome home\nfresh text")  # new title
    done.set()


def main() -> None:
    rt = sf.Runtime()
    with rt.batch():
        rt.set(page_source["home"], "Home\nhello")
        rt.set(page_source["about"], "About us\nhi")
    print("built:", index(rt))
    watch = rt.subscribe_revisions()
    events = rt.subscribe_events()
    done = threading.Event()
    threading.Thread(target=editor, args=(rt, done)).start()
    done.wait()
    revision = watch.changed(timeout=5)
    print("rebuilt at revision", revision, "->", index(rt))
    while (event := events.try_recv()) is not None:
        if isinstance(event, sf.QueryChanged):
            print("  changed:", event.ref)


if __name__ == "__main__":
    main()
