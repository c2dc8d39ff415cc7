"""The harness's verdicts on issue 3's targets, from results built by hand.

The harness prints "met" or "not met" for each target, and its notes quote
those lines; a verdict that judged the wrong column or counted the wrong
read would mislead every reader of docs/benchmarks.md. Timing nothing, these
tests feed ``render`` the results a run would send and read its lines.
"""

from __future__ import annotations

from benchmarks.graph import Graph
from benchmarks.report import Result, render
from benchmarks.workloads import dag, hit
from benchmarks.workloads.measurement import Measurement

GRAPH = Graph()
CONE = 251


def result(
    name: str,
    *,
    warm: float,
    change: float = 1.0,
    wide: float = 1.2,
    executed: int = CONE,
    native: bool = False,
    untracked_warm: str | None = None,
) -> Result:
    """A library's measurements: times in ms (the warm read and the hit in ns)."""
    return Result(
        name=name,
        native=native,
        untracked_warm=untracked_warm,
        measurements=[
            Measurement(dag.COLD, 10.0, executed=10_001, expected=10_001),
            Measurement(dag.WARM, warm, unit="ns", executed=0, expected=0),
            Measurement(dag.CHANGE, change, executed=executed, expected=CONE),
            Measurement(dag.CUTOFF, 0.1, executed=0, expected=0),
            Measurement(dag.WIDE, wide, executed=executed, expected=CONE),
            Measurement(hit.ROWS[0], 60.0, unit="ns"),
            Measurement(hit.ROWS[1], 3.0, unit="x"),
        ],
    )


def targets(results: list[Result]) -> dict[str, list[str]]:
    """The target lines under each "Targets (issue 3), ..." heading, by heading."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in render(results, GRAPH, {}):
        if line.startswith("Targets (issue 3)"):
            current = sections.setdefault(line, [])
        elif line.startswith(("-", "  (")):
            current.append(line)
    return sections


def lines_of(sections: dict[str, list[str]], build: str) -> str:
    (heading,) = (h for h in sections if build in h)
    return "\n".join(sections[heading])


def test_the_compiled_engine_is_judged_and_the_fallback_is_for_information() -> None:
    sections = targets([result("sofrito", warm=100.0), result("sofrito-compiled", warm=90.0)])
    headings = list(sections)
    assert headings[0].endswith("the fallback: for information:")
    assert "the compiled engine" in headings[1]
    assert "for information" not in headings[1]


def test_an_untracked_warm_read_is_shown_but_not_counted() -> None:
    attribute = "an attribute read that records no dependency"
    sections = targets(
        [
            result("sofrito", warm=100.0),
            result("sofrito-compiled", warm=90.0),
            result("peer", warm=60.0, untracked_warm=attribute),
        ]
    )
    lines = lines_of(sections, "compiled engine")
    assert "- ahead of every pure-Python peer on every tracked read: met" in lines
    assert f"(not counted, an untracked read: W2 warm hit peer 0.67x: {attribute})" in lines


def test_a_tracked_warm_read_that_is_faster_is_counted() -> None:
    sections = targets(
        [
            result("sofrito", warm=100.0),
            result("sofrito-compiled", warm=90.0),
            result("peer", warm=60.0),
        ]
    )
    lines = lines_of(sections, "compiled engine")
    assert "tracked read: not met: W2 warm hit behind peer (0.67x)" in lines
    assert "not counted" not in lines


def test_proportionality_is_judged_on_executions_and_prints_the_growth() -> None:
    wide_but_exact = targets(
        [result("sofrito", warm=100.0), result("sofrito-compiled", warm=90.0, wide=2.5)]
    )
    lines = lines_of(wide_but_exact, "compiled engine")
    assert "- W3 in proportion to the change: met (251 executions, the minimum being 251" in lines
    assert "x2.50 on a graph twice as wide, for information: its root reads 1,000" in lines

    too_many = targets(
        [result("sofrito", warm=100.0), result("sofrito-compiled", warm=90.0, executed=300)]
    )
    lines = lines_of(too_many, "compiled engine")
    assert "- W3 in proportion to the change: not met (300 executions" in lines


def test_a_rust_peer_more_than_twice_as_fast_is_a_miss() -> None:
    sections = targets(
        [
            result("sofrito", warm=100.0),
            result("sofrito-compiled", warm=90.0, change=1.0),
            result("rust", warm=90.0, change=0.4, native=True),
        ]
    )
    lines = lines_of(sections, "compiled engine")
    assert "within 2x of the Rust-backed peers (peer / sofrito >= 0.5x): not met" in lines
    assert "W3 one change rust 0.40x" in lines
