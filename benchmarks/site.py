"""DESIGN §7's Site workload, with the library API until ``sofrito run`` exists.

A generated site of 10,000 pages in a folder. Each build is a new Python
process that does what ``sofrito run`` will do: open the SQLite cache, read
the folder into inputs (an unchanged file is a no-op write), compute every
page and the index, write the outputs whose content changed since the last
commit (``rt.poll(..., since=...)``), and commit. Three builds:

1. cold: no cache, every query executes and every output is written;
2. no-op rebuild: a new process on the warm cache; nothing executes or is
   written (target: under 1 s);
3. one-page edit: one source file changed; that page executes and is
   written, the index re-executes only if the page's title changed (target:
   under 0.2 s).

The time reported is the child process's wall time as the parent sees it
(interpreter start and imports included), then the child's own phases.

Run: ``python -m benchmarks.site`` (part of ``bash scripts/bench.sh``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sofrito as sf
from sofrito.stores import SqliteStore

PAGES = 10_000

source = sf.Input("site.source")
"""A source file's text, by its name."""
listing = sf.Input("site.listing")
"""Every source name, sorted."""
executions: Counter[str] = Counter()


@sf.query(name="site.title")
def title(db: Any, name: str) -> str:
    executions["title"] += 1
    return str(source(db, name)).split("\n", 1)[0].lstrip("# ")


@sf.query(name="site.page")
def page(db: Any, name: str) -> str:
    executions["page"] += 1
    body = str(source(db, name)).partition("\n")[2]
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n") if p)
    return f"<html><h1>{title(db, name)}</h1>{paragraphs}</html>"


@sf.query(name="site.index")
def index(db: Any) -> str:
    executions["index"] += 1
    links = "".join(f'<li><a href="{n}.html">{title(db, n)}</a></li>' for n in listing(db))
    return f"<html><ul>{links}</ul></html>"


def generate(folder: Path) -> None:
    folder.mkdir(parents=True)
    for n in range(PAGES):
        text = f"# Page {n}\n" + "\n\n".join(f"Paragraph {k} of page {n}." for k in range(5))
        (folder / f"p{n:05}.md").write_text(text)


def build(root: Path) -> dict[str, Any]:
    """One build, as a new process runs it; returns its phases in ms and its counts."""
    phases: dict[str, Any] = {}
    started = time.perf_counter()
    rt = sf.Runtime(store=SqliteStore(root / "cache.db"), runtime_id="site")
    since = rt.revision
    phases["open"] = time.perf_counter() - started
    mark = time.perf_counter()
    folder = root / "src"
    names = sorted(entry.name[:-3] for entry in os.scandir(folder) if entry.name.endswith(".md"))
    with rt.batch():
        rt.set(listing, tuple(names))
        for name in names:
            rt.set(source[name], (folder / f"{name}.md").read_text())
    phases["read"] = time.perf_counter() - mark
    mark = time.perf_counter()
    out = root / "out"
    out.mkdir(exist_ok=True)
    written = 0
    for name in names:
        polled = rt.poll(page, name, since=since)
        if polled.changed or since == 0:
            (out / f"{name}.html").write_text(polled.value)
            written += 1
    polled = rt.poll(index, since=since)
    if polled.changed or since == 0:
        (out / "index.html").write_text(polled.value)
        written += 1
    phases["compute+write"] = time.perf_counter() - mark
    mark = time.perf_counter()
    rt.commit()
    phases["commit"] = time.perf_counter() - mark
    ms = {phase: round(seconds * 1000, 1) for phase, seconds in phases.items()}
    return {"phases_ms": ms, "executed": dict(executions), "written": written}


def _child(root: Path) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.site", "--child", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = (time.perf_counter() - started) * 1000
    return wall, json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(build(Path(sys.argv[2]))))
        return
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        generate(root / "src")
        engine = "compiled engine" if sf.COMPILED else "pure Python"
        print(
            f"Site: {PAGES:,} pages, a new process per build, Python {sys.version.split()[0]}, "
            f"sofrito {engine}"
        )
        runs = [("cold build", None), ("no-op rebuild", None)]
        runs.append(("one-page edit", "# Page 1234\n\nAn edited paragraph."))
        runs.append(("one-page edit, new title", "# Renamed\n\nAn edited paragraph."))
        for label, edit in runs:
            if edit is not None:
                (root / "src" / "p01234.md").write_text(edit)
            wall, report = _child(root)
            ran = ", ".join(f"{k} x{v}" for k, v in sorted(report["executed"].items()))
            phases = ", ".join(f"{k} {v}" for k, v in report["phases_ms"].items())
            print(f"{label:<26} {wall:8.1f} ms   executed: {ran or 'nothing'}")
            print(f"{'':<26} written: {report['written']}; phases (ms): {phases}")


if __name__ == "__main__":
    main()
