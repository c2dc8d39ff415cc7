"""The example site (examples/site/) through ``sofrito run``, end to end in real processes.

Each test generates a corpus of 30 pages (plus the four hand-written ones)
into ``tmp_path``, builds it cold, edits it, and runs again. What ran is
read from the flow's trace (``SITE_TRACE``: a line per execution of its
main queries); what was written, from the output files' bytes and mtimes.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

pytest.importorskip("markdown_it")
pytest.importorskip("mdit_py_plugins")
pytest.importorskip("jinja2")
pytest.importorskip("pygments")
pytest.importorskip("yaml")

from tests.example_site import SITE, generator, load

PAGES = 30


generate = generator()


@dataclass
class Run:
    code: int
    out: str
    err: str
    trace: list[str]

    @property
    def counts(self) -> dict[str, int]:
        line = self.out.strip().splitlines()[-1]
        return {name: int(n) for n, name in re.findall(r"(\d+) (\w+)", line) if name != "s"}


@dataclass
class Site:
    root: Path

    @property
    def out(self) -> Path:
        return self.root / "_site"

    def run(self, *python_options: str) -> Run:
        log = self.root.parent / "trace.log"
        log.unlink(missing_ok=True)
        done = subprocess.run(
            [sys.executable, *python_options, "-m", "sofrito", "run", str(self.root / "flow.py")],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "SITE_TRACE": str(log)},
            check=False,
        )
        trace = sorted(log.read_text().splitlines()) if log.exists() else []
        return Run(done.returncode, done.stdout, done.stderr, [line.strip() for line in trace])

    def files(self) -> Files:
        """Every output: (mtime_ns, bytes)."""
        return {
            path.relative_to(self.out).as_posix(): (path.stat().st_mtime_ns, path.read_bytes())
            for path in self.out.rglob("*")
            if path.is_file()
        }

    def edit(self, relpath: str, old: str, new: str) -> None:
        path = self.root / relpath
        text = path.read_text()
        assert old in text, f"{old!r} not in {relpath}"
        path.write_text(text.replace(old, new, 1))


Files = dict[str, tuple[int, bytes]]


def rewritten(before: Files, after: Files) -> set[str]:
    """The outputs written again (a new mtime), whether or not their bytes changed."""
    return {path for path in after if path in before and after[path][0] != before[path][0]}


def built(tmp_path: Path) -> Site:
    site = Site(tmp_path / "site")
    generate.generate(site.root, PAGES, seed=7)
    first = site.run()
    assert first.code == 0, first.err
    return site


def a_page(site: Site, number: int) -> str:
    return next(
        path.relative_to(site.root).as_posix()
        for path in (site.root / "content").rglob(f"page-{number:05d}.md")
    )


def html_of(source: str) -> str:
    return source.removeprefix("content/").removesuffix(".md") + ".html"


def test_the_first_run_builds_the_site_and_a_no_op_run_executes_imports_and_writes_nothing(
    tmp_path: Path,
) -> None:
    site = built(tmp_path)
    files = site.files()
    sources = sorted(p.relative_to(site.root).as_posix() for p in site.root.rglob("*.md"))
    assert len(sources) == PAGES + 4
    assert {html_of(source) for source in sources} <= files.keys()
    for name in ("index.html", "tags/index.html", "feed.xml", "sitemap.xml", "pygments.css"):
        assert name in files
    index = (site.out / "index.html").read_text()
    assert index.count("<li>") == PAGES + 4
    feed = ET.fromstring((site.out / "feed.xml").read_bytes())
    assert len(feed.findall("{http://www.w3.org/2005/Atom}entry")) == 20
    sitemap = ET.fromstring((site.out / "sitemap.xml").read_bytes())
    assert len(sitemap) == PAGES + 4 + 1  # the pages and the home page
    welcome = (site.out / "guide" / "welcome.html").read_text()
    assert '<a href="pages.html">how pages are built</a>' in welcome  # a .md link, rewritten
    assert 'class="toc"' in welcome
    assert 'href="#what-a-run-does"' in welcome
    pages = (site.out / "guide" / "pages.html").read_text()
    assert "Linked from" in pages  # backlinks
    assert ">Welcome</a>" in pages
    assert '<span class="k">def</span>' in pages  # Pygments

    again = site.run("-X", "importtime")
    assert again.code == 0, again.err
    assert again.counts["executed"] == 0
    assert again.counts["written"] == 0
    assert again.trace == []
    assert site.files() == files
    imported = {line.split("|")[-1].strip().split(".")[0] for line in again.err.splitlines()}
    assert not imported & {"markdown_it", "mdit_py_plugins", "jinja2", "pygments", "yaml"}


def test_a_body_edit_re_executes_its_page_only_and_writes_one_file(tmp_path: Path) -> None:
    site = built(tmp_path)
    before = site.files()
    page = a_page(site, 3)
    site.edit(page, "\n## ", "\nA new paragraph, only in the body.\n\n## ")
    result = site.run()
    assert result.code == 0, result.err
    # summary re-executes, finds its value equal, and the site-wide pages stop there
    assert result.trace == [f"{q} {page}" for q in ("meta", "parsed", "render", "summary")]
    after = site.files()
    assert rewritten(before, after) == {html_of(page)}
    assert b"A new paragraph, only in the body." in after[html_of(page)][1]
    assert result.counts["written"] == 1


def test_a_title_edit_rewrites_exactly_the_outputs_that_show_the_title(tmp_path: Path) -> None:
    site = built(tmp_path)
    before = site.files()
    page = a_page(site, 5)
    title = re.search(r"title: '(.*)'", (site.root / page).read_text())
    assert title is not None
    old = title.group(1)
    showing = {path for path, (_, data) in before.items() if old.encode() in data}
    tags = re.search(r"tags: \[(.*)\]", (site.root / page).read_text())
    assert tags is not None
    # the page, the index, its tag pages, the feed (it is recent or not), the
    # pages it links to (their backlinks) and its neighbours
    assert {html_of(page), "index.html"} <= showing
    assert {f"tags/{tag}.html" for tag in tags.group(1).split(", ")} <= showing
    assert len(showing - {html_of(page), "index.html", "feed.xml"}) >= 3
    site.edit(page, f"title: '{old}'", "title: 'A renamed page'")
    result = site.run()
    assert result.code == 0, result.err
    assert not any(line.startswith("parsed") for line in result.trace)  # nothing re-parsed
    after = site.files()
    assert rewritten(before, after) == showing
    for path in showing:
        assert old.encode() not in after[path][1]
        assert b"A renamed page" in after[path][1]


def test_a_template_edit_rewrites_every_page_and_re_parses_none(tmp_path: Path) -> None:
    site = built(tmp_path)
    before = site.files()
    site.edit("templates/page.html", "<article>", '<article class="edited">')
    result = site.run()
    assert result.code == 0, result.err
    pages = {html_of(p.relative_to(site.root).as_posix()) for p in site.root.rglob("*.md")}
    assert {line.split()[0] for line in result.trace} == {"render"}
    assert len(result.trace) == len(pages)  # one render per page, no parse, no summary
    after = site.files()
    assert rewritten(before, after) == pages  # not the index, tag pages, feed or sitemap
    assert all(b'<article class="edited">' in after[page][1] for page in pages)


def test_outputs_deleted_by_hand_are_rendered_again_from_a_cache_that_holds_no_page(
    tmp_path: Path,
) -> None:
    """The renders are stored without their values (``persist_value=False``): the
    cache holds no page's bytes, and an output deleted by hand executes its
    render, and only that, from cached parsed Markdown, to the same bytes."""
    site = built(tmp_path)
    before = site.files()
    page = html_of(a_page(site, 4))
    cache = (site.root / ".sofrito" / "cache.db").read_bytes()
    assert before[page][1][-2000:] not in cache
    assert before["index.html"][1][-2000:] not in cache
    (site.out / page).unlink()
    (site.out / "index.html").unlink()
    result = site.run()
    assert result.code == 0, result.err
    assert result.trace == ["index", f"render {a_page(site, 4)}"]
    assert result.counts["written"] == 2
    assert {path: data for path, (_, data) in site.files().items()} == {
        path: data for path, (_, data) in before.items()
    }


def test_a_deleted_source_deletes_its_output_and_leaves_the_index(tmp_path: Path) -> None:
    site = built(tmp_path)
    page = a_page(site, 8)
    title = re.search(r"title: '(.*)'", (site.root / page).read_text())
    assert title is not None
    (site.root / page).unlink()
    result = site.run()
    assert result.code == 0, result.err
    assert result.counts["deleted"] == 1
    assert not (site.out / html_of(page)).exists()
    assert title.group(1) not in (site.out / "index.html").read_text()


def test_a_page_with_broken_front_matter_fails_alone_named_by_file_and_line(
    tmp_path: Path,
) -> None:
    site = Site(tmp_path / "site")
    generate.generate(site.root, PAGES, seed=7)
    page = a_page(site, 2)
    site.edit(page, "\ndate: ", "\nthis is: not: yaml\ndate: ")  # line 3, after the title
    result = site.run()
    assert result.code == 1
    failed = [line for line in result.err.splitlines() if "failed:" in line]
    assert len(failed) == 1
    problem = "broken front matter: mapping values are not allowed here"
    assert f"{html_of(page)}: FrontMatterError: {page}:3: {problem}" in failed[0]
    assert "Traceback" not in result.err
    assert result.counts["failed"] == 1
    assert result.counts["written"] == len(site.files())  # every other output was written
    assert not (site.out / html_of(page)).exists()
    site.edit(page, "\nthis is: not: yaml\n", "\n")
    fixed = site.run()
    assert fixed.code == 0, fixed.err
    assert (site.out / html_of(page)).exists()
    assert fixed.trace.count(f"parsed {page}") == 1  # the others were kept from the failed run
    assert sum(line.startswith("parsed") for line in fixed.trace) == 1


def test_the_generator_is_deterministic_and_rewrites_nothing_the_second_time(
    tmp_path: Path,
) -> None:
    assert generate.corpus(50, seed=3) == generate.corpus(50, seed=3)
    assert generate.corpus(50, seed=3) != generate.corpus(50, seed=4)
    assert generate.generate(tmp_path, 10, seed=1) > 10
    assert generate.generate(tmp_path, 10, seed=1) == 0


def added_page(site: Site, next_to: int) -> str:
    """A new page in the folder of page ``next_to``, dated as it (so it lands among
    the pages, not at an end) and linking to it; its relpath."""
    target = a_page(site, next_to)
    date = re.search(r"date: (\S+)", (site.root / target).read_text())
    assert date is not None
    new = f"{target.rpartition('/')[0]}/zz-added.md"
    (site.root / new).write_text(
        f"---\ntitle: 'A page added'\ndate: {date.group(1)}\ntags: [python]\n---\n\n"
        f"See [the page next to it]({target.rpartition('/')[2]}).\n"
    )
    return new


def from_scratch(site: Site, where: Path) -> dict[str, bytes]:
    """The outputs of a first build of ``site``'s sources, in a folder of their own."""
    fresh = Site(where)
    shutil.rmtree(where, ignore_errors=True)
    shutil.copytree(site.root, where, ignore=shutil.ignore_patterns(".sofrito", "_site"))
    result = fresh.run()
    assert result.code == 0, result.err
    return {path: data for path, (_, data) in fresh.files().items()}


