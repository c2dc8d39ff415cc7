"""Cycles are reported, never a hang or a RecursionError; deep chains work."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import pytest

import sofrito as sf

switch = sf.Input("tests.cycles.switch")
bottom = sf.Input("tests.cycles.bottom")
runs: Counter[str] = Counter()


@sf.query
def first(db: Any, key: str) -> int:
    return second(db, key) + 1


@sf.query
def second(db: Any, key: str) -> int:
    if switch(db):
        return first(db, key) + 1
    return 0


@sf.query
def selfish(db: Any) -> int:
    return selfish(db)


def test_two_query_cycle_lists_refs_in_call_order() -> None:
    rt = sf.Runtime()
    rt.set(switch, True)
    with pytest.raises(sf.CycleError) as info:
        first(rt, "x")
    assert [str(ref) for ref in info.value.cycle] == ["first('x')", "second('x')"]
    assert str(info.value) == "dependency cycle: first('x') -> second('x') -> first('x')"


def test_cycle_starting_elsewhere_starts_at_the_re_entered_query() -> None:
    rt = sf.Runtime()
    rt.set(switch, True)
    with pytest.raises(sf.CycleError) as info:
        second(rt, "y")
    assert [str(ref) for ref in info.value.cycle] == ["second('y')", "first('y')"]


def test_self_cycle() -> None:
    rt = sf.Runtime()
    with pytest.raises(sf.CycleError) as info:
        selfish(rt)
    assert [str(ref) for ref in info.value.cycle] == ["selfish()"]


@sf.query
def through_runtime(db: Any) -> int:
    return through_runtime(db.runtime) + 1  # a top-level call from inside its own body


@pytest.mark.timeout(20)
def test_a_top_level_call_nested_in_a_computation_joins_its_task() -> None:
    """A top-level call made inside a body (as a locator's ``rt.query`` is) belongs to
    the computation that made it: re-entering that computation is a cycle on one
    call chain, reported at once. As a task of its own it would wait for the
    outer body, which waits for it: a deadlock."""
    rt = sf.Runtime()
    with pytest.raises(sf.CycleError) as info:
        through_runtime(rt)
    assert [str(ref) for ref in info.value.cycle] == ["through_runtime()"]


def test_cycle_is_not_cached_and_breaks_when_the_input_changes() -> None:
    rt = sf.Runtime()
    rt.set(switch, True)
    with pytest.raises(sf.CycleError):
        first(rt, "x")
    rt.set(switch, False)
    assert first(rt, "x") == 1


def test_every_query_on_the_cycle_sees_the_error_even_if_it_catches() -> None:
    caught: list[str] = []

    @sf.query
    def outer(db: Any) -> int:
        return inner(db)

    @sf.query
    def inner(db: Any) -> int:
        try:
            return outer(db)
        except sf.CycleError:
            caught.append("inner")
            return 0  # not allowed to hide the cycle

    @sf.query
    def above(db: Any) -> str:
        try:
            return str(outer(db))
        except sf.CycleError as exc:
            return f"cycle of {len(exc.cycle)}"

    rt = sf.Runtime()
    # A system error that reached a body fails that query too, even if the body
    # caught it: its result would rest on a value that does not exist.
    with pytest.raises(sf.CycleError) as info:
        above(rt)
    assert [str(ref).split(".")[-1] for ref in info.value.cycle] == ["outer()", "inner()"]
    assert caught == ["inner"]
    with pytest.raises(sf.CycleError):
        inner(rt)


@sf.query
def chain(db: Any, n: int) -> int:
    runs["chain"] += 1
    if n == 0:
        return bottom(db) // 10  # type: ignore[no-any-return]
    return chain(db, n - 1) + 1


@pytest.mark.parametrize("depth", [10_000, 25_000])
def test_deep_chain_computes_without_recursion_error(depth: int) -> None:
    runs.clear()
    rt = sf.Runtime()
    rt.set(bottom, 10)
    limit = sys.getrecursionlimit()
    assert chain(rt, depth) == depth + 1
    assert sys.getrecursionlimit() == limit
    assert runs["chain"] == depth + 1


def test_deep_chain_change_at_the_bottom_re_executes_the_chain() -> None:
    rt = sf.Runtime()
    rt.set(bottom, 10)
    chain(rt, 10_000)
    runs.clear()
    rt.set(bottom, 20)
    assert chain(rt, 10_000) == 10_002
    assert runs["chain"] == 10_001


def test_deep_chain_cutoff_at_the_bottom_stops_at_once() -> None:
    rt = sf.Runtime()
    rt.set(bottom, 10)
    chain(rt, 10_000)
    runs.clear()
    rt.set(bottom, 11)  # 11 // 10 == 10 // 10
    assert chain(rt, 10_000) == 10_001
    assert runs["chain"] == 1


@sf.query
def deep_loop(db: Any, n: int) -> int:
    if n == 0:
        return deep_loop(db, 3_000)
    return deep_loop(db, n - 1)


def test_cycle_through_a_deep_chain_is_detected() -> None:
    rt = sf.Runtime()
    with pytest.raises(sf.CycleError) as info:
        deep_loop(rt, 3_000)
    assert len(info.value.cycle) == 3_001


@sf.query
def deep_then_runtime(db: Any, n: int) -> int:
    if n == 0:
        return loop_back(db.runtime)  # a top-level call, deep on a fresh thread stack
    return deep_then_runtime(db, n - 1) + 1


@sf.query
def loop_back(db: Any) -> int:
    return deep_then_runtime(db, 3)  # type: ignore[no-any-return]


@pytest.mark.timeout(20)
def test_a_top_level_call_deep_on_a_fresh_stack_joins_the_computation_below_it() -> None:
    """Levels 40 and below run on a fresh thread stack (stack.py), whose record
    must say which execution that thread runs: the nested call's parent is the
    body that made it (level 45), so the cycle runs through exactly the levels
    it re-enters, not from the level where the thread started."""
    rt = sf.Runtime()
    with pytest.raises(sf.CycleError) as info:
        deep_then_runtime(rt, 45)
    assert [str(ref) for ref in info.value.cycle] == [
        "deep_then_runtime(3)",
        "deep_then_runtime(2)",
        "deep_then_runtime(1)",
        "deep_then_runtime(0)",
        "loop_back()",
    ]
