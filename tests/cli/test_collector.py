"""The collector during a command (``sofrito/cli/collector.py``): a flow's queries
run with the start-up heap frozen and the thresholds raised, and a caller of
``main`` in its own process gets its collector back as it was."""

from __future__ import annotations

import gc
from pathlib import Path

from sofrito.cli.collector import THRESHOLDS
from sofrito.cli.main import main
from tests.cli.flows import make_site

FLOW = """
import gc

import sofrito as sf

SOURCES = ["content/*.md"]


@sf.query
def main(db):
    sf.fs.glob(db, "content/*.md")
    threshold = ",".join(str(part) for part in gc.get_threshold())
    return {"gc.txt": f"{threshold} frozen={gc.get_freeze_count() > 0}"}
"""


def test_a_run_computes_with_the_heap_frozen_and_the_thresholds_raised(tmp_path: Path) -> None:
    site = make_site(tmp_path, FLOW)
    site.page("a.md", "# A")
    result = site.run()
    assert result.code == 0, result.err
    expected = ",".join(str(part) for part in THRESHOLDS)
    assert (site.out / "gc.txt").read_text() == f"{expected} frozen=True"


def test_main_in_a_process_of_its_own_leaves_the_collector_as_it_was(tmp_path: Path) -> None:
    site = make_site(tmp_path, FLOW)
    site.page("a.md", "# A")
    before = gc.get_threshold()
    assert main(["run", str(site.flow)]) == 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert (site.out / "gc.txt").read_text().endswith("frozen=True")
