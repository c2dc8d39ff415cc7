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

**Readers: a short tuple, a dict past ``SMALL``.** Most nodes have a few
readers (two or three in the benchmark graphs, a page's parts in a site);
a few have thousands (a template, a configuration, the listing of a
family). A node keeps its readers in a tuple while it has at most
``SMALL`` of them, and in a dict used as an ordered set (values None) past
that; None while nobody reads it. A tuple of two readers is 56 bytes, one
allocation; a list of them was 120 in two (a header, and an array grown
to eight slots by its second append), a dict 232: the dict was 40% of a
memo's bookkeeping (issue 27). Adding a reader to a tuple looks for it
first (at most ``SMALL`` identity compares, in C), so a node never lists a
reader twice; a long tuple would make that look-up, and every copy, cost
the node's fan-out, so past ``SMALL`` the dict takes over, for good.

A tuple is never changed, only replaced, and it is replaced by
compare-and-swap: build the new tuple, then store it only if the node
still holds the one it was built from (``node.rdeps is readers``), else
start again. Between that test and the store there is no call and no
allocation, so no other thread can run, in either build (the interpreter
switches threads only at calls and backward jumps; compiled code only
when it calls back into Python). So two executions on two threads that
link readers to one node at once both land, which a list or dict made
on first use did not promise (the first reader's could be lost). The
dict is changed in place: one ``d[k] = v`` or ``pop`` is atomic already.

Rejected: a list (the array it grows into is most of its size, and an
append or remove in place cannot be compare-and-swapped with a copy); a
set (its copy into the walk's queue scans every slot of its table, where a
dict's and a tuple's run over the filled entries only); one dict always
(its size); one tuple always (quadratic when thousands of readers are
linked or unlinked, as a store's closure load does); readers kept only as
reads (``Memo.deps``), with no reverse edges (then a write cannot mark,
and every read walks).

Both shapes keep the order in which readers started reading, so the walk,
and the events it reports, follow that order, not hashing.

A memo that read a pending cell carries ``ALWAYS_DIRTY`` instead of a
revision: it is verified in every revision, which is how a cached "loading"
answer learns that a sync locator has a value now. A walk must not replace
that mark with its revision (the memo would then pass as clean in later
revisions and never ask the locator again), so it leaves it and walks on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from sofrito._engine.memo import ALWAYS_DIRTY
from sofrito._engine.refs import memo_ref, node_ref
from sofrito._events.kinds import QueryInvalidated

if TYPE_CHECKING:
    from sofrito._engine.memo import Cell, Memo, Node, Readers
    from sofrito._engine.state import Engine

__all__ = ["SMALL", "add_reader", "drop_reader", "drop_readers", "invalidate_dependents", "relink"]

SMALL: Final = 16
"""The most readers a node keeps in a tuple; a dict holds more (module docstring)."""


def add_reader(node: Node, memo: Memo) -> None:
    """Record that ``memo`` reads ``node``; nothing if it is recorded already.

    ``backdate.store`` writes its common cases out for a first execution
    (every memo of a cold build), and says so."""
    while True:
        readers = node.rdeps
        grown: Readers
        if readers is None:
            grown = (memo,)
        elif isinstance(readers, dict):
            readers[memo] = None
            return
        elif memo in readers:
            return
        elif len(readers) < SMALL:
            grown = readers + (memo,)  # noqa: RUF005 (unpacking builds a list first)
        else:
            many: dict[Memo, None] = dict.fromkeys(readers)
            many[memo] = None
            grown = many
        if node.rdeps is readers:  # compare-and-swap: the module docstring
            node.rdeps = grown
            return


def drop_reader(node: Node, memo: Memo) -> None:
    """``memo`` no longer reads ``node``."""
    while True:
        readers = node.rdeps
        if readers is None:
            return
        if isinstance(readers, dict):
            readers.pop(memo, None)
            return
        if memo not in readers:
            return
        at = readers.index(memo)
        kept = readers[:at] + readers[at + 1 :]
        if node.rdeps is readers:  # compare-and-swap: the module docstring
            node.rdeps = kept if kept else None
            return


def drop_readers(node: Node, gone: set[Memo]) -> None:
    """None of ``gone`` reads ``node`` any more: one pass over its readers, where
    ``drop_reader`` per memo would copy a tuple per memo. Called under the write
    gate (``release.py``), so no execution links a reader meanwhile."""
    readers = node.rdeps
    if not readers:
        return
    if isinstance(readers, dict):
        for memo in [memo for memo in readers if memo in gone]:
            del readers[memo]
        return
    kept = tuple(memo for memo in readers if memo not in gone)
    if len(kept) != len(readers):
        node.rdeps = kept or None


def relink(memo: Memo, old: tuple[Node, ...], new: tuple[Node, ...]) -> None:
    """Move ``memo`` from the reverse deps of ``old`` to those of ``new``."""
    if old == new:  # nodes compare by identity: this is the common "same reads" case
        return
    if old:
        kept = set(new)
        for dep in old:
            if dep not in kept:
                drop_reader(dep, memo)
    for dep in new:
        add_reader(dep, memo)


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
