"""A child process for ``tests/test_warm_start_processes.py``: builds, changes and
warm-starts runtimes on a SQLite file, and prints what it saw as one JSON line.

``python tests/warm_start_child.py <db> <action> [arg]``, with the repository on
``PYTHONPATH``:

- ``build N``: a cache of about N memos (``leaf`` x N, ``group`` x N/100, one
  ``root``), computed and committed;
- ``edit V``: open, set input ``x[0]`` to V, read the root, commit (another
  process committing while the test's runtime is open);
- ``warm``: open through a ``RecordingStore``, read the unchanged root, and
  print the memo rows loaded, what executed, and the peak RSS;
- ``deep D``: build a chain ``level(D) -> ... -> level(0) -> x[0]``, each level
  also reading ``side(k)``; commit;
- ``walk V``: open, set ``x[0]`` to V, read ``level(D)``, so that verification
  walks down the chain; print the value or the error.

The queries are defined here, at import, before any runtime opens, so parent
and child share their names and fingerprints.
"""

from __future__ import annotations

import json
import resource
import sys
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import sofrito as sf
from sofrito.stores import SqliteStore
from tests.counting_store import RecordingStore

RUNTIME = "warm-proc"
GROUP = 100

x = sf.Input("wsp.x")
size = sf.Input("wsp.size", durability=sf.Durability.STABLE)
executed: Counter[str] = Counter()


@sf.query(name="wsp.leaf")
def leaf(db: Any, i: int) -> int:
    executed["leaf"] += 1
    return x(db, i % 10) * (i + 1)  # type: ignore[no-any-return]


@sf.query(name="wsp.group")
def group(db: Any, g: int) -> int:
    executed["group"] += 1
    n: int = size(db)
    return sum(leaf(db, i) for i in range(g * GROUP, min(n, (g + 1) * GROUP)))


@sf.query(name="wsp.root")
def root(db: Any) -> int:
    executed["root"] += 1
    n: int = size(db)
    return sum(group(db, g) for g in range((n + GROUP - 1) // GROUP))


@sf.query(name="wsp.side")
def side(db: Any, k: int) -> int:
    executed["side"] += 1
    return k * 7


@sf.query(name="wsp.level")
def level(db: Any, k: int) -> int:
    executed["level"] += 1
    below: int = x(db, 0) if k == 0 else level(db, k - 1)
    return below + side(db, k)


def _open(path: Path, store: Any = None) -> sf.Runtime:
    return sf.Runtime(store=store or SqliteStore(path), runtime_id=RUNTIME)


def build(path: Path, n: int) -> dict[str, Any]:
    rt = _open(path)
    with rt.batch():
        rt.set(size, n)
        for i in range(10):
            rt.set(x[i], i)
    value = root(rt)
    rt.commit()
    return {"root": value, "executed": dict(executed)}


def edit(path: Path, value: int) -> dict[str, Any]:
    rt = _open(path)
    rt.set(x[0], value)
    got = root(rt)
    rt.commit()
    return {"root": got}


def warm(path: Path) -> dict[str, Any]:
    store = RecordingStore(SqliteStore(path))
    rt = _open(path, store)
    opened = store.take()
    value = root(rt)
    read = store.take()
    return {
        "root": value,
        "executed": dict(executed),
        "opening_memo_rows": opened.memo_rows,
        "memo_rows": read.memo_rows,
        "input_rows": len(read.cells),
        "peak_rss_kb": _peak_rss_kb(),
    }


def _peak_rss_kb() -> int:
    """This process's peak RSS since it started: ``VmHWM`` where Linux has it. Not
    ``ru_maxrss``, which also counts the parent's RSS at the fork (kept across exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def deep(path: Path, depth: int) -> dict[str, Any]:
    rt = _open(path)
    rt.set(x[0], 1)
    value = level(rt, depth)
    rt.commit()
    return {"value": value}


def walk(path: Path, value: int, depth: int) -> dict[str, Any]:
    """``stage`` says where an error came from: opening, the write, or the read."""
    stage = "open"
    try:
        rt = _open(path)
        stage = "write"
        rt.set(x[0], value)
        stage = "read"
        got = level(rt, depth)
    except Exception as exc:
        return {"error": type(exc).__name__, "message": str(exc), "stage": stage}
    return {"value": got, "executed": dict(executed)}


def main(argv: list[str]) -> None:
    path, action, args = Path(argv[1]), argv[2], [int(a) for a in argv[3:]]
    try:
        if action == "build":
            result = build(path, *args)
        elif action == "edit":
            result = edit(path, *args)
        elif action == "warm":
            result = warm(path)
        elif action == "deep":
            result = deep(path, *args)
        elif action == "walk":
            result = walk(path, *args)
        else:
            raise SystemExit(f"unknown action {action!r}")
    except Exception as exc:
        traceback.print_exc()
        result = {"error": type(exc).__name__, "message": str(exc)}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv)
