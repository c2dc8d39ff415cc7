"""Settle the writes of a run: verify what they reached in bulk, loading only their cone.

A write in a fresh process marks every stored transitive reader of the cell
it writes (docs/persistence.md, "What opening restores"), which means loading
each one's row (decode, checksum, install) so that the engine's walk can
mark it. On the example site a page's render reads site-wide queries (the
order of pages, the index of links), so the readers of one page's file are
every render, neighbour list and backlink list: 60,000 rows at 10,000 pages,
for an edit whose page summary comes out equal, so that none of them needs
to execute. Salsa walks the same readers in memory; here each is a row.

This module is rustc's *try-mark-green*, done in bulk and on request:

1. ``marks_by_id(rt)`` (a context manager around a batch of writes): a write
   finds its stored transitive readers as ids only, one
   ``load_reader_closure``, and marks those not in memory in the dirty set
   by id (``StoreBacking._mark_by_id``). Until they are settled, anything
   that loads one loads it dirty, so the runtime is correct at every point,
   settled or not.
2. ``settle(rt)``: takes the closure in topological order, starting from the
   written cells (changed by definition) and the family listings those
   writes changed. A reader with a read that changed (or that may have:
   marked before these writes, held in memory, left undecided) is verified the
   engine's normal way, loaded and executed if need be, its value compared
   and backdated when equal; it *changed* if its ``changed_at`` moved past
   the writes, its durability went down or it now reads a pending cell. A
   reader none of whose reads in the closure changed, marked by these
   writes alone and not in memory, is *green*: its mark is dropped, without
   loading its row. It was valid before the writes (its row was clean: the
   trust rule) and every read it has is unchanged: those outside the
   closure no write reached, those inside were proved so, in order.

Why explicit, and not the library's path: between the writes and the
settle, a memo held in memory that reads a reader marked by id is marked
too (``push_back``), so reads stay correct; but settling executes queries
(the changed cone), which a write must never do on its own (a write does not
compute), and whose cost a library caller did not ask for. ``sofrito run``
knows it is about to read everything: it writes, then settles, then polls
its outputs (docs/flows.md). A listener on the runtime's events takes the
eager path (``QueryInvalidated`` names each reader, so each is loaded).

What settle does not prove green, it leaves marked, for the engine's normal
verification when something reads it: a reader whose verification
suspended, hit a cycle or was cancelled, a ``keys=`` query with no call in
this process (its body lacks its other arguments), the memos of a cycle in
the stored graph. A reader of such an undecided memo is not green, but it
is verified, not left: the engine's walk decides whether it still reads it.
That is what a deleted page needs: its own queries read a file that is gone
(the read suspends), and ``order`` reads them, but executes without them;
left undecided, with it every page's render was (1,463 rows loaded for a
page deleted from a 200-page site, 367 verified).

**Level by level** (``_Levels``). Walking the closure was still most of a
body edit at 10,000 pages (0.35 of 0.76 s of CPU): the SQL walk over 40,000
edges, a checksum per edge, a mark per reader, the topological order over
them, all for five queries that change. So when the writes start with no
memo in memory whose reads are stored ids (a fresh ``sofrito run``; a
``sofrito watch`` after each commit, ``_engine/release.py``), they only
record their cells
(``Pending.lazy``), and settle walks from them with one
``load_readers`` (the stored edges out of some nodes) per level: the
readers of what changed are marked by id and verified; the readers of what
came out equal are never asked for. A body edit asks for four levels of a
handful of edges each, and loads the same rows as before.

Without the closure there is no topological order, so a reader may be
verified before a read of its that a longer path from the writes reaches:
that read, not marked yet, loads clean and may be stale. Two rules keep it
right. (1) A reader reached that is already in memory (loaded by an
earlier verification, clean) is pushed back with every memo in memory that
read it since, and those are verified again: the engine's own walk then
brings them up to date. Every stored transitive reader that may have
changed is reached (the walk passes every reader that did not come out
equal), so at the end nothing is served from a stale load. (2) To make
(1) rare, readers with no stored readers (renders, the outputs) are
verified last, when every level above them is decided: on the example
site a title edit then executes each render once. Until settle runs,
nothing may load a memo unmarked: a load, ``untouched`` or a commit first
loads the closure and marks it (``StoreBacking.close_pending``), and
settle takes the closure's walk below; writes in a runtime that holds a
memo whose reads are stored ids mark eagerly, since that memo, loaded
before them, is not linked to what it reads and only the closure finds it
(a memo linked down to its cells is marked by the write's own walk).

Rejected: settling lazily from the outputs down (rustc's order): it needs
each output's reads, a row per output; marking nothing until the settle
with no guard (a read before it would be served stale); a stored level per
memo for the topological order (one more column kept right by every
commit, the memo row's layout and the commit belong to other modules, and
the level walk needs no order); the closure with its checks made cheaper
(it stays in proportion to the readers, 30,000 at 10,000 pages, where the
level walk is in proportion to what changed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from sofrito import _registry
from sofrito._engine import fetch, restore
from sofrito._engine.listing import LISTING_KEY
from sofrito._engine.memo import ALWAYS_DIRTY, Memo
from sofrito._errors import QueryError
from sofrito._keys import KeyEncodingError, encode_key
from sofrito._on_demand import UNDEFINED, HeldIds, Pending, StoreBacking
from sofrito._snapshot import LISTING, QUERY, memo_id, split_memo_id
from sofrito.stores import StoreError

if TYPE_CHECKING:
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.state import Engine
    from sofrito._runtime import Runtime

__all__ = ["Settled", "marks_by_id", "settle"]

SAME: Final = 0
CHANGED: Final = 1
UNKNOWN: Final = 2
"""A node's state, worst last: the worst read of a reader decides what is done with it."""


