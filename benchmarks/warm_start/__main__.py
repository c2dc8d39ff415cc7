"""``python -m benchmarks.warm_start``: build the caches, run each step in a fresh process, print.

See the package docstring for what is measured and ``report.py`` for how it
is judged.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sofrito as sf
from benchmarks.warm_start.graph import Shape, expected_root, initial
from benchmarks.warm_start.report import Run, Size, Step, edit_needs, open_needs, render

SIZES = (1_000, 10_000, 100_000)


def child(*args: object) -> tuple[float, dict[str, Any]]:
    """Run one ``benchmarks.warm_start.child``; its wall time in ms and its JSON report."""
    command = [sys.executable, "-m", "benchmarks.warm_start.child", *map(str, args)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        named = " ".join(map(str, args))
        raise SystemExit(f"warm_start: the child {named} exited with {done.returncode}:\n{tail}")
    return wall, json.loads(done.stdout.splitlines()[-1])


def measure(folder: Path, memos: int, repeat: int) -> Size:
    """Build one cache, then ``repeat`` rounds of: baseline, step (a), step (b)."""
    shape = Shape.of(memos)
    cache = folder / f"warm-{shape.memos}.db"
    started = time.perf_counter()
    _, built = child("build", cache, shape.memos)
    build_s = time.perf_counter() - started
    cell = shape.edited_cell()
    edits: dict[int, int] = {}
    expected = expected_root(shape)
    if built["root"] != expected:
        raise SystemExit(
            f"warm_start: building {cache} gave the root {built['root']}, not {expected}"
        )
    print(
        f"warm_start: {shape.memos:,} memos ({shape.leaves:,} inputs) built in {build_s:,.1f} s;"
        f" {repeat} round(s) of steps",
        file=sys.stderr,
        flush=True,
    )
    baseline, opens, changes = [], [], []
    open_roots, edit_roots = [], []
    for round_ in range(repeat):
        # Two baselines a round: the cheapest child, and the one every step is measured beyond.
        for _ in range(2):
            baseline.append(Run.from_child(*child("baseline", cache, shape.memos)))
        opens.append(Run.from_child(*child("open", cache, shape.memos)))
        open_roots.append(expected_root(shape, edits))
        value = initial(cell) + 1 + round_
        changes.append(Run.from_child(*child("edit", cache, shape.memos, cell, value)))
        edits[cell] = value
        edit_roots.append(expected_root(shape, edits))
    return Size(
        shape=shape,
        baseline=baseline,
        open=Step(opens, open_roots, *open_needs()),
        edit=Step(changes, edit_roots, *edit_needs(shape, cell)),
        build_s=build_s,
    )


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
        for memos in sizes:
            Shape.of(memos)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--sizes {text!r}: {exc}") from None
    return sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.warm_start", description=__doc__)
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=list(SIZES),
        help="cache sizes in memos, comma-separated (default: 1000,10000,100000)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of each step per size (default 3; best kept)"
    )
    args = parser.parse_args(argv)
    engine = "compiled engine" if sf.COMPILED else "pure Python"
    sizes = []
    with tempfile.TemporaryDirectory(prefix="sofrito-warm-") as folder:
        for memos in args.sizes:
            sizes.append(measure(Path(folder), memos, max(1, args.repeat)))
    heading = (
        f"Warm start (issue 23), a fresh process per step, SQLite, Python "
        f"{sys.version.split()[0]}, sofrito {engine}; best of {max(1, args.repeat)}"
    )
    for line in render(sizes, heading):
        print(line)


if __name__ == "__main__":
    main()
