"""The tables a run prints: Markdown, so they paste into docs/benchmarks.md as they are.

One block per corpus size: a header (pages, Python, date, each tool's
version), then four tables with a row per step and a column per tool:
time with its ratio to sofrito, peak RSS, files written, correct. A
correctness cell says "yes" or "no" with a note number; the notes under the
tables give each "no" its reasons, since "stale" without where would be
no help. A tool that could not run is a column of "skipped" and a note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from benchmarks.site.check import Verdict, Writes
from benchmarks.site.measure import Run


@dataclass(frozen=True)
class StepResult:
    step: str
    run: Run
    writes: Writes
    verdict: Verdict


@dataclass
class ToolRun:
    """One tool's column: its steps in order, or why it was skipped."""

    name: str
    version: str = ""
    steps: list[StepResult] = field(default_factory=list)
    skipped: str | None = None


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def ratio(value: float, base: float) -> str:
    """``value / base``, as the table shows it: above 1, sofrito is faster."""
    times = value / base if base > 0 else float("inf")
    return f"{times:.0f}x" if times >= 10 else f"{times:.1f}x"


def written(writes: Writes) -> str:
    parts = [f"{writes.written:,}"]
    extras = []
    if writes.same_bytes:
        extras.append(f"{writes.same_bytes:,} same bytes")
    if writes.deleted:
        extras.append(f"{writes.deleted:,} deleted")
    return " ".join(parts + ([f"({', '.join(extras)})"] if extras else []))


def render(title: str, runs: Sequence[ToolRun], steps: Sequence[str]) -> list[str]:
    """The block of tables for one corpus size; ``runs[0]`` is sofrito, the ratios' base."""
    lines = [title, ""]
    lines += [f"- {run.name}: {run.version or 'skipped'}" for run in runs]
    base = {result.step: result.run.wall_s for result in runs[0].steps} if runs else {}

    def time_cell(result: StepResult, run: ToolRun) -> str:
        cell = seconds(result.run.wall_s)
        if run is runs[0] or result.step not in base:
            return cell
        return f"{cell} ({ratio(result.run.wall_s, base[result.step])})"

    notes: list[str] = []

    def correct_cell(result: StepResult, run: ToolRun) -> str:
        if result.verdict.correct:
            return "yes"
        notes.append(f"{run.name}, {result.step}: {'; '.join(result.verdict.reasons)}")
        return f"no ({len(notes)})"

    tables: list[tuple[str, Callable[[StepResult, ToolRun], str]]] = [
        ("wall time (ratio to sofrito)", time_cell),
        ("CPU time (user + system)", lambda result, _: seconds(result.run.cpu_s)),
        ("of which system (the kernel's)", lambda result, _: seconds(result.run.system_s)),
        ("peak RSS", lambda result, _: f"{result.run.peak_rss_mb:,.0f} MB"),
        ("files written", lambda result, _: written(result.writes)),
        ("correct", correct_cell),
    ]
    for heading, cell in tables:
        lines += ["", _row([heading, *(run.name for run in runs)]), _row(["---"] * (len(runs) + 1))]
        for step in steps:
            lines.append(_row([step, *(_cell(run, step, cell) for run in runs)]))
    skipped = [f"{run.name} skipped: {run.skipped}" for run in runs if run.skipped]
    if notes or skipped:
        lines.append("")
        lines += [f"({number}) {note}" for number, note in enumerate(notes, 1)]
        lines += skipped
    covered = [
        f"- {run.name}, {result.step}: {', '.join(result.verdict.covered)}"
        for run in runs
        for result in run.steps
        if result.verdict.covered
    ]
    if covered:
        lines += ["", "What the checks looked at:", *covered]
    return lines


def _cell(run: ToolRun, step: str, cell: Callable[[StepResult, ToolRun], str]) -> str:
    if run.skipped:
        return "skipped"
    for result in run.steps:
        if result.step == step:
            return cell(result, run)
    return "not run"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
