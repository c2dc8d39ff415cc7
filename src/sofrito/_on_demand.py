"""``StoreBacking``: a runtime on a store loads its records on demand.

Opening reads the snapshot header (``RuntimeStore.load_header``) and nothing
that grows with the cache; then the engine asks this backing for a record the
first time it needs one (``_engine/backing.py`` lists the five questions and
where they are asked). Each answer is one store call, or two, checked as
opening used to check every row (seal, fingerprint), and installed through
``_engine/restore.py``.

**What opening still finds, each in proportion to what changed:**

- inputs persisted after the last commit (``durable=True``): the snapshot
  meta records the head its commit left; if the header's head is another,
  ``load_inputs_changed_after`` returns those cells, which are installed and
  whose stored readers are marked (``restore.catch_up``);
- queries whose stored memos cannot be trusted: the meta maps each query
  with stored rows to its fingerprint at commit, and lists the memos read
  by a stored row while having no row themselves (``persist=False``, cached
  errors, values that could not be stored, deleted rows: memo by memo, as
  naming their queries would push back readers in proportion to the cache).
  The readers of every memo of a query whose fingerprint differs now (or
  that is not defined in this process), and of every such unstored memo,
  are pushed back (one ``load_reader_closure``, seeded by those memos and by
  name prefix): they verify before they are served, as the eager restore
  pushed back the readers of a discarded memo. None of them, no round trip.

**The trust rule.** A memo installed later and reached by no closure is
clean for the writes this process made: its ``dirty_at`` is the snapshot's
revision, as at an eager open. That trusts the stored edges for marking: a
write loads the stored transitive readers of the written cell
(``readers``, once per node) and links them, so the engine's own walk marks
them. Per-row checksums catch a damaged row when it is loaded; an edge row
that vanished is not detectable on demand (``load_snapshot`` still checks
every row and the edge seal; docs/persistence.md).

**One boundary.** Every load passes the head this process opened at, or
last wrote (``Persistence.head``); ``StaleRead`` reaches the caller of the
read (inside a computation wrapped in ``LoadFailed``, see ``backing.py``).
No silent refresh: what this process holds may not be valid under the newer
boundary, and only a reopen can tell.

**A row that fails its check when loaded** raises ``CorruptSnapshot`` naming
the row. With ``on_corrupt="cold"`` it is dropped instead, with a warning
(logger ``sofrito.persistence``): a memo row counts as discarded (it
executes; its stored readers are pushed back), an input row as absent (its
locator is asked, or its readers suspend). Dropping the whole runtime's
state, as a cold *open* does, was rejected in the middle of a run: it would
throw away what the program is holding and computing. A row whose
fingerprint differs from the query's now is discarded the same way.

**In bulk, when asked.** Each question above loads what one read needs,
so a process loads no row the rules do not need (the on-demand property
tests hold every library call to that). A caller that knows it will read
most of a query's memos says so: ``prefetch(rt, calls)`` (below) loads
their rows in one ``load_memo_rows`` call, then the stored reads of those
a write marked, one ``load_memo_rows`` (and one ``load_input_rows``) per
level of the graph below them, instead of one round trip per memo as
verification meets them. ``sofrito run`` does it before it polls every
output (docs/flows.md). Nothing is prefetched unasked: a library read of
one root must not load 10,000 rows because a tool once did. A bulk load
asks for its ids sorted (the rows of one query are neighbours in the
store's index: SQLite reads each page once) and decodes each query name
and key once (``_Resolver``): a template edit on the example site loads
four rows per page, all four of one key.

Rejected: loading a memo's dependencies with it (a read of an unchanged root
would load its whole cone); refreshing on ``StaleRead`` (see above); one
store call per dependency while verifying (the walk asks for all of a
memo's reads at once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple, NoReturn, TypeVar

from sofrito import _registry
from sofrito._codec import CodecError, IntegrityError
from sofrito._engine import release, restore, write
from sofrito._engine.backing import LoadFailed
from sofrito._engine.listing import LISTING_KEY, digest_of, is_listing, listing_for
from sofrito._engine.memo import NEVER, Cell, CellStatus, Memo, Node
from sofrito._entry_points import keyed_split
from sofrito._interpreted import without_context
from sofrito._keys import KeyEncodingError, decode_key, encode_key
from sofrito._queries import spec_of
from sofrito._snapshot import (
    INPUT,
    LISTING,
    QUERY,
    MemoRow,
    NodeId,
    decode_memo_row,
    encode_node_id,
    memo_id,
    split_memo_id,
)
from sofrito.stores import CorruptSnapshot, InputState, InputStatus, StoreError

if TYPE_CHECKING:
    from sofrito._engine.local import Reader
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.state import Engine
    from sofrito._inputs import Input
    from sofrito._persistence import Persistence
    from sofrito._runtime import Runtime

__all__ = ["Meta", "Pending", "StoreBacking", "dirty_after", "prefetch", "untouched"]

UNDEFINED: Final = 0
NONE_HELD: Final = 1
SOME_HELD: Final = 2
"""What ``StoreBacking.held_state`` found of a query, per name."""

_UNRESOLVED: Final = 0
_CELL_GONE: Final = 1
"""What ``StoreBacking._resolve`` returns when a memo's stored reads do not all resolve."""

_SEEDS_PER_QUERY: Final = 8
"""Memos of one query discarded one by one, each loading its own closure of
stored readers, before the closure of all its memos is loaded at once
(``StoreBacking._discard``)."""

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
log = logging.getLogger("sofrito.persistence")


def prefetch(rt: Runtime, calls: Iterable[tuple[Any, tuple[Any, ...]]]) -> None:
    """Load the stored memos of these ``(query, key)`` calls in bulk, for a caller
    about to read most of them (``sofrito run`` polls every output): their rows
    in one call, then what verifying them will read, one call per level
    (``StoreBacking.prefetch``; module docstring, "In bulk"). Values stay the
    same; only the number of round trips changes. Without a store, or for
    memos already in memory, it does nothing. A first build that reads traces
    loads theirs together too (``TraceBook.expect``)."""
    engine = rt._engine
    write.refuse_until_loaded(engine, "read")
    backing = engine.backing
    persistence = rt._persistence
    traces = None if persistence is None else persistence.traces
    if backing is None and traces is None:
        return
    specs: list[tuple[QuerySpec[Any], tuple[Any, ...]]] = []
    for query, args in calls:
        spec = spec_of(query)
        key = keyed_split(spec, args)[0] if spec.keys is not None else tuple(args)
        specs.append((spec, key))
    if traces is not None:
        traces.expect(specs)  # a first build (nothing stored, no backing): their traces
    if backing is None:
        return
    engine.gate.enter_read()
    try:
        backing.prefetch(specs)
    finally:
        engine.gate.exit_read()


def release_unlinked(rt: Runtime) -> int:
    """Right after a commit, in a session that stays open (``sofrito watch``,
    ``serve``): drop the memos held that a write's own walk cannot mark
    (``Persistence.release_unlinked``), so that the next writes mark lazily, as
    in a fresh process; how many went. Nothing without a store."""
    persistence = rt._persistence
    if persistence is None:
        return 0
    with rt._engine.gate.write():
        return persistence.release_unlinked()


