"""Reverse dependencies: who read each node, kept exact as queries re-execute.

The graph serves two purposes. On every write the runtime walks it from the
written cell and pushes a *dirty mark* (the revision) onto every transitive
dependent; verification then skips, in O(1), any memo no write has reached
since it was verified (``verify.py``). That makes the cost of a change
proportional to what the change can affect, not to the size of the graph.
The same walk reports ``QueryInvalidated`` events when someone listens.

When nobody listens, a walk stops at memos already marked in this revision
(a batch of writes marks each memo once). When someone listens, every write
reports every transitive dependent once, so each walk keeps its own record of
the memos it reached.

Each node keeps its readers in a dict used as an ordered set (values are
None). Pushing the marks copies every node's readers into the walk's
queue, and that copy is most of a write's cost: on Python 3.13, extending
a list with a dict runs a C loop over the filled entries only, where a set
has every slot of its table scanned. It cut the write walk of W4 by about
a fifth (``benchmarks.instructions``, compiled), for 8 bytes more per
node; and the order of the walk, and of the events it reports, follows the
order in which readers started reading, not hashing.

A memo that read a pending cell carries ``ALWAYS_DIRTY`` instead of a
revision: it is verified in every revision, which is how a cached "loading"
answer learns that a sync locator has a value now. A walk must not replace
that mark with its revision (the memo would then pass as clean in later
revisions and never ask the locator again), so it leaves it and walks on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sofrito._engine.memo import ALWAYS_DIRTY
from sofrito._engine.refs import memo_ref, node_ref
from sofrito._events.kinds import QueryInvalidated

if TYPE_CHECKING:
    from sofrito._engine.memo import Cell, Memo, Node
    from sofrito._engine.state import Engine

__all__ = ["invalidate_dependents", "mark_dependents", "relink"]


def relink(memo: Memo, old: list[Node], new: list[Node]) -> None:
    """Move ``memo`` from the reverse deps of ``old`` to those of ``new``."""
    if old == new:  # nodes compare by identity: this is the common "same reads" case
        return
    if old:
        kept = set(new)
        for dep in old:
            if dep not in kept and dep.rdeps is not None:
                dep.rdeps.pop(memo, None)
    for dep in new:
        readers = dep.rdeps
        if readers is None:
            dep.rdeps = {memo: None}
        else:
            readers[memo] = None


def invalidate_dependents(
    engine: Engine, node: Node, revision: int, listing: Cell | None = None
) -> None:
    """Mark every transitive dependent of ``node`` dirty at ``revision``.

    ``listing``: the written cell's family listing, when the write added or
    removed its key (``listing.py``): its readers are walked in the same
    walk, so each dependent is reported once, ``by`` the written cell.
    """
    if not node.rdeps and (listing is None or not listing.rdeps):
        return
    if engine.listening:
        _walk_reporting(engine, node, revision, listing)
        return
    mark_dependents(engine, node, revision, listing)


def mark_dependents(engine: Engine, node: Node, revision: int, listing: Cell | None = None) -> None:
    """The silent walk: push the dirty marks, report nothing."""
    queue = list(node.rdeps or ())  # grows while the loop runs: no pop per memo
    if listing is not None and listing.rdeps:
        queue.extend(listing.rdeps)
    if not queue:
        return
    always_dirty: set[Memo] | None = None  # walked already, in this walk
    for memo in queue:
        dirty_at = memo.dirty_at
        if dirty_at == revision:
            continue
        if dirty_at == ALWAYS_DIRTY:
            if always_dirty is None:
                always_dirty = set()
            elif memo in always_dirty:
                continue
            always_dirty.add(memo)
        else:
            memo.dirty_at = revision
        readers = memo.rdeps
        if readers is not None:  # (not truthiness: compiled, that is a generic call)
            queue.extend(readers)  # compiled, a direct call; ``+=`` goes through two more


def _walk_reporting(engine: Engine, node: Node, revision: int, listing: Cell | None) -> None:
    """Mark like the silent walk, then report each dependent once for this write.

    The marks are all pushed before any event is built: a key that cannot be
    encoded raises its ``TypeError`` only after the write is complete, never
    leaving a dependent unmarked.
    """
    reached: dict[Memo, None] = {}  # insertion-ordered: the order of the reports
    queue = list(node.rdeps or ())
    if listing is not None and listing.rdeps:
        queue += listing.rdeps
    for memo in queue:  # breadth first: nearer dependents are reported first
        if memo in reached:
            continue
        reached[memo] = None
        if memo.dirty_at != ALWAYS_DIRTY:
            memo.dirty_at = revision
        if memo.rdeps:
            queue += memo.rdeps  # not .extend(): an operator costs no method call
    hub = engine.events
    by = node_ref(node)
    failure: TypeError | None = None
    for memo in reached:
        try:
            hub.publish(QueryInvalidated(memo_ref(memo), by, revision))
        except TypeError as exc:
            failure = failure or exc
    if failure is not None:
        raise failure
