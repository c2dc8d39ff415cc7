"""Durability: a memo's level is the lowest of what it read, kept current."""

from __future__ import annotations

from collections import Counter
from typing import Any

import sofrito as sf
from sofrito._engine import verify

config = sf.Input("tests.durability.config", durability=sf.Durability.STABLE)
source = sf.Input("tests.durability.source")
runs: Counter[str] = Counter()


@sf.query
def title(db: Any) -> str:
    runs["title"] += 1
    return str(config(db)["title"])


@sf.query
def page(db: Any, path: str) -> str:
    runs[f"page:{path}"] += 1
    return f"{title(db)}: {source(db, path)}"


def _durability(rt: sf.Runtime, q: Any, *key: Any) -> sf.Durability:
    return sf.Durability(rt._engine.memo_for(q.spec, key).durability)


def _runtime() -> sf.Runtime:
    runs.clear()
    rt = sf.Runtime()
    rt.set(config, {"title": "Site"})
    rt.set(source["a"], "hello")
    return rt


def test_memo_durability_is_the_lowest_read() -> None:
    rt = _runtime()
    page(rt, "a")
    assert _durability(rt, title) is sf.Durability.STABLE
    assert _durability(rt, page, "a") is sf.Durability.VOLATILE


def test_volatile_edit_does_not_re_verify_stable_queries(monkeypatch: Any) -> None:
    rt = _runtime()
    page(rt, "a")
    deep_walks: list[object] = []
    original = verify.walk

    def counting(engine: Any, memo: Any, *rest: Any) -> bool:
        deep_walks.append(memo)
        return original(engine, memo, *rest)

    monkeypatch.setattr(verify, "walk", counting)
    rt.set(source["a"], "changed")
    assert title(rt) == "Site"
    assert deep_walks == []
    assert runs["title"] == 1


def test_durability_shortcut_validates_without_walking() -> None:
    rt = _runtime()
    title(rt)
    memo = rt._engine.memo_for(title.spec, ())
    memo.dirty_at = rt.revision + 1  # pretend a write reached it: only durability can save it
    rt.set(source["a"], "changed")
    assert rt._engine.revisions.unchanged_since(memo.durability, memo.verified_at)
    assert title(rt) == "Site"
    assert memo.verified_at == rt.revision
    assert runs["title"] == 1


def test_stable_change_re_executes_stable_readers() -> None:
    rt = _runtime()
    page(rt, "a")
    rt.set(config, {"title": "New"})
    assert page(rt, "a") == "New: hello"
    assert runs == {"title": 2, "page:a": 2}


def test_lowering_a_cell_durability_counts_as_a_change_at_the_old_level() -> None:
    rt = _runtime()
    page(rt, "a")
    rt.set(config, {"title": "Site"}, durability=sf.Durability.VOLATILE)
    assert page(rt, "a") == "Site: hello"
    assert runs["title"] == 2  # the cell changed: its reader re-executed...
    assert runs["page:a"] == 1  # ...to an equal value, so the change stopped there
    assert _durability(rt, title) is sf.Durability.VOLATILE
    # the dependent was verified against the re-executed dependency: its level drops too
    assert _durability(rt, page, "a") is sf.Durability.VOLATILE


def test_raising_durability_is_seen_by_dependents() -> None:
    rt = _runtime()
    page(rt, "a")
    rt.set(source["a"], "hello", durability=sf.Durability.STATIC)
    rt.set(config, {"title": "Site"}, durability=sf.Durability.STATIC)
    page(rt, "a")
    assert _durability(rt, page, "a") is sf.Durability.STATIC
