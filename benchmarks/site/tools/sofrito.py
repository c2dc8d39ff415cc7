"""sofrito: the example site (``examples/site/flow.py``) through ``sofrito run``.

The folder is the example's own skeleton (the flow, ``site.toml``,
templates, static files) with the corpus's pages under ``content/``: what
``generate.py`` makes. Each step is ``sofrito run flow.py`` in a fresh
process, from the SQLite cache it keeps in ``.sofrito/``, or from the store
``--store URL`` names (``python -m benchmarks.site --store postgresql://...``:
the Site workload on a shared PostgreSQL store, docs/benchmarks.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import sofrito as sf
from benchmarks.site.corpus import EXAMPLE, Corpus, Page, yaml_front_matter
from benchmarks.site.tools.base import BIN, Tool

SKELETON = ("flow.py", "site.toml", "templates", "static")


class Sofrito(Tool):
    name = "sofrito"
    script = "sofrito"
    output = "_site"
    template = ("templates/base.html", "<footer>", "<footer>zqtemplate ")
    shows = "index, a page per tag, feed, backlinks, previous/next (by date), table of contents"
    rebuild = (
        "`sofrito run`: scans the sources against the manifest in its SQLite cache, "
        "re-executes the queries an edit reached, writes only outputs whose bytes changed"
    )

    store: str | None = None
    """A store URL for every ``sofrito run`` (None: the default SQLite file)."""

    def version(self) -> str:
        build = "compiled" if sf.COMPILED else "pure Python"
        return f"sofrito {sf.__version__} ({build})"

    def prepare(self, corpus: Corpus, folder: Path) -> None:
        for name in SKELETON:
            source = EXAMPLE / name
            if source.is_dir():
                shutil.copytree(source, folder / name)
            else:
                shutil.copy2(source, folder / name)
        self.write_pages(corpus, folder)

    def command(self) -> list[str]:
        store = ["--store", self.store] if self.store else []
        return [str(BIN / "sofrito"), "run", "flow.py", *store]

    def text(self, page: Page) -> str:
        return yaml_front_matter(page)
