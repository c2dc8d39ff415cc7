"""Two ``sofrito run``s of one flow at once: the loser runs once more (``cli/rerun.py``).

Run A holds inside a render until the test lets it go (the flow waits for a
file), while run B commits. A's commit then loses the race for the cache's
head (``Conflict``): it reopens at B's boundary and runs again, once. When
a third run commits during that second attempt too, A exits 5 with one line,
having committed nothing.

The scenarios take the store options, so ``tests/stores/test_postgres.py``
runs them on PostgreSQL too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.flows import FLOW, Site, make_site, sofrito
from tests.cli.running import Command, wait_for

HELD_FLOW = FLOW.replace(
    '    log(f"render {path}")\n',
    '    log(f"render {path}")\n'
    '    hold = os.environ.get("HOLD_RENDER")\n'
    "    if hold:\n"
    "        import glob, time\n"
    '        n = len(glob.glob(hold + ".waiting.*"))\n'
    '        open(f"{hold}.waiting.{n}", "w").close()\n'
    "        deadline = time.monotonic() + 30\n"
    '        while not os.path.exists(f"{hold}.go.{n}") and time.monotonic() < deadline:\n'
    "            time.sleep(0.01)\n",
)
"""The test flow, whose render of a page, under ``HOLD_RENDER``, says it is
waiting (``<hold>.waiting.<n>``, n counting the held renders) and waits for
``<hold>.go.<n>``."""


class Held:
    """Run A: ``sofrito run`` in a child process whose renders wait for the test."""

    def __init__(self, site: Site, store: list[str]) -> None:
        self.hold = site.root / "hold"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sofrito", "run", str(site.flow), *store],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOLD_RENDER": str(self.hold)},
        )

    def wait_in_render(self, n: int) -> None:
        """Until A's render number ``n`` (from 0) is waiting."""
        deadline = time.monotonic() + 30
        while not Path(f"{self.hold}.waiting.{n}").exists():
            assert self.process.poll() is None, self.process.communicate()
            assert time.monotonic() < deadline, f"run A never reached render {n}"
            time.sleep(0.01)

    def go(self, n: int) -> None:
        Path(f"{self.hold}.go.{n}").touch()

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def receipts(site: Site, store: list[str]) -> list[str]:
    listed = sofrito("receipts", str(site.flow), *store)
    assert listed.code == 0, listed.err
    return listed.out.splitlines()


def a_run_that_lost_the_race_runs_again_and_commits(tmp_path: Path, store: list[str]) -> None:
    """A computes the edit while B commits it: A's commit loses, A reopens at B's
    boundary, finds nothing left to do, and commits; exit 0."""
    site = make_site(tmp_path, HELD_FLOW)
    assert site.run(*store).code == 0
    site.executions()
    site.page("a.md", "Alpha\nedited page\n")
    first = Held(site, store)
    try:
        first.wait_in_render(0)  # A has opened and is computing
        second = site.run(*store)
        assert second.code == 0, second.err
        site.executions()
        first.go(0)
        code, out, err = first.finish()
    finally:
        first.kill()
    assert code == 0, err
    (note,) = err.strip().splitlines()
    assert note.startswith("sofrito: another process committed to the cache "), note
    assert note.endswith("during this run; running again from what it committed"), note
    assert out.startswith("0 executed, "), out  # B computed it all; A's rerun verified
    # A's first attempt settled the edit's cone (the title) before it rendered: after
    # the hold, nothing of it is left to run (sofrito._settle)
    assert site.executions() == []
    assert "edited page" in (site.out / "a.html").read_text()
    assert [line.split()[0] for line in receipts(site, store)] == ["#3", "#2", "#1"]
    after = site.run(*store)
    assert (after.code, after.out.split(",")[0]) == (0, "0 executed"), after


def a_run_that_loses_twice_exits_5_and_commits_nothing(tmp_path: Path, store: list[str]) -> None:
    """B commits during A's first attempt, C during its second: A exits 5 with the
    rerun's note and one error line, and nothing of A is committed."""
    site = make_site(tmp_path, HELD_FLOW)
    assert site.run(*store).code == 0
    site.page("a.md", "Alpha\nfirst edit\n")
    first = Held(site, store)
    try:
        first.wait_in_render(0)
        assert site.run(*store).code == 0  # B commits the first edit
        site.page("a.md", "Alpha\nsecond edit\n")
        first.go(0)
        first.wait_in_render(1)  # A's second attempt renders the second edit
        assert site.run(*store).code == 0  # C commits it
        first.go(1)
        code, out, err = first.finish()
    finally:
        first.kill()
    assert code == 5, err
    assert "Traceback" not in err
    note, line = err.strip().splitlines()
    assert "running again from what it committed" in note
    assert line.startswith("sofrito: error: another process committed to the cache "), line
    assert "and again while it ran a second time; nothing of it was committed" in line, line
    assert out == ""
    assert [line.split()[0] for line in receipts(site, store)] == ["#3", "#2", "#1"]
    site.executions()
    after = site.run(*store)
    assert (after.code, after.out.split(",")[0]) == (0, "0 executed"), after
    assert "second edit" in (site.out / "a.html").read_text()


def a_watch_that_lost_the_race_reopens_and_goes_on(tmp_path: Path, store: list[str]) -> None:
    """The watch computes an edit while B commits it: the watch's commit loses, it
    reopens at B's boundary, runs again and commits; its next edit commits too,
    instead of losing to a head it no longer holds."""
    site = make_site(tmp_path, HELD_FLOW)
    assert site.run(*store).code == 0
    hold = site.root / "hold"
    with Command("watch", str(site.flow), *store, env={"HOLD_RENDER": str(hold)}) as watch:
        watch.out.expect(r"^0 executed, ")  # the watch's first run: nothing to render
        site.page("a.md", "Alpha\nfirst edit\n")
        wait_for(lambda: Path(f"{hold}.waiting.0").exists(), "the watch's render of a.md")
        assert site.run(*store).code == 0  # B commits the edit while the watch holds
        Path(f"{hold}.go.0").touch()
        note = watch.err.expect(r"^sofrito: another process committed .*$").group(0)
        assert note.endswith("during this run; running again from what it committed"), note
        rerun = watch.out.expect(r"^\d+ executed, .*$").group(0)
        assert ", 0 failed in " in rerun, rerun
        site.page("a.md", "Alpha\nsecond edit\n")
        wait_for(lambda: Path(f"{hold}.waiting.1").exists(), "the watch's second render")
        Path(f"{hold}.go.1").touch()
        wait_for(lambda: "second edit" in (site.out / "a.html").read_text(), "the second edit")
        watch.out.expect(r"^\d+ executed, ")
        assert watch.interrupt() == 0, watch.err.text()
    assert "error" not in watch.err.text(), watch.err.text()
    # the watch's second run committed: a new process finds nothing to do
    site.executions()
    after = site.run(*store)
    assert (after.code, after.out.split(",")[0]) == (0, "0 executed"), after


def test_a_run_that_lost_the_race_runs_again_and_commits(tmp_path: Path) -> None:
    a_run_that_lost_the_race_runs_again_and_commits(tmp_path, [])


def test_a_run_that_loses_twice_exits_5_and_commits_nothing(tmp_path: Path) -> None:
    a_run_that_loses_twice_exits_5_and_commits_nothing(tmp_path, [])


def test_a_watch_that_lost_the_race_reopens_and_goes_on(tmp_path: Path) -> None:
    a_watch_that_lost_the_race_reopens_and_goes_on(tmp_path, [])
