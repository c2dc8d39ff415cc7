"""``sofrito.cli.flow``: a flow file's compiled code is cached beside it, as an
imported module's is, and only for the bytes it was compiled from.

Each test lets Python write bytecode (``sys.dont_write_bytecode``): a run under
``PYTHONDONTWRITEBYTECODE`` (this machine's environment sets it) writes no
cache, as Python's import writes none."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from sofrito.cli.flow import load_flow

FLOW = """
import sofrito as sf

SOURCES = ["*.md"]
VALUE = {value}


@sf.query(name="flow_cache_{case}.main")
def main(db):
    return {{}}
"""


@pytest.fixture(autouse=True)
def _bytecode_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


def _write(folder: Path, case: str, value: int) -> Path:
    path = folder / f"flowcache{case}.py"
    path.write_text(FLOW.format(value=value, case=case))
    return path


def _loaded_value(path: Path) -> object:
    flow = load_flow(path)
    del sys.modules[flow.module.__name__]  # the next load is a fresh module
    return flow.module.VALUE


def test_the_code_is_cached_and_an_edit_of_the_same_length_is_seen_at_once(
    tmp_path: Path,
) -> None:
    """Two edits of the same length within one second: a cache checked by the
    file's mtime (whole seconds) and size, as Python's usual one is, would run
    the first code again."""
    path = _write(tmp_path, "a", 1)
    assert _loaded_value(path) == 1
    cache = Path(importlib.util.cache_from_source(str(path)))
    assert cache.is_file()
    _write(tmp_path, "a", 2)
    assert _loaded_value(path) == 2


def test_the_cache_is_what_is_run_while_the_file_is_unchanged(tmp_path: Path) -> None:
    """A cache made for these very bytes is used as it is: here one whose code was
    swapped for another's (the same header), so only using it shows 7."""
    path = _write(tmp_path, "b", 1)
    assert _loaded_value(path) == 1
    cache = Path(importlib.util.cache_from_source(str(path)))
    (tmp_path / "other").mkdir()
    other = _write(tmp_path / "other", "b_other", 7)  # its code, compiled and cached
    assert _loaded_value(other) == 7
    other_cache = Path(importlib.util.cache_from_source(str(other)))
    header = cache.read_bytes()[:16]
    cache.write_bytes(header + other_cache.read_bytes()[16:])
    assert _loaded_value(path) == 7


def test_a_damaged_cache_is_compiled_again(tmp_path: Path) -> None:
    path = _write(tmp_path, "c", 3)
    assert _loaded_value(path) == 3
    cache = Path(importlib.util.cache_from_source(str(path)))
    cache.write_bytes(cache.read_bytes()[:16] + b"\x00not marshal data")
    assert _loaded_value(path) == 3
    assert _loaded_value(path) == 3  # and the cache was written whole again


def test_no_cache_is_written_when_python_may_not_write_bytecode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    path = _write(tmp_path, "d", 4)
    assert _loaded_value(path) == 4
    assert not (tmp_path / "__pycache__").exists()
