"""A static site from Markdown, built incrementally: ``sofrito run examples/site/flow.py``.

Sources (relative to this file): ``content/**/*.md`` (Markdown with YAML
front matter), ``templates/*`` (Jinja2), ``static/**`` (copied as
is) and ``site.toml`` (the configuration). Outputs: a page per source
(``content/a/b.md`` -> ``a/b.html``) with its table of contents,
backlinks and previous/next links; ``index.html``; a page per tag and
``tags/index.html``; ``feed.xml`` (Atom); ``sitemap.xml``; ``pygments.css``.

The queries are cut so that an edit re-executes only what it reaches
(docs/site.md says what each edit does):

- ``meta`` (front matter) and ``body`` (the Markdown after it) both read the
  file, but each returns only its half: a title edit re-executes ``body``,
  whose value is equal, so ``parsed`` is cut off and nothing is re-parsed.
- ``parsed`` (HTML body, table of contents, outgoing links) is separate from
  ``render`` (the template applied): a template edit re-renders every page
  from its cached ``parsed``.
- ``summary`` (title, url, date, tags, description, links) is what the
  index, tags, feed, sitemap, backlinks and neighbours read, never a body: a
  body edit that leaves the summary equal stops there.
- The site-wide indexes (``order``, ``tag_index``, ``link_index``) read
  every summary but return only what their readers need, and per-page
  readers (``links``: a page's neighbours and backlinks, ``tag_page``) read
  the summaries of the pages they show: a title change reaches the pages
  showing it.
- ``links`` reads the indexes through a shard of each
  (``neighbour_shard``, ``link_shard``: the pages whose path hashes to one
  of 128 pieces), not the whole index: a page added or deleted changes
  ``order`` for everyone, but only a few shards, so only the pages in those
  re-execute, and only those whose neighbours or backlinks changed render
  again. (Reading the whole ``order`` made each of 10,000 pages re-execute,
  and look itself up in it, on every page added.)

Markdown-it, Jinja2, Pygments, PyYAML and tomllib are imported inside the
queries that use them, so a run where nothing changed never imports them (PyYAML
only for a front matter whose lines are not the plain ones
``_plain_front_matter`` reads itself, 6 us where PyYAML took 30). A page
whose front matter is broken fails alone: its render raises
``FrontMatterError`` naming ``file:line``; the site-wide pages leave it out.

``SITE_TRACE=FILE`` (for tests) appends a line per execution of the main
queries to FILE, to count what a run executed; with ``SITE_TRACE_PIDS=1``
each line ends with the process id, to tell a worker's executions
(``--jobs N``) from the run's own.
"""

# ruff: noqa: PLC0415 (the packages are imported by the queries that use them, on purpose)

from __future__ import annotations

import datetime as dt
import functools
import os
import posixpath
import re
import zlib
from typing import Any, NamedTuple

import sofrito as sf

SOURCES = ["content/**/*.md", "templates/*", "static/**", "site.toml"]
PAGES = "content/**/*.md"


class FrontMatterError(ValueError):
    """A page's front matter cannot be used; the message starts with ``file:line``."""


class Meta(NamedTuple):
    """A page's front matter, checked; ``error`` instead when it is broken."""

    title: str = ""
    date: str = ""
    tags: tuple[str, ...] = ()
    description: str = ""
    error: str | None = None


class Summary(NamedTuple):
    """What other pages show of a page: never its body."""

    path: str
    url: str
    title: str
    date: str
    tags: tuple[str, ...]
    description: str
    links: tuple[str, ...]


class Parsed(NamedTuple):
    """A page's Markdown as HTML, its table of contents and the pages it links to."""

    html: str
    toc: tuple[tuple[int, str, str], ...]  # (level, anchor, text)
    links: tuple[str, ...]  # source paths, e.g. content/guide/b.md


class Link(NamedTuple):
    title: str
    url: str


# -- tracing, for tests ------------------------------------------------------


_TRACE = os.environ.get("SITE_TRACE")
"""Read once, as the flow is loaded: five queries of every page trace, and a
lookup in ``os.environ`` is a microsecond (50 ms of a 10,000-page build)."""


