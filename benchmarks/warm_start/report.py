"""The warm-start figures, the needs they are judged against, and the verdicts.

Every step's rows are exact counts, the same on any machine; its times are
the best of its repetitions (on a shared machine the least disturbed run is
the fairest figure, as ``benchmarks.report.best_of`` argues). "Beyond
import" is the step's best wall time minus the best wall time of a child
that only starts and imports the same modules; "inside" is the time the
child measured itself, from after its imports to the end of the step, so
the difference is what the process pays to exit (freeing what it loaded).

The needs come from the graph (``graph.Shape``), not from a run:

- (a) reading the unchanged root needs the root's row and nothing else: it
  was verified at the stored revision, so it is a hit;
- (b) after a +1 on one input, the cone re-executes (``Shape.cone``), and
  each of its memos reads its dependencies (``Shape.needed``); the two
  inputs under that pair of leaves; the stored edges reachable from the
  input (``Shape.cone_edges``); the commit writes the cone's memos, their
  edges and the one input.

A verdict is met, not met, or not judged (a size not measured), and a step
whose root value was wrong is never met.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.warm_start.counting import Rows
from benchmarks.warm_start.graph import Shape

LIMIT_MS = 20.0
"""Target (a): at most this beyond interpreter start and import..."""
LIMIT_AT = 100_000
"""...at this many memos."""


@dataclass
class Run:
    """One child process: its parent-side wall time and its own report."""

    wall_ms: float
    inside_ms: float = 0.0
    rss_kb: int = 0
    phases_ms: dict[str, float] = field(default_factory=dict)
    loaded: dict[str, Rows] = field(default_factory=dict)
    written: Rows = field(default_factory=Rows)
    calls: dict[str, int] = field(default_factory=dict)
    executed: int = 0
    root: int | None = None

    @classmethod
    def from_child(cls, wall_ms: float, report: dict[str, Any]) -> Run:
        return cls(
            wall_ms=wall_ms,
            inside_ms=report["inside_ms"],
            rss_kb=report["rss_kb"],
            phases_ms=report.get("phases_ms", {}),
            loaded={p: Rows.from_dict(r) for p, r in report.get("loaded", {}).items()},
            written=Rows.from_dict(report.get("written", {})),
            calls=report.get("calls", {}),
            executed=report["executed"],
            root=report.get("root"),
        )

    def total_loaded(self) -> Rows:
        total = Rows()
        for rows in self.loaded.values():
            total.add(rows)
        return total


@dataclass
class Step:
    """Step (a) or (b) at one cache size: its runs, the root it must return, what it needs."""

    runs: list[Run]
    expected_roots: list[int]
    need_loaded: Rows
    need_written: Rows
    need_executed: int

    @property
    def wall_ms(self) -> float:
        return min(run.wall_ms for run in self.runs)

    @property
    def inside_ms(self) -> float:
        return min(run.inside_ms for run in self.runs)

    @property
    def rss_kb(self) -> int:
        return max(run.rss_kb for run in self.runs)

    @property
    def loaded(self) -> Rows:
        """The most rows any run loaded, kind by kind (they should all agree)."""
        return _most(run.total_loaded() for run in self.runs)

    @property
    def written(self) -> Rows:
        return _most(run.written for run in self.runs)

    @property
    def executed(self) -> int:
        return max(run.executed for run in self.runs)

    @property
    def wrong(self) -> str | None:
        """Why a run's root value was wrong, if one was."""
        for index, (run, expected) in enumerate(zip(self.runs, self.expected_roots, strict=True)):
            if run.root != expected:
                return f"run {index + 1} read the root as {run.root}, not {expected}"
        return None


def _most(all_rows: Iterator[Rows]) -> Rows:
    most = Rows()
    for rows in all_rows:
        for name, count in rows.as_dict().items():
            setattr(most, name, max(getattr(most, name), count))
    return most