def test_after_each_edit_the_site_equals_a_build_from_scratch_of_the_same_sources(
    tmp_path: Path,
) -> None:
    site = Site(tmp_path / "site")
    generate.generate(site.root, 300, seed=11)
    assert site.run().code == 0
    title = re.search(r"title: '(.*)'", (site.root / a_page(site, 5)).read_text())
    assert title is not None
    steps = {
        "body edit": lambda: site.edit(a_page(site, 3), "\n## ", "\nA new paragraph.\n\n## "),
        "title edit": lambda: site.edit(a_page(site, 5), title.group(0), "title: 'Renamed'"),
        "page added": lambda: added_page(site, 7),
        "page deleted": (site.root / a_page(site, 8)).unlink,
        "added page deleted": lambda: next(site.root.rglob("zz-added.md")).unlink(),
        "template edit": lambda: site.edit("templates/page.html", "<article>", "<article id=x>"),
    }
    for step, edit in steps.items():
        edit()
        result = site.run()
        assert result.code == 0, f"{step}: {result.err}"
        built = {path: data for path, (_, data) in site.files().items()}
        expected = from_scratch(site, tmp_path / "scratch")
        assert built.keys() == expected.keys(), step
        assert [path for path in built if built[path] != expected[path]] == [], step


def test_a_page_added_re_executes_the_links_of_a_few_pages(
    tmp_path: Path,
) -> None:
    site = built(tmp_path)
    before = site.files()
    new = added_page(site, 7)
    result = site.run()
    assert result.code == 0, result.err
    # order and link_index change for every page, but each page reads its shard of
    # them: only the pages of the shards that changed look again (35 pages before)
    assert sum(line.startswith("links ") for line in result.trace) <= 16  # neighbours, backlinks
    assert f"render {new}" in result.trace
    assert f"render {a_page(site, 7)}" in result.trace  # its backlinks
    written = rewritten(before, site.files())
    assert html_of(a_page(site, 7)) in written
    assert len({path for path in written if path.count("/") and "tags/" not in path}) <= 4


