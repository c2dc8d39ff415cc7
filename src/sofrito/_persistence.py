"""The runtime on a store: open, commit at run boundaries, lifecycle.

**What a commit writes.** The engine notes every memo that executed and every
cell that was written (its journal, ``_engine/journal.py``). ``commit()`` turns exactly those
into one ``SnapshotDelta`` plus input states, and the store writes them with a
receipt in one transaction. Verification alone changes nothing that is
stored, so a commit after a one-page edit writes a handful of rows, however
large the cache.

**What opening restores.** The snapshot header: the revision, the
per-durability revisions, and what ``_on_demand.Meta`` holds (each stored
query's fingerprint, the memos read by a stored row that have no row, the
families with stored cells, the head the commit left). Then the engine
loads on demand through ``_on_demand.StoreBacking``. A meta without those
(committed by a sofrito from before loading on demand) is restored whole
(``restore``), the one reason that path stays. This module and
``_on_demand`` decode and check what the store holds; the engine installs it
(``_engine/restore.py``): nothing here writes an engine record.

**One head, compare-and-swap.** Every write this runtime makes to its store
(a commit, a ``durable=True`` input, a lifecycle change) is based on the
runtime's head as this process knows it: read at open, before anything is
restored, and one more per write since. The store compares it inside the
write's transaction, so a process that lost a race gets ``Conflict`` with
nothing written, never a boundary that mixes its work with another's.

**A value that cannot be encoded** is left out of the store, with one
warning per query and key: its row is deleted, so after a restart the memo
has no row, and its readers are verified as for a discarded memo. Only
``commit(strict=True)`` keeps the all-or-nothing ``StoreError``. Input values
are the source of truth: one that cannot be encoded is always an error.

**What is never trusted.** A memo row whose fingerprint differs, whose query
or key cannot be resolved, or that read a cell that is gone is *discarded*. It
counts as changed: every memo that transitively read it is pushed back before
the loaded revision, so it is verified, not served. Rows are sealed (a
checksum, or an HMAC with ``secret=``) and checked before any decoding.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, overload

from sofrito import _heap, _registry
from sofrito._codec import Codec, CodecError, IntegrityError, SafeCodec, Sealer
from sofrito._engine import release, restore, trace
from sofrito._engine.listing import LISTING_KEY, is_listing, key_set, listing_for
from sofrito._engine.memo import Cell, CellStatus, Encoded, Memo
from sofrito._engine.write import refuse_if_closed
from sofrito._interpreted import warn_at_caller, without_context
from sofrito._keys import KeyEncodingError, decode_key, encode_key
from sofrito._on_demand import Meta, StoreBacking, dirty_after
from sofrito._snapshot import (
    MemoRow,
    NodeId,
    decode_memo_row,
    encode_dep,
    encode_node_id,
    memo_id,
    seal_row,
    split_memo_id,
    value_at,
)
from sofrito._traces import Published, TraceBook
from sofrito.stores import (
    CorruptSnapshot,
    Drop,
    InputState,
    InputStatus,
    Receipt,
    RuntimeState,
    RuntimeStore,
    SnapshotDelta,
    StoredSnapshot,
    StoreError,
    UnstoredValueWarning,
    _encoding,
)
from sofrito.stores.traces import Traces

if TYPE_CHECKING:
    from sofrito._engine.state import Engine

__all__ = ["Persistence"]

log = logging.getLogger("sofrito.persistence")
_SAFE = SafeCodec()
_META_FORMAT = 1
_QUERY, _INPUT = b"q", b"i"
_TRIM_EVERY = 10_000
"""Every this many rows, a commit gives the heap its replaced values freed back
to the system (``_heap.py``): as it goes, since the holes are the peak's."""
_LISTING = b"k"
"""The NodeId kind of a family's key listing (``input.keys(db)``), keyed by
the family's name with empty key bytes. Its ``changed_at`` is recorded in
the snapshot header with the listing's digest (``_engine/listing.py``)."""


