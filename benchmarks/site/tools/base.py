"""The one shape every site tool has; the harness drives only this.

A tool gets the corpus and a folder of its own, lays the pages out the way
it reads them (its front matter, its configuration, a theme whose base
template the template step edits), and names the command that builds the
folder. The harness then runs that command once per step, in a fresh
process, and edits the tool's files between steps through ``source`` and
``text``: the same edit, in each tool's format.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from benchmarks.site.corpus import Corpus, Page

BIN = Path(sys.executable).parent
"""The venv's scripts: each tool runs from the venv the harness runs in."""


class Tool(ABC):
    name: ClassVar[str]
    """The column heading."""
    distributions: ClassVar[tuple[str, ...]] = ()
    """The PyPI distributions whose versions the table header prints."""
    script: ClassVar[str] = ""
    """The venv script the tool runs as (its absence skips the tool)."""
    output: ClassVar[str]
    """The output folder, relative to the tool's folder."""
    template: ClassVar[tuple[str, str, str]]
    """The template step's edit: (file relative to the folder, old text, new text)."""
    shows: ClassVar[str]
    """What the tool's site shows of other pages, which the title check follows."""
    rebuild: ClassVar[str]
    """What a rebuild is for this tool (its cache, what it reads and writes again)."""

    def missing(self) -> str | None:
        """Why the tool cannot run here, or None."""
        for distribution in self.distributions:
            try:
                importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                return f"{distribution} is not installed (bash scripts/bench.sh installs it)"
        if self.script and not (BIN / self.script).exists():
            return f"{BIN / self.script} not found"
        return None

    def version(self) -> str:
        return " + ".join(
            f"{name} {importlib.metadata.version(name)}" for name in self.distributions
        )

    @abstractmethod
    def prepare(self, corpus: Corpus, folder: Path) -> None:
        """Lay out ``folder`` for the tool: pages, configuration, templates."""

    @abstractmethod
    def command(self) -> list[str]:
        """The build command, run in the tool's folder."""

    def source(self, page: Page) -> str:
        """The page's source file, relative to the folder."""
        return f"content/{page.path}"

    @abstractmethod
    def text(self, page: Page) -> str:
        """The page's source text in the tool's format."""

    def page_output(self, page: Page) -> str:
        """The page's output file, relative to the output folder."""
        return page.path.removesuffix(".md") + ".html"

    def write_pages(self, corpus: Corpus, folder: Path) -> None:
        for page in corpus.pages:
            write(folder / self.source(page), self.text(page))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def fresh(folder: Path) -> None:
    """An empty ``folder``, whatever was there."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
