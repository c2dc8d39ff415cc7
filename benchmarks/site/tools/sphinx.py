"""Sphinx with MyST, incremental: ``sphinx-build`` reusing its environment and doctrees.

Pages keep their YAML front matter; ``myst_title_to_header`` makes its
title the page's heading. The root document lists every page in a
``toctree`` (so the index is a listing), and each page's sidebar has its
local table of contents and the previous/next pages in that order
(alabaster's ``relations.html``), as sofrito's pages have neighbours. A
rebuild re-reads the sources whose mtime changed, and writes those and the
pages Sphinx itself marks as depending on them; a template change
rewrites every page.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.site.corpus import Corpus, Page, yaml_front_matter
from benchmarks.site.tools.base import BIN, Tool, write

CONF = """\
project = "bench"
extensions = ["myst_parser"]
myst_title_to_header = True
myst_heading_anchors = 3
myst_enable_extensions = ["deflist"]
html_theme = "alabaster"
html_copy_source = False
html_show_sourcelink = False
templates_path = ["_templates"]
html_sidebars = {"**": ["localtoc.html", "relations.html"]}
suppress_warnings = ["myst.header", "misc.highlighting_failure", "myst.xref_missing"]
"""

LAYOUT = """\
{% extends "!layout.html" %}
{% block footer %}{{ super() }}<p class="bench">site footer</p>{% endblock %}
"""

INDEX = """\
# bench

```{toctree}
:glob:
:maxdepth: 1

guide/*
*/*/*
```
"""


class Sphinx(Tool):
    name = "sphinx+myst"
    distributions = ("sphinx", "myst-parser")
    script = "sphinx-build"
    output = "html"
    template = ("src/_templates/layout.html", "site footer", "site footer zqtemplate")
    shows = "index (a toctree of every page), previous/next in toctree order, search index"
    rebuild = (
        "`sphinx-build` reusing its pickled environment and doctrees: re-reads changed "
        "sources, writes the pages it finds outdated"
    )

    def prepare(self, corpus: Corpus, folder: Path) -> None:
        write(folder / "src" / "conf.py", CONF)
        write(folder / "src" / "_templates" / "layout.html", LAYOUT)
        write(folder / "src" / "index.md", INDEX)
        self.write_pages(corpus, folder)

    def command(self) -> list[str]:
        return [str(BIN / "sphinx-build"), "-b", "html", "-q", "-d", "doctrees", "src", "html"]

    def source(self, page: Page) -> str:
        return f"src/{page.path}"

    def text(self, page: Page) -> str:
        return yaml_front_matter(page)
