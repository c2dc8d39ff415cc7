"""Shared traces (issue 25): a second checkout's first build from a team's traces,
against a true cold build of the same site.

Two checkouts of the example site (``examples/site``, the same generated
pages), each with its own cache; the team's traces in a third SQLite file
(``SOFRITO_TRACE_STORE``). Every step is ``sofrito run`` in a fresh process,
timed from outside:

1. CI, cold, publishing its traces (``SOFRITO_TRACES=publish``);
2. the laptop, cold, without traces: what a fresh clone costs today;
3. the laptop, again from nothing, reading CI's traces (``SOFRITO_TRACES=read``).

Target: step 3 executes nothing and is at least 10x faster than step 2. The
line each run prints is shown as it is (its ``executed`` counts the queries
the run brought up to date by executing or by a trace).

The ratio depends on what a body costs against what every memo costs anyway
(its row and edges committed, its output file written, its trace checked):
``--body-scale K`` repeats each page's Markdown body K times in both
checkouts, so the pages' bodies (Markdown, highlighting) cost K times as much
and the rest of the run barely more.

Run: ``python -m benchmarks.traces [--pages N] [--body-scale K]`` (1,000 pages, 1).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.site.corpus import generate

SECRET = "benchmark trace secret, 32 bytes"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(site: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """``sofrito run`` of ``site`` in a fresh process: wall seconds, CPU seconds
    (user and system: what a machine shared with others' work distorts least),
    and its summary line."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sofrito", "run", str(site / "flow.py")],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=1800,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sofrito run {site} failed ({done.returncode}): {done.stderr}")
    return seconds, _children_cpu() - cpu, done.stdout.strip()


def scale_bodies(site: Path, times: int) -> None:
    """Repeat each generated page's body (after its front matter) ``times`` times."""
    for page in sorted((site / "content").rglob("*.md")):
        _, front, body = page.read_text().split("---\n", 2)
        page.write_text(f"---\n{front}---\n" + "\n".join([body] * times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000, help="generated pages (1,000)")
    parser.add_argument(
        "--body-scale", type=int, default=1, help="each page's body repeated K times (1)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ci, laptop = root / "ci", root / "laptop"
        generate(ci, args.pages)
        generate(laptop, args.pages)
        if args.body_scale > 1:
            scale_bodies(ci, args.body_scale)
            scale_bodies(laptop, args.body_scale)
        team = {
            "SOFRITO_TRACE_SECRET": SECRET,
            "SOFRITO_TRACE_STORE": f"sqlite:{root / 'team.db'}",
        }
        rows = [("CI cold, publishing", *run(ci, {**team, "SOFRITO_TRACES": "publish"}))]
        rows.append(("laptop cold, no traces", *run(laptop, {})))
        shutil.rmtree(laptop / ".sofrito")
        shutil.rmtree(laptop / "_site")
        rows.append(("laptop cold, from traces", *run(laptop, {**team, "SOFRITO_TRACES": "read"})))
        scale = f", bodies x{args.body_scale}" if args.body_scale > 1 else ""
        print(f"Traces: {args.pages} pages{scale}, each step a fresh `sofrito run`")
        for name, seconds, cpu, summary in rows:
            print(f"  {name:<26} {seconds:7.2f} s  CPU {cpu:6.2f} s   {summary}")
        wall, cpu = rows[1][1] / rows[2][1], rows[1][2] / rows[2][2]
        print(f"  cold / from traces: {wall:.1f}x wall, {cpu:.1f}x CPU (target >= 10x)")


if __name__ == "__main__":
    main()
