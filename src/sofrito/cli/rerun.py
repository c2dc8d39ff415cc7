"""``sofrito run`` once more after losing the race for the cache's head.

Two runs of one flow at once (two terminals, a CI job and a laptop on one
PostgreSQL store) each compute from the boundary they opened at. The store
lets the first commit and refuses the second (the head advances by
compare-and-swap): ``Conflict``, nothing written. The loser's work was
computed from a boundary that is no longer the head, so none of it may be
committed; the way on (docs/persistence.md) is to open the runtime again at
the new head and run again. ``run`` does that once by itself:
``run_retrying`` opens a fresh session on the same store (the runtime
restored from the winner's boundary), which rescans the sources, recomputes
what differs from what the winner committed, rewrites the outputs whose
bytes differ (the first attempt may have written some: they were right for
the disk it scanned, and the record the rerun reads is the winner's) and
commits.

Once, not until it wins: a second loss means other runs keep committing
while this one computes (a busy shared store, a ``watch`` committing on
every save), and a loop could go on for as long as they do. The second loss
exits 5 with a line that says so, and the user decides.

Rejected: committing the same delta again at the new head. The delta was
computed from the old boundary; laid over the new one it is exactly the
mixed state the compare-and-swap exists to prevent. Rejected too: rerunning
inside ``run_once``. It would have to reopen its own session, which belongs
to its caller.

``watch`` and ``serve`` keep one session for many runs, so for them a lost
race has a second consequence: the session's runtime stays at the boundary
it opened, and every later run of it would lose again (its commit, or
already its first lazy load of what the winner wrote). So a long-lived
session is replaced by a fresh one whenever it loses (``Watch`` in
``watch.py``), the run that lost is run once more on it like ``run``'s,
and a second loss is reported as one failed run while the watch goes on,
from the newest head.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from sofrito.cli.errors import CacheBusy
from sofrito.cli.runner import RunSummary, Session
from sofrito.stores import Conflict

__all__ = ["Reopening", "run_retrying"]


class Reopening(NamedTuple):
    """How to start again from the newest head after a lost race."""

    open_session: Callable[[], Session]
    """A fresh session on the same store: the runtime restored from its head."""
    where: str
    """The cache, as the error line names it."""
    lost: Callable[[Conflict], None]
    """Told of the first loss of a run, before it runs again."""


def run_retrying(
    session: Callable[[], Session], run: Callable[[Session], RunSummary], reopening: Reopening
) -> RunSummary:
    """``run`` on ``session()``; after a ``Conflict``, ``reopening.lost(conflict)`` and
    ``run`` once more on ``reopening.open_session()``. A second ``Conflict`` is
    ``CacheBusy`` naming the cache."""
    try:
        return run(session())
    except Conflict as exc:
        reopening.lost(exc)
    try:
        return run(reopening.open_session())
    except Conflict as exc:
        raise CacheBusy(
            f"another process committed to the cache {reopening.where} during this run, and "
            "again while it ran a second time; nothing of it was committed: run again when "
            f"the other runs are done ({exc})"
        ) from None
