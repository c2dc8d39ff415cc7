"""``sofrito watch`` in a real child process: edits picked up, Ctrl-C leaves the cache committed."""

from __future__ import annotations

import re
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

from tests.cli.flows import Site, make_site, sofrito
from tests.cli.running import Command, wait_for
from tests.cli.test_run import counts
from tests.cli.test_run_settle import _generate

SUMMARY = r"^\d+ executed, "


def test_watch_rebuilds_an_edit_and_exits_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    with Command("watch", str(site.flow)) as watch:
        first = watch.out.expect(SUMMARY).string
        assert counts(first)["written"] == 3
        site.executions()
        site.page("a.md", "Alpha\nfirst page, edited while watching\n")
        wait_for(
            lambda: "edited while watching" in (site.out / "a.html").read_text(),
            "the edit in _site/a.html",
        )
        second = watch.out.expect(SUMMARY).string
        assert counts(second) == {
            "executed": 2, "reused": 2, "written": 1, "unchanged": 2, "deleted": 0, "failed": 0,
        }  # fmt: skip
        assert site.executions() == ["render content/a.md", "title content/a.md"]
        assert watch.interrupt(signal.SIGINT) == 0, watch.err.text()
    assert "Traceback" not in watch.err.text()
    assert re.search(r"stopped watching after 2 runs", watch.err.text())
    # the cache holds what the watch computed: a new process executes nothing
    again = site.run()
    assert again.code == 0, again.err
    assert counts(again.out)["executed"] == 0
    assert site.executions() == []


def test_a_failing_render_is_reported_and_the_watch_goes_on(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    with Command("watch", str(site.flow)) as watch:
        watch.out.expect(SUMMARY)
        site.page("b.md", "Beta\nBOOM\n")
        failed = watch.err.expect(r"^sofrito: failed: b\.html: ").string
        assert "ValueError: broken front matter (source content/b.md, at flow.py:" in failed
        assert counts(watch.out.expect(SUMMARY).string)["failed"] == 1
        site.page("b.md", "Beta\nrepaired\n")
        assert counts(watch.out.expect(SUMMARY).string)["failed"] == 0
        assert "repaired" in (site.out / "b.html").read_text()
        assert watch.interrupt(signal.SIGTERM) == 0, watch.err.text()


def receipts(site: Site) -> int:
    """How many runs the flow's cache holds (each run commits one boundary)."""
    result = sofrito("receipts", str(site.flow))
    assert result.code == 0, result.err
    return len(result.out.splitlines())


def test_a_render_that_still_fails_the_same_way_is_no_news(tmp_path: Path) -> None:
    """A run that changed nothing prints nothing (docs/flows.md), also while a render
    fails: failures are not stored, so a touch executes it again, and its failure
    and a summary were printed again on every touch."""
    site = make_site(tmp_path)
    with Command("watch", str(site.flow)) as watch:
        watch.out.expect(SUMMARY)
        site.page("b.md", "Beta\nBOOM\n")
        watch.err.expect(r"^sofrito: failed: b\.html: ")
        watch.out.expect(SUMMARY)
        committed = receipts(site)
        (tmp_path / "content" / "b.md").touch()  # same bytes: the render fails again
        wait_for(lambda: receipts(site) > committed, "the touch's run to commit")
        site.page("a.md", "Alpha\nedited\n")  # a real change: its run says so, failure too
        assert counts(watch.out.expect(SUMMARY).string)["written"] == 1
        watch.err.expect(r"^sofrito: failed: b\.html: ")
        assert watch.interrupt() == 0, watch.err.text()
    failed = [line for line in watch.err.text().splitlines() if "failed: b.html" in line]
    assert len(failed) == 2, watch.err.text()  # the BOOM run's, and the a.md edit's
    assert [counts(line)["failed"] for line in watch.out.text().splitlines()] == [0, 1, 1]


def test_an_edit_of_the_flow_s_code_asks_for_a_restart_and_runs_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    with Command("watch", str(site.flow)) as watch:
        watch.out.expect(SUMMARY)
        site.flow.write_text(site.flow.read_text() + "\n# an edit\n")
        notice = watch.err.expect(r"flow\.py changed").string
        assert "restart" in notice
        # a source edit after it still runs, and is the second run (the code edit ran none)
        site.page("a.md", "Alpha\nafter the code edit\n")
        watch.out.expect(SUMMARY)
        assert watch.interrupt() == 0, watch.err.text()
    assert "stopped watching after 2 runs" in watch.err.text()


def test_a_change_outside_the_sources_runs_quietly(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    with Command("watch", str(site.flow)) as watch:
        watch.out.expect(SUMMARY)
        (tmp_path / "content" / "notes.txt").write_text("not a source\n")  # a folder's change
        (tmp_path / "content" / "a.md").touch()  # touched, same bytes: no change
        site.page("b.md", "Beta\nthe real edit\n")
        line = watch.out.expect(SUMMARY).string
        assert counts(line)["written"] == 1
        assert watch.interrupt() == 0, watch.err.text()
    # every line on stdout is a summary of a run that changed something, or the first
    lines = watch.out.text().splitlines()
    assert all(re.match(SUMMARY, line) for line in lines), lines
    assert [counts(line)["written"] for line in lines] == [3, 1]


def test_a_watch_of_the_example_site_writes_what_a_cold_build_writes(tmp_path: Path) -> None:
    """A watch started on a warm cache loads memos from their rows and, after each
    commit, drops those it cannot mark by its own walk (docs/persistence.md, "A
    session that stays open"). Through edits of every kind, its output folder
    must end byte for byte as a cold build of the same sources writes it."""
    site = tmp_path / "site"
    _generate(site, 60)
    assert sofrito("run", str(site / "flow.py")).code == 0
    pages = sorted((site / "content").rglob("*.md"))
    base = site / "templates" / "base.html"
    steps: list[Callable[[], object]] = [
        lambda: _append(pages[3], "\nA body edit, made while watching.\n"),
        lambda: _front(pages[7], "title", "'A title edited while watching'"),
        lambda: _front(pages[11], "tags", "[zqwatched, python]"),
        lambda: base.write_text(base.read_text().replace("<footer>", "<footer>Edited. ", 1)),
        lambda: pages[5].with_name("added.md").write_text(pages[5].read_text()),
        pages[20].unlink,
        lambda: _append(pages[3], "\nA second body edit.\n"),
        lambda: _front(pages[7], "title", "'Titled once more'"),
    ]
    with Command("watch", str(site / "flow.py")) as watch:
        watch.out.expect(SUMMARY)
        for step in steps:
            step()
            watch.out.expect(SUMMARY)
        assert watch.interrupt() == 0, watch.err.text()
    cold = tmp_path / "cold"
    shutil.copytree(site, cold, ignore=shutil.ignore_patterns("_site", ".sofrito"))
    assert sofrito("run", str(cold / "flow.py")).code == 0
    assert _files(site / "_site") == _files(cold / "_site")


def _append(page: Path, text: str) -> None:
    page.write_text(page.read_text() + text)


def _front(page: Path, field: str, value: str) -> None:
    text, count = re.subn(
        rf"^{field}: .*$", f"{field}: {value}", page.read_text(), count=1, flags=re.M
    )
    assert count == 1, page
    page.write_text(text)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
