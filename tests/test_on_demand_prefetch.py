"""``_on_demand.prefetch(rt, calls)``: memos a caller will read, loaded in bulk.

On a store a runtime loads each memo the first time a read needs it, one
store call each (``test_on_demand.py`` holds it to that). A caller that knows
it will read most of them (``sofrito run`` polls every output) asks for them
at once: their rows come in one ``load_memo_rows`` call, and the stored reads
of those a write marked, one call per level of the graph, instead of a call
per memo while verifying. Each test builds a graph on a real SQLite file,
commits, and reopens it as a new process would, through ``RecordingStore``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import sofrito as sf
from sofrito._on_demand import prefetch
from sofrito.stores import RuntimeStore, SqliteStore
from tests.counting_store import RecordingStore

PAGES = 40
_names = itertools.count()


@dataclass
class Site:
    """page(k) reads title(k) and layout(); title(k) reads src[k]; layout() reads theme."""

    src: sf.Input
    theme: sf.Input
    title: Any
    layout: Any
    page: Any
    runs: Counter[str] = field(default_factory=Counter)


def site(prefix: str | None = None, page_version: str | None = None) -> Site:
    prefix = prefix or f"prefetch{next(_names)}"
    runs: Counter[str] = Counter()
    src = sf.Input(f"{prefix}.src")
    theme = sf.Input(f"{prefix}.theme")

    @sf.query(name=f"{prefix}.title")
    def title(db: Any, key: int) -> str:
        runs["title"] += 1
        return str(src(db, key)).split("\n", 1)[0]

    @sf.query(name=f"{prefix}.layout")
    def layout(db: Any) -> str:
        runs["layout"] += 1
        return str(theme(db)).strip()

    @sf.query(name=f"{prefix}.page", version=page_version)
    def page(db: Any, key: int) -> str:
        runs["page"] += 1
        return f"<{layout(db)}>{title(db, key)}</{layout(db)}>"

    return Site(src, theme, title, layout, page, runs)


def built(db: Path, s: Site) -> None:
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="t")
    with rt.batch():
        rt.set(s.theme, "main")
        for key in range(PAGES):
            rt.set(s.src[key], f"Title {key}\nbody")
    for key in range(PAGES):
        s.page(rt, key)
    rt.commit()
    s.runs.clear()


def reopen(db: Path) -> tuple[sf.Runtime, RecordingStore]:
    store = RecordingStore(SqliteStore(db))
    return sf.Runtime(store=cast(RuntimeStore, store), runtime_id="t"), store


def pages(s: Site) -> list[tuple[Any, tuple[Any, ...]]]:
    return [(s.page, (key,)) for key in range(PAGES)]


def test_reading_every_page_loads_a_row_per_call_without_prefetch(tmp_path: Path) -> None:
    """The library path, unchanged: each read loads its own row, nothing more."""
    s = site()
    built(tmp_path / "c.db", s)
    rt, store = reopen(tmp_path / "c.db")
    store.take()
    for key in range(PAGES):
        assert s.page(rt, key) == f"<main>Title {key}</main>"
    loads = store.take()
    assert loads.calls["load_memo_rows"] == PAGES
    assert loads.memo_rows == PAGES
    assert s.runs == {}


def test_prefetch_loads_every_page_in_one_call_and_the_reads_then_load_nothing(
    tmp_path: Path,
) -> None:
    s = site()
    built(tmp_path / "c.db", s)
    rt, store = reopen(tmp_path / "c.db")
    store.take()
    prefetch(rt, pages(s))
    loads = store.take()
    assert loads.calls == {"load_memo_rows": 1}
    assert loads.memo_rows == PAGES  # the pages, and not their reads: none was marked
    for key in range(PAGES):
        assert s.page(rt, key) == f"<main>Title {key}</main>"
    assert store.take().calls == {}
    assert s.runs == {}


def test_after_a_write_prefetch_loads_what_verifying_reads_a_level_per_call(
    tmp_path: Path,
) -> None:
    """A write to the theme marks every page (through layout): verifying each one
    loads its reads. Prefetched, the pages come in one call and their reads
    (titles, and the layout's own cell below it) in one call per level."""
    s = site()
    built(tmp_path / "c.db", s)
    rt, store = reopen(tmp_path / "c.db")
    rt.set(s.theme, "main ")  # layout() re-executes to an equal value: cut off
    store.take()
    prefetch(rt, pages(s))
    loads = store.take()
    assert loads.calls["load_memo_rows"] <= 2
    assert loads.calls["load_input_rows"] <= 1
    for key in range(PAGES):
        assert s.page(rt, key) == f"<main>Title {key}</main>"
    assert store.take().calls == {}  # every round trip was the prefetch's
    assert s.runs == {"layout": 1}  # cut off early: no page re-executed
    rt.commit()
    again, _ = reopen(tmp_path / "c.db")
    assert s.page(again, 3) == "<main>Title 3</main>"


def test_prefetch_of_edited_code_loads_what_the_old_code_read_in_one_call(
    tmp_path: Path,
) -> None:
    """``page``'s code changed: every page row is discarded and each page executes.
    Their reads load with the prefetch, as the old rows name them (the titles, the
    layout), in one call: not one call per page as each execution meets them."""
    prefix = f"prefetch{next(_names)}"
    built(tmp_path / "c.db", site(prefix))
    edited = site(prefix, page_version="2")
    rt, store = reopen(tmp_path / "c.db")
    store.take()
    prefetch(rt, pages(edited))
    assert store.take().calls["load_memo_rows"] == 2  # the pages, then their old reads
    for key in range(PAGES):
        assert edited.page(rt, key) == f"<main>Title {key}</main>"
    assert store.take().calls == {}
    assert edited.runs == {"page": PAGES}


def test_prefetch_then_an_edit_gives_the_values_a_fresh_runtime_computes(tmp_path: Path) -> None:
    s = site()
    built(tmp_path / "c.db", s)
    rt, _ = reopen(tmp_path / "c.db")
    with rt.batch():
        rt.set(s.theme, "article")
        rt.set(s.src[7], "Seven\nedited")
    prefetch(rt, pages(s))
    got = [s.page(rt, key) for key in range(PAGES)]
    fresh = sf.Runtime()
    with fresh.batch():
        fresh.set(s.theme, "article")
        for key in range(PAGES):
            fresh.set(s.src[key], "Seven\nedited" if key == 7 else f"Title {key}\nbody")
    assert got == [s.page(fresh, key) for key in range(PAGES)]


def test_prefetch_without_a_store_or_for_memos_in_memory_does_nothing(tmp_path: Path) -> None:
    s = site()
    plain = sf.Runtime()
    prefetch(plain, pages(s))  # no store: nothing to load
    plain.set(s.theme, "x")
    plain.set(s.src[0], "Zero")
    assert s.page(plain, 0) == "<x>Zero</x>"
    built(tmp_path / "c.db", s)
    rt, store = reopen(tmp_path / "c.db")
    s.page(rt, 0)
    store.take()
    prefetch(rt, [(s.page, (0,))])
    assert store.take().calls == {}
