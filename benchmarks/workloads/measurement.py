"""``Measurement``: one cell of the table, with what was checked.

Plain data, so that a library's process can send its measurements to the
harness as JSON (``asdict``) and the harness can rebuild them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Measurement:
    row: str
    value: float | None = None
    """Time per operation in ``unit``; None when there is no time to show."""
    unit: str = "ms"
    runs: int = 0
    executed: int | None = None
    """Executions the workload counted (median per operation)."""
    expected: int | None = None
    """What it needs: the count for W1 and W5, the minimum for W3, 0 downstream for W4."""
    na: str | None = None
    """Why the library cannot do this workload (the cell shows n/a)."""
    wrong: str | None = None
    """A wrong value or an error, shown instead of a time."""


class Mismatch(AssertionError):
    """A library returned a value that differs from the from-scratch evaluation."""


def check(what: str, got: object, expected: object) -> None:
    if got != expected:
        raise Mismatch(f"{what}: got {_short(got)}, expected {_short(expected)}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
