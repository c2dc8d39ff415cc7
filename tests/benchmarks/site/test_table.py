"""The site benchmark's tables, from results built by hand (nothing is timed).

docs/benchmarks.md quotes these tables as printed; a ratio against the
wrong column, a "no" without its reason or a skipped tool shown as a
figure would mislead every reader.
"""

from __future__ import annotations

from benchmarks.site.check import Verdict, Writes
from benchmarks.site.measure import Run
from benchmarks.site.table import StepResult, ToolRun, ratio, render, seconds, written

STEPS = ["cold", "title edit"]


def step(name: str, wall: float, verdict: Verdict, writes: Writes | None = None) -> StepResult:
    run = Run(
        wall_s=wall, cpu_s=wall / 2, peak_rss_mb=40.4, returncode=0, error="", system_s=wall / 8
    )
    return StepResult(name, run, writes or Writes(10, 0, 0), verdict)


def table(lines: list[str], heading: str) -> list[list[str]]:
    """The cells of the table whose first header cell is ``heading``, header row first."""
    start = next(n for n, line in enumerate(lines) if line.startswith(f"| {heading} |"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return [rows[0], *rows[2:]]


def results() -> list[ToolRun]:
    covered = ("the old title was in 7 files",)
    sofrito = ToolRun(
        "sofrito",
        "sofrito 0.1 (pure Python)",
        [
            step("cold", 2.0, Verdict(True)),
            step("title edit", 0.25, Verdict(True, covered=covered), Writes(7, 0, 0)),
        ],
    )
    peer = ToolRun(
        "peer",
        "peer 1.0",
        [
            step("cold", 3.0, Verdict(True)),
            step(
                "title edit",
                5.0,
                Verdict(False, ("2 of 7 files showing the old title are stale (e.g. b.html)",)),
                Writes(100, 93, 1),
            ),
        ],
    )
    return [sofrito, peer, ToolRun("absent", skipped="absent is not installed")]


def test_times_carry_their_ratio_to_sofrito_and_a_skipped_tool_no_figure() -> None:
    lines = render("Site, 2 pages", results(), STEPS)
    assert table(lines, "wall time (ratio to sofrito)") == [
        ["wall time (ratio to sofrito)", "sofrito", "peer", "absent"],
        ["cold", "2.00 s", "3.00 s (1.5x)", "skipped"],
        ["title edit", "250 ms", "5.00 s (20x)", "skipped"],
    ]
    assert "absent skipped: absent is not installed" in lines
    assert "- absent: skipped" in lines
    assert "- peer: peer 1.0" in lines


def test_a_wrong_step_is_no_with_a_numbered_note_giving_the_reason() -> None:
    lines = render("Site, 2 pages", results(), STEPS)
    assert table(lines, "correct")[2] == ["title edit", "yes", "no (1)", "skipped"]
    assert (
        "(1) peer, title edit: 2 of 7 files showing the old title are stale (e.g. b.html)" in lines
    )
    assert "- sofrito, title edit: the old title was in 7 files" in lines


def test_files_written_say_how_many_had_the_same_bytes_and_were_deleted() -> None:
    lines = render("Site, 2 pages", results(), STEPS)
    assert table(lines, "files written")[2] == [
        "title edit",
        "7",
        "100 (93 same bytes, 1 deleted)",
        "skipped",
    ]
    assert table(lines, "peak RSS")[1][1] == "40 MB"
    assert table(lines, "CPU time (user + system)")[1][1:3] == ["1.00 s", "1.50 s"]
    assert table(lines, "of which system (the kernel's)")[1][1:3] == ["250 ms", "375 ms"]


def test_number_formats() -> None:
    assert seconds(0.0994) == "99 ms"
    assert seconds(12.345) == "12.35 s"
    assert ratio(3.0, 2.0) == "1.5x"
    assert ratio(1.0, 4.0) == "0.2x"
    assert ratio(305.0, 0.2) == "1525x"
    assert written(Writes(0, 0, 0)) == "0"
