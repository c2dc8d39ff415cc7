"""One thread's record in a runtime (``Reader``), held by the write gate.

Read and written on every top-level computation, so it is a compiled class
in the compiled engine; the gate lets go of it when its thread ends through
a ``lifetime.ThreadMark``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sofrito._engine.frames import Frame, Task

__all__ = ["Reader"]


class Reader:
    """One thread's part in a runtime: how many reads it has open (the gate's
    business) and the execution it is running, if any (``execute.py`` keeps
    it, so that a top-level call made inside that execution, a locator's
    ``rt.query``, joins it instead of starting a new task).

    One record for both, so a top-level call finds them with one lookup of
    the thread-local.
    """

    __slots__ = ("depth", "frame", "task")

    def __init__(self, depth: int = 0) -> None:
        self.depth = depth
        self.frame: Frame | None = None
        self.task: Task | None = None
        """The task this thread's top-level calls reuse (``fetch.py``)."""
