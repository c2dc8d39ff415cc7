"""Store URLs: the schemes, relative SQLite paths, options, and adding a scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from sofrito.cli import urls
from sofrito.stores import MemoryStore, RuntimeStore


def test_sqlite_paths_are_relative_to_the_flow_folder(tmp_path: Path) -> None:
    store = urls.open_store("sqlite:cache/x.db?busy_timeout=0.25", tmp_path)
    try:
        assert (tmp_path / "cache" / "x.db").exists()
        assert store.busy_timeout == 0.25  # type: ignore[attr-defined]
    finally:
        store.close()
    assert urls.default_url(tmp_path) == f"sqlite:{tmp_path / '.sofrito' / 'cache.db'}"


def test_memory_and_unknown_schemes(tmp_path: Path) -> None:
    assert isinstance(urls.open_store("memory:", tmp_path), MemoryStore)
    known = "memory:, postgres:, postgresql:, sqlite:"
    with pytest.raises(ValueError, match=f"unknown scheme; use one of {known}"):
        urls.open_store("mysql://db/site", tmp_path)


def test_a_scheme_can_be_registered(tmp_path: Path) -> None:
    made: list[tuple[str, dict[str, str]]] = []

    def opener(rest: str, options: dict[str, str], folder: Path) -> RuntimeStore:
        made.append((rest, options))
        return MemoryStore()

    urls.register_scheme("test-scheme", opener)
    try:
        urls.open_store("test-scheme://host/db?x=1", tmp_path)
    finally:
        del urls.SCHEMES["test-scheme"]
    assert made == [("//host/db", {"x": "1"})]


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("busy_timout=60", "option 'busy_timout' is not one sqlite: knows"),
        ("busy_timeout=abc", "busy_timeout='abc' is not a number of seconds"),
        ("busy_timeout=-1", "busy_timeout='-1' is not a number of seconds"),
        ("busy_timeout=nan", "busy_timeout='nan' is not a number of seconds"),
    ],
)
def test_a_sqlite_option_it_cannot_use_is_refused(tmp_path: Path, query: str, said: str) -> None:
    """A typo'd option used to be dropped (the run waited the default 5 s), and a
    bad number said only "could not convert string to float"."""
    with pytest.raises(ValueError, match=said):
        urls.open_store(f"sqlite:x.db?{query}", tmp_path)
    assert not (tmp_path / "x.db").exists()
