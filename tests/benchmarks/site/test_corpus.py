"""The site benchmark's corpus: the pages each step picks, and the page format round trip.

The steps' checks lean on the pick: the title edit's page must be linked
from another (so sofrito's backlinks are part of what the check follows),
the deleted page from none (so no tool warns about a broken link), and the
added page must be the newest. And a page written back in YAML must read
back equal, or the harness's own rewrite would be an edit of its own.
"""

from __future__ import annotations

from pathlib import Path

import benchmarks.site.corpus as corpora
import pytest
from benchmarks.site.tools.pelican import Pelican


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> corpora.Corpus:
    folder = tmp_path_factory.mktemp("site")
    corpora.generate(folder, 40)
    return corpora.read(folder)


def test_the_edited_page_is_linked_from_another_and_the_deleted_one_from_none(
    corpus: corpora.Corpus,
) -> None:
    linking = [page for page in corpus.pages if corpus.edited.path in page.links()]
    assert linking
    assert all(corpus.deleted.path not in page.links() for page in corpus.pages)
    assert corpus.edited != corpus.deleted
    assert len(corpus.pages) == 44  # 40 generated, 4 hand-written guide pages


def test_the_added_page_is_the_newest_beside_the_edited_page(corpus: corpora.Corpus) -> None:
    assert corpus.added.date > max(page.date for page in corpus.pages)
    assert Path(corpus.added.path).parent == Path(corpus.edited.path).parent
    assert all(page.path != corpus.added.path for page in corpus.pages)


def test_a_page_written_back_as_yaml_reads_back_equal(corpus: corpora.Corpus) -> None:
    for page in corpus.pages:
        assert corpora.parse(page.path, corpora.yaml_front_matter(page)) == page


def test_pelican_pages_carry_its_metadata_lines_and_filename_links(
    corpus: corpora.Corpus,
) -> None:
    page = next(page for page in corpus.pages if page.links())
    text = Pelican().text(page)
    assert text.startswith(f"Title: {page.title}\nDate: {page.date}\n")
    assert "]({filename}" in text
    assert "](../" not in text.replace("]({filename}../", "")
