"""``sofrito run`` end to end, in real processes: what ran, what was written, what was kept."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from sofrito.cli import lastrun, runner
from tests.cli.flows import make_site, sofrito


def counts(line: str) -> dict[str, int]:
    """The summary line as numbers: ``{'executed': 3, 'reused': 0, ...}``."""
    return {name: int(n) for n, name in re.findall(r"(\d+) (\w+)", line) if name != "s"}


def test_first_run_builds_every_output(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    result = site.run()
    assert result.code == 0, result.err
    assert counts(result.out) == {
        "executed": 7,  # main, the glob, index, and render and title of each page
        "reused": 0,
        "written": 3,
        "unchanged": 0,
        "deleted": 0,
        "failed": 0,
    }
    assert (site.out / "a.html").read_text() == "<h1>Alpha</h1>\nAlpha\nfirst page\n"
    assert (site.out / "index.html").read_text() == "Alpha\nBeta"
    assert site.executions() == [
        "index", "main", "render content/a.md", "render content/b.md",
        "title content/a.md", "title content/b.md",
    ]  # fmt: skip
    assert (tmp_path / ".sofrito" / "cache.db").exists()


def test_a_no_op_run_executes_nothing_and_writes_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    site.executions()
    before = site.mtimes()
    result = site.run()
    assert result.code == 0, result.err
    assert site.executions() == []
    assert counts(result.out) == {
        "executed": 0, "reused": 3, "written": 0, "unchanged": 3, "deleted": 0, "failed": 0,
    }  # fmt: skip
    assert site.mtimes() == before


def test_one_edit_re_executes_its_cone_and_writes_only_its_output(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    site.executions()
    before = site.mtimes()
    site.page("a.md", "Alpha\nfirst page, edited\n")
    result = site.run()
    assert result.code == 0, result.err
    # the title came out equal: the index is cut off early, main never re-ran
    assert site.executions() == ["render content/a.md", "title content/a.md"]
    assert counts(result.out)["executed"] == 2
    assert counts(result.out)["written"] == 1
    after = site.mtimes()
    assert after["a.html"] != before["a.html"]
    assert {k: v for k, v in after.items() if k != "a.html"} == {
        k: v for k, v in before.items() if k != "a.html"
    }
    assert "edited" in (site.out / "a.html").read_text()


def test_after_a_code_edit_the_outputs_it_rewrote_are_not_counted_reused(
    tmp_path: Path,
) -> None:
    """A code edit writes no input, so the renders it changes execute at the
    revision the run began at; they were counted "reused" (3 reused and 2
    written of 3 outputs)."""
    site = make_site(tmp_path)
    assert site.run().code == 0
    site.flow.write_text(site.flow.read_text().replace("<h1>", "<h2>").replace("</h1>", "</h2>"))
    result = site.run()
    assert result.code == 0, result.err
    assert counts(result.out) == {
        "executed": 2, "reused": 1, "written": 2, "unchanged": 1, "deleted": 0, "failed": 0,
    }  # fmt: skip
    assert (site.out / "a.html").read_text().startswith("<h2>Alpha</h2>")


def test_a_deleted_source_deletes_its_output(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    (tmp_path / "content" / "b.md").unlink()
    result = site.run()
    assert result.code == 0, result.err
    assert counts(result.out)["deleted"] == 1
    assert not (site.out / "b.html").exists()
    assert (site.out / "index.html").read_text() == "Alpha"


def test_the_first_source_of_a_flow_that_had_none_is_built(tmp_path: Path) -> None:
    """The glob's listing was read while no file matched: the first file added
    in a later run must reach it (a fresh process finds the listing's readers
    in the store, though the family has no stored file yet)."""
    site = make_site(tmp_path)
    for page in (tmp_path / "content").iterdir():
        page.unlink()
    assert site.run().code == 0
    assert (site.out / "index.html").read_text() == ""
    site.page("c.md", "Gamma\nthird page\n")
    result = site.run()
    assert result.code == 0, result.err
    assert counts(result.out)["written"] == 2
    assert (site.out / "index.html").read_text() == "Gamma"
    assert (site.out / "c.html").read_text() == "<h1>Gamma</h1>\nGamma\nthird page\n"


def test_a_touched_file_with_the_same_bytes_is_no_change(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    site.executions()
    page = tmp_path / "content" / "a.md"
    stat = page.stat()
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    result = site.run()
    assert result.code == 0, result.err
    assert site.executions() == []
    assert counts(result.out)["executed"] == 0
    assert counts(result.out)["written"] == 0


def test_a_file_sofrito_did_not_write_is_never_deleted(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.out.mkdir()
    (site.out / "CNAME").write_text("example.org")
    assert site.run().code == 0
    (tmp_path / "content" / "b.md").unlink()
    assert site.run().code == 0
    assert (site.out / "CNAME").read_text() == "example.org"


def test_an_output_changed_on_disk_is_written_again(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    (site.out / "a.html").write_text("scribbled")
    result = site.run()
    assert counts(result.out)["written"] == 1
    assert counts(result.out)["executed"] == 0
    assert (site.out / "a.html").read_text().startswith("<h1>Alpha</h1>")


def test_events_print_json_lines(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    site.page("a.md", "Alpha\nchanged\n")
    result = site.run("--events")
    assert result.code == 0, result.err
    records = [json.loads(line) for line in result.out.splitlines()]
    assert records, result.out
    sets = [r for r in records if r["event"] == "InputSet" and r["kind"] == "sofrito.fs.file"]
    assert [r["key"] for r in sets] == ["sofrito.fs.file('content/a.md')"]
    assert all(isinstance(r["key_hash"], int) for r in sets)
    assert any(r["event"] == "QueryInvalidated" for r in records)
    assert "executed" in result.err  # the summary goes to stderr, stdout stays JSON


def test_events_to_a_reader_that_stops_reading(tmp_path: Path) -> None:
    """``sofrito run --events | head -1``: the run goes on to write and commit, and
    prints no BrokenPipeError traceback (the printer's thread used to)."""
    site = make_site(tmp_path)
    for n in range(300):  # events well past the pipe's and the stream's buffers
        site.page(f"p{n:03}.md", f"Page {n}\nbody {n}\n")
    child = subprocess.Popen(
        [sys.executable, "-m", "sofrito", "run", str(site.flow), "--events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    assert json.loads(child.stdout.readline())["event"]
    child.stdout.close()  # as `head -1` does
    err = child.stderr.read()
    child.stderr.close()
    assert child.wait(timeout=60) == 0, err
    assert "Traceback" not in err, err
    assert "BrokenPipe" not in err, err
    assert counts(err.strip().splitlines()[-1])["written"] == 303
    assert (site.out / "p299.html").exists()
    assert "0 executed" in site.run().out  # the run committed


def test_memory_store_rebuilds_every_time(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run("--store", "memory:").code == 0
    site.executions()
    result = site.run("--store", "memory:")
    assert result.code == 0, result.err
    assert "main" in site.executions()
    assert counts(result.out)["written"] == 0  # the bytes are the same: nothing rewritten
    assert not (tmp_path / ".sofrito").exists()


def test_out_chooses_the_output_folder(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    site = make_site(tmp_path / "site")
    result = site.run("--out", str(tmp_path / "public"))
    assert result.code == 0, result.err
    assert (tmp_path / "public" / "a.html").exists()
    assert not site.out.exists()


def test_the_console_script_and_version(tmp_path: Path) -> None:
    result = sofrito("--version")
    assert result.code == 0
    assert re.match(r"sofrito \S+ \((compiled|pure-Python) engine, Python 3\.\d+", result.out)
    for command in ([], ["run"], ["receipts"]):
        helped = sofrito(*command, "--help")
        assert helped.code == 0
        assert "usage: sofrito" in helped.out


def test_the_installed_console_script_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = Path(sys.executable).parent / "sofrito"
    # Both of the suite's venvs install the project with pip, which writes the script.
    assert script.exists(), f"no console script beside {sys.executable}"
    site = make_site(tmp_path)
    done = subprocess.run(
        [str(script), "run", str(site.flow)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert counts(done.stdout)["written"] == 3


def test_a_first_build_stopped_early_asks_again_for_every_recorded_output() -> None:
    """A first build names no render (it counts, lastrun.FirstBuild), so a run
    stopped before writing leaves every recorded output it did not write
    without ``changed_at``: the next run compares its bytes."""
    record = runner._Record("out", {"": {"a.html": ("d", 1, 2, 5), "b.html": ("e", 1, 2, 5)}}, {})
    record.updates["b.html"] = runner.Written("f", 3, 4, 6)  # written by this run
    facts = lastrun.RunFacts(0, first_build=True, counted=2)
    runner._unvouch_unwritten(record, [("a.html", "<p>a</p>")], {}, facts)
    assert record.updates["a.html"] == runner.Written("d", 1, 2, None)
    assert record.updates["b.html"] == runner.Written("f", 3, 4, 6)


def test_a_first_build_counts_no_render_it_asked_for_as_reused() -> None:
    """Every render a first build asked for ran for the first time, whatever the
    revision it changed at says (a scan that wrote nothing leaves it at the
    run's start)."""
    asked = runner._Produced("a.html", "<p>a</p>", 0, True, None)
    facts = lastrun.RunFacts(0, first_build=True, counted=1)
    assert runner._reused([asked], {"kept.html"}, {}, facts) == 1
