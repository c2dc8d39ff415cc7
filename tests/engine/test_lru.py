"""``lru=``: values beyond the capacity are evicted and recomputed on demand."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import sofrito as sf

numbers = sf.Input("tests.lru.numbers")
runs: Counter[str] = Counter()


@sf.query(lru=2)
def square(db: Any, n: int) -> int:
    runs[f"square:{n}"] += 1
    return numbers(db, n) ** 2  # type: ignore[no-any-return]


@sf.query
def total(db: Any) -> int:
    runs["total"] += 1
    return sum(square(db, n) for n in range(4))


@pytest.fixture
def rt() -> sf.Runtime:
    runs.clear()
    runtime = sf.Runtime()
    with runtime.batch():
        for n in range(4):
            runtime.set(numbers[n], n)
    return runtime


def _held(rt: sf.Runtime) -> list[int]:
    table = rt._engine.tables[square.spec]
    return sorted(key[0] for key, memo in table.items() if memo.has_value)


def test_keeps_at_most_capacity_values(rt: sf.Runtime) -> None:
    assert total(rt) == 14
    assert _held(rt) == [2, 3]


def test_evicted_value_is_recomputed_on_demand(rt: sf.Runtime) -> None:
    total(rt)
    assert square(rt, 0) == 0
    assert runs["square:0"] == 2
    assert square(rt, 0) == 0  # now held again
    assert runs["square:0"] == 2


def test_recent_use_protects_from_eviction(rt: sf.Runtime) -> None:
    square(rt, 0)
    square(rt, 1)
    square(rt, 0)  # a hit: 0 becomes most recent
    square(rt, 2)  # evicts 1
    assert _held(rt) == [0, 2]


def test_recomputing_an_evicted_value_does_not_invalidate_dependents(rt: sf.Runtime) -> None:
    total(rt)
    rt.bump_revision()
    assert square(rt, 0) == 0  # evicted: re-executed on demand
    assert runs["square:0"] == 2
    assert total(rt) == 14  # its dependencies did not change, so neither did it
    assert runs["total"] == 1


def test_evicted_memo_whose_input_changed_counts_as_changed(rt: sf.Runtime) -> None:
    total(rt)
    # With the old value gone there is nothing to compare with: the re-executed
    # memo counts as changed and its dependents re-execute.
    rt.set(numbers[0], 0, durability=sf.Durability.STABLE)
    assert total(rt) == 14
    assert runs["total"] == 2
    rt.set(numbers[3], 5)
    assert total(rt) == 30
    assert runs["total"] == 3


def test_lru_must_be_positive() -> None:
    with pytest.raises(ValueError, match="lru must be a positive int"):
        sf.query(lru=0)(lambda db: 1)
