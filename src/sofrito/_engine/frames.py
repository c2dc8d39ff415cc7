"""One execution in progress (``Frame``), the logical thread it belongs to
(``Task``). The ``db`` handle a query body receives is in ``handle.py``.

A ``Task`` is one top-level call and everything it computes. It is the unit of
single-flight ownership and of cycle detection: a task runs one chain of
frames at a time, even when deep chains continue on fresh threads
(``stack.py``), so "is this memo being computed by my own task?" means "is it
on my call chain?", a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sofrito._engine.memo import Memo, Node
    from sofrito._errors import CycleError, QueryError
    from sofrito._inputs import InputRef

__all__ = ["Frame", "Task"]


class Task:
    """A top-level call and all the computation it does."""

    __slots__ = ("pending", "waiting_frame", "waiting_on")

    def __init__(self) -> None:
        self.waiting_on: Memo | None = None
        self.waiting_frame: Frame | None = None
        self.pending: dict[InputRef, None] = {}


class Frame:
    """The execution of one memo: what it read, and how it ended."""

    __slots__ = ("cycle", "deps", "depth", "failure", "finished", "memo", "parent", "task")

    def __init__(self, memo: Memo, parent: Frame | None, task: Task, depth: int) -> None:
        self.memo = memo
        self.parent = parent
        self.task = task
        self.depth = depth
        self.deps: list[Node] = []
        self.cycle: CycleError | None = None
        self.failure: QueryError | None = None
        self.finished = False

    def record(self, node: Node) -> None:
        deps = self.deps
        if not deps or deps[-1] is not node:
            deps.append(node)

    def fail(self, error: QueryError) -> QueryError:
        """Remember that a system error reached this frame: its result will not be kept."""
        if self.failure is None:
            self.failure = error
        return error

    def chain_from(self, ancestor: Frame) -> list[Frame]:
        """The frames from ``ancestor`` down to this one, in call order."""
        chain: list[Frame] = []
        frame: Frame | None = self
        while frame is not None:
            chain.append(frame)
            if frame is ancestor:
                break
            frame = frame.parent
        chain.reverse()
        return chain
