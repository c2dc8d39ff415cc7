"""Cut revisions: a write whose change stopped at the memos that read it.

A write pushes dirty marks onto every transitive dependent of the written
cell (``rdeps.py``), before anyone knows whether the change will matter.
Often it does not: the memos that read the cell re-execute and return what
they returned before (early cutoff, ``backdate.py``). Without more, every
memo the marks reached must still be verified one by one, by a walk down
its reads, only to find nothing changed: a change that stops at the first
layer of a graph costs as much to verify as one that reaches the root.

So each revision keeps its *frontier*: the memos that read a cell it wrote,
as they were when it wrote. Once every one of them has been brought up to
date (in that revision or a later one) and none changed value since before
the revision, the revision is *cut*: its marks are moot. A dirty memo is
valid as it stands when every revision after its verification, up to its
mark, is cut: a check in constant time, where the walk costs a call per memo
below it.

Why that is sound, in short: a read of a memo can only have changed after
the memo's verification if some revision in between wrote a cell whose
change went on to reach that read. The first memo that read the cell then
changed value, so that revision is not cut; and its marks reached the memo
(marks follow the readers as they were at the write, and the memo still
reads what it read then). A memo keeps only its latest mark, so the check
asks every revision in between, whether it marked that memo or not. A
revision that cannot be shown cut counts as uncut, and the memo is walked as
before: its frontier not settled yet, its record gone (records are kept for
the last ``WINDOW`` revisions), a revision that a restore or
``set_current_revision`` jumped over.

What a check costs: the revisions not shown cut are kept in a sorted list,
pruned of the cut ones on every write, so a check looks at the newest of
them at or before the memo's mark, and usually finds it older than the
memo's verification. Nothing is hashed on the way.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Final

from sofrito._engine.memo import ALWAYS_DIRTY

if TYPE_CHECKING:
    from sofrito._engine.memo import Cell, Memo
    from sofrito._engine.state import Engine

__all__ = ["Frontiers", "covers", "forget_all", "jump", "open_revision", "record"]

WINDOW: Final = 64
"""Revisions whose frontier is kept, to be settled (a power of two: the ring is
indexed by a mask). A revision still unsettled that many revisions later is
taken as uncut for good."""

_MASK: Final = WINDOW - 1

KEPT: Final = 1024
"""How many uncut revisions are listed; past that, the older half is forgotten
and counts as uncut without being listed (``Frontiers.floor``)."""

SETTLING: Final = 0
CUT: Final = 1
UNCUT: Final = 2


class Frontier:
    """The memos that read what one revision wrote, and what became of them."""

    __slots__ = ("memos", "revision", "settled", "state")

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self.memos: list[Memo] = []
        self.settled = 0
        """How many of ``memos``, from the first, are known up to date and unchanged."""
        self.state = SETTLING


class Frontiers:
    """Which revisions are cut: one per runtime, changed only while a write holds the gate,
    except for a frontier's own progress (``_settle``), which any reader may move on."""

    __slots__ = ("blocked", "floor", "recent", "uncut", "unsettled_from")

    def __init__(self) -> None:
        self.recent: list[Frontier | None] = [None] * WINDOW
        """The last revisions' frontiers, at ``revision & _MASK``."""
        self.uncut: list[int] = []
        """Revisions after ``floor`` not known to be cut, ascending."""
        self.floor = 0
        """Every revision up to this one counts as uncut."""
        self.blocked = 0
        """The newest revision known uncut for good: a memo verified before it and
        marked at or after it is walked, which the engine checks before it calls
        ``covers`` (the usual answer after a change that went on)."""
        self.unsettled_from = 0
        """Entries of ``uncut`` before this index are uncut for good: no need to look again."""


def open_revision(engine: Engine, revision: int) -> None:
    """Start the record of a new revision that writes will fill (``write._bump``)."""
    frontiers = engine.frontiers
    _prune(frontiers, revision)
    frontiers.recent[revision & _MASK] = Frontier(revision)
    frontiers.uncut.append(revision)


