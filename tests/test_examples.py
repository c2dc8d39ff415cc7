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


def test_wordcount_example_shows_incremental_reuse() -> None:
    lines = _run("wordcount.py").splitlines()
    assert "executed: nothing" in lines[1]
    assert lines[2].endswith("executed: words x1")
    assert "chapter_total x1, report x1, word_count x1, words x1" in lines[3]


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
