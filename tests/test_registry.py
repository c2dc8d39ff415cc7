"""The name registry that restoring a store uses to find queries and inputs."""

from __future__ import annotations

import gc
from typing import Any

import sofrito as sf
from sofrito._registry import input_named, query_named


def _declare(value: int) -> Any:
    @sf.query(name="tests.registry.q")
    def q(db: Any) -> int:
        return value

    return q


def test_a_query_is_found_by_name_and_the_latest_declaration_wins() -> None:
    first = _declare(1)
    assert query_named("tests.registry.q") is first.spec
    second = _declare(2)
    assert query_named("tests.registry.q") is second.spec
    assert first.spec is not second.spec


def test_the_registry_does_not_keep_a_dropped_query_alive() -> None:
    q = _declare(3)
    assert query_named("tests.registry.q") is q.spec
    del q
    gc.collect()
    assert query_named("tests.registry.q") is None


def test_a_dropped_query_whose_memos_live_on_is_no_longer_found_by_name() -> None:
    """The registry follows the query's entry point: memos still holding its spec
    do not make a query the program no longer has restorable by name."""
    q = _declare(4)
    rt = sf.Runtime()
    assert q(rt) == 4
    del q
    gc.collect()
    assert query_named("tests.registry.q") is None
    held = [spec.name for spec in rt._engine.tables]  # the runtime still holds the spec
    assert held == ["tests.registry.q"]


def test_inputs_are_found_by_name_and_held_weakly() -> None:
    source = sf.Input("tests.registry.source")
    assert input_named("tests.registry.source") is source
    del source
    gc.collect()
    assert input_named("tests.registry.source") is None
