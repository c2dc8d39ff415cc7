"""What a ``sofrito run`` on a warm cache asks its store: a constant number of
loads, not one per output (``runner._prefetch``, ``sofrito._on_demand.prefetch``),
and on a no-op no render's row at all (``runner._kept``), and no cell per
file or per output (the manifest and the record of outputs are a cell per
folder).

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
from tests.cli.running import run_importing

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
                  "memos": sorted(mid.decode(errors="replace") for mid in loads.memo_ids),
                  "cells": sorted(kind for kind, _ in loads.cells),
                  "executed": summary.executed, "written": list(summary.written_paths),
                  "failed": [failure.output for failure in summary.failures]}))
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


def test_a_no_op_run_loads_no_render_and_a_cell_per_folder(tmp_path: Path) -> None:
    """Nothing changed: ``main``'s row is the only memo loaded (its value is the
    mapping); every render's stored row is untouched and its file as recorded,
    so none is loaded or polled. The manifest and the record of outputs are
    read a folder at a time: 2 cells, not 30 + 31."""
    site = make_site(tmp_path)
    for n in range(PAGES):
        site.page(f"p{n:02d}.md", f"Page {n}\ntext {n}\n")
    assert site.run().code == 0
    loads = measured_run(tmp_path)
    assert loads["executed"] == 0
    assert loads["written"] == []
    calls = loads["calls"]
    assert isinstance(calls, dict)
    assert calls.get("load_memo_rows", 0) == 1, calls
    assert loads["rows"] == 1  # main's (32 before: every output's render)
    memos = loads["memos"]
    assert isinstance(memos, list)
    assert len(memos) == 1
    assert "flow.main" in memos[0]
    cells = loads["cells"]
    assert isinstance(cells, list)
    assert "sofrito.fs.file" not in cells  # no source is read
    assert cells.count("sofrito.fs.folder") == 1  # content/: one manifest cell
    assert cells.count("sofrito.run.outputs") == 1  # the outputs' folder


def test_a_render_that_failed_is_asked_again_on_a_no_op(tmp_path: Path) -> None:
    """A failing render keeps its old file and is recorded without a ``changed_at``,
    so the next run, a no-op, asks for it again and reports it again, instead of
    taking the old file for its value."""
    site = make_site(tmp_path)
    site.page("a.md", "Alpha\nfirst\n")
    site.page("b.md", "Beta\nsecond\n")
    assert site.run().code == 0
    site.page("a.md", "Alpha\nBOOM\n")  # the flow's render raises on BOOM
    assert site.run().code != 0
    again = measured_run(tmp_path)
    assert again["failed"] == ["a.html"]
    assert again["executed"] == 1  # the render, whose error is not stored
    site.page("a.md", "Alpha again\nfirst\n")
    fixed = measured_run(tmp_path)
    assert fixed["failed"] == []
    assert "a.html" in fixed["written"]


def test_an_output_deleted_by_hand_is_loaded_and_written_again(tmp_path: Path) -> None:
    """Only an output whose file is as recorded is left alone unasked: one deleted
    by hand is asked for (its row loaded, not executed) and written again."""
    site = make_site(tmp_path)
    for n in range(3):
        site.page(f"p{n}.md", f"Page {n}\ntext {n}\n")
    assert site.run().code == 0
    (tmp_path / "_site" / "p1.html").unlink()
    loads = measured_run(tmp_path)
    assert loads["executed"] == 0
    assert loads["written"] == ["p1.html"]
    memos = loads["memos"]
    assert isinstance(memos, list)
    assert len(memos) == 2
    assert sum("flow.main" in m for m in memos) == sum("flow.render" in m for m in memos) == 1
    assert (tmp_path / "_site" / "p1.html").read_text() == "<h1>Page 1</h1>\nPage 1\ntext 1\n"


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


UNNEEDED = (
    "ctypes",
    "uuid",
    "platform",
    "secrets",
    "sofrito._shipping",
    "multiprocessing",
    "socket",
    "shutil",
    "rich",
)
"""Modules a no-op ``sofrito run`` has no use for: the exchange of the output
writer (ctypes), a run id (uuid, and with it platform), a spare's name
(secrets), workers (``_shipping``, multiprocessing, a scheduler's address:
socket), the progress bar (rich); argparse's terminal width (shutil, measured
by ``cli.main._columns`` without it)."""


def test_a_no_op_command_imports_nothing_it_does_not_use(tmp_path: Path) -> None:
    """Start-up is most of a no-op: the command, in a fresh process, imports no
    module that only a write, workers or a terminal would use."""
    site = make_site(tmp_path)
    assert site.run().code == 0
    summary, imported = run_importing([str(site.flow)], UNNEEDED)
    assert summary.startswith("0 executed"), summary
    assert imported == "", f"a no-op imported {imported}"