class Settled(NamedTuple):
    """What ``settle`` did with the readers the writes reached."""

    green: int
    """Proved unchanged without loading: their marks dropped."""
    verified: int
    """Verified the normal way (loaded, executed if need be)."""
    left: int
    """Left marked, for the engine to verify when read."""


@contextmanager
def marks_by_id(rt: Runtime) -> Iterator[None]:
    """Writes inside mark their stored readers by id, for ``settle`` (module
    docstring). Without a store, or with a snapshot that keeps no dirty set,
    writes mark as always."""
    backing = rt._engine.backing
    if not isinstance(backing, StoreBacking):
        yield
        return
    backing.deferring = True
    try:
        yield
    finally:
        backing.deferring = False


def settle(rt: Runtime) -> Settled:
    """Settle what writes under ``marks_by_id`` reached (module docstring): verify
    their changed cone, drop the marks of what it did not reach. Values are
    what reading without it gives; only what is loaded changes."""
    engine = rt._engine
    backing = engine.backing
    if not isinstance(backing, StoreBacking):
        return Settled(0, 0, 0)
    with backing.lock:
        pending, backing.pending = backing.pending, None
    if pending is None:
        return Settled(0, 0, 0)
    if pending.lazy:
        backing.walking = True
        try:
            return _Levels(rt, backing, pending).run()
        finally:
            backing.walking = False
    return _Walk(rt, backing, pending).run()


def _seed_state(engine: Engine, pending: Pending, seed: bytes, node: Any) -> int:
    """A written cell changed; a family's listing changed if a key joined or left
    (then the write made its node, dated now)."""
    base = pending.base
    if node is not None:
        return CHANGED if node.changed_at > base else SAME
    if seed[:1] != LISTING:
        return UNKNOWN
    input = _registry.input_named(split_memo_id(seed[1:])[0])
    table = None if input is None else engine.cells.get(input)
    listing = None if table is None else table.get(LISTING_KEY)
    return CHANGED if listing is not None and listing.changed_at > base else SAME


def _verify(walk: _Walk | _Levels, spec: QuerySpec[Any], key: tuple[Any, ...]) -> int:
    """Bring one reader up to date the engine's way; whether it changed."""
    engine = walk.engine
    memo: Memo = engine.memo_for(spec, key)
    before = memo.durability if memo.computed else None
    try:
        fetch.fetch_top(engine, walk.rt, spec, key)
    except QueryError:
        return UNKNOWN  # suspended, a cycle, cancelled: the engine decides on a read
    except StoreError:
        raise
    except Exception:  # a cached error is a value: judged below
        pass
    if memo.verified_at != engine.revisions.current:
        return UNKNOWN
    if (
        memo.changed_at > walk.pending.base
        or memo.dirty_at == ALWAYS_DIRTY
        or (before is not None and memo.durability < before)
    ):
        return CHANGED
    return SAME


def _prefetch(
    engine: Engine,
    backing: StoreBacking,
    verify: list[tuple[bytes, QuerySpec[Any], tuple[Any, ...]]],
) -> None:
    """The stored memos ``verify`` names loaded in one store read, before they are
    verified one by one; under the read gate, as every load is."""
    engine.gate.enter_read()
    try:
        backing.prefetch([(spec, key) for _, spec, key in verify])
    finally:
        engine.gate.exit_read()


