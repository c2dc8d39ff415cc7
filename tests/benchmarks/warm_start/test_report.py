"""The warm-start verdicts, from results built by hand.

Timing nothing: each test feeds the verdicts the runs a child would report
and reads the lines, so that "met" is printed exactly when the numbers meet
issue 23's targets.
"""

from __future__ import annotations

from benchmarks.warm_start.counting import Rows
from benchmarks.warm_start.graph import Shape, expected_root
from benchmarks.warm_start.report import (
    TARGET_A_ROWS,
    TARGET_A_TIME,
    TARGET_B_ROWS,
    TARGET_B_WRITES,
    Run,
    Size,
    Step,
    edit_needs,
    open_needs,
    render,
    verdicts,
)

BASELINE_MS = 100.0


def size(
    memos: int,
    *,
    open_ms: float,
    open_rows: Rows,
    edit_rows: Rows,
    written: Rows,
    root: int | None = None,
) -> Size:
    """One cache's measurements: one run of each step over a baseline child of 100 ms."""
    shape = Shape.of(memos)
    right = expected_root(shape)
    cell = shape.edited_cell()
    opened = Run(open_ms, loaded={"open": open_rows}, root=right if root is None else root)
    edited = Run(BASELINE_MS + 50, loaded={"open": edit_rows}, written=written, root=right)
    return Size(
        shape=shape,
        baseline=[Run(BASELINE_MS + 30), Run(BASELINE_MS)],
        open=Step([opened], [right], *open_needs()),
        edit=Step([edited], [right], *edit_needs(shape, cell)),
    )


def eager(memos: int) -> Size:
    """What today's restore does: every row at opening."""
    shape = Shape.of(memos)
    everything = Rows(memo=shape.memos, input=shape.leaves)
    cone = len(shape.cone(shape.edited_cell()))
    return size(
        memos,
        open_ms=BASELINE_MS + memos / 50,
        open_rows=everything,
        edit_rows=everything,
        written=Rows(memo=cone, input=1),
    )


def lazy(memos: int, *, beyond_ms: float = 12.0) -> Size:
    """What issue 23 asks for: the root's row to read it; the cone and its reads to edit."""
    shape = Shape.of(memos)
    cell = shape.edited_cell()
    need, writes, _ = edit_needs(shape, cell)
    return size(
        memos,
        open_ms=BASELINE_MS + beyond_ms,
        open_rows=Rows(memo=1),
        edit_rows=need,
        written=writes,
    )


def judged(sizes: list[Size]) -> dict[str, bool | None]:
    return {v.target: v.met for v in verdicts(sizes)}


def test_eager_loading_meets_only_the_commit_target() -> None:
    assert judged([eager(1_000), eager(10_000), eager(100_000)]) == {
        TARGET_A_ROWS: False,
        TARGET_A_TIME: False,
        TARGET_B_ROWS: False,
        TARGET_B_WRITES: True,
    }


def test_loading_what_the_rules_need_meets_every_target() -> None:
    assert set(judged([lazy(1_000), lazy(10_000), lazy(100_000)]).values()) == {True}


def test_the_time_limit_is_beyond_the_best_start_and_import() -> None:
    """The baseline's best run (100 ms, not 130) is what the step's time is measured beyond."""
    at_limit = lazy(100_000, beyond_ms=20.0)
    assert at_limit.beyond_ms(at_limit.open) == 20.0
    assert judged([lazy(1_000), at_limit])[TARGET_A_TIME] is True
    assert judged([lazy(1_000), lazy(100_000, beyond_ms=21.0)])[TARGET_A_TIME] is False


def test_one_row_more_than_needed_is_not_met() -> None:
    over = lazy(10_000)
    over.edit.runs[0].loaded["read"] = Rows(input=1)
    assert judged([lazy(1_000), over])[TARGET_B_ROWS] is False


def test_a_row_count_that_grows_with_the_cache_is_not_constant() -> None:
    grows = lazy(10_000)
    grows.open.runs[0].loaded["open"] = Rows(memo=1, edge=3)
    assert judged([lazy(1_000), grows])[TARGET_A_ROWS] is False


def test_what_was_not_measured_is_not_judged() -> None:
    verdict = judged([lazy(1_000)])
    assert verdict[TARGET_A_ROWS] is None
    assert verdict[TARGET_A_TIME] is None
    assert verdict[TARGET_B_ROWS] is True


def test_a_wrong_root_is_never_met() -> None:
    wrong = size(
        1_000, open_ms=101.0, open_rows=Rows(memo=1), edit_rows=Rows(), written=Rows(), root=-1
    )
    lines = [v.line() for v in verdicts([wrong, lazy(100_000)])]
    assert lines[0].startswith(f"- {TARGET_A_ROWS}: not met (WRONG at 1,000 memos")
    assert lines[1].startswith(f"- {TARGET_A_TIME}: not met (WRONG")


def test_the_printed_targets_are_the_verdicts() -> None:
    sizes = [eager(1_000), lazy(100_000)]
    printed = list(render(sizes, "heading"))
    at = printed.index("Targets (issue 23):")
    assert printed[at + 1 :] == [v.line() for v in verdicts(sizes)]
