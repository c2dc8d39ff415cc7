"""Turn the libraries' measurements into the printed comparison.

Three parts, all plain text that is also Markdown (so a run can be pasted
into ``docs/benchmarks.md`` as it is):

1. Times: one row per workload, one column per library, and under each row
   ``peer / sofrito`` (above 1: sofrito is faster).
2. Executions: what each library executed against what the workload needs,
   counted inside the node bodies.
3. Notes and targets: versions, skipped peers and why, wrong results, n/a
   cells, the memo hit as a multiple of a bare call, and each target of
   issue 3 with "met" or "not met" and the cells that decide it.

The targets judge the compiled engine, the one a wheel installs. The
pure-Python engine is the fallback (editable installs, platforms without a
compiler): its lines are printed against the same targets for information.
Two of issue 3's targets are stated as they were settled when it closed (see
``docs/benchmarks.md``): "ahead of every pure-Python peer" counts tracked
reads only, so a peer whose warm read is a plain attribute read
(``Adapter.untracked_warm``) is shown but not counted on W2; and "W3 in
proportion to the change" is judged on executions, with the time on the
graph twice as wide printed for information.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from benchmarks.graph import Graph
from benchmarks.workloads import Measurement, dag, fanout, hit, rows

TARGET_HIT_MULTIPLE = 8.0
TARGET_NATIVE_RATIO = 0.5
"""peer / sofrito at or above this means "within 2x" of a Rust-backed peer."""

OURS = {
    "sofrito": "pure Python (editable installs, and wheels built without a C compiler)",
    "sofrito-compiled": "the compiled engine (what a wheel installs)",
}
"""sofrito's two columns, each set against the targets on its own."""
JUDGED = "sofrito-compiled"
"""The column the targets judge; the other is printed for information."""


@dataclass
class Result:
    """One library's run: what its process sent back."""

    name: str
    native: bool = False
    untracked_warm: str | None = None
    version: str = ""
    skipped: str | None = None
    seconds: float = 0.0
    measurements: list[Measurement] = field(default_factory=list)

    def get(self, row: str) -> Measurement | None:
        return next((m for m in self.measurements if m.row == row), None)

    @property
    def heading(self) -> str:
        return f"{self.name} (Rust)" if self.native else self.name


def _amount(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.1f}x"
    if unit == "ns" and value < 100_000:
        return f"{value:,.0f} ns"
    if unit == "ns":
        value /= 1e6
    if value >= 100:
        return f"{value:,.0f} ms"
    return f"{value:.3g} ms" if value >= 1 else f"{value:.3f} ms"


