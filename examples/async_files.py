"""An asyncio program whose queries read files through an async locator.

The queries are plain sync functions. The files arrive asynchronously: the
``source`` input's locator is ``async def``, so a query that reads a file
nobody has loaded yet suspends, and ``rt.aquery`` awaits the locators of
everything the query is waiting for, concurrently, then tries again.

Run: ``.venv/bin/python examples/async_files.py``
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

import sofrito as sf

ROOT = Path(tempfile.mkdtemp(prefix="sofrito-async-"))
loads: list[str] = []


async def read_file(name: str) -> str:
    """The locator: called for a cell that was never set."""
    path = ROOT / name
    if not path.exists():
        raise sf.NotFound(f"{path} does not exist")
    loads.append(name)
    return await asyncio.to_thread(path.read_text)


source = sf.Input("example.source", locator=read_file)


@sf.query
def outline(db: Any) -> list[str]:
    return source(db, "index.txt").split()


@sf.query
def site(db: Any) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for name in outline(db):
        # Keep reading past a missing page: every missing page is reported at once.
        with contextlib.suppress(sf.Suspend):
            sizes[name] = len(source(db, name))
    return sizes


async def main() -> None:
    ROOT.joinpath("index.txt").write_text("a.txt b.txt c.txt")
    for name, text in {"a.txt": "alpha", "b.txt": "beta!", "c.txt": "gamma!!"}.items():
        ROOT.joinpath(name).write_text(text)
    rt = sf.Runtime()
    print("sizes:", await rt.aquery(site))
    print(f"loaded {loads} in {rt.revision} rounds")
    # An editor changed b.txt: push the new text in, recompute.
    rt.set(source["b.txt"], "a much longer beta")
    print("after an edit:", await rt.aquery(site))


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
