"""The floor under a one-page edit: what any tool pays before it builds anything.

Issue 24 puts a one-page edit at 10,000 pages under 0.2 s, beside a floor:
"a whole process that stats 10,000 files against a SQLite manifest takes 80
ms". That floor leaves out two costs an edit of the example site cannot
avoid, whatever runs it:

- **the outputs**: a run that trusts an output it did not write must know the
  file is still as written (``sofrito run`` stats each one, as Make and Bazel
  look at their targets); a tool that rewrites every file pays more;
- **the flow's libraries**: the edited page is parsed and rendered, so
  Markdown-it with its footnote plugin, Jinja2 and Pygments are imported.

This module is the probe that measures both floors, run as a child of the
harness (a fresh interpreter, timed by the parent like every step):
``python floor.py SOURCES OUTPUTS MANIFEST [--edit]``. It opens a SQLite
manifest of every source (path, size, mtime; written beforehand by
``write_manifest``, outside the timing), stats every source against it and,
with ``--edit``, stats every output file and imports what a one-page edit
imports. It builds nothing, so a tool's step cannot be faster than it on the
same machine at the same moment.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path


def write_manifest(sources: Path, manifest: Path) -> int:
    """A manifest of every file under ``sources``; how many it lists."""
    manifest.unlink(missing_ok=True)
    rows = [(path, *_size_and_mtime(f"{sources}/{path}")) for path in _files(sources)]
    with sqlite3.connect(manifest) as db:
        db.execute("CREATE TABLE files (path TEXT PRIMARY KEY, size INT, mtime INT)")
        db.executemany("INSERT INTO files VALUES (?, ?, ?)", rows)
    db.close()
    return len(rows)


def _files(top: Path | str) -> list[str]:
    """Every file under ``top``, ``/``-separated and relative to it (paths as text:
    a ``Path`` per file would cost more than its ``stat``)."""
    found: list[str] = []
    for folder, _, names in os.walk(top):
        prefix = os.path.relpath(folder, top)
        found.extend(name if prefix == "." else f"{prefix}/{name}" for name in names)
    return found


def _size_and_mtime(path: str) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns


def _changed(sources: Path, manifest: Path) -> int:
    """The scan: sources whose size or mtime differs from the manifest, or new."""
    db = sqlite3.connect(f"file:{manifest}?mode=ro", uri=True)
    known = {path: (size, mtime) for path, size, mtime in db.execute("SELECT * FROM files")}
    db.close()
    top = str(sources)
    return sum(known.get(path) != _size_and_mtime(f"{top}/{path}") for path in _files(top))


def _import_libraries() -> None:
    """What a one-page edit of the example site imports and makes (its ``_markdown``,
    ``_code_block`` and ``_template``): the parser with its plugin, a lexer, the
    HTML formatter, and Jinja2."""
    import jinja2
    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name

    MarkdownIt("commonmark").enable("table").use(footnote_plugin)
    get_lexer_by_name("python")
    HtmlFormatter(nowrap=True)
    jinja2.Environment(autoescape=jinja2.select_autoescape(default=True))


ROUNDS = 5
"""Runs of each probe; the table shows the fastest and the median."""


def measure(folder: Path, logs: Path) -> list[str]:
    """Both floors in sofrito's folder after its steps (its sources and outputs), as
    lines for the report: a fresh process each, ``ROUNDS`` times, alternated.
    Imported here: run as a script, this file needs nothing but the standard
    library and the flow's libraries."""
    from benchmarks.site.measure import run

    manifest = logs / "floor-manifest.db"
    listed = write_manifest(folder / "content", manifest)
    command = [sys.executable, __file__, "content", "_site", str(manifest)]
    walls: dict[str, list[float]] = {"scan": [], "edit": []}
    for index in range(ROUNDS):
        for name, extra in (("scan", []), ("edit", ["--edit"])):
            done = run([*command, *extra], folder, logs / f"floor-{name}-{index}.log")
            if done.returncode:
                return [f"The floor probe failed: {done.error} (logs in {logs})."]
            walls[name].append(done.wall_s)
    scan, edit = (sorted(walls[name]) for name in ("scan", "edit"))
    return [
        f"Floors, a fresh process each, best and median of {ROUNDS} "
        "(`benchmarks/site/floor.py`): the issue's, stat "
        f"{listed:,} sources against a SQLite manifest, {_ms(scan[0])} / "
        f"{_ms(scan[ROUNDS // 2])}; a one-page edit's, that and a stat of every output "
        f"and the flow's libraries imported, {_ms(edit[0])} / {_ms(edit[ROUNDS // 2])}."
    ]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main(argv: list[str]) -> None:
    sources, outputs, manifest = (Path(arg) for arg in argv[:3])
    began = time.perf_counter()
    changed = _changed(sources, manifest)
    parts = [f"scan {time.perf_counter() - began:.3f} s ({changed} changed)"]
    if "--edit" in argv:
        mark = time.perf_counter()
        top = str(outputs)
        outputs_seen = len([_size_and_mtime(f"{top}/{path}") for path in _files(top)])
        parts.append(f"outputs {time.perf_counter() - mark:.3f} s ({outputs_seen})")
        mark = time.perf_counter()
        _import_libraries()
        parts.append(f"libraries {time.perf_counter() - mark:.3f} s")
    print(", ".join(parts))


if __name__ == "__main__":
    main(sys.argv[1:])
