"""One step of the warm-start benchmark, in the fresh process it measures.

``python -m benchmarks.warm_start.child MODE CACHE MEMOS [CELL VALUE]``, where
MODE is one of:

- ``build``: compute the whole graph on a new cache and commit it (not timed);
- ``baseline``: nothing: what interpreter start and the imports cost alone
  (the parent's wall time of this child is subtracted from the others');
- ``open``: step (a), open the runtime and read the unchanged root;
- ``edit``: step (b), open, set input CELL to VALUE, read the root, commit.

It prints one JSON line: the time since its imports finished
(``inside_ms``) and each phase's, its peak RSS, the rows the store returned
and received (``CountingStore``), the store calls, the bodies that ran and
the root's value, which the parent checks against the graph's oracle.

Every step imports the same modules before its clock starts, the baseline
included, so the parent's "wall minus baseline" is what the step adds to a
process that was going to start anyway.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import sofrito as sf
from benchmarks.warm_start.counting import CountingStore
from benchmarks.warm_start.graph import Shape, executions, initial, root, source
from sofrito.stores import SqliteStore

RUNTIME_ID = "warm"
MODES = ("build", "baseline", "open", "edit")


def peak_rss_kb() -> int:
    """This process's peak resident set, in KiB (``ru_maxrss`` is bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def build(cache: Path, shape: Shape) -> int:
    """Every input set, the root computed from nothing, one commit."""
    rt = sf.Runtime(store=SqliteStore(cache), runtime_id=RUNTIME_ID)
    with rt.batch():
        for i in range(shape.leaves):
            rt.set(source[i], initial(i))
    value = root(rt, shape.top, shape.width)
    rt.commit()
    return value


def step(mode: str, cache: Path, shape: Shape, edit: tuple[int, int] | None) -> dict[str, Any]:
    """Step (a) or (b) on a counted store; its phases in ms and what it loaded and wrote."""
    started = time.perf_counter()
    phases: dict[str, float] = {}
    store = CountingStore(SqliteStore(cache))
    rt = sf.Runtime(store=store, runtime_id=RUNTIME_ID)
    mark = _phase(phases, "open", started)
    if mode == "edit" and edit is not None:
        store.phase = "set"
        rt.set(source[edit[0]], edit[1])
        mark = _phase(phases, "set", mark)
    store.phase = "read"
    value = root(rt, shape.top, shape.width)
    mark = _phase(phases, "read", mark)
    if mode == "edit":
        store.phase = "commit"
        rt.commit()
        _phase(phases, "commit", mark)
    return {
        "inside_ms": (time.perf_counter() - started) * 1000,
        "phases_ms": phases,
        "loaded": {phase: rows.as_dict() for phase, rows in store.loaded.items()},
        "written": store.written.as_dict(),
        "calls": dict(store.calls),
        "root": value,
    }


def _phase(phases: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    phases[name] = (now - since) * 1000
    return now


def main(argv: list[str]) -> None:
    mode, cache, memos = argv[0], Path(argv[1]), int(argv[2])
    if mode not in MODES:
        raise SystemExit(f"warm_start.child: MODE is one of {', '.join(MODES)}, not {mode!r}")
    shape = Shape.of(memos)
    report: dict[str, Any] = {"inside_ms": 0.0}
    if mode == "build":
        report["root"] = build(cache, shape)
    elif mode != "baseline":
        edit = (int(argv[3]), int(argv[4])) if mode == "edit" else None
        report = step(mode, cache, shape, edit)
    report["executed"] = sum(executions.values())
    report["rss_kb"] = peak_rss_kb()
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
