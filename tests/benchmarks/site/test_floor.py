"""The floor probe counts what a scan would find, and runs as the harness runs it.

The floor is only a floor if the probe does the work it claims: every
source compared with the manifest, every output looked at. Nothing here is
timed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.site import floor


def tree(top: Path, names: list[str]) -> None:
    for name in names:
        path = top / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"text of {name}")


def test_the_scan_finds_each_changed_added_file_and_nothing_else(tmp_path: Path) -> None:
    sources = tmp_path / "content"
    tree(sources, ["a.md", "notes/b.md", "notes/deep/c.md"])
    manifest = tmp_path / "manifest.db"
    assert floor.write_manifest(sources, manifest) == 3
    assert floor._changed(sources, manifest) == 0

    (sources / "notes/b.md").write_text("a longer text than before")
    tree(sources, ["notes/new.md"])
    assert floor._changed(sources, manifest) == 2


def test_the_probe_runs_as_a_script_and_says_what_it_looked_at(tmp_path: Path) -> None:
    tree(tmp_path / "content", ["a.md", "b/c.md"])
    tree(tmp_path / "_site", ["a.html", "b/c.html", "index.html"])
    manifest = tmp_path / "manifest.db"
    floor.write_manifest(tmp_path / "content", manifest)
    os.utime(tmp_path / "content/a.md", ns=(1, 1))

    done = subprocess.run(
        [sys.executable, floor.__file__, "content", "_site", str(manifest), "--edit"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )

    assert "(1 changed)" in done.stdout
    assert "(3)" in done.stdout  # the outputs stat'ed
    assert "libraries" in done.stdout
