"""The one corpus every tool builds, and the pages each edit step picks.

The pages come from ``examples/site/generate.py`` (the same ``--seed``, the
same bytes), read back from the sofrito site folder it fills, so that every
tool gets exactly sofrito's pages: the generated ones and the four
hand-written guide pages. Each page is kept as its parts (path, title,
date, tags, description, body), not as text, because each tool wants its
own front matter: Pelican reads ``Key: value`` lines, the others YAML.

The pages the steps edit are chosen here, by rule, so every tool edits the
same one: the body and title edits go to a page that another page links to
(so sofrito's backlinks must follow the title), the deleted page is one
nobody links to (so no tool meets a broken link it would warn about).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "site"
LINK = re.compile(r"\]\(([^)#:]+\.md)(#[^)]*)?\)")
"""A relative Markdown link to another page, as the generator writes them."""


@dataclass(frozen=True)
class Page:
    """One page, its front matter apart; ``path`` is relative to ``content/``."""

    path: str
    title: str
    date: str
    tags: tuple[str, ...]
    description: str
    body: str

    def links(self) -> set[str]:
        """The pages this page links to, as paths relative to ``content/``."""
        here = posixpath.dirname(self.path)
        found = (posixpath.normpath(posixpath.join(here, m[1])) for m in LINK.finditer(self.body))
        return {target for target in found if target != self.path}


@dataclass(frozen=True)
class Corpus:
    """Every page, and the pages the edit steps touch."""

    pages: tuple[Page, ...]
    edited: Page
    """The body and the title edits' page: one that another page links to."""
    deleted: Page
    """The deleted page: one no other page links to."""
    added: Page
    """The page the "page added" step writes: newer than every other page, in the edited
    page's folder (a new folder would be a new category on Pelican's menu, on every page)."""


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("site_generate", EXAMPLE / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate(folder: Path, pages: int, seed: int = 0) -> None:
    """Fill ``folder`` as ``generate.py --pages N --out folder`` does: sofrito's site folder."""
    _generator().generate(folder, pages, seed)


def parse(path: str, text: str) -> Page:
    """A page from its file text (YAML front matter between ``---`` lines)."""
    _, front, body = text.split("---\n", 2)
    data = yaml.safe_load(front)
    date = data["date"]
    return Page(
        path=path,
        title=str(data["title"]),
        date=date.isoformat() if isinstance(date, dt.date) else str(date),
        tags=tuple(data.get("tags", ())),
        description=str(data.get("description", "")),
        body=body,
    )


def read(folder: Path) -> Corpus:
    """The corpus of the site folder ``folder`` (made by :func:`generate`)."""
    content = folder / "content"
    pages = tuple(
        parse(file.relative_to(content).as_posix(), file.read_text(encoding="utf-8"))
        for file in sorted(content.rglob("*.md"))
    )
    return choose(pages)


def choose(pages: tuple[Page, ...]) -> Corpus:
    """The corpus with its edited, deleted and added pages picked by rule."""
    linked = {target for page in pages for target in page.links()}
    generated = [page for page in pages if not page.path.startswith("guide/")]
    edited = next(page for page in generated if page.path in linked)
    deleted = next(page for page in reversed(generated) if page.path not in linked)
    newest = max(page.date for page in pages)
    added = Page(
        path=f"{posixpath.dirname(edited.path)}/page-added.md",
        title="Added page zqadded",
        date=(dt.date.fromisoformat(newest) + dt.timedelta(days=1)).isoformat(),
        tags=("python",),
        description="A page the benchmark adds.",
        body="\nA page the benchmark adds, zqaddedbody.\n",
    )
    return Corpus(pages, edited, deleted, added)


def yaml_front_matter(page: Page) -> str:
    """The page as the generator writes it: YAML front matter, then the body."""
    tags = ", ".join(page.tags)
    return (
        f"---\ntitle: {page.title!r}\ndate: {page.date}\ntags: [{tags}]\n"
        f"description: {page.description!r}\n---\n{page.body}"
    )
