"""The harness: one process per library, one table for all of them.

``main`` (what ``python -m benchmarks`` runs) starts, for each library in
``ADAPTERS`` order, a child process ``python -m benchmarks.run --child NAME``
that builds the library's adapter, runs every workload family on it and
prints its measurements as one JSON line. A process per library keeps the
libraries from taxing each other (module-level caches, registries that never
free, a heap the cyclic collector must walk) and lets a peer that crashes or
hangs be reported instead of stopping the run. The parent then prints the
table (``report``).

A peer that cannot be imported is skipped with the reason; with
``--install-status`` (``scripts/bench.sh`` passes it) the reason is pip's.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from benchmarks import report
from benchmarks.adapters import ADAPTERS, adapter_class
from benchmarks.graph import Graph
from benchmarks.workloads import FAMILIES, Measurement

RESULT = "BENCH-RESULT "
"""The prefix of the child's one line of JSON, so that a peer's own prints do not confuse it."""

ROOT = Path(__file__).resolve().parent.parent

COMPILED = "sofrito-compiled"
"""The column measured on the compiled engine, in a child whose path puts ``--compiled`` first."""


def child(name: str, scale: float) -> None:
    """Measure one library in this process and print the result line."""
    cls = adapter_class(name)
    result = report.Result(
        name=name,
        native=cls.native,
        untracked_warm=cls.untracked_warm,
        version=_version(cls.distribution),
    )
    started = time.perf_counter()
    try:
        adapter = cls()
    except Exception as exc:  # not installed, or broken on this Python
        result.skipped = f"cannot load it: {type(exc).__name__}: {exc}"
    else:
        graph = Graph()
        for family in FAMILIES:
            result.measurements += family.measure(adapter, graph, scale)
    result.seconds = time.perf_counter() - started
    print(RESULT + json.dumps(dataclasses.asdict(result)), flush=True)


def _version(distribution: str | None) -> str:
    if distribution is None:
        return ""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _measure(name: str, scale: float, timeout: float, compiled: Path | None) -> report.Result:
    command = [sys.executable, "-m", "benchmarks.run", "--child", name, "--scale", str(scale)]
    env = None
    if name == COMPILED:
        if compiled is None or not compiled.is_dir():
            return report.Result(name=name, skipped=f"no compiled build (--compiled {compiled})")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(compiled), str(ROOT)])}
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return report.Result(name=name, skipped=f"no result within {timeout:.0f} s")
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            data = json.loads(line[len(RESULT) :])
            data["measurements"] = [Measurement(**m) for m in data["measurements"]]
            return report.Result(**data)
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return report.Result(name=name, skipped=f"its process failed ({done.returncode}): {last}")


def _measure_and_say(name: str, args: argparse.Namespace, status: dict[str, str]) -> report.Result:
    print(f"  measuring {name} ...", end="", flush=True)
    result = _measure(name, args.scale, args.timeout, args.compiled)
    distribution = adapter_class(name).distribution
    if result.skipped and distribution and status.get(distribution, "ok") != "ok":
        result.skipped = f"pip install {distribution} failed: {status[distribution]}"
    print(f" {result.seconds:.1f} s" if not result.skipped else f" skipped: {result.skipped}")
    return result


def _install_status(path: Path | None) -> dict[str, str]:
    """What ``scripts/bench.sh`` recorded per distribution: ``ok``, or why not."""
    if path is None or not path.exists():
        return {}
    status = {}
    for line in path.read_text().splitlines():
        distribution, _, detail = line.partition("\t")
        status[distribution] = detail
    return status


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout.strip()


def _sofrito_revision() -> str:
    """Which sofrito was measured: the commit, and whether src/ has local changes."""
    head = _git("rev-parse", "--short", "HEAD")
    if not head:
        return ""
    dirty = ", with uncommitted changes in src/" if _git("status", "--porcelain", "src") else ""
    return f" (git {head}{dirty})"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only", help="comma-separated libraries (sofrito, both builds, is always measured)"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="time budgets multiplier (0.2 for a smoke run)"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per library")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every library this many times, interleaved; keep each cell's best",
    )
    parser.add_argument("--install-status", type=Path, help="peer install log from bench.sh")
    parser.add_argument(
        "--compiled",
        type=Path,
        help="a folder holding sofrito built with its engine compiled (bench.sh makes one),"
        " for the sofrito-compiled column",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    if args.child:
        child(args.child, args.scale)
        return
    names = list(ADAPTERS)
    if args.only:
        wanted = {"sofrito", COMPILED, *args.only.split(",")}
        unknown = wanted - set(names)
        if unknown:
            sys.exit(f"unknown libraries {sorted(unknown)}; known: {', '.join(names)}")
        names = [name for name in names if name in wanted]
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"sofrito benchmarks (DESIGN §7), {date.today()}")
    print(f"{python} on {platform.system()} {platform.machine()}, {os.cpu_count()} cores")
    version = importlib.metadata.version("sofrito")
    print(f"sofrito {version}{_sofrito_revision()}")
    if sys.version_info < (3, 13):
        print(
            "warning: not Python 3.13: on older Pythons pip installs years-old releases of some"
            " peers (bash scripts/bench.sh runs on 3.13)"
        )
    status = _install_status(args.install_status)
    rounds: dict[str, list[report.Result]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        if args.rounds > 1:
            print(f"round {round_ + 1} of {args.rounds}")
        order = names if round_ % 2 == 0 else names[::-1]  # no library always runs first
        for name in order:
            rounds[name].append(_measure_and_say(name, args, status))
    results = [report.best_of(rounds[name]) for name in names]
    if args.rounds > 1:
        print(f"\nEach cell: the best of {args.rounds} rounds, libraries interleaved.")
    print()
    for line in report.render(results, Graph(), status):
        print(line)


if __name__ == "__main__":
    main()