def untouched(rt: Runtime, calls: Sequence[tuple[Any, tuple[Any, ...]]]) -> list[bool]:
    """For each ``(query, key)`` call: whether its stored row, *if it has one*, is
    its value now, known without loading it (``StoreBacking.untouched``). A
    caller that knows from elsewhere that the row exists and what its
    ``changed_at`` is (``sofrito run``'s record of outputs, committed with the
    rows) need not read it at all. All False without a store."""
    engine = rt._engine
    write.refuse_until_loaded(engine, "read")
    backing = engine.backing
    if not isinstance(backing, StoreBacking):
        return [False] * len(calls)
    specs: list[tuple[QuerySpec[Any], tuple[Any, ...]]] = []
    for query, args in calls:
        spec = spec_of(query)
        specs.append((spec, keyed_split(spec, args)[0] if spec.keys is not None else tuple(args)))
    engine.gate.enter_read()
    try:
        return backing.untouched(specs)
    finally:
        engine.gate.exit_read()


class Pending:
    """Writes marked by id and not settled yet (``StoreBacking._mark_by_id``)."""

    __slots__ = ("added", "at", "base", "deps", "done", "lazy", "seeds", "unclosed")

    def __init__(self, base: int, *, lazy: bool) -> None:
        self.base = base
        """The revision before the first of these writes: a node whose ``changed_at``
        is after it changed."""
        self.at = base
        self.done: set[bytes] = set()
        """Seeds whose readers were marked in revision ``at`` (a batch writes a
        family's listing once, however many of its cells it writes)."""
        self.seeds: dict[bytes, Node | None] = {}
        """Node ids written (cells; a family's listing, None), and the cell."""
        self.deps: dict[bytes, dict[bytes, None]] = {}
        """Per reader memo id reached, the node ids it reads among the seeds and
        the readers reached (the stored edges of the closure)."""
        self.added: set[bytes] = set()
        """Memo ids whose mark in ``dirty`` these writes added (none was there)."""
        self.lazy = lazy
        """No closure loaded yet, and none will be unless something loads a memo
        before ``settle``: it walks the readers level by level (``sofrito._settle``)."""
        self.unclosed: list[tuple[bytes, int]] = []
        """Seeds (with the revision that wrote them) whose closure is not loaded:
        ``StoreBacking.close_pending`` loads and marks it when a memo is loaded
        (or a commit or ``untouched`` reads the marks) before the settle."""


class Meta(NamedTuple):
    """What the snapshot meta says about the stored rows (``Persistence._meta``)."""

    listings: dict[str, tuple[int, tuple[int, int]]]
    """Per family with a listing read by a stored memo: its revision and digest."""
    queries: dict[str, bytes]
    """Per query with stored rows: its fingerprint at the commit that last wrote one."""
    unstored: frozenset[bytes]
    """Memo ids read by a stored row while having no row of their own."""
    families: frozenset[str]
    """Input families with stored cells (as of the last commit)."""
    head: int
    """The runtime's head just after the commit that wrote this meta."""
    dirty: dict[bytes, int] | None
    """Stored memos a write, a push back or a discard reached and that were not
    verified since, each with its *mark*: its row counts as verified before
    that revision at the latest, whatever its own ``verified_at`` says
    (``StoreBacking._marks``). For a write's mark that is the write's revision;
    for a memo pushed back or discarded it can be the row's own revision (a
    push back in the revision it was verified in; a query's code changed and
    its memos re-executed in the revision its readers were verified in). So
    the earliest mark holds. Every other row is valid as of its own
    ``verified_at`` up to the snapshot. None: not recorded (every row counts
    as dirty at the snapshot's revision, as an eager open had it)."""


def dirty_after(
    engine: Engine,
    dirty: dict[bytes, int] | None,
    marked: Iterable[Node],
    written: Iterable[Cell],
    full: bool,
) -> dict[bytes, int] | None:
    """The dirty set a commit records (``Meta.dirty``): the stored memos marked
    and not verified since. Those ``dirty`` (the stored set) lists that this
    process has not loaded stay; those in memory are judged by their state;
    the memos marked here are found from what marked them (the written cells
    and their listings, and ``marked``: ``StoreBacking.marked``), in
    proportion to what was marked, not to the cache. None stays None."""
    if dirty is None:
        return None
    backing = engine.backing
    if isinstance(backing, StoreBacking):
        backing.close_pending()  # a commit before the settle records every mark
    found: dict[bytes, int] = {} if full else dict(dirty)
    for mid in list(found):
        memo = _in_memory(engine, mid)
        if memo is not None and memo.verified_at != NEVER and not _is_dirty(memo):
            del found[mid]  # (one never computed here is its row as it was, marks and all)
    seeds: list[Node] = list(marked)
    for cell in written:
        seeds.append(cell)
        listing = (engine.cells.get(cell.input) or {}).get(LISTING_KEY)
        if listing is not None:
            seeds.append(listing)
    seen: set[Memo] = set()
    stack = [reader for node in seeds for reader in _readers(node)]
    stack += [node for node in seeds if type(node) is Memo]
    while stack:
        memo = stack.pop()
        if memo in seen:
            continue
        seen.add(memo)
        if _is_dirty(memo) and memo.verified_at != NEVER:
            _mark(found, memo, memo.verified_at + 1)
        stack.extend(_readers(memo))
    if isinstance(backing, StoreBacking):
        for node in marked:
            if type(node) is Memo and node.verified_at == NEVER:
                # Discarded here (its row's code is not the query's, or its reads
                # are gone) and not computed since: its row stays, and comes back
                # into use if its code does (an edit undone). This process may
                # have changed what it read from its first revision on, unseen
                # (installed empty, it is linked to nothing).
                _mark(found, node, backing.revision)
    return found


def _mark(found: dict[bytes, int], memo: Memo, before: int) -> None:
    """Record ``memo``'s row as verified before revision ``before`` at the latest
    (``Meta.dirty``); the earliest of two marks holds."""
    if not memo.spec.persist:
        return
    try:
        mid = memo_id(memo.spec.name, encode_key(memo.key))
    except (KeyEncodingError, TypeError):
        return
    found[mid] = min(found.get(mid, before), before)


def _in_memory(engine: Engine, mid: bytes) -> Memo | None:
    found = _registry.query_and_key(*split_memo_id(mid))
    if found is None:
        return None
    spec, key = found
    table = engine.tables.get(spec)
    return None if table is None else table.get(key)


def _is_dirty(memo: Memo) -> bool:
    """Marked after its last verification (``ALWAYS_DIRTY`` included)."""
    return memo.dirty_at > memo.verified_at


def _readers(node: Node) -> list[Memo]:
    return list(node.rdeps or ())


def _query_prefix(node_id: bytes) -> bytes | None:
    """The name prefix of a memo's node id (what ``load_reader_closure``'s
    ``node_prefixes`` match: ``encode_node_id((QUERY, name, b""))``); None for
    a cell's or a listing's."""
    if node_id[:1] != QUERY:
        return None
    return node_id[: 5 + int.from_bytes(node_id[1:5], "big")]


_NONE_MARKED: Final[frozenset[Any]] = frozenset()
_PLAIN: Final = frozenset({str, int, bytes, bool, float, type(None)})


def _plain(key: tuple[Any, ...]) -> bool:
    """Whether every part of ``key`` is of a type ``encode_key`` always encodes
    (and ``decode_key`` gives back equal, but for a NaN)."""
    for part in key:  # noqa: SIM110 (no generator per key: a run asks about 10,000)
        if type(part) not in _PLAIN:
            return False
    return True


