"""``sofrito run --jobs N`` and ``--executor``: the example site built by worker
processes equals the serial build byte for byte, with every page's work done
once, by the run or its worker, and counted in the summary; a no-op ships nothing and
commits no dispatch boundary; bad options are one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("markdown_it")
pytest.importorskip("jinja2")
pytest.importorskip("pygments")
pytest.importorskip("yaml")

from tests.cli.running import run_importing
from tests.example_site import generator


def _generate(root: Path, pages: int) -> None:
    generator().generate(root, pages, seed=11)


def _sofrito(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sofrito", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def _traced(root: Path, *args: str) -> tuple[subprocess.Popen[str], str, list[tuple[str, int]]]:
    """``sofrito run`` with the site's execution trace: the process, its output,
    and each traced execution as (what and key, process id)."""
    log = root / "trace.log"
    env = {**os.environ, "COLUMNS": "200", "SITE_TRACE": str(log), "SITE_TRACE_PIDS": "1"}
    command = [sys.executable, "-m", "sofrito", "run", str(root / "flow.py"), *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        out, _ = process.communicate(timeout=120)
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    traced = [(line.rpartition(" pid=")[0], int(line.rpartition(" pid=")[2])) for line in lines]
    return process, out, traced


def _outputs(root: Path) -> dict[str, bytes]:
    out = root / "_site"
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_jobs_2_builds_the_site_byte_for_byte_as_jobs_1_and_a_no_op_ships_nothing(
    tmp_path: Path,
) -> None:
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    _generate(serial, 40)
    _generate(parallel, 40)
    one = _sofrito("run", str(serial / "flow.py"), "--jobs", "1")
    two = _sofrito("run", str(parallel / "flow.py"), "--jobs", "2")
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    assert _outputs(parallel) == _outputs(serial)
    # the summary counts what the workers executed too: the same as a serial run
    assert two.stdout.split()[0] == one.stdout.split()[0]
    receipts = _sofrito("receipts", str(parallel / "flow.py")).stdout.splitlines()
    # the scan's inputs before main (its gather ships the summaries), then what
    # main computed before the renders are shipped, then the run
    assert [line.split()[1] for line in receipts] == ["run", "dispatch", "dispatch"]

    again = _sofrito("run", str(parallel / "flow.py"), "--jobs", "2")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 executed")
    receipts = _sofrito("receipts", str(parallel / "flow.py")).stdout.splitlines()
    assert [line.split()[1] for line in receipts] == ["run", "run", "dispatch", "dispatch"]

    page = next((parallel / "content").rglob("page-00003.md"))
    page.write_text(page.read_text() + "\nOne more paragraph.\n")
    (serial / page.relative_to(parallel)).write_text(page.read_text())
    assert _sofrito("run", str(parallel / "flow.py"), "--jobs", "2").returncode == 0
    assert _sofrito("run", str(serial / "flow.py")).returncode == 0
    assert _outputs(parallel) == _outputs(serial)


def test_jobs_2_shares_the_pages_between_the_run_and_one_worker_each_page_once(
    tmp_path: Path,
) -> None:
    """``--jobs 2`` is two processes computing: the run and one worker. The
    per-page work (front matter, parse, summary, render) is done once per page,
    by one or the other; the run computes its share and installs the worker's
    rather than doing it again; the site-wide pages and indexes are the run's."""
    _generate(tmp_path, 40)
    pages = [p.relative_to(tmp_path).as_posix() for p in (tmp_path / "content").rglob("*.md")]
    process, out, traced = _traced(tmp_path, "--jobs", "2")
    assert process.returncode == 0
    per_page = [(what, pid) for what, pid in traced if what.split()[0] in PER_PAGE]
    assert sorted(what for what, _ in per_page) == sorted(
        f"{what} {page}" for what in PER_PAGE for page in pages
    )  # each once: nothing computed twice, nothing redone by the run
    workers = {pid for _, pid in traced} - {process.pid}
    assert len(workers) == 1  # N - 1 workers
    by_run = {what for what, pid in per_page if pid == process.pid}
    assert by_run
    assert len(by_run) < len(per_page)  # the worker computed the rest, or some of it
    run_own = {what.strip() for what, pid in traced if pid == process.pid} - by_run
    assert run_own >= {"feed", "index", "order", "sitemap", "tag_index", "tags_overview"}
    assert int(out.split()[0]) > len(per_page)  # and the summary counts them


PER_PAGE = ("meta", "parsed", "summary", "render")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jobs", "0"], "0 is not a positive number of jobs"),
        (["--jobs", "2", "--executor", "dask://127.0.0.1:1"], "not both"),
        (["--executor", "ray://here"], "unknown executor"),
    ],
)
def test_bad_parallel_options_are_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    _generate(tmp_path / "site", 3)
    done = _sofrito("run", str(tmp_path / "site" / "flow.py"), *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_an_executor_address_where_nothing_listens_is_one_line_and_exit_2(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    import socket

    _generate(tmp_path / "site", 3)
    with socket.socket() as free:  # bound, not listening: refused, and no one else's
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
        done = _sofrito(
            "run", str(tmp_path / "site" / "flow.py"), "--executor", f"dask://127.0.0.1:{port}"
        )
    assert done.returncode == 2
    assert f"--executor dask://127.0.0.1:{port}: cannot reach the scheduler" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "site" / "_site").exists()


WORKERS_ONLY = (
    "multiprocessing",
    "concurrent.futures.process",
    "concurrent.futures.thread",
    "distributed",
)
"""What only a run with keys to send needs: a no-op with workers asked for
starts none, connects to no scheduler, and imports none of it (the run
imports ``sofrito._shipping``, whose ``prepare`` finds nothing to commit)."""


@pytest.mark.parametrize("option", ["--jobs=2", "--executor=dask"])
def test_a_no_op_with_workers_asked_for_imports_nothing_of_theirs(
    tmp_path: Path, option: str
) -> None:
    import socket

    _generate(tmp_path / "site", 3)
    flow = str(tmp_path / "site" / "flow.py")
    assert _sofrito("run", flow).returncode == 0
    with socket.socket() as listening:  # a scheduler's address: nothing more is asked of it
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        if option == "--executor=dask":
            pytest.importorskip("distributed")
            option = f"--executor=dask://127.0.0.1:{listening.getsockname()[1]}"
        summary, imported = run_importing([flow, option], WORKERS_ONLY)
    assert summary.startswith("0 executed"), summary
    assert imported == "", f"a no-op with {option} imported {imported}"
