"""``@sf.query(persist_value=False)``: memos stored with their reads and revisions
but not their value (docs/concepts.md, "Memos stored without their value")."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sofrito as sf
from sofrito import _shipping, _snapshot
from sofrito._codec import Sealer
from sofrito._keys import encode_key
from sofrito._queries import spec_of
from sofrito.stores import SqliteStore, Traces

source = sf.Input("novalue.source")
runs: Counter[str] = Counter()
NAMES = ("a", "b")


@sf.query(name="novalue.page", persist_value=False)
def page(db: Any, name: str) -> str:
    runs[f"page:{name}"] += 1
    return f"<p>{source(db, name)}</p>" * 500


@sf.query(name="novalue.size")
def size(db: Any, name: str) -> int:
    runs[f"size:{name}"] += 1
    return len(page(db, name))


@sf.query(name="novalue.total")
def total(db: Any) -> int:
    runs["total"] += 1
    return sum(size(db, name) for name in NAMES)


@sf.query(name="novalue.shout", persist_value=False)
def shout(db: Any, name: str) -> str:
    """Stored without its value, read by nothing but a test: two such layers."""
    return page(db, name).upper()


@sf.query(name="novalue.first")
def first(db: Any) -> str:
    """What a front page shows: the start of each page, read through ``shout``."""
    return "|".join(shout(db, name)[:12] for name in NAMES)


def _open(db: Path) -> sf.Runtime:
    runs.clear()
    return sf.Runtime(store=SqliteStore(db), runtime_id="site")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A committed cache: two pages, their sizes and the total."""
    path = tmp_path / "cache.db"
    rt = _open(path)
    with rt.batch():
        for name in NAMES:
            rt.set(source[name], name.upper())
    assert total(rt) == 2 * len("<p>A</p>" * 500)
    rt.commit()
    runs.clear()
    return path


def _rows(db: Path, query: str) -> dict[bytes, bytes]:
    with SqliteStore(db) as store:
        snapshot = store.load_snapshot("site")
    assert snapshot is not None
    return {
        mid: row for mid, row in snapshot.rows.items() if _snapshot.split_memo_id(mid)[0] == query
    }


def test_a_page_is_stored_with_its_reads_and_revisions_and_no_value(db: Path) -> None:
    rows = _rows(db, "novalue.page")
    assert len(rows) == 2
    for row in rows.values():
        decoded = _snapshot.decode_memo_row(row, Sealer(None), b"")
        assert decoded.value is None
        assert [dep[1] for dep in decoded.deps] == ["novalue.source"]
        assert len(row) < 200  # the value alone is 4,000 bytes
    sizes = _rows(db, "novalue.size")
    assert all(_snapshot.decode_memo_row(row, Sealer(None), b"").value for row in sizes.values())


def test_its_readers_verify_in_a_new_process_without_executing_it(db: Path) -> None:
    rt = _open(db)
    assert total(rt) == 8000
    assert runs == {}


def test_reading_its_value_executes_it_once_and_its_readers_stay_valid(db: Path) -> None:
    """Its reads are unchanged, so the value it computes again counts as unchanged
    (queries are pure): nothing that read it executes."""
    rt = _open(db)
    assert page(rt, "a") == "<p>A</p>" * 500
    assert page(rt, "a") == "<p>A</p>" * 500
    assert size(rt, "a") == total(rt) / 2
    assert runs == {"page:a": 1}


def test_a_change_below_it_executes_it_and_counts_as_changed(db: Path) -> None:
    """No old value to compare with: it counts as changed, so its readers execute
    (as after an eviction), and the result is the one a cold build gives."""
    rt = _open(db)
    rt.set(source["a"], "AA")
    assert total(rt) == len("<p>AA</p>" * 500) + len("<p>B</p>" * 500)
    assert runs == {"page:a": 1, "size:a": 1, "total": 1}


