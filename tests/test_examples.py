"""The examples the docs point to run, and say what the docs say they say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def _run(name: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_wordcount_example_resumes_warm_and_rebuilds_only_what_an_edit_reaches(
    tmp_path: Path,
) -> None:
    """The second example (scripts/wordcount.sh): four processes on one SQLite cache."""
    root = ["--root", str(tmp_path)]
    cold = _run_args("wordcount.py", *root, "--reset")
    assert "executed: chapter_total x10, chapters x1, report x1, word_count x200" in cold
    assert "commit #1" in cold
    assert (tmp_path / "cache.db").is_file()
    warm = _run_args("wordcount.py", *root)
    assert "executed: nothing; commit #2" in warm
    same = _run_args("wordcount.py", *root, "--edit", "ch03/doc07.md", "THE quick BROWN fox " * 11)
    assert "executed: words x1; commit #3" in same
    rewritten = _run_args("wordcount.py", *root, "--edit", "ch03/doc07.md", "a brand new text")
    assert "executed: chapter_total x1, report x1, word_count x1, words x1;" in rewritten
    assert (tmp_path / "report.txt").read_text() == ("8970 words in 10 chapters (largest: ch09)\n")


def test_async_files_example_loads_each_file_once() -> None:
    out = _run("async_files.py")
    assert "sizes: {'a.txt': 5, 'b.txt': 5, 'c.txt': 7}" in out
    assert "in 2 rounds" in out
    assert "after an edit: {'a.txt': 5, 'b.txt': 18, 'c.txt': 7}" in out


def test_live_events_example_reports_only_real_changes() -> None:
    out = _run("live_events.py")
    assert "rebuilt at revision 3 -> Welcome home | About us" in out
    changed = [line.strip() for line in out.splitlines() if "changed:" in line]
    assert changed == ["changed: live.title('home')", "changed: live.index()"]


def test_live_reload_demo_reports_changed_outputs() -> None:
    out = _run_args("live_reload.py", "--demo")
    after_title = out.split("-- a new title")[1]
    assert "changed: live.page('home.md')" in after_title
    assert "changed: live.index()" in after_title


def _run_args(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout
