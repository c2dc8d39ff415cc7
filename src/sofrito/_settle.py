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

Rejected: settling lazily from the outputs down (rustc's order): it needs
each output's reads, a row per output; marking nothing until the settle (a
read before it would be served stale); a stored level per memo for the
topological order (one more column kept right by every commit, where the
closure's edges give the order for the nodes that need one).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from sofrito import _registry
from sofrito._engine import fetch
from sofrito._engine.listing import LISTING_KEY
from sofrito._engine.memo import ALWAYS_DIRTY, Memo
from sofrito._errors import QueryError
from sofrito._on_demand import Pending, StoreBacking
from sofrito._snapshot import LISTING, QUERY, split_memo_id
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
    return _Walk(rt, backing, pending).run()


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
            self.state[seed] = self._seed_state(seed, node)
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

    def _seed_state(self, seed: bytes, node: Any) -> int:
        """A written cell changed; a family's listing changed if a key joined or left
        (then the write made its node, dated now)."""
        base = self.pending.base
        if node is not None:
            return CHANGED if node.changed_at > base else SAME
        if seed[:1] != LISTING:
            return UNKNOWN
        input = _registry.input_named(split_memo_id(seed[1:])[0])
        table = None if input is None else self.engine.cells.get(input)
        listing = None if table is None else table.get(LISTING_KEY)
        return CHANGED if listing is not None and listing.changed_at > base else SAME

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
        for mid in wave:
            worst = worsts[mid]
            in_memory = backing._memo_in_memory(mid, held)
            if worst == SAME and in_memory is None and mid in added:
                dirty.pop(mid, None)  # green: valid as its row says, and unloaded
                recorded.pop(mid, None)
                added.discard(mid)
                state[QUERY + mid] = SAME
                self.green += 1
                continue
            found = _registry.query_and_key(*split_memo_id(mid))
            if found is None or mid in backing.untrusted:
                state[QUERY + mid] = UNKNOWN
                continue
            spec, key = found
            if spec.keys is not None and (in_memory is None or in_memory.args is None):
                state[QUERY + mid] = UNKNOWN  # its body would lack its other arguments
                continue
            verify.append((mid, spec, key))
        if not verify:
            return
        engine = self.engine
        engine.gate.enter_read()
        try:
            backing.prefetch([(spec, key) for _, spec, key in verify])
        finally:
            engine.gate.exit_read()
        for mid, spec, key in verify:
            state[QUERY + mid] = self._verify(spec, key)

    def _verify(self, spec: QuerySpec[Any], key: tuple[Any, ...]) -> int:
        """Bring one reader up to date the engine's way; whether it changed."""
        engine = self.engine
        memo: Memo = engine.memo_for(spec, key)
        before = memo.durability if memo.computed else None
        try:
            fetch.fetch_top(engine, self.rt, spec, key)
        except QueryError:
            return UNKNOWN  # suspended, a cycle, cancelled: the engine decides on a read
        except StoreError:
            raise
        except Exception:  # a cached error is a value: judged below
            pass
        if memo.verified_at != engine.revisions.current:
            return UNKNOWN
        self.verified += 1
        if (
            memo.changed_at > self.pending.base
            or memo.dirty_at == ALWAYS_DIRTY
            or (before is not None and memo.durability < before)
        ):
            return CHANGED
        return SAME
