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

Run: ``python -m benchmarks.traces [--pages N]`` (default 1,000 pages).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.site.corpus import generate

SECRET = "benchmark trace secret, 32 bytes"


def run(site: Path, env: dict[str, str]) -> tuple[float, str]:
    """``sofrito run`` of ``site`` in a fresh process: seconds, and its summary line."""
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
    return seconds, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000, help="generated pages (1,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ci, laptop = root / "ci", root / "laptop"
        generate(ci, args.pages)
        generate(laptop, args.pages)
        team = {
            "SOFRITO_TRACE_SECRET": SECRET,
            "SOFRITO_TRACE_STORE": f"sqlite:{root / 'team.db'}",
        }
        rows = [("CI cold, publishing", *run(ci, {**team, "SOFRITO_TRACES": "publish"}))]
        rows.append(("laptop cold, no traces", *run(laptop, {})))
        shutil.rmtree(laptop / ".sofrito")
        shutil.rmtree(laptop / "_site")
        rows.append(("laptop cold, from traces", *run(laptop, {**team, "SOFRITO_TRACES": "read"})))
        print(f"Traces: {args.pages} pages, each step a fresh `sofrito run`")
        for name, seconds, summary in rows:
            print(f"  {name:<26} {seconds:7.2f} s   {summary}")
        print(f"  cold / from traces: {rows[1][1] / rows[2][1]:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
