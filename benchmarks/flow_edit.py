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


def sofrito_run(site: Path, logs: Path, name: str) -> tuple[Run, int, int]:
    log = logs / f"{name}.log"
    done = run([sys.executable, "-m", "sofrito", "run", "flow.py"], site, log)
    if done.returncode:
        raise RuntimeError(f"{name}: sofrito run failed: {done.error}")
    return (done, *counts(log))


def generate(pages: int, out: Path) -> None:
    script = ROOT / "examples" / "site" / "generate.py"
    command = [sys.executable, str(script), "--pages", str(pages), "--out", str(out)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def line(name: str, done: Run, executed: int, written: int) -> str:
    return (
        f"  {name:<22} {executed:>7,} executed {written:>6,} written "
        f"{done.wall_s:7.2f} s wall {done.cpu_s:7.2f} s CPU {done.peak_rss_mb:6.0f} MB"
    )


def measure(pages: int, queries: list[str], folder: Path) -> list[str]:
    """The cold build, then each query's edit on its own copy; the report's lines."""
    built, logs = folder / "built", folder / "logs"
    logs.mkdir()
    generate(pages, built)
    lines = [line("cold build", *sofrito_run(built, logs, "cold"))]
    for query in queries:
        site = folder / f"edit-{query}"
        shutil.copytree(built, site, symlinks=True)
        flow = site / "flow.py"
        flow.write_text(with_version(flow.read_text(), query))
        lines.append(line(f"edit of {query}", *sofrito_run(site, logs, query)))
        shutil.rmtree(site)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flow_edit")
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--query", action="append", choices=QUERIES, help="(default: all)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sofrito-flow-edit-") as folder:
        report = measure(args.pages, args.query or list(QUERIES), Path(folder))
    print(f"Editing the flow, {args.pages:,} pages, a fresh process per run:")
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