def test_the_outputs_of_ascii_sources_are_ascii(tmp_path: Path) -> None:
    """The templates write their arrows and dots as entities: a page of ASCII
    sources renders to an ASCII ``str``, held in a byte a character until the
    commit and pickled as it is, where one arrow made the whole page two bytes
    a character (at 10,000 pages, 40 MB more of a first build's peak)."""
    site = built(tmp_path)
    sources = [path.read_bytes() for path in (site.root / "content").rglob("*.md")]
    assert all(source.isascii() for source in sources)
    pages = {path: data for path, (_, data) in site.files().items() if path.endswith(".html")}
    assert [path for path, data in pages.items() if not data.isascii()] == []
    shown = b"".join(pages.values())
    assert b"&larr; " in shown
    assert b" &rarr;</a>" in shown
    assert b" &middot; " in shown


def _flow() -> ModuleType:
    return load("site_flow", SITE / "flow.py")


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 6, 7])
def test_the_heading_anchors_are_byte_for_byte_those_of_the_anchors_plugin(depth: int) -> None:
    """The flow writes the headings' ids and permalinks itself (``_anchor_ids``,
    ``_heading_close``) instead of mdit_py_plugins' ``anchors_plugin``, whose
    tokens cost a sixth of a parse: the HTML and the table of contents' ids
    stay those of the plugin, for repeated, empty, setext, quoted, listed,
    footnoted, marked-up and non-ASCII headings, at every depth."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.anchors import anchors_plugin
    from mdit_py_plugins.footnote import footnote_plugin

    flow = _flow()
    ours = flow._markdown(depth)
    plugin = MarkdownIt("commonmark", {"highlight": flow._highlight}).enable("table")
    plugin.use(anchors_plugin, max_level=depth, permalink=True, permalinkSymbol="&para;")
    plugin.use(footnote_plugin)
    plugin.add_render_rule("footnote_anchor", flow._footnote_anchor)
    pages = [
        "# Title\n\n## Title\n\n## Title\n\n### a-1\n\n#### Four\n\n###### Six\n",
        "#\n\n## `code` and *em* [a link](b.md)\n\ntext\n",
        "Setext\n===\n\nTwo\n---\n\n> ## quoted\n\n- ## listed\n\nA note[^1].\n\n[^1]: ## noted\n",
        "## <b>&amp; é 中文 -- x</b>\n\n## Ünïcode\n\n```python\n# not a heading\n```\n",
    ]
    for page in pages:
        mine, theirs = ours.parse(page), plugin.parse(page)
        assert ours.renderer.render(mine, ours.options, {}) == plugin.renderer.render(
            theirs, plugin.options, {}
        )
        ids = [[token.attrs.get("id") for token in tokens] for tokens in (mine, theirs)]
        assert ids[0] == ids[1]
    assert 'id="title-1"' in ours.render(pages[0]) or depth < 2


_flow_once = functools.cache(_flow)


def _typed(value: Any) -> Any:
    """``value`` with the type of each part beside it: ``True`` and ``1``, or a
    date and its string, must not compare equal here."""
    if isinstance(value, dict):
        return {(type(key), key): _typed(part) for key, part in value.items()}
    if isinstance(value, list):
        return [_typed(part) for part in value]
    return (type(value), value)


_PLAIN_TEXT = st.lists(st.sampled_from([*"aZ09 _-.,()!?"]), max_size=10).map("".join)
_ANY_TEXT = st.lists(
    st.sampled_from([*"aZ09 _-.,()!?'\"#:\\[]{}\t\r\x85\u2028é~", "''"]), max_size=10
).map("".join)
_NEAR_TEXT = st.lists(st.sampled_from([*"a :#-'\""]), max_size=6).map("".join)
_TEXT = st.one_of(_PLAIN_TEXT, _PLAIN_TEXT, _NEAR_TEXT, _ANY_TEXT)  # mostly shapes it takes
_WORDS = st.sampled_from(["a", "web", "x-y", "on", "No", "1", "a b", "", "'q'"])
_VALUES = st.one_of(
    _TEXT.map(lambda text: f"'{text}'"),
    _TEXT.map(lambda text: f'"{text}"'),
    _TEXT.map(lambda text: f"a{text}"),
    _TEXT,
    st.tuples(st.integers(0, 10000), st.integers(0, 13), st.integers(0, 32)).map(
        lambda d: f"{d[0]:04d}-{d[1]:02d}-{d[2]:02d}"
    ),
    st.lists(_WORDS, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
    st.sampled_from(["yes", "Off", "NULL", "y", "~", "12", "1.5", ".inf", "true story", "a: b"]),
)
_KEYS = st.one_of(
    st.sampled_from(["title", "date", "tags", "description"]),
    st.sampled_from(["title", "on", "Yes", "null", "a b", "1x", "_x"]),
)
_LINES = st.one_of(
    *[st.tuples(_KEYS, _VALUES).map(lambda pair: f"{pair[0]}: {pair[1]}")] * 4,
    st.sampled_from(["", "# a comment", "  indented: x", "...", "title:", "title : x", "x: y "]),
)


@settings(max_examples=1000, deadline=None)  # the first example loads the flow
@given(st.lists(_LINES, max_size=4))
@example(["title: 'It''s a title (1)'", "date: 2024-05-01", "tags: [a, web]", "b: Plain, words"])
@example(['title: "It\'s"', "date: 2023-02-29", "tags: []"])
def test_the_front_matter_read_without_pyyaml_is_what_pyyaml_reads(lines: list[str]) -> None:
    """``_plain_front_matter`` reads the lines pages use (quoted text, dates, lists
    of words) without PyYAML, and gives up (None) on anything else: where it
    answers, ``yaml.safe_load`` gives the same keys and values of the same types
    (``on``, ``yes`` and ``null`` are not strings to PyYAML, an invalid date
    fails it, a ``#`` or ``: `` means something in a plain word)."""
    import yaml

    for front in [*(f"{line}\n" for line in lines), "\n".join(lines) + "\n"]:
        ours = _flow_once()._plain_front_matter(front)
        if ours is not None:
            assert _typed(ours) == _typed(yaml.safe_load(front)), front


def test_the_generated_pages_are_read_without_importing_pyyaml(tmp_path: Path) -> None:
    """Every generated page's front matter has the plain shapes, so ``meta``
    never imports PyYAML (a body edit's run does not load it) and gives the
    ``Meta`` PyYAML's reading gives; a page with a comment in its front matter
    is read by PyYAML, as before."""
    generate.generate(tmp_path, 40, seed=5)
    pages = sorted(str(path) for path in (tmp_path / "content").rglob("*.md"))
    commented = tmp_path / "content" / "commented.md"
    commented.write_text("---\ntitle: A # not the title\ndate: 2024-05-01\n---\nBody\n")
    script = (
        "import importlib.util, sys, json\n"
        f"spec = importlib.util.spec_from_file_location('f', {str(SITE / 'flow.py')!r})\n"
        "flow = importlib.util.module_from_spec(spec); spec.loader.exec_module(flow)\n"
        "pages = json.loads(sys.argv[1])\n"
        "metas = [flow.front_matter(p, open(p).read()) for p in pages]\n"
        "print('yaml' in sys.modules)\n"
        "flow.front_matter('c.md', open(sys.argv[2]).read())\n"
        "print('yaml' in sys.modules)\n"
    )
    import json

    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(pages), str(commented)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["False", "True"]
    import yaml

    flow = _flow_once()
    for page in pages:
        text = Path(page).read_text()
        front = flow._split(text)[0]
        assert flow._plain_front_matter(front) is not None, page
        assert flow.front_matter(page, text) == flow._checked(page, yaml.safe_load(front))
    assert flow.front_matter("c.md", commented.read_text()).title == "A"
