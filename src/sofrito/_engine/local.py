"""Per-thread state: everything the engine keeps for one thread, in one place.

Each runtime has one ``threading.local`` (``Engine.local``). Its fields, who
sets them and when:

- ``reader``: the thread's ``Reader`` (below). Set on the thread's first read
  of the runtime by the write gate (``cancel.WriteGate.reader``), or, on a
  thread that continues a deep chain on a fresh stack, by
  ``WriteGate.adopt_reader`` (``stack.py``). Read on every top-level
  computation (``fetch.fetch_top`` writes that lookup out in place).
- ``mark``: the ``lifetime.ThreadMark`` set beside ``reader``, which the gate
  holds weakly to let go of the record when the thread ends.
- ``batch``: the ``Batch`` of an open ``rt.batch()`` on this thread, or None.
  Set by ``write.batch`` on entry, back to None when the outermost one exits.
- ``locating``: the cells whose locators this thread is running now (a
  locator that reads its own cell is a cycle, not a recursion). Filled and
  emptied by ``inputs.locate`` around each locator call.

A ``Reader`` then holds what a thread does inside the engine: ``depth`` (its
open reads, the gate's business), ``frame`` (the execution its body runs,
set and restored by ``execute.execute``), ``task`` (the idle task its
top-level calls reuse, ``fetch.py``).

Why one module: the same questions ("what is this thread doing?", "is it
inside a computation?") were answered from four places (the gate's local, a
module-global local for locators, the batch in ``write.py``, the reader in
its own module), each with its own story of when it is set.

The fields are read through plain ``getattr`` on the thread-local rather
than through a ``threading.local`` subclass: the engine is compiled with
mypyc, which does not compile subclasses of it.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sofrito._engine.frames import Frame, Task
    from sofrito._engine.memo import Cell

__all__ = ["Batch", "Reader", "inside_computation", "locating", "open_batch"]


class Reader:
    """One thread's part in a runtime: how many reads it has open (the gate's
    business) and the execution it is running, if any (``execute.py`` keeps
    it, so that a top-level call made inside that execution, a locator's
    ``rt.query``, joins it instead of starting a new task).

    One record for both, so a top-level call finds them with one lookup of
    the thread-local. Read and written on every top-level computation, so it
    is a compiled class in the compiled engine.
    """

    __slots__ = ("depth", "frame", "task")

    def __init__(self, depth: int = 0) -> None:
        self.depth = depth
        """Reads this thread has open (``cancel.py``); above 0 inside a
        computation or a locator, so a write from here is refused."""
        self.frame: Frame | None = None
        self.task: Task | None = None
        """The task this thread's top-level calls reuse (``fetch.py``)."""


def inside_computation(reader: Reader) -> bool:
    """Whether this thread is inside a read: a query body, a locator, or a
    top-level call (the one definition; ``cancel.WriteGate`` asks it before
    a write, ``fetch.fetch_top`` and ``execute.py`` keep ``depth``)."""
    return reader.depth > 0


class Batch:
    """An open ``rt.batch()``: how deep it nests, whether it bumped the revision
    yet, and the write gate it holds from its first write until it ends."""

    __slots__ = ("bumped", "depth", "resources")

    def __init__(self) -> None:
        self.depth = 0
        self.bumped = False
        self.resources = ExitStack()


def open_batch(local: threading.local) -> Batch | None:
    """This thread's open batch, if any."""
    batch: Batch | None = getattr(local, "batch", None)
    return batch


def locating(local: threading.local) -> set[Cell]:
    """The cells whose locators this thread is running now."""
    try:
        running: set[Cell] = local.locating
    except AttributeError:
        running = local.locating = set()
    return running
