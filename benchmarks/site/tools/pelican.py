"""Pelican, with its content cache, and the theme it ships (``simple``).

Pelican reads ``Key: value`` metadata lines, not YAML, so each page is
written that way; links between pages become Pelican's ``{filename}``
links, which it resolves. The settings ask for the content cache
(``LOAD_CONTENT_CACHE``, ``CACHE_CONTENT``: parsed pages are reused when
their file's mtime did not change), one index listing every article (no
pagination), a page per tag and per category (the folder), and
``DELETE_OUTPUT_DIRECTORY``: without it a deleted page's output stays, and
Pelican writes every output on every build anyway.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

from benchmarks.site.corpus import Corpus, Page
from benchmarks.site.tools.base import BIN, Tool, write

SETTINGS = """\
AUTHOR = "bench"
SITENAME = "bench"
SITEURL = ""
PATH = "content"
OUTPUT_PATH = "output"
THEME = "theme"
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
LOAD_CONTENT_CACHE = True
CACHE_CONTENT = True
CACHE_PATH = "cache"
DELETE_OUTPUT_DIRECTORY = True
DEFAULT_PAGINATION = False
PATH_METADATA = r"(?P<path_no_ext>.*)\\..*"
ARTICLE_URL = ARTICLE_SAVE_AS = "{path_no_ext}.html"
AUTHOR_SAVE_AS = AUTHORS_SAVE_AS = ""
FEED_ALL_ATOM = "feeds/all.atom.xml"
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
"""

LINK = re.compile(r"\]\(([^)#:/][^)#:]*\.md)")


class Pelican(Tool):
    name = "pelican"
    distributions = ("pelican", "markdown")
    script = "pelican"
    output = "output"
    template = ("theme/templates/base.html", "</body>", "<p>zqtemplate</p></body>")
    shows = "index (every article), a page per tag and per category (folder), archives, feed"
    rebuild = (
        "`pelican` with its content cache: unchanged files are not parsed again; "
        "every output is rendered and written again"
    )

    def prepare(self, corpus: Corpus, folder: Path) -> None:
        spec = importlib.util.find_spec("pelican")
        assert spec is not None
        assert spec.origin is not None
        shutil.copytree(Path(spec.origin).parent / "themes" / "simple", folder / "theme")
        write(folder / "pelicanconf.py", SETTINGS)
        self.write_pages(corpus, folder)

    def command(self) -> list[str]:
        return [str(BIN / "pelican"), "-s", "pelicanconf.py", "-q"]

    def text(self, page: Page) -> str:
        body = LINK.sub(r"]({filename}\1)", page.body)
        return (
            f"Title: {page.title}\nDate: {page.date}\nTags: {', '.join(page.tags)}\n"
            f"Summary: {page.description}\n\n{body}"
        )