class _Resolver:
    """``_registry.query_and_key`` for many memo ids at once: each query name and
    each key's bytes decoded once. A page's render, summary, parsed and links
    share their key, so a template edit's 40,000 rows have 10,000 keys."""

    __slots__ = ("keys", "specs")

    def __init__(self) -> None:
        self.specs: dict[str, QuerySpec[Any] | None] = {}
        self.keys: dict[bytes, tuple[Any, ...] | None] = {}

    def __call__(self, mid: bytes) -> tuple[QuerySpec[Any], tuple[Any, ...]] | None:
        name, key_bytes = split_memo_id(mid)
        spec = self.specs.get(name, _UNSEEN)
        if spec is _UNSEEN:
            spec = self.specs[name] = _registry.query_named(name)
        if spec is None:
            return None
        key = self.keys.get(key_bytes, _UNSEEN)
        if key is _UNSEEN:
            try:
                key = decode_key(key_bytes)
            except ValueError:  # a class that moved: the row cannot be used
                key = None
            self.keys[key_bytes] = key
        return None if key is None else (spec, key)


_UNSEEN: Final[Any] = object()


def _walks(memo: Memo) -> bool:
    """Whether verifying ``memo`` will load its stored reads: it has them, and a
    write marked it after its last verification."""
    return memo.stored_deps is not None and _is_dirty(memo)


class HeldIds:
    """How ``StoreBacking.memo_held`` finds memos in memory over one batch of ids,
    per query (by the name's bytes at the head of an id): its table, how many of
    its ids were asked about, and, once that passed the memos it holds, their ids."""

    def __init__(self) -> None:
        self.table_of: dict[bytes, dict[tuple[Any, ...], Memo] | None] = {}
        self.asked: dict[bytes, int] = {}
        self.by_head: dict[bytes, dict[bytes, Memo]] = {}


