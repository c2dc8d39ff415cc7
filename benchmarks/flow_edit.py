"""Editing the flow: a query's code changes, then ``sofrito run`` (docs/benchmarks.md).

``python -m benchmarks.flow_edit [--pages 10000] [--query parsed] [--query meta] ...``

What a site's author does after editing ``flow.py``, which none of the
site benchmark's seven steps does: every memo of the edited query is
discarded and executes again, with whatever its value reaches. Until
8832594 that cost four to five cold builds at 10,000 pages (a push back
per discarded memo walked the whole site; their reads loaded one row at a
time), and no benchmark showed it.

Generates the example site's corpus (``examples/site/generate.py``, seed
0), builds it cold, then for each query named: a copy of the built folder,
that query's ``@sf.query`` given ``version="2"`` in the copy's ``flow.py``
(new code with the same output, so no page is written again), and
``sofrito run`` timed in a fresh process (``benchmarks.site.measure``).
Prints one line per run, with the cold build's for scale.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from benchmarks.site.measure import Run, run

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ("parsed", "meta", "summary", "render")
_SUMMARY = re.compile(r"(\d+) executed, \d+ reused, (\d+) written")


def with_version(flow: str, query: str, version: str = "2") -> str:
    """``flow`` with the bare ``@sf.query`` of ``def query(`` given ``version``."""
    pattern = re.compile(rf"^@sf\.query\n(def {re.escape(query)}\()", re.MULTILINE)
    edited, count = pattern.subn(rf'@sf.query(version="{version}")\n\1', flow)
    if count != 1:
        raise ValueError(f"flow.py has no bare @sf.query on a def {query}(...)")
    return edited


def counts(log: Path) -> tuple[int, int]:
    """Executed and written, from the run's summary line (its last match)."""
    found = _SUMMARY.findall(log.read_text(errors="replace"))
    if not found:
        raise ValueError(f"no summary line in {log}")
    executed, written = found[-1]
    return int(executed), int(written)


class Step(NamedTuple):
    """One ``sofrito run``: what it was, its process's figures, what it did."""

    name: str
    run: Run
    executed: int
    written: int

    def line(self) -> str:
        return (
            f"  {self.name:<22} {self.executed:>7,} executed {self.written:>6,} written "
            f"{self.run.wall_s:7.2f} s wall {self.run.cpu_s:7.2f} s CPU "
            f"{self.run.peak_rss_mb:6.0f} MB"
        )


def sofrito_run(site: Path, logs: Path, name: str) -> Step:
    log = logs / f"{name.replace(' ', '-')}.log"
    done = run([sys.executable, "-m", "sofrito", "run", "flow.py"], site, log)
    if done.returncode:
        raise RuntimeError(f"{name}: sofrito run failed: {done.error}")
    return Step(name, done, *counts(log))


def generate(pages: int, out: Path) -> None:
    script = ROOT / "examples" / "site" / "generate.py"
    command = [sys.executable, str(script), "--pages", str(pages), "--out", str(out)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def measure(pages: int, queries: list[str], folder: Path) -> list[Step]:
    """The cold build, then each query's edit on its own copy of the built site."""
    built, logs = folder / "built", folder / "logs"
    logs.mkdir()
    generate(pages, built)
    steps = [sofrito_run(built, logs, "cold build")]
    for query in queries:
        site = folder / f"edit-{query}"
        shutil.copytree(built, site, symlinks=True)
        flow = site / "flow.py"
        flow.write_text(with_version(flow.read_text(), query))
        steps.append(sofrito_run(site, logs, f"edit of {query}"))
        shutil.rmtree(site)
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flow_edit")
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--query", action="append", choices=QUERIES, help="(default: all)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sofrito-flow-edit-") as folder:
        steps = measure(args.pages, args.query or list(QUERIES), Path(folder))
    print(f"Editing the flow, {args.pages:,} pages, a fresh process per run:")
    print("\n".join(step.line() for step in steps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