@dataclass
class Size:
    """Everything measured on one cache."""

    shape: Shape
    baseline: list[Run]
    open: Step
    edit: Step
    build_s: float = 0.0

    @property
    def memos(self) -> int:
        return self.shape.memos

    @property
    def baseline_ms(self) -> float:
        return min(run.wall_ms for run in self.baseline)

    def beyond_ms(self, step: Step) -> float:
        """The step's wall time beyond a child that only starts and imports."""
        return step.wall_ms - self.baseline_ms


def open_needs() -> tuple[Rows, Rows, int]:
    """Step (a): the root's row; nothing written; nothing executed."""
    return Rows(memo=1), Rows(), 0


def edit_needs(shape: Shape, cell: int) -> tuple[Rows, Rows, int]:
    """Step (b) after a +1 on ``cell``: loads, writes and executions (module docstring)."""
    cone = shape.cone(cell)
    loaded = Rows(memo=len(shape.needed(cell)), input=2, edge=shape.cone_edges(cell))
    written = Rows(memo=len(cone), input=1, edge=shape.cone_reads(cell))
    return loaded, written, len(cone)


@dataclass(frozen=True)
class Verdict:
    target: str
    met: bool | None
    detail: str

    def line(self) -> str:
        said = {True: "met", False: "not met", None: "not judged"}[self.met]
        return f"- {self.target}: {said} ({self.detail})"


TARGET_A_ROWS = "(a) open and read the unchanged root: a constant number of rows at every size"
TARGET_A_TIME = "(a) at most 20 ms beyond interpreter start and import at 100,000 memos"
TARGET_B_ROWS = (
    "(b) open, change one input, read, commit: loads the cone and the direct"
    " dependencies of what re-executes, nothing else"
)
TARGET_B_WRITES = "(b) its commit writes in proportion: the memos that re-executed and the input"


def verdicts(sizes: Sequence[Size]) -> list[Verdict]:
    return [_a_rows(sizes), _a_time(sizes), _b_rows(sizes), _b_writes(sizes)]


def _wrong(sizes: Sequence[Size], step: str) -> str | None:
    for size in sizes:
        if (why := getattr(size, step).wrong) is not None:
            return f"WRONG at {size.memos:,} memos: {why}"
    return None


def _a_rows(sizes: Sequence[Size]) -> Verdict:
    counts = ", ".join(f"{s.open.loaded.total:,} at {s.memos:,}" for s in sizes)
    need = sizes[0].open.need_loaded.total if sizes else 0
    detail = f"rows loaded: {counts} memos; needs {need:,}, the root's row"
    if wrong := _wrong(sizes, "open"):
        return Verdict(TARGET_A_ROWS, False, wrong)
    if len(sizes) < 2:
        return Verdict(TARGET_A_ROWS, None, detail + "; needs two sizes to compare")
    constant = len({s.open.loaded.total for s in sizes}) == 1
    return Verdict(TARGET_A_ROWS, constant, detail)


def _a_time(sizes: Sequence[Size]) -> Verdict:
    if wrong := _wrong(sizes, "open"):
        return Verdict(TARGET_A_TIME, False, wrong)
    at = next((s for s in sizes if s.memos == LIMIT_AT), None)
    times = ", ".join(f"{s.beyond_ms(s.open):,.1f} ms at {s.memos:,}" for s in sizes)
    if at is None:
        return Verdict(TARGET_A_TIME, None, f"{LIMIT_AT:,} memos not measured; {times}")
    beyond = at.beyond_ms(at.open)
    return Verdict(TARGET_A_TIME, beyond <= LIMIT_MS, f"beyond import: {times}")


def _within(done: Rows, need: Rows) -> bool:
    return (
        done.memo <= need.memo
        and done.input <= need.input
        and done.edge <= need.edge
        and done.deleted <= need.deleted
        and done.other == 0
    )


def _b_rows(sizes: Sequence[Size]) -> Verdict:
    if wrong := _wrong(sizes, "edit"):
        return Verdict(TARGET_B_ROWS, False, wrong)
    if not sizes:
        return Verdict(TARGET_B_ROWS, None, "nothing measured")
    parts = [f"{_rows(s.edit.loaded)} (needs {_rows(s.edit.need_loaded)})" for s in sizes]
    met = all(_within(s.edit.loaded, s.edit.need_loaded) for s in sizes)
    return Verdict(TARGET_B_ROWS, met, _at(sizes, parts))