class Persistence:
    """Everything a runtime needs to talk to its store."""

    def __init__(
        self,
        engine: Engine,
        store: RuntimeStore,
        runtime_id: str,
        codec: Codec,
        secret: bytes | str | None,
        traces: Traces | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.runtime_id = runtime_id
        self.codec = codec
        self.sealer = Sealer(secret)
        self.run_id = os.urandom(16).hex()  # not uuid4: importing uuid (and platform) is 2 ms
        assert engine.journal is not None, "an engine on a store keeps a journal"
        self.journal = engine.journal
        """What changed since the last commit: read here, acknowledged after a write."""
        self.head = 0
        """The store's head for this runtime as of this process's last write (or its
        open): every write is based on it (compare-and-swap) and advances it by one."""
        self._unstorable: set[bytes] = set()
        """Memo ids already warned about: one warning per query and key."""
        self._stored_listings: _Listings = {}
        """The listings the stored header records (``_listings``), by family name:
        as opened, then as this process's last commit wrote them."""
        self._restored: dict[NodeId, Memo | Cell] = {}
        """While restoring: nodes by their stored id, so dependencies resolve
        without decoding their keys again."""
        self._queries: dict[str, bytes] = {}
        """Per query with stored rows: its fingerprint at the last commit that
        wrote one (the meta's map, ``_on_demand.Meta``), as this process knows it."""
        self._unstored: set[bytes] = set()
        """Memo ids read by a stored row while having no row themselves (a cached
        error, ``persist=False``, a value left out): their readers are pushed
        back at opening, since no stored edge leads to them from what they read."""
        self._families: set[str] = set()
        """Input families with stored cells."""
        self._dirty: dict[bytes, int] | None = {}
        """Stored memos marked after their row's ``verified_at`` and not verified
        since (``_on_demand.Meta.dirty``); None: a snapshot that did not say."""
        self.traces = (
            None if traces is None else TraceBook(traces.store or store, codec, traces, runtime_id)
        )
        """The runtime's traces (``_traces.py``): published after each commit, if
        ``traces.publish``; read by the engine before it executes, if ``traces.read``."""
        if self.traces is not None and self.traces.reading:
            trace.install(engine, self.traces)
        self._published: list[Published] | None = None
        """While a commit with traces to publish builds its rows: what each row holds."""
        self._shipped: dict[Memo, _Shipped] = {}
        """Memos installed from a worker's row (``keep_shipped``), until the next commit."""
        self._held_decoder = self._decode_held
        """One bound method for every held value (``_row``), not one per memo: 64
        bytes each, 4.5 MB at 10,000 pages of the example site."""

    # -- ids -------------------------------------------------------------------

    def _node_key(self, node: Memo | Cell) -> bytes:
        """``node``'s canonical key bytes; a ``TypeError`` naming it if its key has
        none. Its ref's bytes when something named it already (a run that listens
        to events names every memo it executes, and a memo loaded on demand is
        named from its row id): at 10,000 pages a cold build named 70,000 nodes
        for its record and encoded them all again. The node is described only on
        the error: a commit names every row's key, and a repr each cost a tenth
        of it."""
        ref = node.ref_cache
        if ref is not None:
            return ref.key
        try:
            return encode_key(node.key)
        except KeyEncodingError as exc:
            raise without_context(
                TypeError(
                    f"{node!r}: {exc}; persisted keys need a canonical encoding "
                    "(or declare the query with persist=False)"
                )
            ) from None

    def input_id(self, cell: Cell) -> str:
        key = self._node_key(cell)
        return f"{cell.input.name}:{key.hex()}"

    # -- commit ----------------------------------------------------------------

    def commit(self, boundary: str, *, strict: bool = False) -> Receipt:
        engine = self.engine
        refuse_if_closed(engine, "commit")
        with engine.gate.write(), _collector_paused():
            cells = _sorted_cells(self.journal.cells)
            book = self.traces
            published = self._published = [] if book is not None and book.publishing else None
            try:
                delta, known = self._delta(strict, cells)
            finally:
                self._published = None
            if len(delta.upserts) >= _TRIM_EVERY:
                _heap.give_back()  # what the last values left, before the store's work
            receipt = self.store.commit_boundary(
                self.runtime_id,
                delta,
                self.run_id,
                boundary,
                [self.input_id(cell) for cell in cells],
                _InputStates(cells, self.input_state),
                base_head=self.head,
            )
            self.head += 1
            self._queries, self._unstored, self._families, self._dirty = known[:4]
            self._stored_listings = known[4]
            if isinstance(engine.backing, StoreBacking):
                engine.backing.marked = []  # recorded in the dirty set now
            self.journal.acknowledge()
            if book is not None:
                book.forget()  # traces loaded ahead are read again after a commit
                if published is not None:
                    book.publish(published)  # after the commit: true at any boundary
            return receipt

    def _delta(self, strict: bool, cells: list[Cell]) -> tuple[SnapshotDelta, _Known]:
        """The delta to commit, and what its meta says about the stored rows
        after it (``_on_demand.Meta``), to keep once the commit is written.

        Each memo the journal names gets its row (``_DeltaRows.put``), the row
        a worker shipped as it came when it still holds (``_as_shipped``), or
        is dropped: a memo with no row to store has its old row deleted."""
        engine = self.engine
        full = self.journal.full
        rows = _DeltaRows(
            queries={} if full else dict(self._queries),
            unstored=set() if full else set(self._unstored),
            same_reads=_SameReads(self.journal.reads_before, self._unstored, full),
        )
        shipped, self._shipped = self._shipped, {}
        ids = _NodeIds(self._node_id)
        for memo in self.journal.memos:
            as_shipped = shipped.get(memo) if shipped else None
            if as_shipped is not None and self._as_shipped(memo, as_shipped):
                lacking = [
                    ids.memo_id(dep)
                    for dep in memo.deps
                    if isinstance(dep, Memo) and not _has_row(dep)
                ]
                rows.put(memo, as_shipped.mid, as_shipped.row, as_shipped.reads, lacking)
            elif _has_row(memo):
                self._put_own_row(rows, memo, ids, strict)
            else:
                rows.drop(ids.memo_id(memo))
        families = self._families | {c.input.name for c in cells if c.status == CellStatus.READY}
        backing = engine.backing
        marked = backing.marked if isinstance(backing, StoreBacking) else []
        dirty = dirty_after(engine, self._dirty, marked, self.journal.cells or (), full)
        known = (rows.queries, rows.unstored, families, dirty, self._listings(full))
        delta = SnapshotDelta(
            engine.revisions.current,
            self._meta(known),
            rows.upserts,
            frozenset(rows.deletes),
            full,
            rows.reads,
            frozenset(rows.same_reads.unchanged),
        )
        return delta, known

    def _as_shipped(self, memo: Memo, as_shipped: _Shipped) -> bool:
        """Whether ``memo``'s row is the one a worker shipped, written as it came:
        the memo still holds what was shipped, no trace is published from this
        commit (a trace needs the value's reads resolved here), and its query
        stores values (else its row goes without the value shipped)."""
        return as_shipped.holds(memo) and self._published is None and memo.spec.persist_value

    def _put_own_row(self, rows: _DeltaRows, memo: Memo, ids: _NodeIds, strict: bool) -> None:
        """Encode ``memo``'s row here, with its reads as the store's edges list
        them; a value that cannot be encoded (``strict`` off) drops the row."""
        mid = ids.memo_id(memo)
        read_ids: list[bytes] = []
        deps: list[bytes] = []
        lacking: list[bytes] = []  # memo ids its row lists that have no row
        for dep in memo.deps:
            # The store's reverse edges: the same nodes as the row's deps.
            flat, listed = ids.of(dep)
            read_ids.append(flat)
            deps.append(listed)
            if isinstance(dep, Memo) and not _has_row(dep):
                lacking.append(flat[1:])
        row = self._row(memo, mid, deps, strict, hold=self.traces is None)
        if row is None:
            rows.drop(mid)
        else:
            rows.put(memo, mid, row, read_ids, lacking)

    def _row(
        self,
        memo: Memo,
        mid: bytes,
        deps: list[bytes],
        strict: bool,
        *,
        hold: bool = False,
        with_value: bool = False,
    ) -> bytes | None:
        """The memo's sealed row, listing ``deps`` (its dependencies, each as a row
        lists it: ``encode_dep``), or None for a value the codec cannot encode
        (``StoreError`` instead with ``strict``).

        ``hold``: the memo keeps its value's encoding from now on, not the value
        (``restore.hold_encoded``): a commit, not a worker's row to ship. Done
        row by row, so the values go as the rows come: at 10,000 pages, values
        and rows side by side were most of a first build's peak memory. Not
        with traces, whose digests are kept by value object (``_traces.py``).

        A query declared ``persist_value=False`` has its rows sealed without the
        value (``_snapshot.NO_VALUE``); its memos keep their values in memory.
        Its traces, where this runtime publishes some, hold the value all the
        same: a trace is a value to take, and what the team's trace store
        holds is the team's choice. ``with_value``: a worker's row to ship,
        value and all, which the coordinator writes to its files before it
        commits the row without it."""
        stored = memo.spec.persist_value or with_value
        publishing = self._published is not None
        value = memo.value
        encoded: bytes | None = None
        if memo.has_value and (stored or publishing):
            try:
                encoded = (
                    self._bytes_of(value) if type(value) is Encoded else self.codec.encode(value)
                )
            except CodecError as exc:
                if stored:
                    self._cannot_store(memo, mid, exc, strict)
                    return None
                # stored without it: no trace either, computed where it is needed
        if encoded is not None and self._published is not None:
            node_ids = [self._node_id(dep) for dep in memo.deps]
            self._published.append((memo, split_memo_id(mid)[1], node_ids, encoded))
        row = MemoRow(
            memo.spec.fingerprint,
            memo.changed_at,
            memo.verified_at,
            memo.durability,
            [],
            encoded if stored else None,
        )
        sealed = seal_row(row, deps, self.sealer, self._context("memo", mid))
        if hold and stored and type(value) is not Encoded:
            # The row ends with the value's bytes: the row is held, not a copy of
            # them, nor a view (a memoryview and its buffer cost 300 bytes a
            # memo, 21 MB at 10,000 pages of the example site).
            restore.hold_encoded(self.engine, memo, sealed, self._held_decoder)
        return sealed

    def _cannot_store(self, memo: Memo, mid: bytes, exc: CodecError, strict: bool) -> None:
        """A value the codec cannot encode: ``StoreError`` with ``strict``, else a warning."""
        if strict:
            raise without_context(
                StoreError(
                    f"cannot store the value of {memo!r} in {self.store.location} "
                    f"(runtime {self.runtime_id!r}): {exc}; nothing was written "
                    "(commit(strict=False) leaves such a value out instead)"
                )
            ) from None
        self._warn_unstorable(memo, mid, exc)

    def _bytes_of(self, value: Encoded) -> bytes:
        """The value's bytes of a value held encoded."""
        data = value.data
        if value.decode is self._held_decoder:  # the whole row a commit wrote
            data = self._held_value(data)
        return data if type(data) is bytes else bytes(data)

    def _decode_held(self, row: bytes | memoryview) -> Any:
        """A held value (``_row``): decoded from the end of its row (a copy of the
        value's bytes, which the codec reads, lives only as long as the decoding)."""
        return self.codec.decode(self._held_value(row))

    def _held_value(self, row: bytes | memoryview) -> bytes:
        """The value's bytes at the end of a row this runtime sealed (``_row``)."""
        return bytes(row[value_at(row, self.sealer.tag_size) :])

    def row_to_ship(self, memo: Memo) -> tuple[bytes, bytes] | None:
        """``memo``'s id and sealed row as a commit would write them, for a worker
        to send back (``sofrito._shipping``); None for a memo a commit would not
        store (an error, an evicted value, a key or value with no encoding)."""
        if not (memo.spec.persist and memo.has_value and memo.error is None and memo.computed):
            return None
        try:
            mid = memo_id(memo.spec.name, self._node_key(memo))
            deps = [encode_dep(self._node_id(dep)) for dep in memo.deps]
        except TypeError:
            return None
        row = self._row(memo, mid, deps, strict=False, with_value=True)
        return None if row is None else (mid, row)

    def shipped_row(self, mid: bytes, sealed: bytes) -> MemoRow:
        """A row a worker sent (``row_to_ship``), its seal checked; raises
        ``IntegrityError`` or ``CodecError`` for damage (the caller computes it)."""
        return decode_memo_row(sealed, self.sealer, self._context("memo", mid))

    def keep_shipped(self, memo: Memo, mid: bytes, sealed: bytes, row: MemoRow) -> None:
        """``memo`` was just installed from ``row`` (``sealed``, by id ``mid``): the
        next commit writes those bytes as they came, if the memo is still what
        was installed, instead of encoding and sealing its row again (the
        coordinator of a parallel run would otherwise seal every row twice)."""
        reads = [encode_node_id(dep) for dep in row.deps]
        self._shipped[memo] = _Shipped(mid, sealed, reads, memo)

    def _warn_unstorable(self, memo: Memo, mid: bytes, exc: CodecError) -> None:
        """Once per query and key: a cache that cannot hold one value is still a
        cache, but the user should know which value it is and how to quiet it."""
        if mid in self._unstorable:
            return
        self._unstorable.add(mid)
        warn_at_caller(
            f"{memo!r} is not stored in {self.store.location} (runtime {self.runtime_id!r}): "
            f"{exc}; it will be recomputed after a restart, and what read it verified "
            f"again. Declare {memo.spec.name} with persist=False if it is not meant to be "
            "stored, or commit(strict=True) to make this an error",
            UnstoredValueWarning,
        )

    def _context(self, kind: str, name: bytes | str) -> bytes:
        """Where sealed bytes belong; with ``secret=`` the MAC covers it, so an
        authentic row moved to another id or runtime does not verify. Without a
        secret the seal ignores it, so it is not built (a commit seals every row)."""
        if not self.sealer.authenticated:
            return b""
        return _encoding.encode(("sofrito.seal.v1", self.runtime_id, kind, name))

    def _node_id(self, node: Memo | Cell) -> NodeId:
        if isinstance(node, Cell):
            if is_listing(node):
                return (_LISTING, node.input.name, b"")
            return (_INPUT, node.input.name, self._node_key(node))
        return (_QUERY, node.spec.name, self._node_key(node))

    def _meta(self, known: _Known) -> bytes:
        """The snapshot header's runtime state: the codec, the revisions per
        durability, the listings, and what opening on demand needs to know
        without reading rows (``_on_demand.Meta``): the head after this commit."""
        queries, unstored, families, dirty, listings = known
        meta = (
            _META_FORMAT,
            self.codec.name,
            list(self.engine.revisions.last_changed),
            sorted((name, at, *digest) for name, (at, digest) in listings.items()),
            sorted(queries.items()),
            sorted(unstored),
            sorted(families),
            self.head + 1,
            None if dirty is None else sorted(dirty.items()),
        )
        return self.sealer.seal(_SAFE.encode(meta), self._context("meta", ""))

    def _listings(self, full: bool) -> _Listings:
        """Per family whose listing a memo read: (changed_at, (count, xor of key
        hashes)). A restore serves a stored reader of the listing only if the
        cells it restored list the same keys; then it takes this ``changed_at``.

        The records the last commit wrote stay (unless this commit rewrites
        every row, ``full``): loading on demand, a stored memo that read a
        listing may not be in memory, nor linked to the listing's node, and
        without its record a later process would not know that a family with
        no stored cell has a listing to mark when its first key is written
        (``StoreBacking._has_listing``). A listing node in memory updates its
        family's record."""
        recorded = {} if full else dict(self._stored_listings)
        for table in self.engine.cells.values():
            node = table.get(LISTING_KEY)
            if node is None or not (node.rdeps or node.input.name in recorded):
                continue
            try:
                recorded[node.input.name] = (node.changed_at, key_set(node).digest())
            except TypeError:  # a key with no encoding: its readers cannot be stored either
                recorded.pop(node.input.name, None)
        return recorded

    def input_state(self, cell: Cell) -> InputState:
        input_id = self.input_id(cell)
        if cell.status == CellStatus.READY:
            try:
                value = self.sealer.seal(
                    self.codec.encode(cell.value), self._context("input", input_id)
                )
            except CodecError as exc:
                raise without_context(
                    StoreError(
                        f"cannot store input {cell!r} in {self.store.location} "
                        f"(runtime {self.runtime_id!r}): {exc}; nothing was written"
                    )
                ) from None
            status = InputStatus.READY
        else:  # errors and pending cells are resolved again after a restart
            value, status = b"", InputStatus.REMOVED
        key = self._node_key(cell)
        return InputState(
            input_id,
            cell.input.name,
            key,
            value,
            cell.durability,
            cell.changed_at,
            status,
        )

    # -- open ----------------------------------------------------------------------

    def open(self, *, cold: bool = False) -> tuple[RuntimeState | None, int | None]:
        """Open on demand: read the header, install the backing (``_on_demand.py``).
        The stored lifecycle state, and the revision to open at (None for a
        runtime with nothing stored)."""
        header = self.store.load_header(self.runtime_id)
        if self.traces is not None:
            self.traces.ahead = header is None  # a first build loads traces ahead
        if header is None:
            self.head = 0
            return None, None
        self.head = header.head
        meta: Meta | None = None
        revision = 0
        if header.meta is not None:
            meta = self._read_meta(header.meta)
            if meta is None:  # committed before opening on demand: restored whole
                self._dirty = None
                return header.state, self.restore()
            revision = header.revision
            self._queries = dict(meta.queries)
            self._unstored = set(meta.unstored)
            self._dirty = None if meta.dirty is None else dict(meta.dirty)
        # What a refused read or write made before a deferred load (``load=False``):
        # empty cells, which would hide the stored ones from the backing.
        restore.forget_everything(self.engine)
        backing = StoreBacking(self, meta, revision, cold=cold)
        self.engine.backing = backing
        opened = backing.open(meta, header.head)
        self._families = set(backing.families)
        if meta is None and not opened:
            return header.state, None
        return header.state, opened

    def _read_meta(self, sealed: bytes) -> Meta | None:
        """The snapshot meta, checked; its revisions installed. None for a meta
        written before loading on demand (without the maps ``Meta`` holds)."""
        meta = _SAFE.decode(self._open(sealed, self._context("meta", ""), "the snapshot header"))
        format_, codec_name, last_changed, *rest = meta
        if format_ != _META_FORMAT or codec_name != self.codec.name:
            raise CorruptSnapshot(
                f"{self.store.location}: runtime {self.runtime_id!r} was stored with codec "
                f"{codec_name!r} (format {format_}), this runtime uses {self.codec.name!r}"
            )
        listings = (
            {name: (changed_at, (count, mixed)) for name, changed_at, count, mixed in rest[0]}
            if rest
            else {}
        )
        self._stored_listings = listings
        restore.set_durability_revisions(self.engine, last_changed)
        if len(rest) < 5:
            return None
        queries, unstored, families, head = rest[1:5]
        dirty = rest[5] if len(rest) > 5 else None
        return Meta(
            listings,
            {name: bytes(fingerprint) for name, fingerprint in queries},
            frozenset(bytes(mid) for mid in unstored),
            frozenset(families),
            head,
            None if dirty is None else {bytes(mid): mark for mid, mark in dirty},
        )

    # -- restore (whole: a snapshot committed before loading on demand) -------------

    def restore(self) -> int | None:
        """Load the last committed state; return its revision (None for a new runtime)."""
        with _collector_paused():
            return self._restore()

    def _restore(self) -> int | None:
        snapshot = self.store.load_snapshot(self.runtime_id)
        states = self.store.load_input_states(self.runtime_id)
        if snapshot is None and not states:
            return None
        revision = snapshot.revision if snapshot is not None else 0
        if snapshot is not None:
            self._read_meta(snapshot.meta)  # checked, its revisions installed
        cells = [cell for state in states if (cell := self._restore_cell(state)) is not None]
        if snapshot is not None:
            self._restore_memos(snapshot, revision)
        self._restored.clear()
        # Inputs persisted after the last commit (``durable=True``) are newer than
        # the snapshot: the runtime opens at their revision, their readers marked.
        return restore.catch_up(self.engine, cells, revision)

    def _open(self, sealed: bytes, context: bytes, what: str, name: str | None = None) -> bytes:
        """``what`` and ``name`` ("input", its id) name the row in the error; a load
        opens every row, so the name is formatted only for one that fails."""
        try:
            return self.sealer.open(sealed, context)
        except IntegrityError as exc:
            raise without_context(
                self._corrupt(what if name is None else f"{what} {name!r}", exc)
            ) from None

    def _corrupt(self, what: str, exc: Exception) -> CorruptSnapshot:
        return CorruptSnapshot(
            f"{self.store.location}: {what} of runtime {self.runtime_id!r}: {exc}"
        )

    def _restore_cell(self, state: InputState) -> Cell | None:
        input = _registry.input_named(state.kind)
        if input is None or state.status is not InputStatus.READY:
            return None
        try:
            key = decode_key(state.key)
        except ValueError:
            return None
        context = self._context("input", state.input_id)
        value = self.codec.decode(self._open(state.value, context, "input", state.input_id))
        cell = restore.install_cell(
            self.engine, input, key, value, state.durability, state.changed_at
        )
        self._restored[(_INPUT, input.name, state.key)] = cell
        return cell

    def _restore_memos(self, snapshot: StoredSnapshot, revision: int) -> None:
        loaded: list[tuple[Memo, MemoRow]] = []
        discarded: list[Memo] = []
        for mid, sealed in snapshot.rows.items():
            row = self._decode_row(mid, sealed) if sealed else None
            memo = self._memo_for_row(mid, row)
            if memo is None:
                continue
            if row is None or row.fingerprint != memo.spec.fingerprint:
                discarded.append(memo)
                continue
            loaded.append((memo, row))
        for memo, row in loaded:
            deps = self._resolve_deps(row.deps)
            if deps is None:
                discarded.append(memo)
                continue
            restore.install_memo(
                self.engine,
                memo,
                row.value,
                self.codec.decode,
                changed_at=row.changed_at,
                verified_at=row.verified_at,
                durability=row.durability,
                deps=deps,
                revision=revision,
            )
        # A dependency with no row at all (never committed, persist=False) is as
        # unknown as a discarded one.
        missing = {
            dep
            for memo, _ in loaded
            for dep in memo.deps
            if isinstance(dep, Memo) and not dep.computed
        }
        # Discarded memos count as changed: whatever read them must be verified.
        restore.discard(self.engine, [*discarded, *missing], revision)

    def _decode_row(self, mid: bytes, sealed: bytes) -> MemoRow:
        """A row whose seal fails, or that is not a row, is damage: ``CorruptSnapshot``
        (so ``on_corrupt="cold"`` applies), never a value."""
        try:
            return decode_memo_row(sealed, self.sealer, self._context("memo", mid))
        except (IntegrityError, CodecError) as exc:
            raise without_context(self._corrupt(f"memo row {mid.hex()}", exc)) from None

    def _memo_for_row(self, mid: bytes, row: MemoRow | None) -> Memo | None:
        name, key_bytes = split_memo_id(mid)
        memo = self._memo_named(name, key_bytes)
        if memo is not None:
            self._restored[(_QUERY, name, key_bytes)] = memo
        return memo

    def _memo_named(self, name: str, key_bytes: bytes) -> Memo | None:
        found = _registry.query_and_key(name, key_bytes)
        return None if found is None else self.engine.memo_for(*found)

    def _resolve_deps(self, node_ids: Iterable[NodeId]) -> list[Memo | Cell] | None:
        deps: list[Memo | Cell] = []
        restored = self._restored
        for node_id in node_ids:
            node = restored.get(node_id)
            if node is None:
                kind, name, key_bytes = node_id
                if kind == _INPUT:
                    return None  # it read a cell that is gone
                if kind == _LISTING:
                    node = self._restore_listing(name)
                    if node is None:
                        return None  # the family lists other keys than it did
                    restored[node_id] = node
                    deps.append(node)
                    continue
                node = self._memo_named(name, key_bytes)  # a query with no row of its own
                if node is None:
                    return None
                restored[node_id] = node
            deps.append(node)
        return deps

    def _restore_listing(self, name: str) -> Cell | None:
        """The listing node of the family ``name``, with its recorded ``changed_at``,
        if the restored cells list what it listed at commit; else None."""
        input = _registry.input_named(name)
        recorded = self._stored_listings.get(name)
        if input is None or recorded is None:
            return None
        node = listing_for(self.engine, input)
        try:
            same = key_set(node).digest() == recorded[1]
        except TypeError:
            return None
        if not same:
            return None
        restore.date_listing(node, recorded[0])
        return node

    # -- lifecycle ---------------------------------------------------------------

    def lifecycle(self, state: RuntimeState, drop: Drop = "nothing") -> None:
        """A lifecycle change, with the input states written since the last commit,
        based on this runtime's head like a commit: a process that lost the race
        cannot retire, reset or destroy what it has not seen."""
        states = [self.input_state(c) for c in _sorted_cells(self.journal.cells)]
        if drop != "nothing":
            states = []
            self._queries, self._unstored, self._families = {}, set(), set()
            self._stored_listings = {}
            self._dirty = {}
        self.store.atomic_lifecycle_commit(
            self.runtime_id, state, states, drop, base_head=self.head
        )
        self.head += 1
        self.journal.cells_stored()

    def release_unlinked(self) -> int:
        """Right after a commit, drop the memos held that a write's own walk cannot
        mark (``_engine/release.py``), so that this process marks the next writes
        as a fresh one does; how many went. The caller holds the write gate.

        Only when each of them is its row exactly, which a load brings back as
        it was: nothing uncommitted (the journal is empty, no settle pending);
        each completed with a row (``_has_row``, and not among the memos left
        out, ``_unstored``: one whose value could not be stored has no row to
        come back from, and would execute again); each verified since its last
        mark, in memory and in the marks by id (``StoreBacking.forget_marks``:
        those are then forgotten, so that the row loads clean, as the memo
        was). Otherwise all are kept, and the next writes mark their closure
        eagerly, as before."""
        engine, backing, journal = self.engine, self.engine.backing, self.journal
        if not isinstance(backing, StoreBacking) or backing.memos_gone:
            return 0
        if backing.pending is not None or journal.memos or journal.cells or journal.full:
            return 0
        if self._shipped:
            return 0
        memos = release.unlinked(engine)
        if not memos or not all(_as_stored(memo) for memo in memos):
            return 0
        if not backing.forget_marks(memos, self._unstored):
            return 0
        release.drop_memos(engine, memos)
        backing.memos_released()
        return len(memos)

    def persist_now(self, cell: Cell) -> None:
        """``durable=True``: this cell's state is in the store before ``set`` returns.

        It advances the head like a commit: it changes what a restart restores
        (the catch-up above), so another process's later commit, which did
        not see it, must not pass as based on the same state."""
        state = self.input_state(cell)
        self.store.persist_input_state(self.runtime_id, state, base_head=self.head)
        self.head += 1


class _InputStates(Sequence[InputState]):
    """A commit's input states, each made when the store reads it (SQLite: as it
    writes the inputs, after the rows and edges), not all before the store's
    work starts: each holds its value encoded, and at 10,000 files that was
    15 MB held through the whole write, on top of the rows. A value that
    cannot be encoded raises there, inside the store's transaction, which
    then writes nothing, as before."""

    __slots__ = ("_cells", "_make")

    def __init__(self, cells: list[Cell], make: Callable[[Cell], InputState]) -> None:
        self._cells = cells
        self._make = make

    def __len__(self) -> int:
        return len(self._cells)

    @overload
    def __getitem__(self, index: int) -> InputState: ...

    @overload
    def __getitem__(self, index: slice) -> list[InputState]: ...

    def __getitem__(self, index: int | slice) -> InputState | list[InputState]:
        if isinstance(index, slice):
            return [self._make(cell) for cell in self._cells[index]]
        return self._make(self._cells[index])


_Listings = dict[str, tuple[int, tuple[int, int]]]
"""Per family whose listing a stored memo read: its ``changed_at`` and digest."""

_Known = tuple[dict[str, bytes], set[bytes], set[str], dict[bytes, int] | None, _Listings]
"""What a commit's meta says about the stored rows (``_on_demand.Meta``):
fingerprints, unstored memo ids, families, the dirty set, the listings."""


class _Shipped:
    """A row installed as it came from a worker, and what the memo held then."""

    __slots__ = ("changed_at", "durability", "mid", "reads", "row", "verified_at")

    def __init__(self, mid: bytes, row: bytes, reads: list[bytes], memo: Memo) -> None:
        self.mid = mid
        self.row = row
        self.reads = reads
        self.changed_at = memo.changed_at
        self.verified_at = memo.verified_at
        self.durability = memo.durability

    def holds(self, memo: Memo) -> bool:
        """Whether the row is still ``memo``'s: it has a value, verified and changed
        at the same revisions, with the same durability. An execution since would
        have verified it at a later revision (one per revision), a discard or a
        push back emptied it or moved ``verified_at``; reading it (its value
        decoded) changes none of these, and its row stays true."""
        return (
            memo.has_value
            and memo.error is None
            and memo.computed
            and memo.verified_at == self.verified_at
            and memo.changed_at == self.changed_at
            and memo.durability == self.durability
        )


class _NodeIds:
    """The node ids of one commit, each node's key encoded once.

    A commit names every row's dependencies twice (in the row, and as the
    store's edges), and most nodes are read by many rows: a 10,000-page first
    commit lists 255,000 dependencies of 80,000 nodes. Encoding each key again
    per read was a third of building that delta; packing each dependency
    into its row again per read (its name encoded, two ``struct`` calls) was
    most of the rest of sealing the rows. So both forms are made once per
    node, and the ``NodeId`` tuples they come from are not kept. Kept for one
    commit only: a field on the engine's records would cost every memo its
    bytes for good.
    """

    __slots__ = ("_known", "_node_id")

    def __init__(self, node_id: Callable[[Memo | Cell], NodeId]) -> None:
        self._node_id = node_id
        self._known: dict[Memo | Cell, tuple[bytes, bytes]] = {}

    def of(self, node: Memo | Cell) -> tuple[bytes, bytes]:
        """``node``'s flat node id, the bytes the store keys its edges by
        (``encode_node_id``), and the node as a row lists it (``encode_dep``)."""
        known = self._known.get(node)
        if known is None:
            node_id = self._node_id(node)
            known = self._known[node] = (encode_node_id(node_id), encode_dep(node_id))
        return known

    def memo_id(self, memo: Memo) -> bytes:
        """``memo_id(name, key)``: a memo's node id is its memo id behind one kind byte."""
        return self.of(memo)[0][1:]


class _DeltaRows:
    """The rows of one commit's delta as ``Persistence._delta`` gathers them, and
    what the meta will say of the stored rows once they are written."""

    __slots__ = ("deletes", "queries", "reads", "same_reads", "unstored", "upserts")

    def __init__(
        self, queries: dict[str, bytes], unstored: set[bytes], same_reads: _SameReads
    ) -> None:
        self.upserts: dict[bytes, bytes] = {}
        self.deletes: set[bytes] = set()
        self.reads: dict[bytes, Sequence[bytes]] = {}
        self.queries = queries
        """Each stored query's fingerprint, by name."""
        self.unstored = unstored
        """Memo ids that rows list as read but that have no row."""
        self.same_reads = same_reads

    def put(
        self, memo: Memo, mid: bytes, row: bytes, read_ids: Sequence[bytes], lacking: list[bytes]
    ) -> None:
        """Store ``row`` as ``memo``'s (id ``mid``), which read ``read_ids`` (the
        store's edges), ``lacking`` the memo ids among them that have no row."""
        self.upserts[mid] = row
        self.reads[mid] = tuple(read_ids)  # a list's spare room, 3 MB at 70,000 rows
        self.same_reads.note(memo, mid)
        if len(self.upserts) % _TRIM_EVERY == 0:
            _heap.give_back()  # the holes the values left so far (``_heap.py``)
        self.deletes.discard(mid)
        self.queries[memo.spec.name] = memo.spec.fingerprint
        self.unstored.discard(mid)
        self.unstored.update(lacking)

    def drop(self, mid: bytes) -> None:
        """No row for this memo: errors, evicted values and values that cannot be
        encoded are recomputed, not stored, and an older row of the memo goes."""
        self.deletes.add(mid)
        self.unstored.add(mid)


class _SameReads:
    """The memos of one commit whose stored edges are their reads already
    (``SnapshotDelta.unchanged``): the store then leaves them unread.

    A memo's stored edges are the reads it held at the last commit if it had a
    row then, and the journal keeps those reads for each memo that executed
    since (``Journal.reads_before``). It had a row unless that commit deleted
    it, or left it out as read by a row while having none: its id is then
    among the meta's unstored ids, and its edges are written as any new
    memo's. A ``full`` delta replaces every edge, so it keeps none.

    Why the runtime says it, not the store: after a template edit every page's
    render executes again and reads what it read (its template, its page, its
    links), and the store read back 10,000 renders' edges to find them all the
    same, 0.25 s of a 1.18 s commit (compiled). The runtime knows without looking: those
    reads were decoded from the rows it loaded."""

    __slots__ = ("_before", "_unstored", "unchanged")

    def __init__(
        self, before: dict[Memo, tuple[Memo | Cell, ...]], unstored: set[bytes], full: bool
    ) -> None:
        self._before = {} if full else before
        self._unstored = unstored
        self.unchanged: list[bytes] = []

    def note(self, memo: Memo, mid: bytes) -> None:
        """``memo`` (by id ``mid``) is written: is it unchanged?"""
        before = self._before.get(memo)
        if before is not None and before == memo.deps and mid not in self._unstored:
            self.unchanged.append(mid)


def _has_row(memo: Memo) -> bool:
    """Whether a commit stores a row for ``memo`` (as ``Persistence._delta`` decides,
    short of trying to encode its value): a memo of a persisted query that
    completed without an error, and holds its value, unless its query stores
    none (``persist_value=False``: one loaded from its row and not read since
    holds no value, and its row is there all the same)."""
    spec = memo.spec
    return (
        spec.persist
        and memo.error is None
        and memo.computed
        and (memo.has_value or not spec.persist_value)
    )


def _as_stored(memo: Memo) -> bool:
    """Whether ``memo`` is what its row holds, for ``Persistence.release_unlinked``: it has
    a row (``_has_row``) and was verified since its last mark."""
    return _has_row(memo) and memo.verified_at >= 0 and memo.dirty_at <= memo.verified_at


def _sorted_cells(cells: Iterable[Cell] | None) -> list[Cell]:
    return sorted(cells or (), key=lambda cell: (cell.input.name, repr(cell.key)))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Opening builds a few objects per stored row and frees none of them, the
    worst case for the cyclic collector, which would walk the growing heap
    again and again for nothing (about 15% of opening a 10,000-page site).
    A commit is the same case: every row, id and edge it builds lives until
    the store has written them (0.6 s of a 10,000-page first build's commit,
    compiled, about 10%). It is paused for the load or the commit and
    resumed after, unless it was off already."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
