"""Bad input: one line on stderr, the documented exit code, no traceback, nothing damaged.

The exit codes are the table in docs/flows.md ("Exit codes") and
``sofrito/cli/errors.py``.
"""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import pytest

from tests.cli.flows import FLOW, make_site, one_error_line, sofrito


def flow_file(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "flow.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_syntax_error_is_reported_at_its_line(tmp_path: Path) -> None:
    flow = flow_file(tmp_path, "import sofrito as sf\nSOURCES = []\n@sf.query\ndef main(db)\n")
    result = sofrito("run", str(flow))
    assert result.code == 3
    line = one_error_line(result)
    assert "flow.py:4: SyntaxError" in line


def test_an_error_while_loading_names_the_flow_line(tmp_path: Path) -> None:
    flow = flow_file(tmp_path, "SOURCES = []\nx = 1 / 0\n")
    result = sofrito("run", str(flow))
    assert result.code == 3
    assert "flow.py:2: ZeroDivisionError" in one_error_line(result)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("import sofrito as sf\nSOURCES = ['*.md']\n", "no main"),
        ("import sofrito as sf\n@sf.query\ndef main(db):\n    return {}\n", "no SOURCES"),
        ("SOURCES = ['*.md']\ndef main(db):\n    return {}\n", "@sf.query"),
        ("SOURCES = '*.md'\n", "SOURCES must be a list"),
    ],
)
def test_a_flow_without_main_or_sources_is_refused(tmp_path: Path, text: str, said: str) -> None:
    result = sofrito("run", str(flow_file(tmp_path, text)))
    assert result.code == 3
    assert said in one_error_line(result)


def test_a_missing_flow_or_folder(tmp_path: Path) -> None:
    missing_folder = sofrito("run", str(tmp_path / "nowhere" / "flow.py"))
    assert missing_folder.code == 3
    assert "does not exist" in one_error_line(missing_folder)
    missing_file = sofrito("run", str(tmp_path / "flow.py"))
    assert missing_file.code == 3
    assert "no such flow file" in one_error_line(missing_file)


def test_a_missing_sources_folder(tmp_path: Path) -> None:
    flow = flow_file(tmp_path, FLOW)  # SOURCES = ["content/*.md"], and no content/
    result = sofrito("run", str(flow))
    assert result.code == 4
    assert "content/" in one_error_line(result)
    assert not (tmp_path / "_site").exists()