def _trace(what: str, key: str = "") -> None:
    if _TRACE:
        where = f" pid={os.getpid()}" if os.environ.get("SITE_TRACE_PIDS") else ""
        with open(_TRACE, "a", encoding="utf-8") as file:
            file.write(f"{what} {key}{where}\n")


# -- configuration -------------------------------------------------------------


@sf.query
def config(db: Any) -> dict[str, Any]:
    """``site.toml``, parsed."""
    import tomllib  # 8 M instructions, 1.5 ms: only a run that reads site.toml pays them

    return tomllib.loads(sf.fs.file(db, "site.toml").decode())


class Site(NamedTuple):
    """What templates show of the configuration.

    A tuple with fields, not a dict: Jinja reads ``site.title`` with
    ``getattr`` first and falls back to ``[]`` only after an
    ``AttributeError``, which a dict raised for each of the five or six
    reads of a page (about 6% of a render's time in Jinja)."""

    title: str
    description: str
    author: str
    base_url: str
    feed_entries: int


@sf.query
def site(db: Any) -> Site:
    """What templates show of the configuration (not the Markdown settings)."""
    cfg = config(db)
    return Site(
        title=cfg.get("title", "A sofrito site"),
        description=cfg.get("description", ""),
        author=cfg.get("author", ""),
        base_url=cfg.get("base_url", "http://localhost:8000/").rstrip("/") + "/",
        feed_entries=int(cfg.get("feed", {}).get("entries", 20)),
    )


@sf.query
def markdown_options(db: Any) -> dict[str, Any]:
    """The Markdown settings alone: editing the site's title re-parses nothing."""
    options = config(db).get("markdown", {})
    return {"toc_depth": int(options.get("toc_depth", 3))}


# -- one page: source, front matter, Markdown ----------------------------------


def output_path(path: str) -> str:
    """``content/a/b.md`` -> ``a/b.html``."""
    return path.removeprefix("content/").removesuffix(".md") + ".html"


def _split(text: str) -> tuple[str | None, str]:
    """(the front matter, or None if the page has none; the Markdown after it).

    An unclosed ``---`` block is all front matter, which ``meta`` reports.
    """
    text = text.replace("\r\n", "\n")
    if not text.startswith("---\n"):
        return None, text
    end = (text + "\n").find("\n---\n", 3)
    if end == -1:
        return text[4:], ""
    return text[4 : end + 1], text[end + 5 :]


@sf.query
def meta(db: Any, path: str) -> Meta:
    """The page's front matter, checked; a broken one is a ``Meta`` with ``error``."""
    _trace("meta", path)
    return front_matter(path, sf.fs.file(db, path).decode())


def front_matter(path: str, text: str) -> Meta:
    """``meta``'s work, apart from the engine (benchmarks time it alone)."""
    front, _ = _split(text)
    if front is None:
        return Meta(error=f"{path}:1: no front matter (a '---' block with a title and a date)")
    if (text.replace("\r\n", "\n") + "\n").find("\n---\n", 3) == -1:
        return Meta(error=f"{path}:1: the front matter's '---' block is never closed")
    plain = _plain_front_matter(front)
    if plain is not None:
        return _checked(path, plain)
    import yaml

    # libyaml's safe loader when PyYAML has it (8x faster); a broken block is
    # read again by the Python one, whose messages the docs show
    fast = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        try:
            data = yaml.load(front, Loader=fast) or {}  # a safe loader
        except yaml.YAMLError:
            data = yaml.safe_load(front) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = 2 + (mark.line if mark is not None else 0)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return Meta(error=f"{path}:{at}: broken front matter: {problem}")
    return _checked(path, data)


_NAME = r"[A-Za-z][A-Za-z0-9_-]*"
_PLAIN_LINE = re.compile(
    rf"(?P<key>{_NAME}): (?:"
    r"'(?P<single>(?:[ -&(-~]|'')*)'"  # printable ASCII, '' for '
    r'|"(?P<double>[ !#-\[\]-~]*)"'  # printable ASCII but " and \
    r"|(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d)"
    rf"|\[(?P<items>(?:{_NAME}(?:, {_NAME})*)?)\]"
    r"|(?P<plain>[A-Za-z](?:[A-Za-z0-9 _.,()!?-]*[A-Za-z0-9_.()!?-])?)"
    r")"
)
_YAML_WORDS = frozenset(
    [
        *("yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE"),
        *("false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"),
        *("null", "Null", "NULL", "y", "Y", "n", "N"),
    ]
)
"""Plain words YAML 1.1 (PyYAML) reads as booleans or null, not as strings
(``y`` and ``n`` are strings to PyYAML, here only to be safe)."""


