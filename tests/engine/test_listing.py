"""``source.keys(db)``: the keys of a family's set cells, a read that changes
only when a key is added or removed."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import sofrito as sf
from sofrito._keys import encode_key
from sofrito.stores import SqliteStore

runs: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    runs.clear()


def _report(files: sf.Input) -> Any:
    @sf.query(name=f"tests.listing.report.{files.name}")
    def report(db: Any) -> list[str]:
        runs["report"] += 1
        return [path for (path,) in files.keys(db)]

    return report


def test_a_listing_reader_re_runs_on_add_and_remove_not_on_a_value_edit() -> None:
    files = sf.Input("tests.listing.files")
    report = _report(files)
    rt = sf.Runtime()
    assert report(rt) == []
    rt.set(files["b.md"], "b")
    rt.set(files["a.md"], "a")
    assert report(rt) == ["a.md", "b.md"]  # sorted, whatever the order of writes
    assert runs["report"] == 2
    rt.set(files["a.md"], "edited")  # a value edit: the set of keys is the same
    assert report(rt) == ["a.md", "b.md"]
    assert runs["report"] == 2
    rt.remove(files["b.md"])
    assert report(rt) == ["a.md"]
    assert runs["report"] == 3
    assert files.keys(rt) == (("a.md",),)  # untracked at top level


def test_what_is_listed_set_values_and_errors_not_pending_or_located_cells() -> None:
    rt = sf.Runtime()
    files = sf.Input("tests.listing.located", locator=lambda path: f"found {path}")
    rt.set(files["set"], 1)
    rt.resolve_error(files["failed"], ValueError("bad"))
    rt.set(files["gone"], 2)
    rt.remove(files["gone"])
    rt.set(files["back"], 3)
    rt.invalidate(files["back"])
    assert rt.get(files["located"]) == "found located"
    assert files.keys(rt) == (("failed",), ("set",))


def test_keys_that_do_not_compare_are_ordered_by_their_canonical_bytes() -> None:
    rt = sf.Runtime()
    mixed = sf.Input("tests.listing.mixed")
    for key in ("b", 2, "a", 1):
        rt.set(mixed[key], key)
    listed = mixed.keys(rt)
    assert listed == tuple(sorted([("b",), (2,), ("a",), (1,)], key=encode_key))
    assert set(listed) == {("a",), ("b",), (1,), (2,)}


def test_a_listing_of_a_stable_family_sees_an_added_volatile_cell() -> None:
    config = sf.Input("tests.listing.config", durability=sf.Durability.STABLE)
    report = _report(config)
    rt = sf.Runtime()
    rt.set(config["site"], 1)
    assert report(rt) == ["site"]
    rt.set(config["extra"], 2, durability=sf.Durability.VOLATILE)
    assert report(rt) == ["extra", "site"]


def test_an_added_key_invalidates_the_listings_readers_once_by_the_added_cell() -> None:
    files = sf.Input("tests.listing.events")

    @sf.query(name="tests.listing.both")
    def both(db: Any) -> tuple[Any, ...]:
        runs["both"] += 1
        return files.keys(db), files(db, "a")

    rt = sf.Runtime()
    rt.set(files["a"], 1)
    assert both(rt) == ((("a",),), 1)
    events = rt.subscribe_events()
    rt.set(files["b"], 2)
    received = []
    while True:
        try:
            received.append(events.recv(timeout=0.05))
        except TimeoutError:
            break
    invalidated = [e for e in received if isinstance(e, sf.QueryInvalidated)]
    assert [e.ref.kind for e in invalidated] == ["tests.listing.both"]
    assert invalidated[0].by.kind == "tests.listing.events"
    rt.set(files["a"], 5)  # read through both paths: still reported once
    assert both(rt) == ((("a",), ("b",)), 5)


def test_a_kept_db_handle_refuses_a_listing_read() -> None:
    files = sf.Input("tests.listing.kept")
    kept: list[Any] = []

    @sf.query(name="tests.listing.leaks")
    def leaks(db: Any, path: str) -> int:
        kept.append(db)
        return 1

    rt = sf.Runtime()
    leaks(rt, "x")
    with pytest.raises(RuntimeError, match=r"leaks\('x'\) was used after that query returned"):
        files.keys(kept[0])
    rt.set(files["new"], 1)
    assert leaks(rt, "x") == 1
    assert len(kept) == 1


def test_a_write_during_a_listing_read_cancels_and_the_retry_sees_the_new_key() -> None:
    files = sf.Input("tests.listing.cancel")
    rt = sf.Runtime()
    rt.set(files["a"], 1)

    @sf.query(name="tests.listing.racing")
    def racing(db: Any) -> int:
        runs["racing"] += 1
        if runs["racing"] == 1:
            # A write on another thread: it asks this computation to cancel,
            # and waits for it to unwind. The next read through db raises.
            threading.Thread(target=rt.set, args=(files["b"], 2)).start()
            while not rt._engine.gate.cancel_requested:
                pass  # the writer has asked: no sleep, a flag the gate sets
        return len(files.keys(db))

    assert racing(rt) == 2
    assert runs["racing"] == 2


# -- across a restart ------------------------------------------------------------------


def _open(db: Path, files: sf.Input) -> tuple[sf.Runtime, Any]:
    report = _report(files)
    return sf.Runtime(store=SqliteStore(db), runtime_id="listing"), report


def test_a_stored_listing_reader_is_served_after_a_restart_and_re_runs_on_an_add(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cache.db"
    files = sf.Input("tests.listing.stored")
    rt, report = _open(db, files)
    rt.set(files["a"], "a")
    rt.set(files["b"], "b")
    assert report(rt) == ["a", "b"]
    rt.set(files["a"], "edited")  # the listing's changed_at stays before this
    assert report(rt) == ["a", "b"]
    rt.commit()
    runs.clear()

    reopened, report = _open(db, files)
    assert report(reopened) == ["a", "b"]
    assert runs["report"] == 0  # served from the store, not re-executed
    reopened.set(files["a"], "edited again")
    assert report(reopened) == ["a", "b"]
    assert runs["report"] == 0
    reopened.set(files["c"], "c")
    assert report(reopened) == ["a", "b", "c"]
    assert runs["report"] == 1


def test_a_key_added_durably_after_the_commit_re_runs_the_stored_reader(tmp_path: Path) -> None:
    db = tmp_path / "cache.db"
    files = sf.Input("tests.listing.late")
    rt, report = _open(db, files)
    rt.set(files["a"], "a")
    assert report(rt) == ["a"]
    rt.commit()
    rt.set(files["late"], "x", durable=True)  # in the store, but after the commit
    runs.clear()

    reopened, report = _open(db, files)
    assert report(reopened) == ["a", "late"]
    assert runs["report"] == 1
