"""What every library adapter provides; the harness drives only this."""

from __future__ import annotations

from typing import Protocol


class Adapter(Protocol):
    name: str
    package: str | None
    """The PyPI distribution, for the version column; None for sofrito and the baseline."""
    executions: int
    """Node bodies run since the harness last reset it."""
    supports_cutoff: bool

    def build(self) -> None:
        """Create the 1,000 leaves and the node definitions (no computing yet)."""

    def read_root(self) -> int: ...

    def set_leaf(self, leaf: int, value: int) -> None: ...

    def build_fanout(self) -> None:
        """One input read by 10,000 queries."""

    def set_fanout(self, value: int) -> None: ...

    def read_fanout(self) -> list[int]: ...

    def build_hit(self) -> None:
        """A trivial memoized call, for the memo-hit cost."""

    def hit(self) -> int: ...
