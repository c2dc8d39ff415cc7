"""The cyclic garbage collector during a command: fewer passes over what lives.

A ``sofrito run`` builds a heap that only grows: every memo, value,
dependency list and parsed page lives until the commit, and the flow's own
libraries (Markdown, Pygments, Jinja) allocate millions of short-lived
objects beside it. CPython's collector counts allocations, not garbage: at
its default thresholds (700, 10, 10) it walks the young objects every 700
allocations and the growing old heap again and again, finding almost
nothing. At 10,000 pages of the example site that was about 1.5 s of a 17 s
cold build (1,700 collections, compiled engine), and none of it freed
anything a run would miss.

So a command runs with ``tuned()``:

- ``gc.freeze()`` first: what the process holds when the command starts
  (modules, classes, functions: the interpreter's and sofrito's imports) is
  moved to the permanent generation, which no collection walks again.
- Thresholds of ``THRESHOLDS`` (a young collection every 50,000 net
  allocations, not 700): each pass costs about the same, far fewer run. A
  cycle that is garbage is still collected, only later, and a run's cycles
  are few (a traceback, a frame) and small.

Both are undone on the way out, so that a caller of ``sofrito.cli.main``
inside its own process (the tests, an embedding tool) gets its collector
back as it was.

Rejected: ``gc.disable()`` for the whole run, which measured the same. A
flow is the user's code: one that makes cycles in a loop (a parse tree with
parent links, per page) would grow without bound in a long ``watch``. The
commit already pauses the collector for its own bulk work
(``_persistence._collector_paused``), where nothing it builds is garbage.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["THRESHOLDS", "tuned"]

THRESHOLDS = (50_000, 20, 100)
"""The collector's thresholds during a command (CPython's default: 700, 10, 10)."""


@contextmanager
def tuned() -> Iterator[None]:
    """Freeze what the process holds and raise the thresholds, for the
    duration; both restored after (see the module docstring)."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
