"""The example site built with workers (issue 26): ``sofrito run --jobs N`` and Dask.

``python -m benchmarks.parallel [--pages 2000 10000] [--executors jobs1 jobs2 dask1 dask2]``

For each corpus size, one generated site (``examples/site/generate.py``,
seed 0) is copied into a fresh folder per executor, and three steps run in
fresh ``sofrito run`` processes, as a person runs them: a cold build (no
cache, no output), a no-op and a one-page edit. Printed per step: wall time
(from before the process starts to after it ends, imports included), CPU
time of every process that worked (the run and its worker processes, from
``os.wait4``; for Dask, the workers' own CPU from ``client.run``), and the
run's own summary line.

What the speed-up and the overhead mean, honestly:

- **speed-up** is the cold wall time of ``--jobs 1`` over this executor's,
  on this machine (2 cores). ``--jobs N`` is N processes computing: the
  run and N - 1 workers (the run computes its share of each gather's keys:
  ``Processes(caller_share=True)``); ``daskN`` is N Dask workers and the
  run, which keeps its share too.
- **extra CPU** is this executor's total CPU minus ``--jobs 1``'s: what the
  workers' start (a fresh interpreter each, imports, opening the store),
  shipping rows back, installing them and work done twice cost. Per task,
  it divides by the tasks sent (Dask: counted by the workers' plugin;
  processes: ``(jobs - 1) x 4`` per dispatched group, the executor's
  batching).

Dask runs on a ``distributed.LocalCluster`` of N single-threaded worker
processes started here (dashboard on a free port), a fresh one per measurement, so the
workers' first imports are in the cold build, as on a fresh cluster. Needs
``distributed`` (``pip install 'sofrito[dask]'``); without it, the Dask rows
say so.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GENERATE = ROOT / "examples" / "site" / "generate.py"
TASKS_PER_JOB = 4
"""``sofrito.executors.Processes``'s default batching: tasks per worker per group."""


@dataclass(frozen=True)
class Step:
    """One ``sofrito run``: wall and CPU seconds (all processes that worked), its summary."""

    wall_s: float
    cpu_s: float
    summary: str
    tasks: int | None = None
    """Tasks the workers ran (Dask: counted by its plugin); None: not counted."""


def _run(site: Path, args: list[str], outside_cpu: Callable[[], float] | None) -> Step:
    """``sofrito run`` in a fresh process: its wall time, and the CPU of it and of
    every process that worked for it (its own workers, which it waits for, are in
    ``RUSAGE_CHILDREN``; ``outside_cpu`` reads the CPU of workers it does not own)."""
    command = [sys.executable, "-m", "sofrito", "run", str(site / "flow.py"), *args]
    cpu_before = _children_cpu() + (outside_cpu() if outside_cpu is not None else 0.0)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sofrito run {' '.join(args)} failed:\n{done.stderr}")
    cpu_after = _children_cpu() + (outside_cpu() if outside_cpu is not None else 0.0)
    return Step(wall, cpu_after - cpu_before, done.stdout.strip())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _edit(site: Path) -> None:
    """Append a paragraph to one generated page (a body edit: one page re-renders)."""
    page = sorted((site / "content").rglob("page-*.md"))[0]
    page.write_text(page.read_text() + "\nOne more paragraph, for the benchmark.\n")


@contextmanager
def _dask(workers: int) -> Iterator[tuple[str, Any]]:
    """A fresh LocalCluster of ``workers`` single-threaded processes: its address and client."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield cluster.scheduler_address, client


def _dask_cpu(client: Any) -> Callable[[], float]:
    def cpu() -> float:
        times = client.run(os.times)
        return float(sum(t[0] + t[1] for t in times.values()))

    return cpu


def _dask_tasks(client: Any) -> int:
    from sofrito._dask import tasks_run

    return int(sum(client.run(tasks_run).values()))


def measure(corpus: Path, folder: Path, executor: str) -> list[Step]:
    """Cold, no-op and one edit with ``executor`` on a fresh copy of ``corpus``."""
    site = folder / executor
    shutil.copytree(corpus, site)
    kind, number = re.fullmatch(r"(jobs|dask)(\d+)", executor).groups()  # type: ignore[union-attr]
    if kind == "jobs":
        args = ["--jobs", number]
        steps = [_run(site, args, None), _run(site, args, None)]
        _edit(site)
        steps.append(_run(site, args, None))
        return steps
    with _dask(int(number)) as (address, client):
        args = ["--executor", f"dask://{address.removeprefix('tcp://')}"]
        cpu = _dask_cpu(client)
        cold = _run(site, args, cpu)
        cold = Step(cold.wall_s, cold.cpu_s, cold.summary, _dask_tasks(client))
        steps = [cold, _run(site, args, cpu)]
        _edit(site)
        steps.append(_run(site, args, cpu))
        return steps


GROUPS = 4
"""Groups a cold build of the site dispatches: the summaries (``order``'s gather),
the page renders, the tag pages and the static files."""


def report(pages: int, results: dict[str, list[Step] | str]) -> list[str]:
    lines = [
        f"## {pages:,} pages",
        "",
        "| executor | cold wall | cold CPU | speed-up | extra CPU | per task | "
        "no-op | one edit | cold summary |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    base = results.get("jobs1")
    for executor, steps in results.items():
        if isinstance(steps, str):
            lines.append(f"| {executor} | {steps} |||||||")
            continue
        cold, noop, edit = steps
        speedup = extra = per_task = "-"
        if isinstance(base, list) and executor != "jobs1":
            speedup = f"{base[0].wall_s / cold.wall_s:.2f}x"
            extra_s = cold.cpu_s - base[0].cpu_s
            extra = f"{extra_s:+.2f} s"
            tasks = cold.tasks
            if tasks is None and executor.startswith("jobs"):
                tasks = GROUPS * (int(executor[4:]) - 1) * TASKS_PER_JOB  # at most
            if tasks:
                per_task = f"{extra_s / tasks * 1000:+.0f} ms ({tasks} tasks)"
        lines.append(
            f"| {executor} | {cold.wall_s:.2f} s | {cold.cpu_s:.2f} s | {speedup} | {extra} | "
            f"{per_task} | {noop.wall_s:.3f} s | {edit.wall_s:.3f} s | {cold.summary} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument(
        "--executors", nargs="+", default=["jobs1", "jobs2", "dask1", "dask2"], metavar="NAME"
    )
    parser.add_argument("--folder", type=Path, help="where the sites go (default: a temp folder)")
    options = parser.parse_args()
    folder = options.folder or Path(tempfile.mkdtemp(prefix="sofrito-parallel-"))
    for pages in options.pages:
        corpus = folder / f"corpus-{pages}"
        if not corpus.exists():
            subprocess.run(
                [sys.executable, str(GENERATE), "--pages", str(pages), "--out", str(corpus)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        results: dict[str, list[Step] | str] = {}
        sites = folder / f"sites-{pages}"
        shutil.rmtree(sites, ignore_errors=True)
        sites.mkdir()
        for executor in options.executors:
            try:
                results[executor] = measure(corpus, sites, executor)
            except ImportError as exc:
                results[executor] = f"not measured: {exc}"
            print(f"{pages} pages, {executor}: done", file=sys.stderr, flush=True)
        print("\n".join(report(pages, results)), flush=True)
        print(flush=True)


if __name__ == "__main__":
    main()
