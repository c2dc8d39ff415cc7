"""The engine's restore interface (``_engine/restore.py``): records installed one
at a time from plain values, as a store's rows are, then read through queries.

Scenarios on a real runtime; an execution log says what ran.
"""

from __future__ import annotations

import pickle

import sofrito as sf
from sofrito._engine import restore
from sofrito._engine.memo import Memo
from sofrito.stores import MemoryStore

source = sf.Input("test_restore.source")
ran: list[str] = []


@sf.query(name="test_restore.length")
def length(db: sf.Runtime, name: str) -> int:
    ran.append(name)
    return len(source(db, name))


@sf.query(name="test_restore.total")
def total(db: sf.Runtime) -> int:
    ran.append("total")
    return length(db, "a") + length(db, "b")


def _installed(rt: sf.Runtime, revision: int, a: tuple[str, int] = ("xx", 1)) -> dict[str, Memo]:
    """Cells a="xx", b="yyy" and the three memos as if stored at revision 1, each
    installed by its own call (``a``: another value of cell a, and its revision);
    the runtime then moves to ``revision``."""
    engine = rt._engine
    restore.set_durability_revisions(engine, [1, 0, 0, 0])  # the cells are volatile
    cells = {
        name: restore.install_cell(engine, source, (name,), value, 0, changed_at)
        for name, (value, changed_at) in (("a", a), ("b", ("yyy", 1)))
    }
    memos = {
        "a": engine.memo_for(length.spec, ("a",)),
        "b": engine.memo_for(length.spec, ("b",)),
        "total": engine.memo_for(total.spec, ()),
    }
    stored = {"a": 2, "b": 3, "total": 5}
    deps = {"a": [cells["a"]], "b": [cells["b"]], "total": [memos["a"], memos["b"]]}
    for name, memo in memos.items():
        restore.install_memo(
            engine,
            memo,
            pickle.dumps(stored[name]),
            pickle.loads,
            changed_at=1,
            verified_at=1,
            durability=0,
            deps=list(deps[name]),
            revision=revision,
        )
    rt.set_current_revision(revision)
    ran.clear()
    return memos


def test_installed_memos_are_served_without_executing() -> None:
    rt = sf.Runtime()
    _installed(rt, revision=1)
    assert total(rt) == 5
    assert ran == []


def test_an_installed_memo_links_its_readers_so_a_write_reaches_them() -> None:
    rt = sf.Runtime()
    _installed(rt, revision=1)
    rt.set(source["a"], "xxxx")
    assert total(rt) == 7
    assert ran == ["a", "total"]  # b verified unchanged, not executed


def test_a_discarded_memo_executes_and_its_readers_are_verified_not_served() -> None:
    rt = sf.Runtime()
    memos = _installed(rt, revision=1)
    restore.discard(rt._engine, [memos["b"]], revision=1)
    assert total(rt) == 5
    assert sorted(ran) == ["b", "total"]  # a discarded memo counts as changed: its reader re-runs


def test_catch_up_marks_the_readers_of_a_cell_newer_than_the_snapshot() -> None:
    rt = sf.Runtime()
    engine = rt._engine
    _installed(rt, revision=1, a=("zzzzzz", 4))  # a was set durably after the snapshot
    late = engine.cells[source][("a",)]
    revision = restore.catch_up(engine, [late], 1)
    assert revision == 4
    rt.set_current_revision(revision)
    assert total(rt) == 9
    assert ran == ["a", "total"]


def test_clear_memos_keeps_cells_and_drops_every_memo() -> None:
    rt = sf.Runtime()
    rt.set(source["a"], "xx")
    rt.set(source["b"], "y")
    assert total(rt) == 3
    ran.clear()
    rt.clear_cache()
    assert total(rt) == 3
    assert ran == ["total", "a", "b"]
    assert rt.get(source["a"]) == "xx"


def test_a_query_body_reaches_its_runtime_through_db_runtime() -> None:
    """The engine keeps no reference to the runtime: the top-level call hands it in."""
    seen: list[object] = []

    @sf.query(name="test_restore.who")
    def who(db: sf.Runtime) -> int:
        seen.append(db.runtime)  # type: ignore[attr-defined]
        return db.runtime.revision  # type: ignore[attr-defined, no-any-return]

    rt = sf.Runtime()
    rt.set(source["a"], "x")
    assert who(rt) == 1
    assert seen == [rt]


def test_a_reader_of_a_discarded_memo_is_not_served_by_the_durability_rule() -> None:
    """A snapshot committed revisions after its last input change: the memo whose
    code changed is discarded at open, and its reader must re-run, not pass as
    unchanged because no input changed since it was verified."""
    store = MemoryStore()
    cell = sf.Input("test_restore.discard_source")

    def declare(version: str, factor: int) -> sf.Query[[], int]:
        @sf.query(name="test_restore.inner", version=version)
        def inner(db: sf.Runtime) -> int:
            return cell(db) * factor  # type: ignore[no-any-return]

        @sf.query(name="test_restore.outer")
        def outer(db: sf.Runtime) -> int:
            return inner(db) + 1

        return outer

    outer = declare("1", 1)
    rt = sf.Runtime(store=store, runtime_id="discard")
    rt.set(cell, 10)
    assert outer(rt) == 11
    rt.bump_revision()
    rt.bump_revision()  # the snapshot's revision is now after the last input change
    rt.commit()
    outer = declare("2", 100)  # inner's code changed: its stored memo is discarded
    reopened = sf.Runtime(store=store, runtime_id="discard")
    assert outer(reopened) == 1001