def test_the_same_value_after_a_change_below_still_executes_its_readers(db: Path) -> None:
    rt = _open(db)
    rt.set(source["a"], "A")  # a write of the same value: nothing changed
    assert total(rt) == 8000
    assert runs == {}
    rt.set(source["a"], "Z")
    rt.set(source["a"], "A")  # changed, then back: the page executes again
    assert total(rt) == 8000
    assert runs == {"page:a": 1, "size:a": 1}  # size:a comes out equal: total is cut off


def test_a_commit_keeps_the_value_in_memory(db: Path) -> None:
    rt = _open(db)
    rt.set(source["b"], "BB")
    assert page(rt, "b") == "<p>BB</p>" * 500
    rt.commit()
    assert page(rt, "b") == "<p>BB</p>" * 500
    assert runs == {"page:b": 1}
    assert (
        _snapshot.decode_memo_row(
            _rows(db, "novalue.page")[_mid("b")], Sealer(None), b""
        ).changed_at
        == rt.revision
    )


def test_a_commit_after_it_was_only_verified_keeps_its_row(db: Path) -> None:
    """Loaded and verified, never read: it holds no value, and its row stays."""
    rt = _open(db)
    rt.set(source["b"], "BB")
    assert total(rt) == len("<p>A</p>" * 500) + len("<p>BB</p>" * 500)
    assert runs == {"page:b": 1, "size:b": 1, "total": 1}
    rt.commit()
    assert set(_rows(db, "novalue.page")) == {_mid("a"), _mid("b")}
    again = _open(db)
    assert total(again) == len("<p>A</p>" * 500) + len("<p>BB</p>" * 500)
    assert runs == {}


@sf.query(name="novalue.evicted", persist_value=False, lru=1)
def evicted(db: Any, name: str) -> str:
    """Stored without its value, and kept in memory for one key at a time."""
    runs[f"evicted:{name}"] += 1
    return source(db, name) * 3


@sf.query(name="novalue.both")
def both(db: Any) -> str:
    runs["both"] += 1
    return "".join(evicted(db, name) for name in NAMES)


def test_a_memo_evicted_before_the_commit_still_gets_its_row(db: Path) -> None:
    """Its reads and revisions are all its row holds, and eviction keeps them: the
    row is written, and what read it verifies in a new process without executing."""
    rt = _open(db)
    assert both(rt) == "AAABBB"  # evicted:a is evicted by evicted:b before the commit
    rt.commit()
    again = _open(db)
    assert both(again) == "AAABBB"
    assert runs == {}


@sf.query(name="novalue.unpicklable", persist_value=False)
def unpicklable(db: Any, name: str) -> Any:
    runs[f"unpicklable:{name}"] += 1
    text = source(db, name)
    return lambda: text  # no codec encodes a lambda


@sf.query(name="novalue.called")
def called(db: Any, name: str) -> str:
    return str(unpicklable(db, name)())


def test_a_value_no_codec_encodes_is_no_matter_when_it_is_not_stored(
    db: Path, recwarn: pytest.WarningsRecorder
) -> None:
    """Nothing encodes the value of a query stored without it: a strict commit
    passes, with no warning, and its reader verifies in a new process."""
    rt = _open(db)
    assert called(rt, "a") == "A"
    rt.commit(strict=True)
    assert not recwarn.list
    again = _open(db)
    assert called(again, "a") == "A"
    assert runs == {}


def test_a_query_that_reads_it_after_a_reopen_gets_the_right_value(db: Path) -> None:
    """Three processes in a row, each changing one page: whatever was stored without
    its value, every answer is what computing from scratch gives."""
    for value in ("x", "yy", "x"):
        rt = _open(db)
        rt.set(source["a"], value)
        assert size(rt, "a") == len(f"<p>{value}</p>" * 500)
        assert page(rt, "b") == "<p>B</p>" * 500
        rt.commit()


def _mid(name: str) -> bytes:
    return _snapshot.memo_id("novalue.page", encode_key((name,)))


