"""A small flow written into a test's folder, and the command run as a real process.

The flow logs every execution of its query bodies to ``executions.log``
beside it, so a test can check what ran independently of the summary line
(the summary counts them from the engine's execution events, ``sofrito/cli/lastrun.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

FLOW = """
import os

import sofrito as sf

SOURCES = ["content/*.md"]
LOG = os.path.join(os.path.dirname(__file__), "executions.log")


def log(what):
    with open(LOG, "a") as file:
        file.write(what + "\\n")


@sf.query
def title(db, path):
    log(f"title {path}")
    return sf.fs.file(db, path).decode().splitlines()[0]


@sf.query
def render(db, path):
    log(f"render {path}")
    text = sf.fs.file(db, path).decode()
    if "BOOM" in text:
        raise ValueError("broken front matter")
    return f"<h1>{title(db, path)}</h1>\\n{text}"


@sf.query
def index(db):
    log("index")
    return "\\n".join(title(db, path) for path in sf.fs.glob(db, "content/*.md"))


@sf.query
def main(db):
    log("main")
    pages = {
        path.removeprefix("content/").removesuffix(".md") + ".html": sf.output(render, path)
        for path in sf.fs.glob(db, "content/*.md")
    }
    pages["index.html"] = sf.output(index)
    return pages
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Site:
    """A flow folder: ``flow.py``, ``content/*.md``, the ``_site`` it builds."""

    root: Path

    @property
    def flow(self) -> Path:
        return self.root / "flow.py"

    @property
    def out(self) -> Path:
        return self.root / "_site"

    def page(self, name: str, text: str) -> Path:
        path = self.root / "content" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def executions(self) -> list[str]:
        """What ran since the last call (and forget it)."""
        log = self.root / "executions.log"
        if not log.exists():
            return []
        lines = log.read_text().splitlines()
        log.unlink()
        return sorted(lines)

    def mtimes(self) -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in sorted(self.out.iterdir())}

    def run(self, *args: str) -> Result:
        return sofrito("run", str(self.flow), *args)


def make_site(root: Path, flow: str = FLOW) -> Site:
    site = Site(root)
    site.flow.write_text(textwrap.dedent(flow))
    site.page("a.md", "Alpha\nfirst page\n")
    site.page("b.md", "Beta\nsecond page\n")
    return site


def sofrito(*args: str, cwd: Path | None = None) -> Result:
    """``python -m sofrito ARGS`` in a real child process."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, "-m", "sofrito", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def one_error_line(result: Result) -> str:
    """The single line a failing command prints on stderr (and no traceback)."""
    assert "Traceback" not in result.err, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]
