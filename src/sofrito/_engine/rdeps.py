"""Reverse dependencies: who read each node, kept exact as queries re-execute.

The graph serves two purposes. On every write the runtime walks it from the
written cell and pushes a *dirty mark* (the revision) onto every transitive
dependent; verification then skips, in O(1), any memo no write has reached
since it was verified (``verify.py``). That makes the cost of a change
proportional to what the change can affect, not to the size of the graph.
The same walk reports ``QueryInvalidated`` events when someone listens.

When nobody listens, a walk stops at memos already marked in this revision
(a batch of writes marks each memo once). When someone listens, every write
reports every transitive dependent once, so each walk uses its own epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sofrito._engine.refs import memo_ref, node_ref
from sofrito._events.kinds import QueryChanged, QueryInvalidated

if TYPE_CHECKING:
    from sofrito._engine.memo import Memo, Node
    from sofrito._engine.state import Engine

__all__ = ["emit_changed", "invalidate_dependents", "relink"]


def relink(memo: Memo, old: list[Node], new: list[Node]) -> None:
    """Move ``memo`` from the reverse deps of ``old`` to those of ``new``."""
    if old == new:  # nodes compare by identity: this is the common "same reads" case
        return
    if old:
        kept = set(new)
        for dep in old:
            if dep not in kept and dep.rdeps is not None:
                dep.rdeps.discard(memo)
    for dep in new:
        readers = dep.rdeps
        if readers is None:
            dep.rdeps = {memo}
        else:
            readers.add(memo)


def invalidate_dependents(engine: Engine, node: Node, revision: int) -> None:
    """Mark every transitive dependent of ``node`` dirty at ``revision``."""
    if not node.rdeps:
        return
    if engine.listening:
        _walk_reporting(engine, node, revision)
        return
    stack = list(node.rdeps)
    while stack:
        memo = stack.pop()
        if memo.dirty_at == revision:
            continue
        memo.dirty_at = revision
        if memo.rdeps:
            stack.extend(memo.rdeps)


def _walk_reporting(engine: Engine, node: Node, revision: int) -> None:
    """Mark like the silent walk, then report each dependent once for this write.

    The marks are all pushed before any event is built: a key that cannot be
    encoded raises its ``TypeError`` only after the write is complete, never
    leaving a dependent unmarked.
    """
    engine.walk_epoch += 1
    epoch = engine.walk_epoch
    reached: list[Memo] = []
    queue = list(node.rdeps or ())
    for memo in queue:  # breadth first: nearer dependents are reported first
        if memo.mark == epoch:
            continue
        memo.mark = epoch
        memo.dirty_at = revision
        reached.append(memo)
        if memo.rdeps:
            queue.extend(memo.rdeps)
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


def emit_changed(engine: Engine, memo: Memo) -> None:
    engine.events.publish(QueryChanged(memo_ref(memo), engine.revisions.current))