def test_a_worker_ships_its_value_and_the_coordinator_stores_none(db: Path) -> None:
    """A worker's row carries the value (the coordinator writes it to its outputs
    before it commits, and reads it without executing); the coordinator's
    commit stores the row without it."""
    rt = _open(db)
    rt.set(source["a"], "AA")
    boundary = _shipping.prepare(rt)
    recipe = _shipping.recipe_for(rt, spec_of(page), None)
    assert boundary is not None
    assert recipe is not None
    pages = _shipping.run_task(
        _shipping.Task(recipe, boundary, "novalue.page", (("a",),)), _shipping.Opened()
    )
    rows = dict(pages.rows)
    assert _snapshot.decode_memo_row(rows[_mid("a")], Sealer(None), b"").value is not None
    assert _shipping.install(rt, pages) == 1
    runs.clear()
    assert page(rt, "a") == "<p>AA</p>" * 500  # the shipped value, not executed here
    assert runs == {}
    rt.commit()
    stored = _rows(db, "novalue.page")[_mid("a")]
    assert _snapshot.decode_memo_row(stored, Sealer(None), b"").value is None
    again = _open(db)
    assert total(again) == len("<p>AA</p>" * 500) + len("<p>B</p>" * 500)
    # size:a is new since the worker's boundary; the page it reads has no value
    # stored, so it executes again (restored: its reads did not change)
    assert runs == {"page:a": 1, "size:a": 1, "total": 1}


def test_its_traces_hold_the_value_so_another_checkout_executes_nothing(
    tmp_path: Path,
) -> None:
    """What the runtime's own cache leaves out, the team's traces keep: a trace is
    a value to take (docs/persistence.md, "Traces: sharing by content")."""
    shared = SqliteStore(tmp_path / "team.db")

    def checkout(name: str, traces: Traces) -> sf.Runtime:
        rt = sf.Runtime(store=SqliteStore(tmp_path / name), runtime_id="site", traces=traces)
        with rt.batch():
            for page_name in NAMES:
                rt.set(source[page_name], page_name.upper())
        return rt

    secret = "a team secret of enough bytes"
    ci = checkout("ci.db", Traces(secret, read=False, store=shared))
    expected = (total(ci), first(ci))
    ci.commit()
    laptop = checkout("laptop.db", Traces(secret, publish=False, store=shared))
    runs.clear()
    assert (total(laptop), first(laptop)) == expected
    assert page(laptop, "a") == "<p>A</p>" * 500
    assert runs == {}
    laptop.commit()
    for db in (tmp_path / "ci.db", tmp_path / "laptop.db"):
        for row in _rows(db, "novalue.page").values():
            assert _snapshot.decode_memo_row(row, Sealer(None), b"").value is None


_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(NAMES), st.sampled_from(["A", "B", "x", ""])),
        st.tuples(st.just("read"), st.sampled_from(["page", "shout", "size", "total", "first"])),
        st.tuples(st.just("commit")),
        st.tuples(st.just("reopen")),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_STEPS)
def test_any_edits_commits_and_reopens_give_what_a_cold_build_gives(steps: list[Any]) -> None:
    """Whatever was stored without its value, each answer is the one computed from
    the current sources alone (a commit before each reopen: what a process that
    exits after its run leaves)."""
    values = dict.fromkeys(NAMES, "A")

    def want(what: str, name: str) -> Any:
        text = f"<p>{values[name]}</p>" * 500
        if what == "page":
            return text
        if what == "shout":
            return text.upper()
        if what == "size":
            return len(text)
        if what == "total":
            return sum(len(f"<p>{values[n]}</p>" * 500) for n in NAMES)
        return "|".join((f"<p>{values[n]}</p>" * 500).upper()[:12] for n in NAMES)

    queries = {"page": page, "shout": shout, "size": size, "total": total, "first": first}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cache.db"
        rt = _open(path)
        with rt.batch():
            for name in NAMES:
                rt.set(source[name], values[name])
        for step in steps:
            if step[0] == "set":
                values[step[1]] = step[2]
                rt.set(source[step[1]], step[2])
            elif step[0] == "commit":
                rt.commit()
            elif step[0] == "reopen":
                rt.commit()
                rt = _open(path)
            else:
                query = queries[step[1]]
                for name in NAMES if step[1] in ("page", "shout", "size") else ("",):
                    got = query(rt, name) if name else query(rt)
                    assert got == want(step[1], name or "a"), (step, name)
