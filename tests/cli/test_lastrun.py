"""``lastrun.rendered`` and ``in_graph``: the outputs whose render executed, found
without naming every render."""

from __future__ import annotations

from typing import Any

import sofrito as sf
from sofrito._introspect import run_graph
from sofrito.cli import lastrun

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
