"""``_introspect.run_graph``: what a run touched, found by the memos' marks.

The run is a write after revision ``start`` and the calls after it, as in
``sofrito run``; ``executed`` comes from the run's ``QueryExecuting`` events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sofrito as sf
from sofrito._introspect import RunGraph, run_graph

text = sf.Input("tests.introspect.text")
numbers = sf.Input("tests.introspect.numbers")


@sf.query
def word(db: Any, k: str) -> str:
    return str(text(db, k)).upper()


@sf.query
def length(db: Any, k: str) -> int:
    return len(word(db, k))


@sf.query
def page(db: Any, k: str) -> str:
    return f"{word(db, k)} {length(db, k)} {word(db, 'footer')}"


@sf.query
def doubled(db: Any, k: str) -> int:
    return length(db, k) * 2


@sf.query(lru=1)
def square(db: Any, n: int) -> int:
    return int(numbers(db, n)) ** 2


def _run(rt: sf.Runtime, write: Callable[[], None], *calls: Callable[[], object]) -> set[Any]:
    """Write (a new revision), make the calls, and return what executed."""
    events = rt.subscribe_events()
    write()
    for call in calls:
        call()
    executed = set()
    while (event := events.try_recv()) is not None:
        if isinstance(event, sf.QueryExecuting):
            executed.add(event.ref)
    events.close()
    return executed


def test_the_chain_from_a_write_with_the_verified_it_reached_and_not_the_clean() -> None:
    rt = sf.Runtime()
    with rt.batch():
        rt.set(text["a"], "ab")
        rt.set(text["footer"], "x")
    page(rt, "a")
    doubled(rt, "a")
    start = rt.revision
    # same length: length("a") is cut off, so doubled("a") is verified, not executed;
    # word("footer") is verified clean (no write reached it): on no chain
    executed = _run(
        rt, lambda: rt.set(text["a"], "cd"), lambda: page(rt, "a"), lambda: doubled(rt, "a")
    )
    graph = run_graph(rt, start, executed)
    named = {n.ref: (n.what, ran) for n, ran in zip(graph.nodes, graph.executed, strict=True)}
    assert named == {
        _ref(word, "a"): ("query", True),
        _ref(length, "a"): ("query", True),
        _ref(page, "a"): ("query", True),
        _ref(doubled, "a"): ("query", False),
        sf.QueryRef.of(text.name, ("a",)): ("input", False),
    }
    assert _edges(graph) == {
        (_ref(word, "a"), _ref(length, "a")),
        (_ref(word, "a"), _ref(page, "a")),
        (_ref(length, "a"), _ref(page, "a")),
        (_ref(length, "a"), _ref(doubled, "a")),
        (sf.QueryRef.of(text.name, ("a",)), _ref(word, "a")),
    }


def test_an_execution_no_write_reached_is_found_by_its_ref() -> None:
    """An evicted value computed again to the same value, in a revision whose
    write reached none of it: no mark shows it, the events do."""
    rt = sf.Runtime()
    with rt.batch():
        rt.set(numbers[0], 2)
        rt.set(numbers[1], 3)
        rt.set(text["a"], "ab")
    square(rt, 0)
    square(rt, 1)  # evicts square(0)'s value (lru=1)
    start = rt.revision
    executed = _run(rt, lambda: rt.set(text["a"], "cd"), lambda: square(rt, 0))
    assert executed == {_ref(square, 0)}
    graph = run_graph(rt, start, executed)
    assert [(n.ref, ran) for n, ran in zip(graph.nodes, graph.executed, strict=True)] == [
        (_ref(square, 0), True)
    ]
    assert graph.edges == set()  # it read nothing that changed


def test_a_run_that_only_verified_clean_memos_has_an_empty_graph() -> None:
    rt = sf.Runtime()
    rt.set(text["a"], "ab")
    length(rt, "a")
    start = rt.revision
    executed = _run(rt, lambda: rt.set(text["b"], "x"), lambda: length(rt, "a"))
    assert executed == set()
    assert rt._engine.tables[length.spec][("a",)].verified_at > start  # touched
    assert run_graph(rt, start, executed) == ([], [], set(), {})


def _ref(query: Any, *key: Any) -> sf.QueryRef:
    return sf.QueryRef.of(query.spec.name, key)


def _edges(graph: RunGraph) -> set[tuple[sf.QueryRef, sf.QueryRef]]:
    return {(graph.nodes[a].ref, graph.nodes[b].ref) for a, b in graph.edges}
