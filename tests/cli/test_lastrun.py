"""``lastrun.rendered`` and ``in_graph``: the outputs whose render executed, found
without naming every render; and a first build, counted instead of listened to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sofrito as sf
from sofrito._introspect import first_build, run_graph
from sofrito.cli import lastrun
from sofrito.stores import SqliteStore

TICK = sf.Input("tests.cli.lastrun.tick")


@sf.query
def page(db: Any, key: Any) -> str:
    return str(key)


@sf.query
def site(db: Any) -> dict[str, Any]:
    return {}


def test_rendered_names_the_outputs_of_executed_renders_and_tells_equal_keys_apart() -> None:
    mapping: list[tuple[str, Any]] = [
        ("one.html", sf.output(page, 1)),
        ("true.html", sf.output(page, True)),  # equal to 1 as a value, another key
        ("a.html", sf.output(page, "a")),
        ("inline.txt", "text"),  # main's own content
    ]
    spec_name = lastrun._named(mapping, site)["one.html"].kind
    executed = {sf.QueryRef.of(spec_name, (True,)), sf.QueryRef.of(spec_name, ("a",))}
    found = lastrun.rendered(lastrun.renders_of(mapping, site), executed)
    assert found == {
        "true.html": sf.QueryRef.of(spec_name, (True,)),
        "a.html": sf.QueryRef.of(spec_name, ("a",)),
    }
    main_ref = sf.QueryRef.of(lastrun._named(mapping, site)["inline.txt"].kind, ())
    both = lastrun.rendered(lastrun.renders_of(mapping, site), {*executed, main_ref})
    assert both == {**found, "inline.txt": main_ref}
    full = lastrun.renders_of(mapping, site)
    assert lastrun.rendered(full, executed) == {p: r for p, r in full.items() if r in executed}


def test_rendered_asked_again_for_fewer_renders_answers_as_asked_afresh() -> None:
    """The summary asks for the changed renders after the record asked for the
    executed ones: the answer is the first one's, filtered, and the same as a
    fresh one; a wider question is answered afresh."""
    mapping: list[tuple[str, Any]] = [(f"{n}.html", sf.output(page, n)) for n in range(5)]
    mapping.append(("inline.txt", "text"))
    name = lastrun._named(mapping, site)["0.html"].kind
    executed = {sf.QueryRef.of(name, (n,)) for n in (1, 2, 3)}
    renders = lastrun.renders_of(mapping, site)
    assert set(lastrun.rendered(renders, executed)) == {"1.html", "2.html", "3.html"}
    fewer = {sf.QueryRef.of(name, (2,))}
    assert lastrun.rendered(renders, fewer) == {"2.html": sf.QueryRef.of(name, (2,))}
    wider = {*executed, sf.QueryRef.of(name, (4,))}
    assert set(lastrun.rendered(renders, wider)) == {"1.html", "2.html", "3.html", "4.html"}
    fresh = lastrun.renders_of(mapping, site)
    assert lastrun.rendered(renders, fewer) == lastrun.rendered(fresh, fewer)


def test_the_renders_found_by_their_memos_are_those_found_by_their_refs() -> None:
    """``in_graph`` (the record's way: through the engine's memos) and ``rendered``
    (by refs) name the same outputs, ``1`` and ``True`` apart, main's own too."""
    rt = sf.Runtime()
    start = rt.revision
    listener = lastrun.RunListener(rt, start)
    rt.set(TICK, 1)  # the run's revision, as a scan's write makes it
    for key in (1, "a"):
        page(rt, key)
    site(rt)
    facts = listener.close()
    mapping: list[tuple[str, Any]] = [
        ("one.html", sf.output(page, 1)),
        ("true.html", sf.output(page, True)),  # 1's memo, another name: not executed
        ("a.html", sf.output(page, "a")),
        ("b.html", sf.output(page, "b")),  # never called
        ("inline.txt", "text"),
    ]
    graph = run_graph(rt, start, facts.executed)
    renders = lastrun.renders_of(mapping, site)
    found = {path: graph.nodes[at].ref for path, at in renders.in_graph(rt, graph).items()}
    assert found == lastrun.rendered(lastrun.renders_of(mapping, site), facts.executed)
    assert set(found) == {"one.html", "a.html", "inline.txt"}
    assert lastrun.rendered(renders, facts.executed) == found  # kept for the summary


def test_a_first_build_is_counted_not_listened_to() -> None:
    """A runtime with no memo, held or stored: the run counts executions instead
    of receiving an event for each (nobody listens), and its record names the
    outputs whose render ran, each new."""
    rt = sf.Runtime()
    assert first_build(rt)
    start = rt.revision
    listener = lastrun.listen(rt, start)
    assert isinstance(listener, lastrun.FirstBuild)
    rt.set(TICK, 1)
    for key in (1, "a"):
        page(rt, key)
    site(rt)
    assert not rt._engine.listening  # no event was built for any of it
    facts = listener.close()
    assert (facts.first_build, facts.bodies_run, facts.executed) == (True, 3, {})
    mapping: list[tuple[str, Any]] = [
        ("one.html", sf.output(page, 1)),
        ("a.html", sf.output(page, "a")),
        ("b.html", sf.output(page, "b")),  # never called: not in the record
        ("inline.txt", "text"),
    ]
    record = lastrun.build(rt, facts, lastrun.renders_of(mapping, site))
    assert record.first_build
    assert set(record.outputs) == {"one.html", "a.html", "inline.txt"}
    assert {node.outcome for node in record.nodes} == {lastrun.NEW}
    assert lastrun.LastRun.from_value(record.to_value()) == record


def test_a_runtime_holding_or_storing_a_memo_is_listened_to(tmp_path: Path) -> None:
    """Once a memo is held, or stored, executions may be second ones: the run
    listens, and the count says nothing of which."""
    rt = sf.Runtime()
    page(rt, 1)
    assert not first_build(rt)
    assert isinstance(lastrun.listen(rt, rt.revision), lastrun.RunListener)
    path = tmp_path / "cache.db"
    with SqliteStore(path) as store:
        empty = sf.Runtime(store=store)
        assert first_build(empty)
        page(empty, 1)
        empty.commit()
    with SqliteStore(path) as store:
        reopened = sf.Runtime(store=store)
        assert not first_build(reopened)  # nothing held, but its store has rows
        assert isinstance(lastrun.listen(reopened, reopened.revision), lastrun.RunListener)