class StoreBacking:
    """``_engine.backing.Backing`` over a ``RuntimeStore`` (module docstring)."""

    def __init__(
        self, persistence: Persistence, meta: Meta | None, revision: int, *, cold: bool
    ) -> None:
        self.persistence = persistence
        self.cold = cold
        """``on_corrupt="cold"``: a damaged row is dropped, not an error (module docstring)."""
        self.engine = persistence.engine
        self.store = persistence.store
        self.runtime_id = persistence.runtime_id
        self.revision = revision
        """The snapshot's revision: a memo installed untouched is dirty from it."""
        self.queries = dict(meta.queries) if meta is not None else {}
        self.families = set(meta.families) if meta is not None else set()
        self.memos_gone = False
        """``rt.clear_cache()``: the stored memos are not to be used any more."""
        self.lock = threading.RLock()
        """Held across each load and install: two threads missing one key end
        with one memo (``restore.install_stored_memo`` is a set-default too)."""
        self.merged: set[bytes] = set()
        """Node ids whose stored readers are installed and linked (once each)."""
        self.merged_queries: set[bytes] = set()
        """Node id prefixes (a query's name) whose every memo's stored readers are
        installed: a closure seeded by name prefix (``_push_back_untrusted``)
        covers each memo of that query, which a later discard of one of them
        must not load again (``_merge``)."""
        self.discards: dict[bytes, int] = {}
        """Per query (its node id prefix), how many of its memos were discarded here."""
        self.untrusted: dict[bytes, int] = {}
        """Memo ids a closure reached that could not be installed then (their
        query was not defined), with the revision of the mark they missed: if
        they ever are installed, one marked at opening is pushed back (it
        verifies), one marked by a write here is installed empty (it executes:
        the frontiers of that write did not count it)."""
        self.families_loaded: set[str] = set()
        self.opened = False
        """Past opening: damage met from now on cannot start the runtime cold."""
        self.damaged: set[Any] = set()
        """Ids of rows dropped as damaged (``on_corrupt="cold"``)."""
        self.dirty = dict(meta.dirty) if meta is not None and meta.dirty is not None else None
        self.marked: list[Node] = []
        """Nodes whose in-memory readers were marked here by something other than
        a write this process journals (a late input, a push back, a discard):
        the next commit looks at their readers for its dirty set."""
        self.deferring = False
        """Inside ``sofrito._settle.marks_by_id``: a write marks its stored readers
        by id, without loading them (``_mark_by_id``)."""
        self.pending: Pending | None = None
        """What writes marked by id left for ``sofrito._settle.settle``."""
        self.walking = False
        """Inside ``settle``'s walk level by level: a load does not close the pending
        seeds (the walk marks what it reaches itself)."""

    # -- opening ------------------------------------------------------------------------

    def open(self, meta: Meta | None, header_head: int) -> int:
        """Find what changed since the snapshot; the revision to open at."""
        revision = self.revision
        late: dict[bytes, Node] = {}
        if meta is None or meta.head != header_head:
            after = revision if meta is not None else -1
            for state in self._load(self.store.load_inputs_changed_after, after):
                self.families.add(state.kind)
                cell = self._install_state(state)
                node_id = None if cell is None else self._cell_node_id(cell)
                if cell is not None and node_id is not None:
                    late[node_id] = cell
        if meta is not None:
            self._push_back_untrusted(meta)
        cells = [node for node in late.values() if type(node) is Cell]
        if late:
            self._merge(list(late), known=late)  # linked: catch_up marks them
            # A late cell may add a key to its family: the listing's readers verify.
            names = sorted({cell.input.name for cell in cells})
            listings = [encode_node_id((LISTING, name, b"")) for name in names]
            pushed = self._merge(listings, link=False)
            restore.push_back(self.engine, pushed, revision)
            self.marked += pushed
            self._forget_listings(names)
        self.marked += cells
        self.opened = True
        return restore.catch_up(self.engine, cells, revision)

    def follow(self, meta: Meta) -> None:
        """The store moved to a later boundary at this runtime's revision (another
        process committed memos, no input): load what it holds from now on.

        For an executor's worker kept open across its coordinator's dispatches
        (``sofrito._shipping``): the revision being the same, every record this
        process holds is still valid, and the rows the later boundary added are
        of that same revision. Only what this backing knows of the stored rows
        moves: which queries have rows, their marks and the families (the
        listings' records moved with the header, ``listings``)."""
        self.queries = dict(meta.queries)
        self.families |= meta.families
        self.dirty = None if meta.dirty is None else dict(meta.dirty)

    def _push_back_untrusted(self, meta: Meta) -> None:
        """Readers of queries whose code changed, or that have no rows: verified."""
        suspect = set()
        for name, fingerprint in meta.queries.items():
            spec = _registry.query_named(name)
            if spec is None or spec.fingerprint != fingerprint:
                suspect.add(name)
        if not suspect and not meta.unstored:
            return
        prefixes = [encode_node_id((QUERY, name, b"")) for name in sorted(suspect)]
        reached = self._merge([QUERY + mid for mid in sorted(meta.unstored)], prefixes)
        # As a discarded memo does: a change of every durability at the snapshot's
        # revision, so no durability shortcut passes a reader as unchanged.
        last_changed = self.engine.revisions.last_changed
        for level in range(len(last_changed)):
            last_changed[level] = max(last_changed[level], self.revision)
        restore.push_back(self.engine, reached, self.revision)
        self.marked += reached

    # -- the engine's questions ---------------------------------------------------------

    def memo(self, spec: QuerySpec[Any], key: tuple[Any, ...]) -> Memo | None:
        if self.memos_gone or spec.name not in self.queries or not spec.persist:
            return None
        try:
            mid = memo_id(spec.name, encode_key(key))
        except (KeyEncodingError, TypeError):
            return None
        with self.lock:
            found, discarded = self._memos([mid])
            if discarded:
                self._discard(discarded)
            return found.get(mid)

    def cell(self, input: Input, key: tuple[Any, ...]) -> Cell | None:
        if input.name not in self.families:
            return None
        try:
            input_id = f"{input.name}:{encode_key(key).hex()}"
        except (KeyEncodingError, TypeError):
            return None
        with self.lock:
            table = self.engine.cells.get(input)
            if table is not None and key in table:
                return table[key]
            state = self._rows(self.store.load_input_rows, [input_id]).get(input_id)
            return None if state is None else self._install_state(state)

    def family(self, input: Input) -> int | None:
        name = input.name
        with self.lock:
            if name in self.families_loaded:
                return None
            self.families_loaded.add(name)
            recorded = self.listings.get(name)
            if name not in self.families and recorded is None:
                return None
            if name in self.families:
                self._install_family(input)
            if recorded is None:
                return None
            table = self.engine.cells.get(input) or {}
            try:
                same = (
                    digest_of(
                        encode_key(key)
                        for key, cell in table.items()
                        if cell.status != CellStatus.PENDING and not is_listing(cell)
                    )
                    == recorded[1]
                )
            except (KeyEncodingError, TypeError):
                same = False
            if same:
                return recorded[0]
            # Other keys than the snapshot listed: the listing's stored readers verify.
            listing_id = encode_node_id((LISTING, name, b""))
            if self._by_id():
                self._mark_by_id([listing_id], {})
                return None
            reached = self._merge([listing_id], link=False)
            restore.push_back(self.engine, reached, self._now())
            self.marked += reached
            return None

    def _install_family(self, input: Input) -> None:
        """Install the family's stored cells that this process has not set."""
        table = self.engine.cells.get(input) or {}
        for state in self._load_list(self.store.load_family, input.name):
            if state.status is InputStatus.READY:
                try:
                    key = decode_key(state.key)
                except ValueError:
                    continue
                if key not in table:
                    self._install_state(state)

    @property
    def listings(self) -> dict[str, tuple[int, tuple[int, int]]]:
        """Per family whose listing a stored memo read: its revision and key
        digest. The stored header's records, which ``Persistence`` keeps (as
        opened or followed, then as this process last committed them): one
        copy, so a commit's records are the ones the next write consults."""
        return self.persistence._stored_listings

    def _forget_listings(self, names: Iterable[str]) -> None:
        """The records of these families' listings no longer say what the stored
        cells list (cells stored after the snapshot, whose listings' readers
        were just pushed back): a read of the listing takes it as changed now,
        without comparing and pushing back again, and the next commit does not
        carry the old record forward (``Persistence._listings``)."""
        for name in names:
            self.listings.pop(name, None)

    def _now(self) -> int:
        """The revision a mark made now belongs to: the engine's, or, while the
        runtime opens (the engine is not at the snapshot's revision yet), the
        snapshot's. A push back or a discard at the engine's revision then
        made its readers verified before revision 0: "never computed"
        (``NEVER``), which the commit's dirty set passes over, so the next
        process served their stored rows (found with random examples: a
        durable write caught up at opening met a damaged row)."""
        return max(self.engine.revisions.current, self.revision)

    def _has_listing(self, name: str) -> bool:
        """Whether a key written to family ``name`` may change a listing a stored
        memo read: the family has stored cells, or a stored memo read its listing
        while it had none (``listings`` records it; ``families`` does not)."""
        return name in self.families or name in self.listings

    def deps(self, memos: Sequence[Memo]) -> None:
        self._deps(memos, in_bulk=False)

    def _deps(self, memos: Sequence[Memo], *, in_bulk: bool) -> None:
        """``deps``; ``in_bulk`` (``prefetch``): with the old reads of a row
        discarded for its code. Not for the engine's own asking, one memo at a
        time: a library read loads no row its evaluation does not need
        (tests/test_warm_start_properties.py holds it to that)."""
        with self.lock:
            waiting = [memo for memo in memos if memo.stored_deps is not None]
            if not waiting:
                return
            old_reads: list[NodeId] | None = [] if in_bulk else None
            stored = [dep for memo in waiting for dep in memo.stored_deps or ()]
            found, cells, discarded = self._reads(stored, old_reads)
            if old_reads:  # (``prefetch`` says why)
                discarded += self._reads(old_reads)[2]
            unresolved: list[Memo] = []
            outdated: list[Memo] = []
            for memo in waiting:
                deps = self._resolve(memo.stored_deps or [], found, cells)
                if not isinstance(deps, int):
                    restore.resolve_deps(memo, deps)
                elif deps == _CELL_GONE:
                    outdated.append(memo)
                else:
                    unresolved.append(memo)
            if discarded or unresolved:
                self._discard([*discarded, *unresolved])
            if outdated:
                restore.discard(self.engine, outdated, self._now())
                self.marked += outdated

    def _reads(
        self, stored: Iterable[NodeId], old_reads: list[NodeId] | None = None
    ) -> tuple[dict[bytes, Memo], dict[str, Cell | None], list[Memo]]:
        """The memos and cells that stored reads name, loaded (one call each for
        those not in memory), and the memos among them to ``_discard``; with
        ``old_reads``, as ``_memos``."""
        wanted_memos: list[bytes] = []
        wanted_cells: list[str] = []
        for kind, name, key_bytes in stored:
            if kind == QUERY:
                wanted_memos.append(memo_id(name, key_bytes))
            elif kind == INPUT:
                wanted_cells.append(f"{name}:{key_bytes.hex()}")
        found, discarded = self._memos(wanted_memos, old_reads)
        return found, self._cells(wanted_cells), discarded

    def readers(self, node: Cell) -> None:
        if not self._may_have_readers(node):
            return
        with self.lock:
            node_id = self._cell_node_id(node)
            if node_id is None:
                return
            seeds = [node_id]
            if self._has_listing(node.input.name):  # a key may join or leave its listing
                seeds.append(encode_node_id((LISTING, node.input.name, b"")))
            if self._by_id():
                self._mark_by_id(seeds, {node_id: node})
            else:
                self._merge(seeds, known={node_id: node})

    def memos_cleared(self) -> None:
        self.memos_gone = True

    def memos_released(self) -> None:
        """Memos were dropped (``Persistence.release_unlinked``): the stored readers
        merged so far are not all in memory any more, so none counts as merged."""
        self.merged.clear()
        self.merged_queries.clear()

    # -- marks by id, for settle --------------------------------------------------------

    def _by_id(self) -> bool:
        """Whether a write now marks by id: asked for (``deferring``), the snapshot
        keeps a dirty set to hold the marks, and nobody listens (a
        ``QueryInvalidated`` names each reader: it takes the eager walk)."""
        return (
            self.deferring
            and self.dirty is not None
            and self.persistence._dirty is not None
            and not self.memos_gone
            and not self.engine.listening
        )

    def _mark_by_id(self, seeds: list[bytes], known: dict[bytes, Node]) -> None:
        """``readers`` (and ``family``) inside ``marks_by_id``: the stored transitive
        readers of ``seeds``, found as ids by one ``load_reader_closure``, none of
        them loaded. A reader not in memory is marked in ``dirty`` (it loads
        dirty if anything loads it before ``settle`` clears the mark); one in
        memory is marked there, with what reads it. The edges are kept for
        ``settle``. No revision up to this one can be shown cut any more: its
        frontier (``frontier.py``) holds only the readers in memory.

        With no memo in memory whose reads are stored ids (a fresh ``sofrito
        run``, a watch after ``release_unlinked``), the closure is not loaded
        at all: the seeds are recorded (``Pending.lazy``) and ``settle`` walks
        their readers level by level, past the ones that changed only; a load
        before that closes them first (``close_pending``), so that what it
        loads is marked."""
        engine = self.engine
        revision = engine.revisions.current
        pending = self.pending
        if pending is None:
            pending = self.pending = Pending(revision - 1, lazy=not self._holds_unlinked())
        if pending.at != revision:  # a later revision marks again what an earlier did
            pending.at, pending.done = revision, set()
        new = [seed for seed in seeds if seed not in pending.done and seed not in self.merged]
        for seed in new:
            pending.seeds[seed] = known.get(seed)
            pending.done.add(seed)
        if not new:
            return
        if pending.lazy:
            pending.unclosed += [(seed, revision) for seed in new]
            return
        self._close(pending, new, revision)

    def _holds_unlinked(self) -> bool:
        """Whether a memo in memory has its reads as stored ids: loaded before these
        writes, it may read a written cell without being linked to it, and only
        the closure finds it, so the writes mark eagerly by id. A memo linked
        down to its cells is marked by the write's own walk: a session that
        drops the others after each commit (``release_unlinked``) marks lazily."""
        return next(release.with_stored_reads(self.engine), None) is not None

    def close_pending(self) -> None:
        """Load and mark the closure of the seeds recorded lazily (``Pending.lazy``),
        before anything loads a memo or reads the marks: from then on the
        writes are marked as ``_mark_by_id`` marks them eagerly, and ``settle``
        takes the walk over the whole closure. Nothing to do inside settle's own
        walk (``walking``) or when nothing is pending."""
        pending = self.pending
        if pending is None or not pending.lazy or self.walking:
            return
        with self.lock:
            pending.lazy = False
            unclosed, pending.unclosed = pending.unclosed, []
            by_revision: dict[int, list[bytes]] = {}
            for seed, revision in unclosed:
                by_revision.setdefault(revision, []).append(seed)
            for revision, seeds in sorted(by_revision.items()):
                self._close(pending, seeds, revision)

    def _close(self, pending: Pending, seeds: list[bytes], revision: int) -> None:
        """The stored transitive readers of ``seeds`` (written in ``revision``), one
        ``load_reader_closure``: their edges kept for ``settle``, each marked."""
        edges = self._load_list(self.store.load_reader_closure, seeds)
        if not edges:
            return
        restore.unmarked_change(self.engine, revision)
        reached: dict[bytes, None] = {}
        for dep, mid in edges:
            deps = pending.deps.get(mid)
            if deps is None:
                deps = pending.deps[mid] = {}
            deps[dep] = None
            reached[mid] = None
        self._mark_readers(pending, reached, revision)

    def _mark_readers(self, pending: Pending, reached: Iterable[bytes], revision: int) -> None:
        """Mark each reader reached: by id, or in memory. By id means in ``dirty``
        (what a load asks) and in the persistence's dirty set (what the next
        commit records, ``dirty_after``: a mark still there for an unloaded
        row stays, one for a row loaded since is judged by its memo)."""
        in_memory: list[Memo] = []
        held: dict[bytes, int] = {}
        ids = HeldIds()
        by_id: list[bytes] = []
        undefined: list[bytes] = []
        for mid in reached:
            memo = self.memo_held(mid, held, ids)
            if memo is not None:
                in_memory.append(memo)
            elif self.held_state(mid, held) == UNDEFINED:
                undefined.append(mid)
            else:
                by_id.append(mid)
        pending.added.update(self.mark_ids(by_id, revision))
        self._mark_undefined(undefined, revision)
        if in_memory:
            restore.push_back(self.engine, in_memory, revision)
            self.marked += in_memory

    def _mark_undefined(self, mids: list[bytes], revision: int) -> None:
        """Stored memos a mark reached whose query this process does not define:
        ``untrusted`` keeps them from being installed clean here, and the dirty
        set from being loaded clean by the next process, which may define the
        query (a query defined late, or only in some processes). Without the
        second, a cell removed in a process that did not define its reader was
        served as it was by the next one (tests/test_warm_start_properties.py,
        with random examples)."""
        for mid in mids:
            self.untrusted.setdefault(mid, revision)
        if mids and self.dirty is not None and self.persistence._dirty is not None:
            self.mark_ids(list(dict.fromkeys(mids)), revision)

    def mark_ids(self, mids: list[bytes], revision: int) -> list[bytes]:
        """Mark stored memos not in memory by id, as of ``revision``: in ``dirty``
        (what a load asks) and in the persistence's dirty set (what the next
        commit records). Those that had no mark before, returned."""
        dirty, recorded = self.dirty, self.persistence._dirty
        assert dirty is not None
        assert recorded is not None
        added: list[bytes] = []
        for mid in mids:
            if mid not in dirty and mid not in recorded:
                added.append(mid)
            dirty[mid] = min(dirty.get(mid, revision), revision)
            recorded[mid] = min(recorded.get(mid, revision), revision)
        return added

    def forget_marks(self, gone: set[Memo], unstored: Iterable[bytes]) -> bool:
        """For ``Persistence.release_unlinked``, about to drop the memos ``gone``:
        forget their marks by id, so that their rows load clean, as the memos
        were. False, forgetting nothing, if one of them is among the ids with
        no row (``unstored``) or was marked after its verification here (its
        row and its memo disagree): the memos are then kept.

        The ids asked about are those of the marks and of ``unstored``, each
        decoded to find its memo (``_in_memory``), not those of ``gone``: after
        a template edit of the example site at 10,000 pages ``gone`` holds
        40,000 memos, and encoding each one's id was most of dropping them."""
        engine = self.engine
        if any(_in_memory(engine, mid) in gone for mid in unstored):
            return False
        dirty = self.dirty
        if not dirty:
            return True
        marks = [(mid, memo) for mid in dirty if (memo := _in_memory(engine, mid)) in gone]
        if any(dirty[mid] > memo.verified_at for mid, memo in marks if memo is not None):
            return False
        for mid, _ in marks:
            del dirty[mid]
        return True

    def memo_held(self, mid: bytes, held: dict[bytes, int], ids: HeldIds) -> Memo | None:
        """The memo of ``mid`` if this process holds it, for a caller asking about
        many ids while nothing loads (a write's closure, a wave of ``settle``).

        ``held``: per query (by the name's bytes at the head of ``mid``), whether
        it is ``UNDEFINED`` here, has ``NONE_HELD`` or ``SOME_HELD`` memos in
        memory (``held_state``); ``ids``: how the memos held are found
        (``_held_by_id``). Both filled in as queries are met, so a query with no
        memo in memory costs nothing per id."""
        if self.held_state(mid, held) != SOME_HELD:
            return None
        return self._held_by_id(mid, ids)

    def _held_by_id(self, mid: bytes, ids: HeldIds) -> Memo | None:
        """The memo of ``mid`` in memory: its key decoded and looked up while a
        query has been asked about fewer ids than it holds memos, then by id,
        the ids of the memos it holds made once (``HeldIds``). Either way the
        cost is at most twice the smaller of the two counts.

        A write's closure in a process that holds memos (a ``sofrito watch``
        after its first run) reaches 40,000 stored readers on the example site
        at 10,000 pages, of queries that hold a few memos each: decoding every
        id to look its key up took 0.1 s of each one-page edit. Making the ids
        of every memo held for each question instead would cost a wave of
        ``settle`` asking about three ids the encoding of thousands. Found by
        id, a memo is the one a stored row names: one loaded from a row has the
        key its id encodes (``decode_key`` checks the round trip), and one
        computed here is stored under its own key's bytes
        (``Persistence._node_key``). A memo whose key has no bytes has no row,
        and no id to be found by."""
        head = mid[: 4 + int.from_bytes(mid[:4], "big")]
        by_id = ids.by_head.get(head)
        if by_id is None:
            if head in ids.table_of:
                table = ids.table_of[head]
            else:
                table = ids.table_of[head] = self._table_named(head)
            if table is None:
                return None
            asked = ids.asked.get(head, 0) + 1
            ids.asked[head] = asked
            if asked <= len(table):
                found = _registry.query_and_key(*split_memo_id(mid))
                return None if found is None else table.get(found[1])
            by_id = ids.by_head[head] = self._ids_held(head, table)
        return by_id.get(mid)

    def _table_named(self, head: bytes) -> dict[tuple[Any, ...], Memo] | None:
        spec = _registry.query_named(head[4:].decode())
        return None if spec is None else self.engine.tables.get(spec)

    def _ids_held(self, head: bytes, table: dict[tuple[Any, ...], Memo]) -> dict[bytes, Memo]:
        """Memo id -> memo, for the memos of ``table`` (the query named in ``head``)."""
        ids: dict[bytes, Memo] = {}
        for memo in list(table.values()):
            try:
                ids[head + self.persistence._node_key(memo)] = memo
            except TypeError:  # a key with no canonical bytes: never stored
                continue
        return ids

    def held_state(self, mid: bytes, held: dict[bytes, int]) -> int:
        """What ``memo_held``'s ``held`` says of ``mid``'s query, found the first
        time from the registry; the name is not decoded again per id."""
        head = mid[: 4 + int.from_bytes(mid[:4], "big")]
        known = held.get(head)
        if known is None:
            spec = _registry.query_named(head[4:].decode())
            known = (
                UNDEFINED
                if spec is None
                else SOME_HELD
                if self.engine.tables.get(spec)
                else NONE_HELD
            )
            held[head] = known
        return known

    # -- in bulk, when asked ------------------------------------------------------------

    def untouched(self, calls: Sequence[tuple[QuerySpec[Any], tuple[Any, ...]]]) -> list[bool]:
        """For each call, whether its stored row, if there is one, is valid now
        without being loaded: the memo is not in memory and the snapshot says
        its row was clean at the commit (not in ``Meta.dirty``, its query's
        fingerprint unchanged, not pushed back at opening, not damaged).

        Why this covers this process's writes: a write reaches every stored
        transitive reader of the cell it writes (``readers``), and so does a
        listing that changed (``family``). The eager walk installs each and
        marks it in memory; a write inside ``sofrito._settle.marks_by_id``
        marks each not in memory by id, in ``dirty``, the set read here, and
        ``settle`` takes a mark out only for a reader it proved unchanged. So
        a row no write reached, or one proved green, is clean; one left
        marked (a read that suspended, a ``keys=`` query, their readers) is
        not (tests/cli/test_run_settle.py). Whether a row exists at all
        is not known here (that would take a store call): the caller knows it
        from a record committed with the rows, or must load.
        """
        self.close_pending()  # the marks are read below
        persistence = self.persistence
        dirty = self.dirty
        if dirty is None or self.memos_gone:
            return [False] * len(calls)
        marked = self._marked_keys()
        found: list[bool] = []
        for spec, key in calls:
            if not spec.persist or self.queries.get(spec.name) != spec.fingerprint:
                found.append(False)
                continue
            table = self.engine.tables.get(spec)
            if table is not None and key in table:
                found.append(False)
                continue
            if marked is not None and _plain(key):
                keys = marked.get(spec.name, _NONE_MARKED)
                if keys is not None and key not in keys:
                    found.append(True)  # its bytes are no marked id's (``_marked_keys``)
                    continue
            try:
                mid = memo_id(spec.name, encode_key(key))
            except (KeyEncodingError, TypeError):
                found.append(False)
                continue
            found.append(
                mid not in dirty
                and mid not in self.untrusted
                and mid not in self.damaged
                and mid not in persistence._unstored
            )
        return found

    def _marked_keys(self) -> dict[str, frozenset[Any] | None] | None:
        """The memo ids ``untouched`` must not pass (marked, untrusted, damaged,
        unstored) as keys, by query name: a run asks about every output, and
        encoding 10,000 keys to look their ids up cost more than the few marks
        there are (none on a no-op). None for a name whose marked keys do not
        decode to values equal to themselves (a float NaN, an object without
        ``==``, an enum or dataclass not named here): its calls are looked up by
        their bytes; None for all if an id cannot be split.

        Why equality is enough: a plain key (``_plain``) whose bytes are a
        marked id's decodes from those bytes to a key equal to it, so a key
        equal to no decoded marked key has no marked bytes."""
        persistence = self.persistence
        by_name: dict[str, set[Any] | None] = {}
        for mid in (*(self.dirty or ()), *self.untrusted, *self.damaged, *persistence._unstored):
            if type(mid) is not bytes:
                continue  # a damaged input row's id
            try:
                name, key_bytes = split_memo_id(mid)
            except ValueError:
                return None
            keys = by_name.setdefault(name, set())
            if keys is None:
                continue
            try:
                key = decode_key(key_bytes)
                same = key == decode_key(key_bytes)
            except (ValueError, TypeError):
                same = False
            if same:
                keys.add(key)
            else:
                by_name[name] = None
        return {name: None if keys is None else frozenset(keys) for name, keys in by_name.items()}

    def prefetch(self, calls: Sequence[tuple[QuerySpec[Any], tuple[Any, ...]]]) -> None:
        """The stored memos of ``calls`` in one load; then, level by level, the
        stored reads of those a write marked (one ``deps`` load per level), which
        is what verifying them asks for one memo at a time (module docstring,
        "In bulk"). A memo already in memory is taken as it is, its key not
        encoded (``sofrito run`` asks again for the renders ``settle`` loaded).

        A row whose query's code changed is discarded, and its memo executes:
        what its row read (the old code's reads) is loaded too, in one call,
        here and at each level below, since edited code mostly reads what it
        read before. One load per memo, as each execution met its reads, was
        9,600 single-row loads, each its own transaction, after an edit of the
        example site's ``parsed`` (12 s of a 20 s run)."""
        mids: list[bytes] = []
        held: list[Memo] = []
        tables = self.engine.tables
        with self.lock:
            for spec, key in calls:
                if self.memos_gone or spec.name not in self.queries or not spec.persist:
                    continue
                try:
                    table = tables.get(spec)
                    memo = None if table is None else table.get(key)
                    if memo is not None:
                        held.append(memo)
                    else:
                        mids.append(memo_id(spec.name, encode_key(key)))
                except (KeyEncodingError, TypeError):
                    continue
            old_reads: list[NodeId] = []
            found, discarded = self._memos(mids, old_reads) if mids else ({}, [])
            if discarded:
                self._discard(discarded)
            if old_reads:  # they execute, and edited code mostly reads what it read
                discarded = self._reads(old_reads)[2]
                if discarded:
                    self._discard(discarded)
            level = [memo for memo in dict.fromkeys((*held, *found.values())) if _walks(memo)]
            seen = set(level)
            while level:
                self._deps(level, in_bulk=True)
                below: list[Memo] = []
                for memo in level:
                    for dep in memo.deps:
                        if type(dep) is Memo and dep not in seen and _walks(dep):
                            seen.add(dep)
                            below.append(dep)
                level = below

    # -- loading and installing ---------------------------------------------------------

    def _may_have_readers(self, cell: Cell) -> bool:
        return not self.memos_gone and bool(self.queries)

    def _load(self, call: Callable[..., T], *args: Any, **options: Any) -> T:
        """One store call at this process's head; a failure inside a computation
        travels as ``LoadFailed`` (``backing.py``)."""
        try:
            return call(self.runtime_id, *args, head=self.persistence.head, **options)
        except StoreError as exc:
            self._raise(exc)

    def _load_list(self, call: Callable[..., list[T]], *args: Any, **options: Any) -> list[T]:
        """``_load`` for a closure or a family: under ``on_corrupt="cold"``, damage
        met after opening gives the stored memos up (``_give_up``), and the
        load counts as empty."""
        try:
            return call(self.runtime_id, *args, head=self.persistence.head, **options)
        except StoreError as exc:
            if self.cold and self.opened and isinstance(exc, CorruptSnapshot):
                self._give_up(exc)
                return []
            self._raise(exc)

    def _give_up(self, error: CorruptSnapshot) -> None:
        """``on_corrupt="cold"``, and the damage is not in one row (a closure or a
        family could not be read): the stored memos are not used any more, and
        every memo loaded is verified again, as after ``rt.clear_cache()``
        without losing what was computed. (A family's stored cells that could
        not be read count as absent.)"""
        what = str(error).split("; open the runtime with", 1)[0]
        log.warning("%s; on_corrupt='cold': no longer loading memos from it", what)
        self.memos_gone = True
        memos = [memo for table in list(self.engine.tables.values()) for memo in table.values()]
        restore.push_back(self.engine, memos, self._now())
        self.marked += memos

    def _install_state(self, state: InputState) -> Cell | None:
        persistence = self.persistence
        input = _registry.input_named(state.kind)
        if input is None:
            return None
        try:
            key = decode_key(state.key)
        except ValueError:
            return None
        table = self.engine.cells.get(input)
        if table is not None and key in table:
            return table[key]
        if state.status is not InputStatus.READY:  # removed (or an error, not stored):
            return restore.install_cell(  # pending since, so its readers see a change
                self.engine, input, key, None, state.durability, state.changed_at, ready=False
            )
        context = persistence._context("input", state.input_id)
        try:
            opened = persistence._open(state.value, context, "input", state.input_id)
        except CorruptSnapshot as error:
            self._damaged(error)
            return None
        value = persistence.codec.decode(opened)
        return restore.install_cell(
            self.engine, input, key, value, state.durability, state.changed_at
        )

    def _cells(self, input_ids: list[str]) -> dict[str, Cell | None]:
        """The cells of ``input_ids``, from memory or (one call) the store; None for
        a cell that has no row (removed: ``_resolve``). An id that cannot be
        resolved is left out: its input is not defined here, its key does not
        decode, or its row was dropped as damaged."""
        cells: dict[str, Cell | None] = {}
        missing: list[str] = []
        for input_id in input_ids:
            name, _, hexkey = input_id.rpartition(":")
            input = _registry.input_named(name)
            if input is None:
                continue
            try:
                key = decode_key(bytes.fromhex(hexkey))
            except ValueError:
                continue
            cell = (self.engine.cells.get(input) or {}).get(key)
            if cell is not None:
                cells[input_id] = cell
            elif input.name in self.families:
                missing.append(input_id)
            else:
                cells[input_id] = None  # the family has no stored cell
        if missing:
            states = self._rows(self.store.load_input_rows, missing)
            for input_id in missing:
                state = states.get(input_id)
                if state is None:
                    if input_id not in self.damaged:
                        cells[input_id] = None
                elif (cell := self._install_state(state)) is not None:
                    cells[input_id] = cell
        return cells

    def _memos(
        self, mids: Iterable[bytes], old_reads: list[NodeId] | None = None
    ) -> tuple[dict[bytes, Memo], list[Memo]]:
        """The memos of ``mids``: in memory, else their stored rows installed (one
        call), else empty. A row that cannot be trusted is installed empty and
        listed second, for the caller to ``_discard`` once it is done; with
        ``old_reads``, the reads of each row discarded for its code go there
        (``prefetch``)."""
        self.close_pending()  # what loads now must load marked
        found, wanted = self._in_memory(mids)
        if not wanted:
            return found, []
        discarded = self._load_memos(wanted, found, old_reads)
        return found, discarded

    def _in_memory(
        self, mids: Iterable[bytes]
    ) -> tuple[dict[bytes, Memo], dict[bytes, tuple[QuerySpec[Any], tuple[Any, ...]]]]:
        """The memos of ``mids`` that need no row: in memory, or made empty when no
        row of theirs could be used (the memos are gone, the row is untrusted,
        the query is not stored or not known to the store); and the query and
        key of each of the others, whose rows are to load. Ids of no known
        query are left out."""
        found: dict[bytes, Memo] = {}
        wanted: dict[bytes, tuple[QuerySpec[Any], tuple[Any, ...]]] = {}
        resolve = _Resolver()
        for mid in dict.fromkeys(mids):
            resolved = resolve(mid)
            if resolved is None:
                continue
            spec, key = resolved
            memo = self.engine.tables[spec].get(key)
            if memo is not None:
                found[mid] = memo
            elif (
                self.memos_gone
                or self.untrusted.get(mid, 0) > self.revision
                or spec.name not in self.queries
                or not spec.persist
            ):
                found[mid] = restore.fresh_memo(self.engine, spec, key)
            else:
                wanted[mid] = (spec, key)
        return found, wanted

    def _load_memos(
        self,
        wanted: dict[bytes, tuple[QuerySpec[Any], tuple[Any, ...]]],
        found: dict[bytes, Memo],
        old_reads: list[NodeId] | None,
    ) -> list[Memo]:
        """Load the rows of ``wanted`` in one call and install each as its memo in
        ``found``; the memos whose row could not be trusted (installed empty)."""
        # In key order: the rows of one query lie together in the store's index
        # (ids start with the query's name), so sorted lookups read each page of
        # it once. Asked in the order met, 10,000 renders and their reads cost a
        # page read per row (SQLite, with its checksum: 13 us a row, 9 sorted).
        missing = sorted(wanted)
        rows = self._rows(self.store.load_memo_rows, missing)
        discarded: list[Memo] = []
        listening = self.engine.listening  # the key's bytes name the memo's events
        for mid in missing:
            spec, key = wanted[mid]
            sealed = rows.get(mid)
            row = self._decode_row(mid, sealed) if sealed is not None else None
            if row is None or row.fingerprint != spec.fingerprint:
                memo = restore.fresh_memo(self.engine, spec, key)
                if sealed is not None or mid in self.damaged:
                    discarded.append(memo)
                if row is not None and old_reads is not None:
                    old_reads += row.deps
            else:
                verified_at, dirty_at = self._marks(mid, row.verified_at)
                memo = restore.install_stored_memo(
                    self.engine,
                    spec,
                    key,
                    row.value,
                    self.persistence.codec.decode,
                    changed_at=row.changed_at,
                    verified_at=verified_at,
                    durability=row.durability,
                    stored_deps=row.deps,
                    revision=dirty_at,
                    key_bytes=split_memo_id(mid)[1] if listening else None,
                )
                if mid in self.untrusted:  # a reader pushed back at opening
                    restore.push_back(self.engine, [memo], self.revision)
                    self.marked.append(memo)
            found[mid] = memo
        return discarded

    def _marks(self, mid: bytes, verified_at: int) -> tuple[int, int]:
        """A loaded memo's ``verified_at`` and ``dirty_at``: its row's verification
        and no mark (clean) unless the meta lists a mark (``Meta.dirty``), or
        does not say (dirty at the snapshot's revision, as an eager open has it).

        A listed mark always means dirty, and lowers the verification to before
        it: a mark at or before the row's own ``verified_at`` is a push back in
        that revision, or a discard. Read as "dirty at that revision" (no later
        than the verification: clean), it was lost on the way back in, and a
        query's readers pushed back in a process that edited it were served
        from their old rows by the next (found by tests/test_on_demand_edits.py)."""
        if self.dirty is None:
            return verified_at, self.revision
        mark = self.dirty.get(mid)
        if mark is None:
            return verified_at, verified_at
        return min(verified_at, mark - 1), max(verified_at, mark)

    def _decode_row(self, mid: bytes, sealed: bytes) -> MemoRow | None:
        """The row, checked; None for a damaged one under ``on_corrupt="cold"``."""
        persistence = self.persistence
        try:
            return decode_memo_row(
                sealed, persistence.sealer, persistence._context("memo", mid), store_checked=True
            )
        except (IntegrityError, CodecError) as exc:
            error = persistence._corrupt(f"memo row {mid.hex()}", exc)
        self._damaged(error)
        return None

    def _damaged(self, error: CorruptSnapshot) -> None:
        """Damage met by a load: dropped with a warning under ``on_corrupt="cold"``,
        else raised (as ``LoadFailed`` inside a computation)."""
        if self.cold:
            what = str(error).split("; open the runtime with", 1)[0]  # (it is open so)
            log.warning("%s; on_corrupt='cold': dropped it, recomputing what it held", what)
            return
        self._raise(error)

    def _raise(self, error: StoreError) -> NoReturn:
        reader: Reader | None = getattr(self.engine.local, "reader", None)
        if reader is not None and reader.frame is not None:
            raise without_context(LoadFailed(error)) from None
        raise error

    def _rows(self, call: Callable[..., dict[K, V]], ids: list[K]) -> dict[K, V]:
        """``load_memo_rows`` or ``load_input_rows``; under ``on_corrupt="cold"`` a
        damaged row is left out (asked for one by one to find it) with a warning."""
        if not self.cold:
            return self._load(call, ids)
        try:
            return self._load(call, ids)
        except LoadFailed as failed:
            if not isinstance(failed.error, CorruptSnapshot):
                raise
        except CorruptSnapshot:
            pass
        found: dict[K, V] = {}
        for one in ids:
            try:
                found.update(self._load(call, [one]))
            except LoadFailed as failed:
                if not isinstance(failed.error, CorruptSnapshot):
                    raise
                self._damaged(failed.error)
                self.damaged.add(one)
            except CorruptSnapshot as error:
                self._damaged(error)
                self.damaged.add(one)
        return found

    def _resolve(
        self,
        stored: list[NodeId],
        found: dict[bytes, Memo],
        cells: dict[str, Cell | None],
    ) -> list[Node] | int:
        """The nodes of ``stored``, or why the memo cannot be verified and executes.

        ``_UNRESOLVED``: a read is not known here (a query or input not defined,
        a key that does not decode, a damaged row); ``_discard`` then pushes its
        stored readers back. ``_CELL_GONE``: the only reads missing are cells
        with no row, removed since the memo read them (or set and removed
        between two commits). Its stored readers are not pushed back (loading
        their closure): a cell leaves the store only by a write, which marked
        every reader of the memo with it, and the commit recorded those marks.
        A read that met one in a fresh process loaded that closure, rows its
        evaluation does not need (found by ``scripts/explore.sh``)."""
        deps: list[Node] = []
        gone = False
        for kind, name, key_bytes in stored:
            node: Node | None
            if kind == QUERY:
                node = found.get(memo_id(name, key_bytes))
            elif kind == INPUT:
                input_id = f"{name}:{key_bytes.hex()}"
                if input_id in cells and cells[input_id] is None:
                    gone = True
                    continue
                node = cells.get(input_id)
            else:
                input = _registry.input_named(name)
                node = None if input is None else listing_for(self.engine, input)
            if node is None:
                return _UNRESOLVED
            deps.append(node)
        return _CELL_GONE if gone else deps

    def _discard(self, memos: list[Memo]) -> None:
        """Memos whose stored state cannot be trusted, met after opening: their
        stored readers installed, then all of them pushed back (``restore.discard``).

        Each discard met on its own loads its own closure of stored readers, and
        on a site those closures overlap (every page's summary reaches the same
        indexes): past ``_SEEDS_PER_QUERY`` of one query's memos, the closure of
        all of that query's memos is loaded once, by name prefix, as opening
        does for a query whose code changed. Found as a body edit that ran for
        over ten minutes after a flow edit that a partial run had committed
        (rows of the old code under a meta naming the new, met one by one)."""
        seeds: list[bytes] = []
        prefixes: dict[bytes, None] = {}
        for memo in memos:
            try:
                seed = encode_node_id((QUERY, memo.spec.name, encode_key(memo.key)))
            except (KeyEncodingError, TypeError):
                continue
            prefix = _query_prefix(seed)
            assert prefix is not None
            met = self.discards[prefix] = self.discards.get(prefix, 0) + 1
            if met > _SEEDS_PER_QUERY and prefix not in self.merged_queries:
                prefixes[prefix] = None
            else:
                seeds.append(seed)
        self._merge(seeds, list(prefixes))
        restore.discard(self.engine, memos, self._now())
        self.marked += memos

    def _merge(
        self,
        seeds: list[bytes],
        prefixes: Sequence[bytes] = (),
        known: dict[bytes, Node] | None = None,
        *,
        link: bool = True,
    ) -> list[Memo]:
        """Install the stored transitive readers of ``seeds`` (and of every node
        under ``prefixes``); with ``link``, link each whose reads are still
        stored ids to the nodes it reads, as the edges say (a listing node is
        made for it). The readers, installed."""
        new = [
            seed
            for seed in seeds
            if seed not in self.merged and _query_prefix(seed) not in self.merged_queries
        ]
        if not new and not prefixes:
            return []
        edges = self._load_list(self.store.load_reader_closure, new, node_prefixes=list(prefixes))
        self.merged.update(new)
        self.merged_queries.update(prefixes)
        if not edges:
            return []
        readers, discarded = self._memos(reader for _, reader in edges)
        nodes: dict[bytes, Node] = dict(known or {})
        for mid, memo in readers.items():
            node_id = QUERY + mid
            nodes[node_id] = memo
            self.merged.add(node_id)  # its readers are in this closure
        mark = self._now()
        self._mark_undefined([mid for _, mid in edges if mid not in readers], mark)
        for dep, mid in edges:
            reader = readers.get(mid)
            if reader is None or reader.stored_deps is None:
                continue  # resolved: its links in memory are the truth
            node = nodes.get(dep)
            if node is None and link and dep[:1] == LISTING:
                node = self._listing_node(dep)
            if node is not None:
                restore.link_reader(node, reader)
        if discarded:
            self._discard(discarded)
        return list(readers.values())

    def _listing_node(self, dep: bytes) -> Node | None:
        name, _ = split_memo_id(dep[1:])
        input = _registry.input_named(name)
        if input is None:
            return None
        table = self.engine.cells.get(input)
        if table is not None and LISTING_KEY in table:
            return table[LISTING_KEY]
        return listing_for(self.engine, input)

    def _cell_node_id(self, cell: Cell) -> bytes | None:
        try:
            return encode_node_id((INPUT, cell.input.name, encode_key(cell.key)))
        except (KeyEncodingError, TypeError):
            return None