def _plain_front_matter(front: str) -> dict[str, Any] | None:
    """The front matter as ``yaml.safe_load`` reads it, when each line has one of
    the shapes pages use (``key: 'text'``, ``key: "text"``, ``key: 2024-05-01``,
    ``key: [a, b]``, ``key: plain words``); None for anything else, which PyYAML
    then reads.

    libyaml's loader takes about 30 us a page, most of it PyYAML's Python
    resolver and constructor (about 0.3 s of a 10,000-page build); these lines
    take 6, and a site whose pages all have them never imports PyYAML. The
    shapes are kept where YAML has nothing to decide: ASCII only, no escapes,
    comments, indentation or trailing spaces, no word PyYAML reads as a
    boolean or null (``_YAML_WORDS``) as a key, a word or a list item, and
    a date only when it is one. tests/examples/test_site.py holds the two
    readers to the same value on generated lines."""
    data: dict[str, Any] = {}
    for line in front.split("\n"):
        if not line:
            continue
        match = _PLAIN_LINE.fullmatch(line)
        if match is None or match["key"] in _YAML_WORDS:
            return None
        value: Any
        if match["single"] is not None:
            value = match["single"].replace("''", "'")
        elif match["double"] is not None:
            value = match["double"]
        elif match["year"] is not None:
            try:
                value = dt.date(int(match["year"]), int(match["month"]), int(match["day"]))
            except ValueError:
                return None
        elif match["items"] is not None:
            value = match["items"].split(", ") if match["items"] else []
            if not _YAML_WORDS.isdisjoint(value):
                return None
        elif match["plain"] in _YAML_WORDS:
            return None
        else:
            value = match["plain"]
        data[match["key"]] = value
    return data or None


def _checked(path: str, data: Any) -> Meta:
    if not isinstance(data, dict):
        return Meta(error=f"{path}:2: the front matter must be a mapping (key: value lines)")
    title, date, tags = data.get("title"), data.get("date"), data.get("tags", [])
    if not isinstance(title, str) or not title.strip():
        return Meta(error=f"{path}:2: the front matter has no 'title'")
    if isinstance(date, dt.datetime):
        date = date.date()
    if not isinstance(date, dt.date):
        return Meta(error=f"{path}:2: the front matter's 'date' must be a date like 2024-05-01")
    if isinstance(tags, str):
        tags = [tag.strip() for tag in tags.split(",") if tag.strip()]
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        return Meta(error=f"{path}:2: the front matter's 'tags' must be a list of names")
    description = str(data.get("description", ""))
    return Meta(title.strip(), date.isoformat(), tuple(tags), description)


@sf.query
def body(db: Any, path: str) -> str:
    """The Markdown after the front matter: a front matter edit leaves it equal."""
    return _split(sf.fs.file(db, path).decode())[1]


@sf.query
def parsed(db: Any, path: str) -> Parsed:
    """The body as HTML (code highlighted), its table of contents and outgoing links."""
    _trace("parsed", path)
    return parse(path, body(db, path), markdown_options(db)["toc_depth"])


def parse(path: str, markdown: str, depth: int) -> Parsed:
    """``parsed``'s work, apart from the engine (benchmarks time it alone)."""
    md = _markdown(depth)
    tokens = md.parse(markdown)
    toc = []
    links = set()
    here = posixpath.dirname(path)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and int(token.tag[1]) <= depth:
            inline = tokens[index + 1]
            toc.append((int(token.tag[1]), str(token.attrs.get("id", "")), inline.content))
        for child in token.children or ():
            href = child.attrs.get("href") if child.type == "link_open" else None
            if isinstance(href, str) and _is_page_link(href):
                target, _, fragment = href.partition("#")
                resolved = posixpath.normpath(posixpath.join(here, target))
                links.add(resolved)
                url = _relative(output_path(resolved), output_path(path))
                child.attrs["href"] = url + (f"#{fragment}" if fragment else "")
    html = md.renderer.render(tokens, md.options, {})
    return Parsed(html, tuple(toc), tuple(sorted(links)))