def test_an_unreadable_source(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    (tmp_path / "content" / "c.md").symlink_to(tmp_path / "gone.md")  # matched, cannot be read
    result = site.run()
    assert result.code == 4
    assert "content/c.md" in one_error_line(result)
    assert (site.out / "a.html").exists()  # outputs left whole


def test_a_file_outside_sources_is_named(tmp_path: Path) -> None:
    flow = flow_file(
        tmp_path,
        """
        import sofrito as sf
        SOURCES = ["*.md"]

        @sf.query
        def main(db):
            return {"x.txt": sf.fs.file(db, "notes.txt")}
        """,
    )
    (tmp_path / "notes.txt").write_text("not a source")
    result = sofrito("run", str(flow))
    assert result.code == 1
    line = one_error_line(result)
    assert "notes.txt" in line
    assert "SOURCES" in line


def test_a_failing_render_fails_its_output_only_and_keeps_the_cache(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    site.executions()
    site.page("b.md", "Beta\nBOOM\n")
    site.page("a.md", "Alpha\nedited too\n")
    result = site.run()
    assert result.code == 1
    assert "Traceback" not in result.err
    failed = [line for line in result.err.splitlines() if line.startswith("sofrito: failed:")]
    assert len(failed) == 1, result.err
    assert "b.html: ValueError: broken front matter" in failed[0]
    assert "source content/b.md" in failed[0]
    assert "flow.py:" in failed[0]
    assert "1 failed" in result.out
    assert "edited too" in (site.out / "a.html").read_text()  # the others are written
    assert (site.out / "b.html").read_text().startswith("<h1>Beta")  # the old one stays
    site.executions()
    site.page("b.md", "Beta\nfixed\n")
    fixed = site.run()
    assert fixed.code == 0, fixed.err
    # the cache kept a.md's new memos: only the fixed page runs again
    assert site.executions() == ["render content/b.md", "title content/b.md"]
    assert "fixed" in (site.out / "b.html").read_text()


def test_a_cache_locked_by_another_process(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    site.page("a.md", "Alpha\nchanged while locked\n")
    holder = sqlite3.connect(tmp_path / ".sofrito" / "cache.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = site.run("--store", "sqlite:.sofrito/cache.db?busy_timeout=0.2")
    finally:
        holder.close()
    assert result.code == 5
    assert "locked" in one_error_line(result)
    again = site.run()  # the cache is whole: the next run picks the edit up
    assert again.code == 0, again.err
    assert "changed while locked" in (site.out / "a.html").read_text()


def test_a_corrupt_cache_says_how_to_recover(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    cache = tmp_path / ".sofrito" / "cache.db"
    for extra in cache.parent.glob("cache.db-*"):
        extra.unlink()
    cache.write_bytes(b"this is not a database" * 100)
    result = site.run()
    assert result.code == 6
    line = one_error_line(result)
    assert "delete it" in line
    assert "--store" in line
    assert "on_corrupt" not in line  # a program's way out, not the command's
    assert (site.out / "a.html").exists()


def test_a_cache_from_a_newer_sofrito_says_upgrade_sofrito_never_delete_it(
    tmp_path: Path,
) -> None:
    """The cache is whole, only newer: exit 9 (not 6, "damaged, delete it"), the
    advice is to upgrade sofrito, and the file is left exactly as it was."""
    site = make_site(tmp_path)
    assert site.run().code == 0
    cache = tmp_path / ".sofrito" / "cache.db"
    with sqlite3.connect(cache) as conn:
        conn.execute("UPDATE sofrito_schema SET version = 99")
    conn.close()
    before = cache.read_bytes()
    result = site.run()
    assert result.code == 9
    line = one_error_line(result)
    assert f"the cache sqlite:{cache} has store schema 99, written by a newer sofrito" in line
    assert "upgrade sofrito here" in line
    assert "do not delete it" in line
    assert cache.read_bytes() == before


def test_an_output_folder_that_cannot_be_written(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    result = site.run("--out", str(blocker / "site"))
    assert result.code == 7
    assert "--out" in one_error_line(result)
    again = site.run()  # the cache was committed: nothing executes again
    assert again.code == 0
    assert "0 executed" in again.out


def test_an_unknown_store_scheme_is_a_usage_error(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    result = site.run("--store", "nosuch://x")
    assert result.code == 2
    assert "sqlite:" in one_error_line(result)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    flow = flow_file(tmp_path, "SOURCES = []\nx = 1 / 0\n")
    result = sofrito("run", str(flow), "--debug")
    assert result.code == 3
    assert "Traceback" in result.err


@pytest.mark.parametrize("command", ["run", "watch"])
@pytest.mark.parametrize("out", [".", ".."])
def test_an_output_folder_holding_the_flow_is_refused(
    tmp_path: Path, command: str, out: str
) -> None:
    """``--out`` at the flow's folder (or above it) would let an output named
    ``flow.py`` or ``content/a.md`` replace the flow or a source: refused before
    anything runs, and nothing is written."""
    (tmp_path / "site").mkdir()
    site = make_site(tmp_path / "site")
    (site.root / "flow.py").write_text(
        (site.root / "flow.py").read_text() + "\n_main = main\n"
        '@sf.query\ndef main(db):\n    return {"flow.py": "gone", "content/a.md": "gone"}\n'
    )
    before = {p: p.read_bytes() for p in site.root.rglob("*") if p.is_file()}
    result = sofrito(command, str(site.flow), "--out", str(site.root / out))
    assert result.code == 2
    line = one_error_line(result)
    assert "--out" in line
    assert "holds the flow's folder" in line
    assert str(site.root / "_site") in line
    assert {p: p.read_bytes() for p in site.root.rglob("*") if p.is_file()} == before


def test_two_keys_of_main_naming_one_output_are_refused(tmp_path: Path) -> None:
    """``a.html`` and ``./a.html`` are one file: writing one of the two contents and
    counting both as written would be a silent loss and a wrong summary."""
    flow = flow_file(
        tmp_path,
        """
        import sofrito as sf
        SOURCES = ["*.md"]

        @sf.query
        def main(db):
            return {"a.html": "first", "./a.html": "second"}
        """,
    )
    result = sofrito("run", str(flow))
    assert result.code == 1
    line = one_error_line(result)
    assert "main returned the output 'a.html' twice, as 'a.html' and './a.html'" in line
    assert not (tmp_path / "_site" / "a.html").exists()


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ("'./a.html': 'x', 'a.html': 'y'", "as './a.html' and 'a.html'"),
        ("'./a': 'x', 'a/b.html': 'y'", "the outputs './a' and 'a/b.html'"),
    ],
)
def test_an_output_clash_names_each_output_as_main_gave_it(
    tmp_path: Path, given: str, named: str
) -> None:
    """A path main gave in another form (``./a.html``) is named in that form,
    whichever comes first (the run looks up only such keys: the others are
    their own normal path)."""
    flow = flow_file(
        tmp_path,
        f"""
        import sofrito as sf
        SOURCES = ["*.md"]

        @sf.query
        def main(db):
            return {{{given}}}
        """,
    )
    result = sofrito("run", str(flow))
    assert result.code == 1, result.err
    assert named in one_error_line(result)


@pytest.mark.parametrize("order", ["'a': 'x', 'a/b/c.html': 'y'", "'a/b/c.html': 'y', 'a': 'x'"])
def test_an_output_in_another_outputs_folder_names_both(tmp_path: Path, order: str) -> None:
    """``a`` and ``a/b/c.html``: ``a`` cannot be a file and a folder. The run wrote
    one of them, then exited 7 blaming the output folder ("cannot write the output
    .../a/b/c.html (File exists); check the output folder"); the flow is at fault."""
    flow = flow_file(
        tmp_path,
        f"""
        import sofrito as sf
        SOURCES = ["*.md"]

        @sf.query
        def main(db):
            return {{{order}, 'z.html': 'z'}}
        """,
    )
    result = sofrito("run", str(flow))
    assert result.code == 1, result.err
    line = one_error_line(result)
    assert "main returned the outputs 'a' and 'a/b/c.html'" in line
    assert "'a' would be both a file and a folder" in line
    assert not (tmp_path / "_site").exists()  # nothing half written


@pytest.mark.parametrize("key", ["'../x.html'", "'/tmp/x.html'"])
def test_an_output_path_outside_the_output_folder_names_that_folder(
    tmp_path: Path, key: str
) -> None:
    flow = flow_file(
        tmp_path,
        f"""
        import sofrito as sf
        SOURCES = ["*.md"]

        @sf.query
        def main(db):
            return {{{key}: "x"}}
        """,
    )
    result = sofrito("run", str(flow))
    assert result.code == 1
    line = one_error_line(result)
    assert f"main returned the output path {key}" in line
    assert "inside the output folder" in line
    assert "flow's folder" not in line


def test_content_that_is_not_bytes_or_str_names_who_gave_it(tmp_path: Path) -> None:
    flow = flow_file(
        tmp_path,
        """
        import sofrito as sf
        SOURCES = ["*.md"]

        @sf.query
        def page(db, n):
            return n

        @sf.query
        def main(db):
            return {"a.html": 3, "b.html": sf.output(page, 4)}
        """,
    )
    result = sofrito("run", str(flow))
    assert result.code == 1
    failed = sorted(line for line in result.err.splitlines() if line.startswith("sofrito:"))
    assert failed[0].startswith("sofrito: failed: a.html: main gave it int 3; ")
    render = "sofrito: failed: b.html: its render sf.output(page, 4) gave it int 4"
    assert failed[1].startswith(render)
    assert "bytes or str" in failed[1]


def test_a_store_url_option_that_is_a_typo_is_a_usage_error(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    result = site.run("--store", "sqlite:.sofrito/cache.db?busy_timout=60")
    assert result.code == 2
    assert "--store: store URL option 'busy_timout'" in one_error_line(result)


def test_a_cache_folder_that_cannot_be_made_says_what_to_do(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    (tmp_path / ".sofrito").write_text("a file where the cache's folder goes")
    result = site.run()
    assert result.code == 6
    line = one_error_line(result)
    assert f"File exists: {tmp_path / '.sofrito'}" in line
    assert "use --store with another cache" in line


INTERRUPTED = """
import os
import signal
import time

import sofrito as sf

SOURCES = ["content/*.md", "frame.txt"]
STOP = os.path.join(os.path.dirname(__file__), "stop")


@sf.query
def render(db, path):
    if path == "content/b.md" and os.path.exists(STOP):
        with open(STOP) as stop:  # SIGINT (Ctrl-C) or SIGTERM, while a.md's new page is computed
            os.kill(os.getpid(), getattr(signal, stop.read()))
        time.sleep(5)
    return sf.fs.file(db, "frame.txt").decode() + sf.fs.file(db, path).decode()


@sf.query
def main(db):
    return {
        path.removeprefix("content/").removesuffix(".md") + ".html": sf.output(render, path)
        for path in sf.fs.glob(db, "content/*.md")
    }
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_run_interrupted_before_writing_leaves_no_output_stale(tmp_path: Path, sig: str) -> None:
    """Ctrl-C after a render computed a new page and before it was written: the
    run still commits what it computed, so the next run must not take the old
    file for the new page (it did: the record vouched for the file, and the
    committed memo carried no mark, so the output was "kept"). SIGTERM stops a
    run as Ctrl-C does (it killed it: nothing committed, exit -15)."""
    site = make_site(tmp_path, INTERRUPTED)
    (tmp_path / "frame.txt").write_text("v1 ")
    assert site.run().code == 0
    assert (site.out / "a.html").read_text() == "v1 Alpha\nfirst page\n"
    (tmp_path / "frame.txt").write_text("v2 ")
    (tmp_path / "stop").write_text(sig)
    interrupted = site.run()
    assert interrupted.code == 130, interrupted.err
    assert one_error_line(interrupted) == "sofrito: interrupted"
    assert (site.out / "a.html").read_text() == "v1 Alpha\nfirst page\n"  # not written yet
    (tmp_path / "stop").unlink()
    again = site.run()
    assert again.code == 0, again.err
    assert again.out.startswith("1 executed")  # the interrupted run committed a.md's page
    assert (site.out / "a.html").read_text() == "v2 Alpha\nfirst page\n"
    assert (site.out / "b.html").read_text() == "v2 Beta\nsecond page\n"