def _verifiable(
    backing: StoreBacking, mid: bytes, in_memory: Memo | None
) -> tuple[QuerySpec[Any], tuple[Any, ...]] | None:
    """The query and key ``settle`` can verify ``mid`` as; None when it cannot:
    its query is not defined here, or is a ``keys=`` query with no call in this
    process (its body would lack its other arguments)."""
    found = _registry.query_and_key(*split_memo_id(mid))
    if found is None or mid in backing.untrusted:
        return None
    spec, key = found
    if spec.keys is not None and (in_memory is None or in_memory.args is None):
        return None
    return spec, key


class _Levels:
    """One settle of writes recorded lazily: their readers, level by level, only
    past the readers that changed (module docstring, "Level by level")."""

    def __init__(self, rt: Runtime, backing: StoreBacking, pending: Pending) -> None:
        self.rt = rt
        self.engine: Engine = rt._engine
        self.backing = backing
        self.pending = pending
        self.revision = self.engine.revisions.current
        self.state: dict[bytes, int] = {}
        """Node id -> SAME, CHANGED or UNKNOWN, as last decided."""
        self.readers: dict[bytes, list[bytes]] = {}
        """Node id -> the memo ids of its stored readers, once loaded."""
        self.reached: set[bytes] = set()
        """Memo ids reached: marked by id, or pushed back if they were in memory."""
        self.passed: set[bytes] = set()
        """Node ids whose readers were taken into a level (each once)."""
        self.verified: set[bytes] = set()
        self.unlinked = False

    def run(self) -> Settled:
        pending = self.pending
        for seed, node in pending.seeds.items():
            self.state[seed] = _seed_state(self.engine, pending, seed, node)
        level = self._beyond([seed for seed, state in self.state.items() if state != SAME])
        leaves: dict[bytes, None] = {}
        while level:
            self._load_readers([QUERY + mid for mid in level])
            inner = [mid for mid in level if self.readers[QUERY + mid]]
            leaves.update((mid, None) for mid in level if not self.readers[QUERY + mid])
            self._decide(inner)
            changed = [QUERY + mid for mid in inner if self.state[QUERY + mid] != SAME]
            level = self._beyond(changed)
        self._decide(list(leaves))  # last: every read of theirs that changed is known
        left = sum(1 for mid in self.reached if self.state.get(QUERY + mid) == UNKNOWN)
        return Settled(0, len(self.verified), left)

    def _beyond(self, nodes: list[bytes]) -> list[bytes]:
        """The readers of ``nodes`` (whose readers were not taken yet), and what
        reaching them pushed back: the next level."""
        fresh = [node for node in nodes if node not in self.passed]
        self.passed.update(fresh)
        self._load_readers(fresh)
        found = list(dict.fromkeys(mid for node in fresh for mid in self.readers[node]))
        again = self._reach([mid for mid in found if mid not in self.reached])
        return list(dict.fromkeys([*found, *again]))

    def _load_readers(self, nodes: list[bytes]) -> None:
        """``readers`` of each of ``nodes``: one store call for those not known yet."""
        missing = [node for node in dict.fromkeys(nodes) if node not in self.readers]
        if not missing:
            return
        for node in missing:
            self.readers[node] = []
        backing = self.backing
        with backing.lock:
            edges = backing._load_list(backing.store.load_readers, missing)
        if edges and not self.unlinked:
            self.unlinked = True  # as ``_mark_by_id``: the write's frontier is incomplete
            restore.unmarked_change(self.engine, self.revision)
        for dep, mid in edges:
            self.readers[dep].append(mid)

    def _reach(self, mids: list[bytes]) -> list[bytes]:
        """Mark each reader reached for the first time as ``_mark_by_id`` marks one:
        by id if it is not in memory (it loads dirty, whoever loads it); in
        memory, it was loaded by this walk as clean before a write was known to
        reach it, so it is pushed back with what read it since (they are
        verified again: the memo ids returned)."""
        backing = self.backing
        self.reached.update(mids)
        held: dict[bytes, int] = {}
        ids = HeldIds()
        in_memory: list[Memo] = []
        by_id: list[bytes] = []
        for mid in mids:
            memo = backing.memo_held(mid, held, ids)
            if memo is not None:
                in_memory.append(memo)
            elif backing.held_state(mid, held) == UNDEFINED:
                backing.untrusted.setdefault(mid, self.revision)
                self.state[QUERY + mid] = UNKNOWN
            else:
                by_id.append(mid)
        backing.mark_ids(by_id, self.revision)
        if not in_memory:
            return []
        pushed = _in_memory_readers(in_memory)
        restore.push_back(self.engine, pushed, self.revision)
        backing.marked += pushed
        again = [mid for mid in map(_memo_id_of, pushed) if mid is not None]
        self.reached.update(again)
        return again

    def _decide(self, mids: list[bytes]) -> None:
        """Verify each of ``mids`` that can be (loaded together), the engine's way."""
        backing = self.backing
        held: dict[bytes, int] = {}  # nothing loads before the loop ends
        ids = HeldIds()
        verify: list[tuple[bytes, QuerySpec[Any], tuple[Any, ...]]] = []
        for mid in mids:
            found = _verifiable(backing, mid, backing.memo_held(mid, held, ids))
            if found is None:
                self.state[QUERY + mid] = UNKNOWN
            else:
                verify.append((mid, *found))
        if not verify:
            return
        _prefetch(self.engine, backing, verify)
        for mid, spec, key in verify:
            state = self.state[QUERY + mid] = _verify(self, spec, key)
            if state != UNKNOWN:
                self.verified.add(mid)


