"""``sofrito._on_demand.untouched``: whether a stored row is its memo's value now,
known without loading it (``sofrito run`` keeps the outputs whose render's row
is untouched). A run asks about every output, so the marks are looked up by
key, not by encoding every key (``StoreBacking._marked_keys``); these scenarios
hold the answers to what the ids say, for plain keys, a NaN and a key that
equals a marked one without having its bytes."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import sofrito as sf
from sofrito._on_demand import untouched
from sofrito._settle import marks_by_id
from sofrito.stores import SqliteStore

source = sf.Input("untouched.source")


@sf.query(name="untouched.shade")
def shade(db: Any, key: Any) -> str:
    return f"{source(db, key)}!"


def _built(path: Path, keys: list[Any]) -> None:
    rt = sf.Runtime(store=SqliteStore(path), runtime_id="u")
    with rt.batch():
        for key in keys:
            rt.set(source[key], "v")
    for key in keys:
        shade(rt, key)
    rt.commit()
    del rt
    gc.collect()


def _after_writing(path: Path, written: list[Any]) -> sf.Runtime:
    rt = sf.Runtime(store=SqliteStore(path), runtime_id="u")
    with marks_by_id(rt), rt.batch():
        for key in written:
            rt.set(source[key], "w")
    return rt


def test_only_the_rows_a_write_reached_are_not_untouched(tmp_path: Path) -> None:
    keys: list[Any] = ["a", "b", 2, b"x", None, -0.0]
    _built(tmp_path / "u.db", keys)
    rt = _after_writing(tmp_path / "u.db", ["a", 2])
    calls = [(shade, (key,)) for key in keys]
    assert untouched(rt, calls) == [False, True, False, True, True, True]
    # equal to a marked key (1.0 == 1, 0.0 == -0.0) without its bytes: looked up by them
    assert untouched(rt, [(shade, (2.0,)), (shade, (0.0,)), (shade, (True,))]) == [
        True,
        True,
        True,
    ]


def test_a_marked_nan_is_found_by_its_bytes(tmp_path: Path) -> None:
    """NaN is not equal to itself: a name with a marked NaN key is looked up by bytes."""
    nan = float("nan")
    _built(tmp_path / "u.db", [nan, "b"])
    rt = _after_writing(tmp_path / "u.db", [nan])
    assert untouched(rt, [(shade, (float("nan"),)), (shade, ("b",))]) == [False, True]