def _is_page_link(href: str) -> bool:
    return (
        "://" not in href
        and not href.startswith(("/", "#", "mailto:"))
        and (href.partition("#")[0].endswith(".md"))
    )


_MARKDOWN: dict[int, Any] = {}


def _markdown(depth: int) -> Any:
    """One MarkdownIt per process and setting (building one costs more than a page)."""
    md = _MARKDOWN.get(depth)
    if md is None:
        from markdown_it import MarkdownIt
        from mdit_py_plugins.footnote import footnote_plugin

        md = MarkdownIt("commonmark", {"highlight": _highlight}).enable("table")
        # The pilcrow and the footnotes' back arrow as entities, as the
        # templates' arrows: pages of ASCII sources stay ASCII, a byte a
        # character in memory (one arrow makes a whole page two; tests/examples)
        md.core.ruler.push("anchor", functools.partial(_anchor_ids, depth))
        md.add_render_rule("heading_close", _heading_close)
        md.use(footnote_plugin)
        md.add_render_rule("footnote_anchor", _footnote_anchor)
        _MARKDOWN[depth] = md
    return md


def _anchor_ids(depth: int, state: Any) -> None:
    """The headings' ids, as mdit_py_plugins' ``anchors_plugin`` gives them (its
    ``slugify`` and ``unique_slug``), with their permalinks left to
    ``_heading_close``.

    The plugin adds the permalink as four tokens to each heading's inline
    children (a space, ``<a>``, the pilcrow, ``</a>``), which are made, then
    walked by the renderer. Here the permalink's HTML is kept on the
    ``heading_close`` token and written before it: the same bytes in the same
    place, about 9 us a page (4% of its parse and render) fewer."""
    from markdown_it.common.utils import escapeHtml
    from mdit_py_plugins.anchors.index import slugify, unique_slug

    tokens = state.tokens
    slugs = {
        str(heading_id)
        for token in tokens
        if token.type == "heading_open" and (heading_id := token.attrGet("id"))
    }
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or not 1 <= int(token.tag[1]) <= depth:
            continue
        children = tokens[index + 1].children
        title = "".join(
            child.content for child in children if child.type in ("text", "code_inline")
        )
        slug = token.attrGet("id")
        if not slug:
            slug = unique_slug(slugify(title), slugs)
            token.attrSet("id", slug)
        href = escapeHtml(f"#{slug}")
        tokens[index + 2].meta["permalink"] = f' <a class="header-anchor" href="{href}">&para;</a>'


