"""``sofrito store upgrade URL`` (``sofrito/cli/store.py``) as a user types it.

The PostgreSQL upgrades themselves are tested with a real server in
``tests/stores/test_postgres.py``; these need none."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.flows import one_error_line, sofrito


@pytest.mark.parametrize(
    "args",
    [
        ("store", "upgrade", "sqlite:cache.db", "--debug"),
        ("store", "--debug", "upgrade", "sqlite:cache.db"),
        ("--debug", "store", "upgrade", "sqlite:cache.db"),
    ],
)
def test_store_upgrade_takes_debug_wherever_it_is_given(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Every command takes ``--debug`` (docs/flows.md): ``sofrito store --debug
    upgrade URL`` was refused as an unrecognized argument (exit 2, no traceback)."""
    result = sofrito(*args, cwd=tmp_path)
    assert result.code == 2, result.err
    assert "Traceback" in result.err
    assert "unrecognized arguments" not in result.err
    assert "'sqlite' URLs need no upgrade command" in result.err.splitlines()[-1]


def test_store_upgrade_without_debug_is_one_line(tmp_path: Path) -> None:
    result = sofrito("store", "upgrade", "sqlite:cache.db", cwd=tmp_path)
    assert result.code == 2
    assert "give a postgresql:// URL" in one_error_line(result)


def test_a_store_upgrade_that_cannot_connect_says_so_not_delete_the_cache(tmp_path: Path) -> None:
    """A server that is not there was "the cache ... is unreadable (...); delete it
    (the next run rebuilds it from the sources) or use --store with another cache":
    advice for a damaged SQLite file, and `store upgrade` has no --store."""
    pytest.importorskip("psycopg", reason="sofrito[postgres] is not installed")
    url = "postgresql://nobody@127.0.0.1:1/sofrito"  # port 1: connection refused at once
    result = sofrito("store", "upgrade", url, cwd=tmp_path)
    assert result.code == 6
    line = one_error_line(result)
    assert line.startswith("sofrito: error: store upgrade: could not upgrade the store schema")
    assert "nothing was changed" in line
    assert "check the URL, that the server is up" in line
    assert "delete it" not in line
    assert "--store" not in line
