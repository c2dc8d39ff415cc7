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

Entering and leaving as a reader takes no lock. Each thread has its own
``Reader`` record; a reader first raises its ``depth``, then looks at
``cancel_requested``; a writer first sets that flag, then looks at every reader's
``depth``. Whichever of the two comes second sees the other (the interpreter
lock makes these plain loads and stores sequentially consistent), so either
the reader steps back and waits, or the writer waits for the reader. A reader
takes the lock only to wake a writer that waits for it, or to wait itself.
That keeps two lock round trips off every top-level computation (W5 of the
benchmarks), which is most of what a top-level read costs besides the query.

The memo-hit path never touches the gate: a hit returns a value that was valid
at the revision it read. Every top-level computation enters and leaves here
(``fetch._attempt``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sofrito._engine.lifetime import ThreadMark
from sofrito._engine.local import Reader, inside_computation
from sofrito._errors import WriteInsideComputation

__all__ = ["Reader", "WriteGate"]


class WriteGate:
    def __init__(self, local: threading.local) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._readers: dict[weakref.ref[ThreadMark], Reader] = {}
        """Every thread's ``Reader``, by a weak reference to its thread's mark, so
        that a thread's record goes when the thread does (``lifetime.py``)."""
        self._writers_waiting = 0
        self._writer: int | None = None
        self._write_depth = 0
        self._local = local
        """Per thread: ``reader`` and ``mark`` (``local.py``)."""
        self.cancel_requested = False
        """Set while a write waits or runs. Read without a lock by every ``db`` access
        (to unwind) and by every reader that enters (to step back and wait)."""

    # -- readers -------------------------------------------------------------

    def reader(self) -> Reader:
        """This thread's record, made on its first read."""
        try:
            reader: Reader = self._local.reader
        except AttributeError:
            reader = self._local.reader = Reader()
            mark = self._local.mark = ThreadMark()
            with self._lock:
                self._readers[weakref.ref(mark, self._forget)] = reader
        return reader

    def _forget(self, mark: weakref.ref[ThreadMark]) -> None:
        """A thread ended (its mark died): drop its record."""
        self._readers.pop(mark, None)

    def inside_computation(self) -> bool:
        """Whether this thread is inside a read of this runtime (``local.py``)."""
        return inside_computation(self.reader())

    def enter_read(self) -> Reader:
        """Count a read on this thread, once no write waits; this thread's record."""
        try:  # ``self.reader()`` inlined: every top-level computation comes here
            reader: Reader = self._local.reader
        except AttributeError:
            reader = self.reader()
        depth = reader.depth
        reader.depth = depth + 1  # raised before the flag is read: see the module docstring
        if depth or not self.cancel_requested:
            return reader
        writer = self._writer
        if writer is not None and writer == threading.get_ident():
            return reader  # the writer's own reads (a batch that reads) do not wait for it
        self._wait_for_writers(reader)
        return reader

    def _wait_for_writers(self, reader: Reader) -> None:
        cond = self._cond
        with cond:
            reader.depth = 0
            cond.notify_all()  # a writer may be waiting for this reader to step back
            while self.cancel_requested:
                cond.wait()
            reader.depth = 1  # under the lock: no writer is looking at the readers now

    def exit_read(self) -> None:
        self.leave(self._local.reader)

    def leave(self, reader: Reader) -> None:
        """``exit_read`` for a caller that holds this thread's record already."""
        depth = reader.depth - 1
        reader.depth = depth  # lowered before the flag is read: see the module docstring
        if not depth and self.cancel_requested:
            self.wake_writers()

    def wake_writers(self) -> None:
        """Tell a waiting writer that this thread's reads are over."""
        with self._cond:
            self._cond.notify_all()  # only a waiting writer cares that readers are gone

    def adopt_reader(self) -> None:
        """Mark this (fresh) thread as working on behalf of a reader already counted.

        Its depth is not visible to writers, which wait for the reader that
        started the thread (that reader is blocked on this thread meanwhile).
        """
        self._local.reader = Reader(depth=1)

    def release_adopted(self) -> None:
        self._local.reader.depth -= 1

    # -- writers -------------------------------------------------------------

    def refuse_inside_computation(self) -> None:
        """Refuse a write from a query body or a locator, even one that would change
        nothing: an impure query must fail the same way whatever the values are."""
        if self.reader().depth:  # local.inside_computation, written out: every write asks
            raise WriteInsideComputation(
                "cannot write to the runtime from inside a query or a locator: "
                "queries must be pure; write from the code that drives the runtime"
            )

    def holds_write(self) -> bool:
        return self._writer == threading.get_ident()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the gate for a write; re-entrant for the thread that holds it."""
        self.acquire_write()
        try:
            yield
        finally:
            self.release_write()

    def acquire_write(self) -> None:
        """``write()`` without the context manager, for ``rt.set``'s path: a
        generator-based context manager costs more than the rest of the gate.
        Every call must be paired with ``release_write()``."""
        me = threading.get_ident()
        if self._writer == me:
            self._write_depth += 1
            return
        self.refuse_inside_computation()
        self._acquire(me)

    def release_write(self) -> None:
        if self._write_depth > 1:
            self._write_depth -= 1
        else:
            self._release()

    def _acquire(self, me: int) -> None:
        with self._cond:
            self._writers_waiting += 1
            self.cancel_requested = True  # before the readers are looked at
            try:
                while self._writer is not None or self._reading():
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = me
            self._write_depth = 1

    def _reading(self) -> bool:
        # A copy: a thread that ends meanwhile drops its record from the dict.
        return any(reader.depth for reader in tuple(self._readers.values()))

    def _release(self) -> None:
        with self._cond:
            self._writer = None
            self._write_depth = 0
            self.cancel_requested = bool(self._writers_waiting)
            self._cond.notify_all()
