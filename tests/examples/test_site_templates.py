"""The example site's templates (examples/site/templates/): what they are handed.

A template edit renders every page again, so what a render costs in Jinja is
most of that step's own work: these tests hold the templates to the shape
that keeps it small (docs/site.md, "A template edit"), and the links they
show to what they were when the templates worked them out themselves.
"""

from __future__ import annotations

import posixpath
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.example_site import SITE, load

jinja2 = pytest.importorskip("jinja2")
pytest.importorskip("markdown_it")
pytest.importorskip("mdit_py_plugins")
pytest.importorskip("pygments")
pytest.importorskip("yaml")


@pytest.mark.parametrize("name", sorted(path.name for path in (SITE / "templates").iterdir()))
def test_no_template_calls_a_function(name: str) -> None:
    """Every link comes worked out (``nav``, each listed page's ``href``): a call in
    a template goes through Jinja's ``Context.call`` each time, a fifth of a
    page's render when the templates called ``rel`` and ``tag_url``."""
    source = (SITE / "templates" / name).read_text(encoding="utf-8")
    calls = list(jinja2.Environment().parse(source).find_all(jinja2.nodes.Call))
    assert [call.lineno for call in calls] == [], name


def test_the_links_of_a_nested_page_are_relative_to_its_folder(tmp_path: Path) -> None:
    """The hrefs the flow works out are the ones ``posixpath.relpath`` gives, as
    the templates' ``rel(...)`` calls gave them before."""
    subprocess.run(
        [sys.executable, str(SITE / "generate.py"), "--pages", "30", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [sys.executable, "-m", "sofrito", "run", str(tmp_path / "flow.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "_site" / "guide" / "edits.html").read_text(encoding="utf-8")
    assert '<link rel="stylesheet" href="../style.css">' in page
    assert '<link rel="stylesheet" href="../pygments.css">' in page
    assert '<a class="site" href="../index.html">' in page
    assert '<nav><a href="../tags/index.html">Tags</a> <a href="../feed.xml">Feed</a></nav>' in page
    assert '<a class="tag" href="../tags/' in page
    tag = next((tmp_path / "_site" / "tags").glob("*.html"))
    listed = tag.read_text(encoding="utf-8")
    assert '<link rel="stylesheet" href="../style.css">' in listed
    assert '<nav><a href="index.html">Tags</a>' in listed
    assert '<a href="../' in listed  # a listed page, from the tags folder
    index = (tmp_path / "_site" / "index.html").read_text(encoding="utf-8")
    assert '<link rel="stylesheet" href="style.css">' in index
    assert '<nav><a href="tags/index.html">Tags</a>' in index


flow = load("site_flow_links", SITE / "flow.py")


def _relative_before(start: str, url: str) -> str:
    """``_relative_from`` as it was before the link of a page was its folder's link
    and its name: the reference the links are held to, byte for byte."""
    start_parts = [part for part in start.split("/") if part]
    url_parts = [part for part in url.split("/") if part]
    if url.startswith("/") or start.startswith("/") or {".", ".."} & {*start_parts, *url_parts}:
        return posixpath.relpath(url, start or ".")
    common = len(posixpath.commonprefix([start_parts, url_parts]))
    parts = [".."] * (len(start_parts) - common) + url_parts[common:]
    return "/".join(parts) if parts else "."


_PART = st.sampled_from(["a", "b", "guide", "b.html", "c.html", "tags", ".", "..", ""])
_PATH = st.lists(_PART, max_size=4).map("/".join) | st.lists(_PART, max_size=3).map(
    lambda parts: "/" + "/".join(parts)
)


@given(start=_PATH, url=_PATH.filter(bool))
@settings(max_examples=2000, deadline=None)
@example(start="a/b.html", url="a/b.html")
@example(start="a/b.html/c", url="a/b.html")
@example(start="", url="index.html")
@example(start="guide", url="guide/a.html")
def test_a_link_is_the_one_the_parts_give(start: str, url: str) -> None:
    """Whichever way ``_relative_from`` finds a link (its folder's link and its name,
    or the parts), it is the link the parts gave before."""
    assert flow._relative_from(start, url) == _relative_before(start, url)
