"""Give memos back to the store: a resident process drops the memos it cannot mark.

A memo loaded on demand keeps its reads as stored ids (``Memo.stored_deps``)
until something walks it: nothing in memory links it to what it reads, so a
write's walk through the reverse dependencies cannot reach it, nor anything
that read it. Only the stored reader closure of the written cell can, which
is why writes in a runtime holding such a memo mark their whole closure by
id (``sofrito._on_demand.StoreBacking._mark_by_id``): 40,000 ids read and
decided for a one-page edit of the example site at 10,000 pages, where a
fresh process walks from the edit level by level and asks for a few dozen.
A ``sofrito watch`` kept every memo its runs loaded, so each of its edits
cost more than a fresh ``sofrito run`` of the same edit.

So after a commit, when the store holds everything, a resident session
drops the memos that are not linked all the way down (``unlinked``): each
memo whose reads are stored ids, and every memo that transitively read one
(its reads reach an unlinked memo, so a write's walk would stop short of it
too). What stays is linked down to its cells: a write's own walk marks it.
A memo dropped is its row again: the next read loads it, as a fresh process
would, and nothing executes that would not have.

The caller decides which memos may go (``sofrito._on_demand`` keeps any set
with a memo the store has no row for, or one marked and not verified since)
and holds the write gate: no read is in flight while records are unlinked.

Rejected: keeping the memos and marking the held ones with stored reads at
each write (a guard, undone after the settle): a write's own walk and the
guard mark the same field, so undoing one could undo the other; dropping
every memo after each run (a fresh process's state, but a watch that built
cold would load back what it had just computed, linked).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sofrito._engine import frontier, hits, rdeps
from sofrito._engine.memo import DROPPED, NOT_HITTABLE, Memo

if TYPE_CHECKING:
    from sofrito._engine.state import Engine

__all__ = ["drop_memos", "unlinked", "with_stored_reads"]


def with_stored_reads(engine: Engine) -> Iterator[Memo]:
    """The memos held whose reads are still stored ids (loaded, not walked since)."""
    for table in engine.tables.values():
        for memo in table.values():
            if memo.stored_deps is not None:
                yield memo


def unlinked(engine: Engine) -> set[Memo]:
    """The memos held whose reads are stored ids, and every memo that transitively
    read one."""
    found: set[Memo] = set()
    stack = list(with_stored_reads(engine))
    while stack:
        memo = stack.pop()
        if memo in found:
            continue
        found.add(memo)
        readers = memo.rdeps
        if readers:
            stack.extend(readers)
    return found


def drop_memos(engine: Engine, gone: set[Memo]) -> None:
    """Remove the memos ``gone`` (closed under readers: ``unlinked``) from the
    runtime: out of their tables, out of every reader list that names them, their
    links cut both ways. A top-level call that found one just before sees it
    ``DROPPED`` and looks its key up again, as after ``rt.clear_cache()``."""
    for memo in gone:
        table = engine.tables.get(memo.spec)
        if table is not None and table.get(memo.key) is memo:
            del table[memo.key]
        ring = engine.lrus.get(memo.spec)
        if ring is not None:
            ring.order.pop(memo, None)
        engine.gathered.pop(memo, None)
    _unlink(engine, gone)
    for memo in gone:
        memo.verified_at = DROPPED
        memo.hit_at = NOT_HITTABLE
        memo.rdeps = None  # (readers and reads form cycles: freed now, not collected)
        memo.deps = ()
    hits.forget_all(engine)
    frontier.forget_all(engine)  # their frontiers list memos that will not settle now


def _unlink(engine: Engine, gone: set[Memo]) -> None:
    """Take ``gone`` out of the reader lists of every node that stays. A memo with
    stored reads may be listed by nodes it does not list itself (the eager
    marking links it to what its stored edges name, ``restore.link_reader``),
    so every node held is looked at, not only the reads of ``gone``."""
    for table in engine.tables.values():
        for memo in table.values():
            rdeps.drop_readers(memo, gone)
    for cells in engine.cells.values():
        for cell in cells.values():
            rdeps.drop_readers(cell, gone)