def _heading_close(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """``</hN>``, after the heading's permalink when ``_anchor_ids`` gave it one."""
    close = str(renderer.renderToken(tokens, idx, options, env))
    return str(tokens[idx].meta.get("permalink", "")) + close


def _footnote_anchor(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """The footnote plugin's back link, its arrow (and the variation selector
    that keeps it from showing as an emoji) written as character references."""
    from mdit_py_plugins.footnote.index import render_footnote_anchor

    html = render_footnote_anchor(renderer, tokens, idx, options, env)
    return str(html).replace("\u21a9\ufe0e", "&#x21a9;&#xfe0e;")


class _CodeBlock(NamedTuple):
    """What a code block in one language needs, made once per process and language."""

    highlight: Any  # pygments.highlight
    lexer: Any
    formatter: Any  # the one HtmlFormatter
    opening: str  # <pre class="highlight"><code class="language-...">


_CODE_BLOCKS: dict[str, _CodeBlock] = {}
_FORMATTER: list[Any] = []


def _highlight(code: str, language: str, _attrs: str) -> str:
    """A code block, highlighted. The lexer and the formatter are made once per
    process: a new ``HtmlFormatter`` builds its style sheet, which cost more than
    highlighting the block (40% of a cold build's own time). So is the rest of
    what does not depend on the code (the import, the block's opening tags with
    the escaped language): 1-3 us of the 110 a block."""
    block = _CODE_BLOCKS.get(language)
    if block is None:
        block = _CODE_BLOCKS[language] = _code_block(language)
    spans = block.highlight(code, block.lexer, block.formatter)
    # starting with <pre, markdown-it takes it as the whole block
    return f"{block.opening}{spans}</code></pre>\n"


def _code_block(language: str) -> _CodeBlock:
    from pygments import highlight
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    opening = f'<pre class="highlight"><code class="language-{escape_attribute(language)}">'
    return _CodeBlock(highlight, lexer, _formatter(), opening)


def _formatter() -> Any:
    if not _FORMATTER:
        from pygments.formatters import HtmlFormatter

        _FORMATTER.append(HtmlFormatter(nowrap=True))
    return _FORMATTER[0]


def escape_attribute(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_+-]", "", text)


@sf.query
def summary(db: Any, path: str) -> Summary | None:
    """What other pages show of ``path``; None when its front matter is broken."""
    _trace("summary", path)
    page = meta(db, path)
    if page.error is not None:
        return None
    links = parsed(db, path).links
    return Summary(
        path, output_path(path), page.title, page.date, page.tags, page.description, links
    )


# -- the site-wide indexes -----------------------------------------------------


@sf.query
def order(db: Any) -> tuple[str, ...]:
    """The good pages, newest first (then by path): the index's and neighbours' order."""
    _trace("order")
    paths = sf.fs.glob(db, PAGES)
    # Gathered: the loop's reads, but the keys are independent, so with workers
    # (``sofrito run --jobs N``) every page's parse and summary is computed by
    # them, not here (docs/parallel.md).
    dated = []
    for path, info in zip(paths, sf.gather(db, summary, [(path,) for path in paths]), strict=True):
        if info is not None:
            dated.append((info.date, path))
    dated.sort(key=lambda item: (_reverse(item[0]), item[1]))
    return tuple(path for _, path in dated)


def _reverse(date: str) -> tuple[int, ...]:
    return tuple(-int(part) for part in date.split("-"))


@sf.query
def tag_index(db: Any) -> dict[str, tuple[str, ...]]:
    """Tag -> its pages, in ``order``."""
    _trace("tag_index")
    tags: dict[str, list[str]] = {}
    for path in order(db):
        info = summary(db, path)
        assert info is not None  # order holds good pages only
        for tag in info.tags:
            tags.setdefault(tag, []).append(path)
    return {tag: tuple(paths) for tag, paths in sorted(tags.items())}


@sf.query
def tag_names(db: Any) -> tuple[str, ...]:
    """The tags in use: what ``main`` needs to know to list the tag pages."""
    return tuple(tag_index(db))


@sf.query
def link_index(db: Any) -> dict[str, tuple[str, ...]]:
    """Page -> the good pages that link to it."""
    _trace("link_index")
    linked: dict[str, list[str]] = {}
    for path in order(db):
        info = summary(db, path)
        assert info is not None
        for target in info.links:
            if target != path:
                linked.setdefault(target, []).append(path)
    return {target: tuple(sorted(paths)) for target, paths in linked.items()}


def _link(db: Any, path: str) -> Link:
    info = summary(db, path)
    assert info is not None
    return Link(info.title, info.url)


SHARDS = 128
"""How many pieces ``neighbour_shard`` and ``link_shard`` cut the site-wide indexes into."""


def shard_of(path: str) -> int:
    """The piece of the indexes that holds ``path`` (the same in every process)."""
    return zlib.crc32(path.encode()) % SHARDS


@sf.query
def neighbour_shards(db: Any) -> tuple[dict[str, tuple[str | None, str | None]], ...]:
    """Per shard, each page's newer and older page in ``order``, by path."""
    pages = order(db)
    shards: list[dict[str, tuple[str | None, str | None]]] = [{} for _ in range(SHARDS)]
    for at, path in enumerate(pages):
        newer = pages[at - 1] if at > 0 else None
        older = pages[at + 1] if at + 1 < len(pages) else None
        shards[shard_of(path)][path] = (newer, older)
    return tuple(shards)


@sf.query
def neighbour_shard(db: Any, shard: int) -> dict[str, tuple[str | None, str | None]]:
    """One piece of ``neighbour_shards``: equal again unless one of its pages moved
    next to another, so a page added or deleted re-executes the ``links`` of a
    few shards, not of every page."""
    return neighbour_shards(db)[shard]


@sf.query
def link_shards(db: Any) -> tuple[dict[str, tuple[str, ...]], ...]:
    """``link_index`` cut by the shard of each target."""
    shards: list[dict[str, tuple[str, ...]]] = [{} for _ in range(SHARDS)]
    for target, sources in link_index(db).items():
        shards[shard_of(target)][target] = sources
    return tuple(shards)


@sf.query
def link_shard(db: Any, shard: int) -> dict[str, tuple[str, ...]]:
    """One piece of ``link_shards`` (as ``neighbour_shard``): a new link re-executes
    the ``links`` of its target's shard only."""
    return link_shards(db)[shard]


class PageLinks(NamedTuple):
    """What a page shows of the pages around it: its neighbours and its backlinks."""

    newer: Link | None
    older: Link | None
    backlinks: tuple[Link, ...]


@sf.query
def links(db: Any, path: str) -> PageLinks:
    """The newer and the older page next to ``path``, and the pages linking to it,
    with the titles they have now: reads the summaries it shows and the shards
    of ``path`` only, so a change of ``order`` elsewhere cuts off early.

    One query, not one for the neighbours and one for the backlinks: a render
    reads both, and a template edit loads every render's reads (10,000 rows
    fewer to load, store and link)."""
    _trace("links", path)
    shard = shard_of(path)
    newer, older = neighbour_shard(db, shard).get(path, (None, None))
    return PageLinks(
        _link(db, newer) if newer is not None else None,
        _link(db, older) if older is not None else None,
        tuple(_link(db, source) for source in link_shard(db, shard).get(path, ())),
    )


# -- templates -----------------------------------------------------------------


@sf.query
def template_closure(db: Any, name: str) -> tuple[tuple[str, str], ...]:
    """``name``'s source and those of the templates it extends or includes.

    A render reads the closure of its own template only: an edit to
    ``tag.html`` re-renders the tag pages, not every page.
    """
    import jinja2
    import jinja2.meta

    env = jinja2.Environment()
    seen: dict[str, str] = {}
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        source = sf.fs.file(db, f"templates/{current}").decode()
        seen[current] = source
        for child in jinja2.meta.find_referenced_templates(env.parse(source)):
            if isinstance(child, str):
                todo.append(child)
    return tuple(sorted(seen.items()))


_TEMPLATES: dict[tuple[tuple[tuple[str, str], ...], str], Any] = {}


def _template(sources: tuple[tuple[str, str], ...], name: str) -> Any:
    """The compiled template, cached per process by the sources themselves.

    A template edit renders every page, so this is asked 10,000 times in a
    run: the key is ``template_closure``'s value, the same tuple object for
    every render (a dict lookup hashes it, and finds it by identity), where
    a digest of the sources cost a ``repr`` and a SHA-256 per page, and
    Jinja's ``get_template`` a check of the loader per page."""
    template = _TEMPLATES.get((sources, name))
    if template is None:
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.DictLoader(dict(sources)),
            autoescape=jinja2.select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # one environment per set of sources: nothing to reload
        )
        template = _TEMPLATES[(sources, name)] = env.get_template(name)
    return template


class Nav(NamedTuple):
    """The site-wide links of every page's header (``base.html``), relative to the
    page's folder."""

    style: str
    pygments: str
    feed: str
    index: str
    tags: str


class Shown(NamedTuple):
    """A link to another page as a page shows it: its title, and the href from
    the showing page's folder."""

    title: str
    href: str


@functools.lru_cache(maxsize=1 << 12)
def _nav(folder: str) -> Nav:
    """``Nav`` for the pages of ``folder``: the same for all of them."""
    return Nav(
        _relative_from(folder, "style.css"),
        _relative_from(folder, "pygments.css"),
        _relative_from(folder, "feed.xml"),
        _relative_from(folder, "index.html"),
        _relative_from(folder, "tags/index.html"),
    )


def _render(db: Any, name: str, own: str, **values: Any) -> str:
    """Render template ``name`` for the output ``own``.

    Every link a template shows comes worked out, relative to ``own``'s folder
    (``nav``, and the ``href`` of each page or tag it lists): templates call
    no function. A call in a template goes through Jinja's ``Context.call``
    (about 1.5 us: it looks for ``pass_context`` and the like on the callee
    each time), and a page made 10 to 15 of them, a fifth of its render."""
    template = _template(template_closure(db, name), name)
    return str(template.render(site=site(db), nav=_nav(posixpath.dirname(own)), **values))


def _relative(url: str, own: str) -> str:
    """The link from the output ``own`` to the output ``url`` (both site-relative)."""
    return _relative_from(posixpath.dirname(own), url)


@functools.lru_cache(maxsize=1 << 16)
def _relative_from(start: str, url: str) -> str:
    """The link from the folder ``start`` to the output ``url``, worked out once per
    process: a page asks for about 15 links (the style sheets, the feed, its
    tags, neighbours and backlinks), most of them the same for every page of
    its folder, and a template edit renders 10,000 pages.

    Most of those a template edit asks for are asked once all the same (a
    page's neighbours and backlinks, each page the index and the tag pages
    list: 54,000 at 10,000 pages), so a link to a page is its folder's link
    (``_folder_link``, once per pair of folders) and its name, when both
    paths are plain (``_plain_path``) and ``url`` is not ``start`` or above it;
    anything else takes ``_relative_parts``."""
    folder, _, name = url.rpartition("/")
    if name and _plain_path(url) and _plain_path(start) and not f"{start}/".startswith(f"{url}/"):
        link = _folder_link(start, folder)
        return f"{link}/{name}" if link else name
    return _relative_parts(start, url)


def _plain_path(path: str) -> bool:
    """Relative, with no empty, ``.`` or ``..`` part (``""`` is the site's root)."""
    if not path:
        return True
    around = f"/{path}/"
    return "//" not in around and "/./" not in around and "/../" not in around


@functools.lru_cache(maxsize=1 << 12)
def _folder_link(start: str, folder: str) -> str:
    """The link from the folder ``start`` to the folder ``folder`` (both plain): ""
    for the same folder, else its parts joined (``_relative_parts``' steps)."""
    start_parts = start.split("/") if start else []
    folder_parts = folder.split("/") if folder else []
    common = len(posixpath.commonprefix([start_parts, folder_parts]))
    return "/".join([".."] * (len(start_parts) - common) + folder_parts[common:])


def _relative_parts(start: str, url: str) -> str:
    """``posixpath.relpath`` without its ``abspath`` (a ``getcwd`` per call): the
    same steps on the parts, for paths with no ``.`` or ``..`` part."""
    start_parts = [part for part in start.split("/") if part]
    url_parts = [part for part in url.split("/") if part]
    if url.startswith("/") or start.startswith("/") or {".", ".."} & {*start_parts, *url_parts}:
        return posixpath.relpath(url, start or ".")
    common = len(posixpath.commonprefix([start_parts, url_parts]))
    parts = [".."] * (len(start_parts) - common) + url_parts[common:]
    return "/".join(parts) if parts else "."


# -- the outputs ---------------------------------------------------------------
#
# A rendered output is written to its file, and sofrito run compares bytes
# before it writes: the cache need not hold it too. So the queries that render
# outputs are stored with their reads and revisions but not their values
# (``persist_value=False``, docs/concepts.md): at 10,000 pages, 40 MB fewer
# in the cache. A later run verifies them without executing; one executes
# again only when its output is asked for (a file deleted or edited by hand).


@sf.query(persist_value=False)
def render(db: Any, path: str) -> str:
    """The page ``path``: its parsed body in ``page.html``, with what links it to others.

    It reads ``meta`` only when the page is broken (``summary`` is None then):
    ``summary`` holds what the page shows of it, and a template edit loads
    every render's reads, so one read fewer is 10,000 rows fewer to load."""
    _trace("render", path)
    info = summary(db, path)
    if info is None:
        raise FrontMatterError(meta(db, path).error)
    content = parsed(db, path)
    around = links(db, path)
    own = output_path(path)
    here = posixpath.dirname(own)
    return _render(
        db,
        "page.html",
        own,
        page=info,
        tags=tuple((tag, _relative_from(here, tag_url(tag))) for tag in info.tags),
        content=content.html,
        toc=content.toc,
        backlinks=tuple(_shown(here, link) for link in around.backlinks),
        newer=None if around.newer is None else _shown(here, around.newer),
        older=None if around.older is None else _shown(here, around.older),
    )


def _shown(here: str, link: Link) -> Shown:
    return Shown(link.title, _relative_from(here, link.url))


@functools.lru_cache(maxsize=1 << 12)
def tag_url(tag: str) -> str:
    """The output of the tag page for ``tag``."""
    slug = re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-") or "tag"
    return f"tags/{slug}.html"


def _links(db: Any, paths: tuple[str, ...]) -> list[Summary]:
    found = [summary(db, path) for path in paths]
    return [info for info in found if info is not None]


def _listed(db: Any, paths: tuple[str, ...], own: str) -> list[tuple[Summary, str]]:
    """The good pages of ``paths``, each with its href from the output ``own``."""
    here = posixpath.dirname(own)
    return [(info, _relative_from(here, info.url)) for info in _links(db, paths)]


@sf.query(persist_value=False)
def index(db: Any) -> str:
    """Every good page, newest first."""
    _trace("index")
    return _render(db, "index.html", "index.html", pages=_listed(db, order(db), "index.html"))


@sf.query(persist_value=False)
def tag_page(db: Any, tag: str) -> str:
    """The pages tagged ``tag``."""
    _trace("tag_page", tag)
    own = tag_url(tag)
    pages = _listed(db, tag_index(db)[tag], own)
    return _render(db, "tag.html", own, tag=tag, pages=pages)


@sf.query(persist_value=False)
def tags_overview(db: Any) -> str:
    """Every tag with its number of pages."""
    _trace("tags_overview")
    own = "tags/index.html"
    here = posixpath.dirname(own)
    counts = [
        (tag, len(paths), _relative_from(here, tag_url(tag)))
        for tag, paths in tag_index(db).items()
    ]
    return _render(db, "tags.html", own, tags=counts)


@sf.query(persist_value=False)
def feed(db: Any) -> str:
    """An Atom feed of the newest pages."""
    _trace("feed")
    info = site(db)
    pages = _links(db, order(db)[: info.feed_entries])
    updated = pages[0].date if pages else "1970-01-01"
    return _render(db, "feed.xml", "feed.xml", pages=pages, updated=updated)


@sf.query(persist_value=False)
def sitemap(db: Any) -> str:
    """Every page's absolute URL and date."""
    _trace("sitemap")
    pages = _links(db, order(db))
    return _render(db, "sitemap.xml", "sitemap.xml", pages=pages)


@sf.query
def pygments_css(db: Any) -> str:
    """The code highlighting's style sheet, in the configured Pygments style."""
    from pygments.formatters import HtmlFormatter

    style = config(db).get("markdown", {}).get("pygments_style", "friendly")
    return str(HtmlFormatter(style=style).get_style_defs(".highlight"))


@sf.query(persist_value=False)
def static(db: Any, path: str) -> bytes:
    return sf.fs.file(db, path)


@sf.query
def main(db: Any) -> dict[str, Any]:
    """Every output: a reference to its render, so an edit runs only the renders it reached."""
    outputs: dict[str, Any] = {
        output_path(path): sf.output(render, path) for path in sf.fs.glob(db, PAGES)
    }
    for path in sf.fs.glob(db, "static/**"):
        outputs[path.removeprefix("static/")] = sf.output(static, path)
    outputs["index.html"] = sf.output(index)
    outputs["tags/index.html"] = sf.output(tags_overview)
    for tag in tag_names(db):
        outputs[tag_url(tag)] = sf.output(tag_page, tag)
    outputs["feed.xml"] = sf.output(feed)
    outputs["sitemap.xml"] = sf.output(sitemap)
    outputs["pygments.css"] = sf.output(pygments_css)
    return outputs
