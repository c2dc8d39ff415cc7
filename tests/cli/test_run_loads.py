"""What a ``sofrito run`` on a warm cache asks its store: a constant number of
loads, not one per output (``runner._prefetch``, ``sofrito._on_demand.prefetch``).

The first run is the real command; the runs measured are a child process
that opens the same flow and store as the command does, through
``tests.counting_store.RecordingStore`` around the real ``SqliteStore``, and
prints the count of each ``load_`` call.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.flows import make_site

ROOT = Path(__file__).parent.parent.parent
PAGES = 30

CHILD = """
import json, sys
from pathlib import Path
from sofrito.cli.flow import load_flow
from sofrito.cli.runner import open_session, run_once
from sofrito.stores import SqliteStore
from tests.counting_store import RecordingStore

root = Path(sys.argv[1])
store = RecordingStore(SqliteStore(root / ".sofrito" / "cache.db"))
session = open_session(load_flow(root / "flow.py"), store, root / "_site")
summary = run_once(session)
loads = store.take()
print(json.dumps({"calls": dict(loads.calls), "rows": loads.memo_rows,
                  "executed": summary.executed, "written": list(summary.written_paths)}))
"""


def measured_run(root: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_no_op_run_loads_every_render_in_one_call(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    for n in range(PAGES):
        site.page(f"p{n:02d}.md", f"Page {n}\ntext {n}\n")
    assert site.run().code == 0
    loads = measured_run(tmp_path)
    assert loads["executed"] == 0
    assert loads["written"] == []
    calls = loads["calls"]
    assert isinstance(calls, dict)
    # main's row, then every output's render in one call (one per page before)
    assert calls.get("load_memo_rows", 0) <= 2, calls
    assert loads["rows"] == PAGES + 2 + 2  # main, index, and the pages a.md, b.md


def test_an_edit_run_loads_in_calls_that_do_not_grow_with_the_outputs(tmp_path: Path) -> None:
    """An edit to one page marks the index, which reads every title; each render
    is verified, and what verifying reads comes a level per call, not a call per
    output."""
    site = make_site(tmp_path)
    for n in range(PAGES):
        site.page(f"p{n:02d}.md", f"Page {n}\ntext {n}\n")
    assert site.run().code == 0
    site.page("p05.md", "Page five\ntext 5\n")
    loads = measured_run(tmp_path)
    assert loads["written"] == ["p05.html", "index.html"]
    calls = loads["calls"]
    assert isinstance(calls, dict)
    assert calls.get("load_memo_rows", 0) <= 4, calls
    assert calls.get("load_input_rows", 0) <= 3, calls