def record(engine: Engine, cell: Cell, revision: int) -> None:
    """Add the readers of ``cell``, which ``revision`` just wrote, to its frontier."""
    frontier = engine.frontiers.recent[revision & _MASK]
    readers = cell.rdeps
    if readers and frontier is not None and frontier.revision == revision:
        frontier.memos += readers


def jump(engine: Engine, revision: int) -> None:
    """The runtime moved to ``revision`` without writes that say what changed
    (a restore, ``set_current_revision``): nothing before it can be shown cut."""
    frontiers = engine.frontiers
    frontiers.floor = max(frontiers.floor, revision)


def forget_all(engine: Engine) -> None:
    """Drop the records (a cache clear): their memos are gone, so none could settle."""
    frontiers = engine.frontiers
    frontiers.recent[:] = [None] * WINDOW


def covers(engine: Engine, verified_at: int, dirty_at: int) -> bool:
    """Whether every revision after ``verified_at`` up to ``dirty_at`` is cut."""
    frontiers = engine.frontiers
    if verified_at < frontiers.floor or dirty_at == ALWAYS_DIRTY:
        return False  # ALWAYS_DIRTY: verified in every revision, whatever was cut
    if verified_at < frontiers.blocked <= dirty_at:
        return False  # a revision in between is uncut for good (callers on the read
        # paths write this test out before the call, naming it)
    uncut = frontiers.uncut
    index = len(uncut)
    if index and uncut[index - 1] > dirty_at:
        index = bisect_right(uncut, dirty_at)
    recent = frontiers.recent
    while index:
        index -= 1
        revision = uncut[index]
        if revision <= verified_at:
            return True
        frontier = recent[revision & _MASK]
        if frontier is None or frontier.revision != revision:
            return False
        state = frontier.state
        if state == UNCUT or (state == SETTLING and not _settle(frontiers, frontier)):
            return False
    return True


def _settle(frontiers: Frontiers, frontier: Frontier) -> bool:
    """Whether ``frontier`` is cut now; moves it on as far as its memos allow.

    Each memo is looked at until it is settled, then never again, so however
    often the question is asked, a frontier costs one pass over its memos.

    A memo that settled with a lower durability than before, or reading a
    pending cell, also leaves the revision uncut: a verification of its
    readers would lower their durability too, or mark them ``ALWAYS_DIRTY``,
    and a reader taken as valid without one would keep a durability (or a
    mark) too high to be safe (``verify.walk`` explains both).
    """
    if frontier.state == UNCUT:
        return False
    revision = frontier.revision
    memos = frontier.memos
    index = frontier.settled
    count = len(memos)
    while index < count:
        memo = memos[index]
        if memo.verified_at < revision:  # not brought up to date since (or dropped)
            frontier.settled = index
            return False
        if (
            memo.changed_at >= revision
            or memo.lowered_at >= revision
            or memo.dirty_at == ALWAYS_DIRTY
        ):
            _end(frontier, UNCUT)
            frontiers.blocked = max(frontiers.blocked, revision)
            return False
        index += 1
    _end(frontier, CUT)
    return True


def _end(frontier: Frontier, state: int) -> None:
    frontier.state = state
    frontier.memos = []


def _prune(frontiers: Frontiers, revision: int) -> None:
    """Drop the revisions shown cut from ``uncut``, before ``revision`` is added.

    Runs while a write holds the gate, so no check is reading the list. An
    entry whose record is gone or uncut stays for good, and is not looked at
    again; the scan stops at the first entry still settling.
    """
    uncut = frontiers.uncut
    recent = frontiers.recent
    index = frontiers.unsettled_from
    while index < len(uncut):
        listed = uncut[index]
        frontier = recent[listed & _MASK]
        if frontier is None or frontier.revision != listed:
            index += 1  # no record to settle it: uncut for good
            frontiers.blocked = max(frontiers.blocked, listed)
        elif frontier.state == CUT or _settle(frontiers, frontier):
            del uncut[index]
        elif frontier.state == UNCUT:
            index += 1
        else:
            break
    frontiers.unsettled_from = index
    if len(uncut) > KEPT:
        half = KEPT // 2
        frontiers.floor = max(frontiers.floor, uncut[half - 1])
        del uncut[:half]
        frontiers.unsettled_from = max(0, frontiers.unsettled_from - half)
