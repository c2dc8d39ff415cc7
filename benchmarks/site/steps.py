"""The seven steps, each an edit of a tool's sources and what the next build must show.

Every tool gets the same edits, written in its own format (``Tool.text``):
the body edit appends a paragraph to the edited page, the title edit then
renames that page, the template edit changes the tool's base template, and
the last two add a page newer than all others and delete one nobody links
to. The marker words (``zqbody``, ``zqtitle``, ``zqtemplate``, ``zqadded``)
occur nowhere in the corpus, so finding them in an output proves the
rebuild put them there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.site.check import Expect
from benchmarks.site.corpus import Corpus, Page
from benchmarks.site.tools.base import Tool, write


@dataclass
class Edits:
    """One tool's sources as the steps leave them: the edited page's current state."""

    tool: Tool
    corpus: Corpus
    folder: Path
    edited: Page

    def rewrite(self, page: Page) -> None:
        write(self.folder / self.tool.source(page), self.tool.text(page))

    def output(self, page: Page) -> str:
        return self.tool.page_output(page)


def cold(edits: Edits) -> Expect:
    return Expect(shows={edits.output(edits.edited): edits.edited.title})


def no_op(edits: Edits) -> Expect:
    return Expect()


def body_edit(edits: Edits) -> Expect:
    page = edits.edited
    edits.edited = dataclasses.replace(page, body=page.body + "\nAn edited paragraph, zqbody.\n")
    edits.rewrite(edits.edited)
    return Expect(shows={edits.output(page): "zqbody"})


def title_edit(edits: Edits) -> Expect:
    page = edits.edited
    number = page.path.rsplit("-", 1)[-1].removesuffix(".md")
    edits.edited = dataclasses.replace(page, title=f"Renamed zqtitle ({number})")
    edits.rewrite(edits.edited)
    return Expect(
        shows={edits.output(page): edits.edited.title},
        follows=(page.title, edits.edited.title),
    )


def template_edit(edits: Edits) -> Expect:
    relpath, old, new = edits.tool.template
    path = edits.folder / relpath
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{edits.tool.name}: {old!r} is not in {relpath}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return Expect(everywhere="zqtemplate")


def page_added(edits: Edits) -> Expect:
    added = edits.corpus.added
    edits.rewrite(added)
    return Expect(shows={edits.output(added): "zqaddedbody"}, listed=added.title)


def page_deleted(edits: Edits) -> Expect:
    deleted = edits.corpus.deleted
    (edits.folder / edits.tool.source(deleted)).unlink()
    return Expect(gone=(edits.output(deleted),), vanishes=deleted.title)


STEPS: tuple[tuple[str, Callable[[Edits], Expect]], ...] = (
    ("cold", cold),
    ("no-op", no_op),
    ("body edit", body_edit),
    ("title edit", title_edit),
    ("template edit", template_edit),
    ("page added", page_added),
    ("page deleted", page_deleted),
)
