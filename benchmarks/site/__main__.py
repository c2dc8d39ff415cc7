"""The site through ``sofrito run`` beside Pelican, Sphinx + MyST, MkDocs and Hugo (issue 24).

``python -m benchmarks.site [--pages 1000] [--pages 10000] [--only mkdocs,hugo] [--store URL]``

For each corpus size: generate the example site's corpus
(``examples/site/generate.py``, seed 0), lay it out for each tool in a
folder of its own (outside the timing), then run the seven steps of
``steps.py`` on each tool in turn, each a fresh process timed by this one
(``measure.py``), and judge each rebuild from its output folder
(``check.py``). Prints the tables of ``table.py``, then the floors under
them (``floor.py``: a process that only stats the sources, and one that also
stats the outputs and imports the flow's libraries, as a one-page edit
must). sofrito is always measured, since every ratio is against it.

The package's layout, one concern a module: ``corpus.py`` (the pages and
which ones the steps touch), ``tools/`` (one module per tool: its layout,
configuration, templates and command), ``steps.py`` (the edits and what
each must show), ``measure.py`` (the child process and the output
snapshots), ``check.py`` (the verdicts), ``table.py`` (the tables).

Tools run from the venv of the Python that runs this (``scripts/bench.sh``
uses ``.venv-bench``, where it installs the peers); a tool that is not
installed there is a column of "skipped" with the reason. Nothing here runs
in the test suite; ``tests/benchmarks/site/`` tests the checker and the
tables on outputs made by hand.

``--store URL`` runs sofrito on that store instead of its SQLite file (a
``postgresql://`` URL: the Site workload on a shared store). The flow's
runtime id is the same at every size, so the store must hold no runtime
``flow`` yet, and one ``--pages`` is measured per store: else the cold build
would not be cold.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
from pathlib import Path

from benchmarks.site import corpus as corpora
from benchmarks.site import floor
from benchmarks.site.check import Verdict, check, listings, writes
from benchmarks.site.measure import run as run_child
from benchmarks.site.measure import snapshot
from benchmarks.site.steps import STEPS, Edits
from benchmarks.site.table import StepResult, ToolRun, render
from benchmarks.site.tools import TOOLS, Tool
from benchmarks.site.tools.sofrito import Sofrito

SAMPLE = 20
"""Titles sampled after the cold build to find the listings (files that show them all)."""


def measure_tool(tool: Tool, corpus: corpora.Corpus, folder: Path, logs: Path) -> ToolRun:
    """The seven steps on one tool, in the folder it was prepared in."""
    result = ToolRun(tool.name, tool.version())
    edits = Edits(tool, corpus, folder, corpus.edited)
    out = folder / tool.output
    sample = sample_titles(corpus)
    listed_in: frozenset[str] = frozenset()
    for label, step in STEPS:
        expect = step(edits)
        before = snapshot(out, expect.before_probes())
        log = logs / f"{tool.name.replace(' ', '')}-{label.replace(' ', '-')}.log"
        done = run_child(tool.command(), folder, log)
        probes = expect.after_probes() | (set(sample) if label == "cold" else set())
        after = snapshot(out, probes)
        if label == "cold":
            listed_in = listings(after, sample)
        verdict = (
            check(before, after, expect, listed_in)
            if done.returncode == 0
            else Verdict(False, (f"exit {done.returncode}: {done.error} (log: {log})",))
        )
        result.steps.append(StepResult(label, done, writes(before, after), verdict))
        print(f"  {tool.name:<15} {label:<14} {done.wall_s:8.2f} s  {verdict}", file=sys.stderr)
    return result


def sample_titles(corpus: corpora.Corpus) -> list[str]:
    """Titles of pages spread over the corpus, none of them edited by a step."""
    kept = [p for p in corpus.pages if p not in (corpus.edited, corpus.deleted)]
    step = max(1, len(kept) // SAMPLE)
    return [page.title for page in kept[::step]][:SAMPLE]


def measure_size(pages: int, tools: list[Tool], root: Path) -> list[str]:
    """Every tool on a corpus of ``pages`` generated pages; the tables' lines."""
    master = root / f"corpus-{pages}"
    corpora.generate(master, pages)
    corpus = corpora.read(master)
    logs = root / f"logs-{pages}"
    logs.mkdir()
    runs = []
    floors: list[str] = []
    for tool in tools:
        reason = tool.missing()
        if reason is not None:
            runs.append(ToolRun(tool.name, skipped=reason))
            continue
        folder = root / f"{tool.name.replace(' ', '')}-{pages}"
        folder.mkdir()
        tool.prepare(corpus, folder)
        runs.append(measure_tool(tool, corpus, folder, logs))
        if isinstance(tool, Sofrito):
            floors = floor.measure(folder, logs)
    title = (
        f"Site, {pages:,} generated pages + {len(corpus.pages) - pages} hand-written, "
        f"a fresh process per step; {dt.date.today().isoformat()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores"
    )
    return [*render(title, runs, [label for label, _ in STEPS]), "", *floors]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.site", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--pages", type=int, action="append", help="generated pages (repeatable; default 1000)"
    )
    names = ",".join(tool.name for tool in TOOLS)
    parser.add_argument("--only", help=f"tools to measure besides sofrito, of: {names}")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (logs too)")
    parser.add_argument(
        "--store", metavar="URL", help="sofrito's store (an empty one; default its SQLite file)"
    )
    args = parser.parse_args()
    if args.store and len(args.pages or [1000]) > 1:
        parser.error("--store measures one --pages: every size would share the runtime 'flow'")
    tools = [tool() for tool in TOOLS]
    for tool in tools:
        if isinstance(tool, Sofrito):
            tool.store = args.store
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")} | {"sofrito"}
        unknown = wanted - {tool.name for tool in tools}
        if unknown:
            parser.error(f"unknown tool(s) {', '.join(sorted(unknown))}; known: {names}")
        tools = [tool for tool in tools if tool.name in wanted]
    for pages in args.pages or [1000]:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            lines = measure_size(pages, tools, Path(tempfile.mkdtemp(dir=args.keep)))
        else:
            with tempfile.TemporaryDirectory(prefix="sofrito-site-") as folder:
                lines = measure_size(pages, tools, Path(folder))
        print("\n".join(lines), flush=True)
        print()


if __name__ == "__main__":
    main()
