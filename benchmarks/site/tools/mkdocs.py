"""MkDocs, a full build and ``--dirty``, with a small theme of its own.

Pages keep their YAML front matter (MkDocs takes ``title`` from it). The
theme (``theme: name: null`` and a ``main.html``) shows the page's title,
tags and content, the previous and next pages of the nav, and, on the home
page, every page of the nav: the index. It has no nav on every page, which
would make every page a listing (and MkDocs' own themes have one).

A full build (``mkdocs build``) cleans the site folder and writes
everything. ``--dirty`` reads and writes only the pages whose source is
newer than their output: nothing else learns of a new title, a template
change or an added page.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmarks.site.corpus import Corpus, Page, yaml_front_matter
from benchmarks.site.tools.base import BIN, Tool, write

CONFIG = """\
site_name: bench
docs_dir: docs
site_dir: site
use_directory_urls: false
theme:
  name: null
  custom_dir: theme
markdown_extensions: [toc, tables, fenced_code, codehilite, footnotes]
"""

MAIN = """\
<!doctype html>
<html><head><meta charset="utf-8"><title>{{ page.title }} - {{ config.site_name }}</title></head>
<body>
<header><a href="{{ nav.homepage.url|url }}">{{ config.site_name }}</a></header>
<main>
{% if page.is_homepage %}<ul>
{% for p in nav.pages %}<li><a href="{{ p.url|url }}">{{ p.title }}</a></li>
{% endfor %}</ul>{% else %}<h1>{{ page.title }}</h1>
<p>{{ page.meta.date }}{% for tag in page.meta.tags or [] %} #{{ tag }}{% endfor %}</p>{% endif %}
{{ page.content }}
<nav>{% if page.previous_page %}
<a href="{{ page.previous_page.url|url }}">{{ page.previous_page.title }}</a>{% endif %}
{% if page.next_page %}
<a href="{{ page.next_page.url|url }}">{{ page.next_page.title }}</a>{% endif %}</nav>
</main>
<footer>site footer</footer>
</body></html>
"""


class MkDocs(Tool):
    name = "mkdocs"
    distributions = ("mkdocs",)
    script = "mkdocs"
    output = "site"
    template = ("theme/main.html", "site footer", "site footer zqtemplate")
    shows = "index (the home page lists the nav), previous/next in nav order"
    rebuild = "`mkdocs build`: cleans the site folder, reads and writes every page"
    flags: ClassVar[tuple[str, ...]] = ()

    def prepare(self, corpus: Corpus, folder: Path) -> None:
        write(folder / "mkdocs.yml", CONFIG)
        write(folder / "theme" / "main.html", MAIN)
        write(folder / "docs" / "index.md", "---\ntitle: bench\n---\nEvery page.\n")
        self.write_pages(corpus, folder)

    def command(self) -> list[str]:
        return [str(BIN / "mkdocs"), "build", "-q", *self.flags]

    def source(self, page: Page) -> str:
        return f"docs/{page.path}"

    def text(self, page: Page) -> str:
        return yaml_front_matter(page)


class MkDocsDirty(MkDocs):
    name = "mkdocs --dirty"
    rebuild = (
        "`mkdocs build --dirty`: reads and writes only pages whose source is newer than "
        "their output, keeps the rest"
    )
    flags = ("--dirty",)