def _in_memory_readers(memos: list[Memo]) -> list[Memo]:
    """``memos`` and every memo in memory that transitively read one of them."""
    seen: dict[Memo, None] = {}
    stack = list(memos)
    while stack:
        memo = stack.pop()
        if memo not in seen:
            seen[memo] = None
            stack.extend(memo.rdeps or ())
    return list(seen)


def _memo_id_of(memo: Memo) -> bytes | None:
    try:
        return memo_id(memo.spec.name, encode_key(memo.key))
    except (KeyEncodingError, TypeError):
        return None


class _Walk:
    """One settle: the closure's readers in waves of a topological order."""

    def __init__(self, rt: Runtime, backing: StoreBacking, pending: Pending) -> None:
        self.rt = rt
        self.engine: Engine = rt._engine
        self.backing = backing
        self.pending = pending
        self.state: dict[bytes, int] = {}
        """Node id -> SAME, CHANGED or UNKNOWN, once decided."""
        self.green = self.verified = 0

    def run(self) -> Settled:
        pending = self.pending
        for seed, node in pending.seeds.items():
            self.state[seed] = _seed_state(self.engine, pending, seed, node)
        state = self.state
        readers_of: dict[bytes, list[bytes]] = {}
        waiting: dict[bytes, int] = {}
        worst: dict[bytes, int] = {}
        """Per reader, the worst state among its reads decided so far: each edge is
        looked at once, as its read is decided (40,000 edges on the example site)."""
        for mid, deps in pending.deps.items():
            count = 0
            bad = SAME
            for dep in deps:
                known = state.get(dep)
                if known is None:
                    readers_of.setdefault(dep, []).append(mid)
                    count += 1
                elif known > bad:
                    bad = known
            waiting[mid] = count
            worst[mid] = bad
        wave = [mid for mid, count in waiting.items() if not count]
        while wave:
            self._decide(wave, worst)
            below: list[bytes] = []
            for mid in wave:
                decided = state[QUERY + mid]
                for reader in readers_of.get(QUERY + mid, ()):
                    if decided > worst[reader]:  # noqa: PLR1730 (no call per edge)
                        worst[reader] = decided
                    waiting[reader] -= 1
                    if not waiting[reader]:
                        below.append(reader)
            wave = below
        left = len(pending.deps) - self.green - self.verified
        return Settled(self.green, self.verified, left)

    def _decide(self, wave: list[bytes], worsts: dict[bytes, int]) -> None:
        """Green what may be, verify what must be (loaded together), per reader
        (``worsts``: the worst state of its reads, all decided by now)."""
        state = self.state
        backing = self.backing
        dirty = backing.dirty or {}
        recorded = backing.persistence._dirty or {}
        added = self.pending.added
        verify: list[tuple[bytes, QuerySpec[Any], tuple[Any, ...]]] = []
        held: dict[bytes, int] = {}  # nothing loads before the loop ends: valid for the wave
        ids = HeldIds()
        for mid in wave:
            worst = worsts[mid]
            in_memory = backing.memo_held(mid, held, ids)
            if worst == SAME and in_memory is None and mid in added:
                dirty.pop(mid, None)  # green: valid as its row says, and unloaded
                recorded.pop(mid, None)
                added.discard(mid)
                state[QUERY + mid] = SAME
                self.green += 1
                continue
            found = _verifiable(backing, mid, in_memory)
            if found is None:
                state[QUERY + mid] = UNKNOWN
                continue
            verify.append((mid, *found))
        if not verify:
            return
        _prefetch(self.engine, backing, verify)
        for mid, spec, key in verify:
            state[QUERY + mid] = decided = _verify(self, spec, key)
            if decided != UNKNOWN:
                self.verified += 1