def _b_writes(sizes: Sequence[Size]) -> Verdict:
    if wrong := _wrong(sizes, "edit"):
        return Verdict(TARGET_B_WRITES, False, wrong)
    if not sizes:
        return Verdict(TARGET_B_WRITES, None, "nothing measured")
    parts = [f"{_rows(s.edit.written)} (at most {_rows(s.edit.need_written)})" for s in sizes]
    met = all(_within(s.edit.written, s.edit.need_written) for s in sizes)
    return Verdict(TARGET_B_WRITES, met, _at(sizes, parts))


def _at(sizes: Sequence[Size], parts: list[str]) -> str:
    return "; ".join(f"{s.memos:,} memos: {part}" for s, part in zip(sizes, parts, strict=True))


def _rows(rows: Rows) -> str:
    """``12 memo + 2 input rows, 9 edges`` (kinds that are zero left out, but memo rows)."""
    text = f"{rows.memo:,} memo + {rows.input:,} input rows"
    if rows.edge:
        text += f", {rows.edge:,} edges"
    if rows.deleted:
        text += f", {rows.deleted:,} deleted"
    if rows.other:
        text += f", {rows.other:,} unrecognized"
    return text


STEPS = (
    ("open", "(a) open, read the root"),
    ("edit", "(b) open, set one input, read, commit"),
)


def render(sizes: Sequence[Size], heading: str) -> Iterator[str]:
    """The table, where each step's time and rows went, and the targets."""
    yield heading
    table = [
        [
            "memos",
            "step",
            "wall",
            "beyond import",
            "inside",
            "peak RSS",
            "rows loaded (needs)",
            "rows written (at most)",
            "executed (needs)",
        ]
    ]
    for size in sizes:
        table.append(
            [
                f"{size.memos:,}",
                "start + import only",
                f"{size.baseline_ms:,.0f} ms",
                "",
                "",
                _mb(min(run.rss_kb for run in size.baseline)),
                "",
                "",
                "",
            ]
        )
        for name, label in STEPS:
            step: Step = getattr(size, name)
            table.append(
                [
                    f"{size.memos:,}",
                    label + (" WRONG" if step.wrong else ""),
                    f"{step.wall_ms:,.0f} ms",
                    f"{size.beyond_ms(step):,.1f} ms",
                    f"{step.inside_ms:,.1f} ms",
                    _mb(step.rss_kb),
                    f"{_rows(step.loaded)} ({_rows(step.need_loaded)})",
                    "-"
                    if name == "open"
                    else f"{_rows(step.written)} ({_rows(step.need_written)})",
                    f"{step.executed:,} ({step.need_executed:,})",
                ]
            )
    yield from _markdown(table)
    yield ""
    yield "Where it goes (the best run's phases in ms; its rows loaded by phase; its store calls):"
    for size in sizes:
        for name, label in STEPS:
            step = getattr(size, name)
            best = min(step.runs, key=lambda run: run.wall_ms)
            phases = ", ".join(f"{p} {ms:,.1f}" for p, ms in best.phases_ms.items())
            by_phase = "; ".join(f"{p}: {_rows(r)}" for p, r in best.loaded.items())
            calls = ", ".join(f"{c} x{n}" for c, n in sorted(best.calls.items()))
            yield f"- {size.memos:,} memos, {label}: {phases}"
            yield f"  loaded: {by_phase or 'nothing'}; calls: {calls or 'none'}"
    yield ""
    yield "Targets (issue 23):"
    for verdict in verdicts(sizes):
        yield verdict.line()


def _mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


def _markdown(table: list[list[str]]) -> Iterator[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for index, row in enumerate(table):
        yield "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        if index == 0:
            yield "|" + "|".join("-" * (w + 2) for w in widths) + "|"
