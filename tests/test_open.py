"""Opening a runtime on a store: when it loads, what it tells receivers, and the
names it takes while restoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sofrito as sf
from sofrito.stores import MemoryStore, SqliteStore

text = sf.Input("tests.open.text")


@sf.query
def length(db: Any) -> int:
    return len(text(db))


def _committed(path: Path) -> None:
    rt = sf.Runtime(store=SqliteStore(path), runtime_id="site")
    rt.set(text, "hello")
    assert length(rt) == 5
    rt.commit()


def test_a_receiver_subscribed_before_load_sees_the_revision_set(tmp_path: Path) -> None:
    _committed(tmp_path / "cache.db")
    rt = sf.Runtime(store=SqliteStore(tmp_path / "cache.db"), runtime_id="site", load=False)
    assert rt.state is sf.stores.RuntimeState.INITIALIZING
    events = rt.subscribe_events()
    revisions = rt.subscribe_revisions()
    rt.load()
    assert events.recv(timeout=1.0) == sf.RevisionSet(1)
    assert revisions.changed(timeout=1.0) == 1
    assert rt.revision == 1
    assert rt.state is sf.stores.RuntimeState.IDLE
    assert length(rt) == 5


def test_a_runtime_not_yet_loaded_refuses_reads_and_writes_naming_the_fix(
    tmp_path: Path,
) -> None:
    _committed(tmp_path / "cache.db")
    rt = sf.Runtime(store=SqliteStore(tmp_path / "cache.db"), runtime_id="site", load=False)
    for attempt in (
        lambda: length(rt),
        lambda: rt.query(length, retry=False),
        lambda: rt.get(text),
        lambda: rt.set(text, "other"),
        rt.commit,
    ):
        with pytest.raises(RuntimeError, match=r"'site': it is not loaded yet.*rt\.load\(\)"):
            attempt()
    rt.load()
    assert rt.get(text) == "hello"  # nothing was computed or written before the load


def test_load_twice_or_without_a_store_is_a_clear_error(tmp_path: Path) -> None:
    rt = sf.Runtime(store=MemoryStore(), load=False)
    rt.load()
    with pytest.raises(RuntimeError, match="already loaded"):
        rt.load()
    with pytest.raises(RuntimeError, match="no store"):
        sf.Runtime().load()
    with pytest.raises(ValueError, match="load=False needs a store"):
        sf.Runtime(load=False)


def test_a_taken_name_is_refused_after_a_restore_as_before(tmp_path: Path) -> None:
    """Two inputs under one name are a ValueError with or without a restore: the
    restored cells take the name for the input they were restored into."""
    path = tmp_path / "cache.db"
    first = sf.Input("tests.open.dup")
    rt = sf.Runtime(store=SqliteStore(path))
    rt.set(first["a"], 1)
    rt.commit()
    second = sf.Input("tests.open.dup")  # the registry now finds this one by name
    fresh = sf.Runtime()
    fresh.set(second["a"], 1)
    with pytest.raises(ValueError, match=r"tests\.open\.dup"):
        fresh.set(first["b"], 2)
    restored = sf.Runtime(store=SqliteStore(path))
    assert restored.get(second["a"]) == 1
    with pytest.raises(ValueError, match=r"tests\.open\.dup"):
        restored.set(first["b"], 2)
