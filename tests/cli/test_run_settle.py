"""``sofrito run`` settles the scan's writes (``sofrito._settle``, issue 24): on the
example site at a few hundred pages, a body edit loads the edited page's cone, a
handful of rows, where every page's render, neighbours and backlinks were loaded
before (each render reads the site-wide order and link index)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cli.flows import make_site
from tests.example_site import generator

ROOT = Path(__file__).parent.parent.parent

CHILD = """
import json, sys
from pathlib import Path

from tests.cli.flows import make_site
from sofrito.cli.flow import load_flow
from sofrito.cli.runner import open_session, run_once
from sofrito.stores import SqliteStore
from tests.counting_store import RecordingStore

root = Path(sys.argv[1])
store = RecordingStore(SqliteStore(root / ".sofrito" / "cache.db"))
session = open_session(load_flow(root / "flow.py"), store, root / "_site")
summary = run_once(session)
loads = store.take()
print(json.dumps({"rows": loads.memo_rows, "written": list(summary.written_paths),
                  "executed": summary.executed}))
"""
PAGES = 200


def _generate(root: Path, pages: int) -> None:
    generator().generate(root, pages, seed=7)


def _build(root: Path) -> None:
    """A first ``sofrito run`` of the site, in a process of its own."""
    command = [sys.executable, "-m", "sofrito", "run", str(root / "flow.py")]
    assert subprocess.run(command, capture_output=True, timeout=120, check=False).returncode == 0


def _counted_run(root: Path) -> dict[str, Any]:
    """The next run, in a process of its own, with the memo rows it loaded counted."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_body_edit_on_the_example_site_loads_its_cone_not_a_row_per_page(
    tmp_path: Path,
) -> None:
    """Every render reads the site-wide order and link index, so the stored readers
    of one page's file are every page's render, neighbours and backlinks (more
    than 1,000 rows at this size, each loaded before ``settle``); the page's
    summary comes out equal, so only its own cone is loaded."""
    root = tmp_path / "site"
    _generate(root, PAGES)
    _build(root)
    source = next((root / "content").rglob("page-00010.md"))
    source.write_text(source.read_text() + "\nOne more paragraph, settled.\n")
    found = _counted_run(root)
    edited = source.relative_to(root / "content").with_suffix(".html").as_posix()
    assert found["written"] == [edited]
    assert "One more paragraph, settled." in (root / "_site" / edited).read_text()
    assert found["rows"] <= 20, found  # 1,236 before settle, at this size


def test_a_page_deleted_from_the_example_site_loads_what_it_reached_not_every_page(
    tmp_path: Path,
) -> None:
    """The deleted page's own queries cannot be verified (the file they read is
    gone: the read suspends), and ``order`` and the link index read them; settle
    verifies those readers the engine's way (they execute without the page) and
    leaves green the pages whose shard of the indexes came out equal. Left
    undecided, every page's render was loaded and polled (6,000 rows at this size)."""
    root = tmp_path / "site"
    _generate(root, PAGES)
    _build(root)
    source = next((root / "content").rglob("page-00010.md"))
    source.unlink()
    found = _counted_run(root)
    assert not (root / "_site" / source.relative_to(root / "content").with_suffix(".html")).exists()
    assert len(found["written"]) <= 12, found  # its neighbours, pages it linked to, indexes
    assert found["rows"] <= 2 * PAGES, found  # the 2 x 128 shards, order, the indexes


SETTLE_ONLY = """
import sys
from pathlib import Path
from sofrito._fs.scan import scan
from sofrito._settle import marks_by_id, settle
from sofrito.cli.flow import load_flow
from sofrito.cli.runner import open_session
from sofrito.stores import SqliteStore

root = Path(sys.argv[1])
store = SqliteStore(root / ".sofrito" / "cache.db")
session = open_session(load_flow(root / "flow.py"), store, root / "_site")
with marks_by_id(session.rt):
    scan(session.rt, session.flow.root, session.flow.sources, exclude=session.exclude)
print(*settle(session.rt))
"""

UNDECIDED = """
import os

import sofrito as sf

SOURCES = ["content/*.md"]
LOG = os.path.join(os.path.dirname(__file__), "executions.log")


def log(what):
    with open(LOG, "a") as file:
        file.write(what + "\\n")


@sf.query(keys=("path",))
def body(db, path, style="p"):
    log(f"body {path}")
    return f"<{style}>{sf.fs.file(db, path).decode()}</{style}>"


@sf.query(keys=("path",))
def render(db, path, style="p"):
    log(f"render {path}")
    return body(db, path, style)


@sf.query
def main(db):
    return {
        path.removeprefix("content/").removesuffix(".md") + ".html": sf.output(render, path)
        for path in sf.fs.glob(db, "content/*.md")
    }
"""


def test_a_render_settle_leaves_marked_is_polled_not_kept_as_untouched(tmp_path: Path) -> None:
    """``body`` and ``render`` are ``keys=`` queries: a fresh process has no call of
    them to take their ``style`` from, so ``settle`` does not verify them (the
    engine will, with the default) and leaves both marked by id, unloaded (a
    child process scans and settles, and commits nothing). The run must not take
    that render's file as current (``runner._kept``, ``StoreBacking.untouched``
    read the marks by id): it polls it, and the edit reaches the page."""
    site = make_site(tmp_path, UNDECIDED)
    assert site.run().code == 0
    assert len(site.executions()) == 4
    site.page("a.md", "Alpha\nedited page\n")
    settled = subprocess.run(
        [sys.executable, "-c", SETTLE_ONLY, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert settled.returncode == 0, settled.stderr
    _green, verified, left = map(int, settled.stdout.split())
    assert (verified, left) == (0, 2)  # body('content/a.md') and its render: left marked
    result = site.run()
    assert result.code == 0, result.err
    assert "edited page" in (site.out / "a.html").read_text()
    assert site.executions() == ["body content/a.md", "render content/a.md"]
    assert (site.out / "b.html").read_text() == "<p>Beta\nsecond page\n</p>"
