"""The write gate: a write cancels computations in flight, waits, then writes.

Computations are readers. A write raises ``cancel_requested`` (which every
``db`` access checks, so computations unwind with ``Cancelled`` at their next
read), waits until no computation is in flight, and only then changes inputs
and bumps the revision. So no result ever mixes two revisions.

Readers that arrive while a write is waiting wait for it (writers first, so a
steady stream of reads cannot starve a write). A thread that is already inside
a computation may start nested top-level reads (a locator calling
``rt.query``) without waiting, because the write is waiting for *it*. A write
from inside a computation would wait for itself forever, so it is refused.

The memo-hit path never touches the gate: a hit returns a value that was valid
at the revision it read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["WriteGate", "WriteInsideComputation"]


class WriteInsideComputation(RuntimeError):
    """A write was attempted from inside a query body or a locator."""


class WriteGate:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._active = 0
        self._writers_waiting = 0
        self._writer: int | None = None
        self._write_depth = 0
        self._local = threading.local()
        self.cancel_requested = False
        """Read without a lock by every ``db`` access; set while a write waits or runs."""

    # -- readers -------------------------------------------------------------

    def reading_depth(self) -> int:
        depth: int = getattr(self._local, "depth", 0)
        return depth

    def enter_read(self) -> None:
        local = self._local
        depth = getattr(local, "depth", 0)
        writer = self._writer
        if depth or (writer is not None and writer == threading.get_ident()):
            local.depth = depth + 1
            return
        with self._lock:  # the plain lock: Condition's context methods are Python code
            if not self._writers_waiting and self._writer is None:
                self._active += 1
                local.depth = 1
                return
        cond = self._cond
        with cond:
            while self._writers_waiting or self._writer is not None:
                cond.wait()
            self._active += 1
        local.depth = 1

    def exit_read(self) -> None:
        local = self._local
        depth = local.depth - 1
        local.depth = depth
        writer = self._writer
        if depth or (writer is not None and writer == threading.get_ident()):
            return
        with self._lock:
            self._active -= 1
            if not self._active and self._writers_waiting:
                self._cond.notify_all()  # only a waiting writer cares that readers are gone

    def adopt_reader(self) -> None:
        """Mark this (fresh) thread as working on behalf of a reader already counted."""
        self._local.depth = getattr(self._local, "depth", 0) + 1

    def release_adopted(self) -> None:
        self._local.depth -= 1

    # -- writers -------------------------------------------------------------

    def refuse_inside_computation(self) -> None:
        """Refuse a write from a query body or a locator, even one that would change
        nothing: an impure query must fail the same way whatever the values are."""
        if getattr(self._local, "depth", 0):
            raise WriteInsideComputation(
                "cannot write to the runtime from inside a query or a locator: "
                "queries must be pure; write from the code that drives the runtime"
            )

    def holds_write(self) -> bool:
        return self._writer == threading.get_ident()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the gate for a write; re-entrant for the thread that holds it."""
        me = threading.get_ident()
        if self._writer == me:
            self._write_depth += 1
            try:
                yield
            finally:
                self._write_depth -= 1
            return
        self.refuse_inside_computation()
        self._acquire(me)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, me: int) -> None:
        with self._cond:
            self._writers_waiting += 1
            self.cancel_requested = True
            try:
                while self._active or self._writer is not None:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = me
            self._write_depth = 1

    def _release(self) -> None:
        with self._cond:
            self._writer = None
            self._write_depth = 0
            self.cancel_requested = bool(self._writers_waiting)
            self._cond.notify_all()
