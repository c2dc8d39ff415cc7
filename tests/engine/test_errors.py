"""User errors are cached like values; system errors never are."""

from __future__ import annotations

import traceback
from collections import Counter
from typing import Any

import pytest

import sofrito as sf

cell = sf.Input("tests.errors.cell")
runs: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    runs.clear()


class BadValue(ValueError):
    pass


@sf.query
def parse(db: Any) -> int:
    runs["parse"] += 1
    text = cell(db)
    if not text.isdigit():
        raise BadValue(f"not a number: {text!r}")
    return int(text)


@sf.query
def doubled(db: Any) -> int:
    runs["doubled"] += 1
    return parse(db) * 2


def test_user_error_is_cached_and_re_raised_with_its_type() -> None:
    rt = sf.Runtime()
    rt.set(cell, "x")
    for _ in range(3):
        with pytest.raises(BadValue, match="not a number: 'x'"):
            doubled(rt)
    assert runs == {"parse": 1, "doubled": 1}


def test_cached_error_keeps_its_original_traceback_without_growing() -> None:
    rt = sf.Runtime()
    rt.set(cell, "x")
    lengths = []
    for _ in range(4):
        try:
            parse(rt)
        except BadValue as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            lengths.append(len(frames))
            assert frames[-1].name == "parse"
            assert "raise BadValue" in (frames[-1].line or "")
    assert len(set(lengths[1:])) == 1
    assert lengths[1] <= lengths[0] + 1


def test_error_to_value_and_back_are_changes() -> None:
    rt = sf.Runtime()
    rt.set(cell, "x")
    with pytest.raises(BadValue):
        doubled(rt)
    rt.set(cell, "21")
    assert doubled(rt) == 42
    rt.set(cell, "y")
    with pytest.raises(BadValue, match="'y'"):
        doubled(rt)
    assert runs == {"parse": 3, "doubled": 3}


def test_errors_are_never_equal_by_default() -> None:
    rt = sf.Runtime()
    rt.set(cell, "x")
    with pytest.raises(BadValue):
        doubled(rt)
    rt.set(cell, "y")
    with pytest.raises(BadValue):
        doubled(rt)
    assert runs["doubled"] == 2


def test_error_eq_cuts_off_equal_errors() -> None:
    source = sf.Input("source")

    @sf.query(error_eq=lambda old, new: type(old) is type(new))
    def strict(db: Any) -> int:
        value = source(db)
        if value < 0:
            raise ValueError(f"negative: {value}")
        return value  # type: ignore[no-any-return]

    @sf.query
    def guarded(db: Any) -> str:
        runs["guarded"] += 1
        try:
            return str(strict(db))
        except ValueError as exc:
            return f"error: {exc}"

    rt = sf.Runtime()
    rt.set(source, -1)
    assert guarded(rt) == "error: negative: -1"
    rt.set(source, -2)  # an "equal" error: the old one is kept
    assert guarded(rt) == "error: negative: -1"
    assert runs["guarded"] == 1


def test_dependent_that_catches_an_error_records_the_dependency() -> None:
    @sf.query
    def safe(db: Any) -> int:
        runs["safe"] += 1
        try:
            return parse(db)
        except BadValue:
            return -1

    rt = sf.Runtime()
    rt.set(cell, "x")
    assert safe(rt) == -1
    rt.set(cell, "5")
    assert safe(rt) == 5
    assert runs["safe"] == 2


def test_system_errors_derive_from_query_error() -> None:
    for kind in (sf.Suspend, sf.CycleError, sf.Cancelled, sf.MissingDependency):
        assert issubclass(kind, sf.QueryError)
    assert issubclass(sf.QueryError, Exception)
    assert sf.CycleError.__module__ == "sofrito"


def test_suspension_is_not_cached() -> None:
    rt = sf.Runtime()
    with pytest.raises(sf.Suspend) as info:
        doubled(rt)
    assert info.value.pending == [cell[()]]
    with pytest.raises(sf.Suspend):
        doubled(rt)
    rt.set(cell, "4")
    assert doubled(rt) == 8


def test_body_that_swallows_a_suspension_still_suspends() -> None:
    source = sf.Input("source")

    @sf.query
    def swallow(db: Any) -> str:
        runs["swallow"] += 1
        try:
            return str(source(db, "a"))
        except sf.Suspend:
            return "fallback"

    rt = sf.Runtime()
    with pytest.raises(sf.Suspend):
        swallow(rt)
    rt.set(source["a"], 1)
    assert swallow(rt) == "1"
    assert runs["swallow"] == 2


def test_top_level_suspend_lists_every_pending_read() -> None:
    source = sf.Input("source")

    @sf.query
    def three(db: Any) -> list[Any]:
        values = []
        for key in ("a", "b", "c"):
            try:
                values.append(source(db, key))
            except sf.Suspend:
                values.append(None)
        return values

    rt = sf.Runtime()
    rt.set(source["b"], 2)
    with pytest.raises(sf.Suspend) as info:
        three(rt)
    assert info.value.pending == [source["a"], source["c"]]
    assert rt.pending() == [source["a"], source["c"]]
    rt.set(source["a"], 1)
    rt.set(source["c"], 3)
    assert three(rt) == [1, 2, 3]
    assert rt.pending() == []


def test_each_top_level_suspend_lists_only_its_own_pending_reads() -> None:
    """Top-level calls on one thread share a reused task: what one call found
    pending must not leak into the next call's ``Suspend``."""
    source = sf.Input("source")

    @sf.query
    def one(db: Any, key: str) -> Any:
        return source(db, key)

    rt = sf.Runtime()
    with pytest.raises(sf.Suspend) as first:
        one(rt, "a")
    with pytest.raises(sf.Suspend) as second:
        one(rt, "b")
    assert first.value.pending == [source["a"]]
    assert second.value.pending == [source["b"]]
    rt.set(source["b"], 2)
    assert one(rt, "b") == 2


@pytest.mark.timeout(20)
def test_an_interrupt_in_a_body_is_not_cached_and_leaves_the_query_computable() -> None:
    interrupt = [True]

    @sf.query(name="tests.errors.interrupted")
    def interrupted(db: Any) -> int:
        value: int = cell(db)
        if interrupt[0]:
            raise KeyboardInterrupt  # Ctrl-C while the body runs
        return value * 2

    rt = sf.Runtime()
    rt.set(cell, 21)
    with pytest.raises(KeyboardInterrupt):
        interrupted(rt)
    interrupt[0] = False
    assert interrupted(rt) == 42  # not cached, not left claimed: computed again
    assert rt.poll(interrupted).changed_at == rt.revision