def _ratio(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x" if value < 100 else f"{value:,.0f}x"


def _growth(result: Result) -> str:
    """W3 on the wide graph over W3: about 1 if a change costs what it affects, 2 if the graph."""
    wide, narrow = result.get(dag.WIDE), result.get(dag.CHANGE)
    if wide is None or narrow is None or not wide.value or not narrow.value:
        return ""
    return f"{wide.value / narrow.value:.2f}"


def _compared(row: str) -> bool:
    """Rows that get a ratio and count for the targets: times, not parts or multiples."""
    return row != hit.ROWS[1] and not row.startswith(" ")


def _version(result: Result) -> str:
    pre = any(c.isalpha() for c in result.version) and result.name not in OURS
    return f"{result.name} {result.version}" + (" (a pre-release)" if pre else "")


class _Notes:
    """Footnotes for cells too long for the table."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str) -> str:
        self.lines.append(f"[{len(self.lines) + 1}] {text}")
        return f"[{len(self.lines)}]"


def _cell(m: Measurement | None, notes: _Notes, name: str) -> str:
    if m is None:
        return "-"
    if m.wrong:
        return "WRONG " + notes.add(f"{name}, {m.row}: {m.wrong}")
    if m.value is None:
        return f"n/a ({m.na})" if m.na else "-"
    return _amount(m.value, m.unit)


def _markdown(table: list[list[str]]) -> Iterator[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for index, row in enumerate(table):
        yield "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        if index == 0:
            yield "|" + "|".join("-" * (w + 2) for w in widths) + "|"


def _times(results: list[Result], notes: _Notes) -> list[list[str]]:
    table = [["workload", *(r.heading for r in results)]]
    sofrito = results[0]
    for row in rows():
        table.append([row, *(_cell(r.get(row), notes, r.name) for r in results)])
        ours = sofrito.get(row)
        if not _compared(row) or ours is None or not ours.value:
            continue
        ratios = ["  peer / sofrito"]
        for r in results:
            theirs = r.get(row)
            value = None if theirs is None or theirs.wrong else theirs.value
            ratios.append("" if value is None else _ratio(value / ours.value))
        table.append(ratios)
        if row == dag.WIDE:
            table.append(["  ÷ W3 (for information)", *(_growth(r) for r in results)])
    return table


EXECUTION_ROWS = {
    dag.COLD: "W1 executions",
    dag.WARM: "W2 executions",
    dag.CHANGE: "W3 executions (median)",
    dag.WIDE: "W3 executions, graph 2x as wide",
    dag.CUTOFF: "W4 downstream executions (most)",
    fanout.ROWS[0]: "W5 executions",
}
CONE_ROWS = (dag.CHANGE, dag.WIDE)
"""Rows whose need is the cone of each edit: it varies with the edits a library got through."""


def _executions(results: list[Result]) -> list[list[str]]:
    table = [["what ran, per operation", *(r.heading for r in results)]]
    for row, base in EXECUTION_ROWS.items():
        cells = []
        for r in results:
            m = r.get(row)
            if m is None or m.executed is None:
                cells.append("-")
            elif m.expected is None or m.executed == m.expected:
                cells.append(f"{m.executed:,}")
            else:
                cells.append(f"{m.executed:,} (needs {m.expected:,})")
        ours = results[0].get(row)
        needs = "" if ours is None or ours.expected is None else f", needs: {ours.expected:,}"
        table.append([base + (", needs: the cone" if row in CONE_ROWS else needs), *cells])
    return table


def _ahead(results: list[Result], sofrito: Result) -> Iterator[str]:
    """Targets 1 and 2: ahead of the pure-Python peers, within 2x of the Rust-backed ones."""
    peers = [r for r in results if r.name not in (*OURS, "from-scratch")]
    behind, beyond, uncounted = [], [], []
    for row in filter(_compared, rows()):
        ours = sofrito.get(row)
        if ours is None or not ours.value:
            continue
        for r in peers:
            theirs = r.get(row)
            if theirs is None or theirs.value is None or theirs.wrong:
                continue
            ratio = theirs.value / ours.value
            if row == dag.WARM and r.untracked_warm:
                uncounted.append(f"{row} {r.name} {_ratio(ratio)}: {r.untracked_warm}")
            elif not r.native and ratio < 1:
                behind.append(f"{row} behind {r.name} ({_ratio(ratio)})")
            if r.native and ratio < TARGET_NATIVE_RATIO:
                beyond.append(f"{row} {r.name} {_ratio(ratio)}")
    for native, target, misses in (
        (False, "ahead of every pure-Python peer on every tracked read", behind),
        (True, "within 2x of the Rust-backed peers (peer / sofrito >= 0.5x)", beyond),
    ):
        if not any(r.native == native for r in peers):
            yield f"- {target}: no such peer measured"
        else:
            yield f"- {target}: " + ("not met: " + "; ".join(misses) if misses else "met")
        if uncounted and not native:
            yield "  (not counted, an untracked read: " + "; ".join(uncounted) + ")"


def _targets(results: list[Result], sofrito: Result, graph: Graph) -> Iterator[str]:
    yield from _ahead(results, sofrito)
    multiple = sofrito.get(hit.ROWS[1])
    if multiple is not None and multiple.value is not None:
        verdict = "met" if multiple.value <= TARGET_HIT_MULTIPLE else "not met"
        yield f"- memo hit within 8x a bare call: {verdict} ({multiple.value:.1f}x)"
    yield from _proportional(results, sofrito, graph)
    cutoff = sofrito.get(dag.CUTOFF)
    if cutoff is not None and cutoff.executed is not None:
        verdict = "met" if cutoff.executed == 0 else "not met"
        yield f"- W4 early cutoff, nothing downstream executes: {verdict} ({cutoff.executed})"


def _proportional(results: list[Result], sofrito: Result, graph: Graph) -> Iterator[str]:
    """Target 4: W3 executes the change's cone and no more, on a graph of any size.

    Judged on executions. The time on the graph twice as wide is printed
    beside it for information, not as a verdict: the cone is the same there
    but the root, part of every cone, reads the whole last layer, twice as
    many nodes, and the rest of the difference is memory (twice the objects,
    fewer cache hits). An engine that walked the graph would show x2 or more.
    """
    change = sofrito.get(dag.CHANGE)
    if change is None or change.value is None or change.executed is None:
        return
    verdict = "met" if change.executed == change.expected else "not met"
    parts = [
        f"{change.executed:,} executions, the minimum being {change.expected:,},"
        f" of {graph.derived + 1:,} nodes",
        f"{_amount(change.value, 'ms')} per change",
    ]
    if growth := _growth(sofrito):
        parts.append(
            f"x{growth} on a graph twice as wide, for information: its root reads"
            f" {2 * graph.width:,} nodes, not {graph.width:,}"
        )
    scratch = next((r.get(dag.CHANGE) for r in results if r.name == "from-scratch"), None)
    if scratch is not None and scratch.value is not None:
        parts.append(f"{_amount(scratch.value, 'ms')} from scratch")
    yield f"- W3 in proportion to the change: {verdict} ({'; '.join(parts)})"


_SAME_PROCESS = frozenset({*hit.ROWS, hit.BARE})


def _value(result: Result, row: str) -> float:
    measurement = result.get(row)
    if measurement is None or measurement.value is None:
        return float("inf")
    return measurement.value


def best_of(results: list[Result]) -> Result:
    """One library's rounds as one result: each row's fastest measurement.

    On a shared machine a slow spell makes a whole process slow, so the
    least disturbed of several interleaved runs is the fairest figure for
    every library alike. A wrong result in any round is kept (it must not
    be outvoted), and a library is skipped only if every round was.
    """
    ran = [result for result in results if not result.skipped]
    if not ran:
        return results[0]
    best = Result(
        name=ran[0].name,
        native=ran[0].native,
        untracked_warm=ran[0].untracked_warm,
        version=ran[0].version,
        seconds=sum(result.seconds for result in ran),
    )
    # The hit, the bare call and their ratio come from one process: the round
    # with the best hit (the ratio is "in the same process", report says).
    hit_round = min(ran, key=lambda result: _value(result, hit.ROWS[0]))
    for row in dict.fromkeys(m.row for result in ran for m in result.measurements):
        if row in _SAME_PROCESS:
            if (kept := hit_round.get(row)) is not None:
                best.measurements.append(kept)
            continue
        candidates = [m for result in ran if (m := result.get(row)) is not None]
        wrong = [m for m in candidates if m.wrong is not None]
        timed = [m for m in candidates if m.value is not None]
        if wrong:
            best.measurements.append(wrong[0])
        elif timed:
            best.measurements.append(min(timed, key=lambda m: m.value or 0.0))
        else:
            best.measurements.append(candidates[0])
    return best


def render(results: list[Result], graph: Graph, status: dict[str, str]) -> Iterator[str]:
    measured = [r for r in results if not r.skipped]
    if not measured or measured[0].name != "sofrito":
        yield "sofrito itself could not be measured: " + (results[0].skipped or "?")
        return
    notes = _Notes()
    yield from _markdown(_times(measured, notes))
    yield ""
    yield from _markdown(_executions(measured))
    yield ""
    versions = [_version(r) for r in measured if r.version]
    if versions:
        yield "Versions: " + ", ".join(versions)
    for distribution, detail in status.items():
        if detail != "ok" and any(r.name == distribution and not r.skipped for r in results):
            yield f"Note: {distribution}: {detail}"
    for r in results:
        if r.skipped:
            yield f"Skipped {r.name}: {r.skipped}"
    yield from notes.lines
    ours = [r for r in measured if r.name in OURS]
    for sofrito in ours:
        bare = sofrito.get(hit.BARE)
        memo_hit = sofrito.get(hit.ROWS[0])
        if bare is not None and bare.value and memo_hit is not None and memo_hit.value:
            yield (
                f"Memo hit: {sofrito.name} {memo_hit.value:.0f} ns; a bare Python call f(1) in"
                f" the same process {bare.value:.1f} ns; so a hit costs"
                f" {memo_hit.value / bare.value:.1f} bare calls."
            )
    for sofrito in ours:
        yield ""
        aside = "" if sofrito.name == JUDGED else ", the fallback: for information"
        yield f"Targets (issue 3), {OURS[sofrito.name]}{aside}:"
        yield from _targets(measured, sofrito, graph)
