"""The engine's declared interface for records that come from outside it.

The engine owns its records (``Memo``, ``Cell``, the tables, ``Engine``'s
fields): nothing outside ``_engine/`` writes one. What a store gives back
(a stored cell, a stored memo row, the revisions of a snapshot header) and
what a program asks for wholesale (``rt.clear_cache()``, ``rt.reset()``)
reaches the records through the calls here, in plain values: the persistence
layer keeps decoding and checking bytes and talking to the store, the engine
keeps the records and the rules that tie them together (reverse dependencies,
dirty marks, the journal).

Each record is installed by a call of its own (``install_cell``,
``install_memo``), not only by a loop over a whole snapshot, so that loading
on demand (``backing.py``) installs one record exactly as opening does.

The calls:

- ``install_cell``: a stored cell, ready, with its revision of last change.
- ``install_memo``: a stored memo row, its value still encoded, linked to
  its dependencies (reverse dependencies included).
- ``install_stored_memo``: the same, loaded on demand: its dependencies stay
  stored ids (``Memo.stored_deps``) until ``resolve_deps`` links them.
- ``install_shipped_memo``: a memo another process computed at this
  revision (an executor's worker, ``sofrito._shipping``): as
  ``install_stored_memo``, over whatever this runtime held for the key, and
  journaled, so the next commit stores it.
- ``hold_encoded``: a committed memo keeps the bytes its row was written
  from instead of its value, as if it had been loaded.
- ``resolve_deps``, ``link_reader``, ``fresh_memo``: what loading on demand
  adds (``backing.py``).
- ``unmarked_change``: a change no write's frontier records (readers marked
  by id, not linked; a memo discarded; readers pushed back): no revision up
  to it can be shown cut.
- ``date_listing``: a family's listing takes the revision a snapshot recorded.
- ``discard``: memos whose stored rows cannot be trusted count as changed,
  and whatever read them is pushed back to be verified.
- ``catch_up``: cells stored after the snapshot (``durable=True``) mark their
  readers, and the revision to open at.
- ``set_durability_revisions``: the last change per durability level, from a
  snapshot header.
- ``clear_memos``: drop every memo (``rt.clear_cache()``).
- ``forget_everything``: drop every memo and cell (reset, destroy, cold start).

Rejected: letting the persistence layer fill records field by field, as it
did (``_fill``, ``_push_back_dependents``, ``_forget_everything``): about
thirty writes from outside, each repeating a rule of the engine (a memo's
``dirty_at`` after a restore, what a dropped memo must look like to a
top-level call that holds it) that then had two homes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sofrito._engine import frontier, hits, rdeps, refs
from sofrito._engine.memo import NEVER, NOT_HITTABLE, Cell, CellStatus, Encoded, Memo

if TYPE_CHECKING:
    from sofrito._engine.family import Input
    from sofrito._engine.memo import Node
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.state import Engine

__all__ = [
    "catch_up",
    "clear_memos",
    "date_listing",
    "discard",
    "forget_everything",
    "fresh_memo",
    "install_cell",
    "install_memo",
    "install_shipped_memo",
    "install_stored_memo",
    "link_reader",
    "push_back",
    "resolve_deps",
    "set_durability_revisions",
    "unmarked_change",
]


def install_cell(
    engine: Engine,
    input: Input,
    key: tuple[Any, ...],
    value: Any,
    durability: int,
    changed_at: int,
    *,
    ready: bool = True,
) -> Cell:
    """Install a stored cell of ``input``, ready with ``value``; or, not ``ready``,
    pending since ``changed_at`` (a cell stored as removed, loaded on demand:
    a memo that read it before then sees it changed).

    The family's table gets no listing node here: one is made, listing the
    cells installed, when a reader first asks (``listing.listing_for``).
    """
    cell = Cell(input, key, durability)
    cell.changed_at = changed_at
    if ready:
        cell.status, cell.value = CellStatus.READY, value
    table = engine.cells.get(input)
    if table is None:
        # Installing into an input is using it: its name is taken for this runtime.
        engine.register_name(input.name, input)
        table = engine.cells.setdefault(input, {})
    table[key] = cell
    return cell


def install_memo(
    engine: Engine,
    memo: Memo,
    data: bytes | None,
    decode: Callable[[bytes], Any],
    *,
    changed_at: int,
    verified_at: int,
    durability: int,
    deps: list[Node],
    revision: int,
) -> None:
    """Install a stored memo row into ``memo`` (from ``engine.memo_for``).

    The value stays encoded until someone reads it (``memo.value_of``). The
    memo is not hittable until then either, and its ``dirty_at`` is the
    revision opened at: valid at once if it was verified there, else
    verified once before it is served. ``data`` None: a row stored without
    its value (``persist_value=False``), installed as an evicted memo.
    """
    _fill(memo, _held(data, decode), changed_at, verified_at, durability, revision)
    reads = tuple(deps)
    rdeps.relink(memo, memo.deps, reads)
    memo.deps = reads


def _held(data: bytes | None, decode: Callable[[Any], Any]) -> Encoded | None:
    return None if data is None else Encoded(data, decode)


def _fill(
    memo: Memo,
    value: Encoded | None,
    changed_at: int,
    verified_at: int,
    durability: int,
    revision: int,
) -> None:
    """A stored row's fields, as both installs set them: the value still
    encoded, ``dirty_at`` the revision opened at. No value (a row stored
    without it): the memo is as an evicted one (``lru._evict``), its reads and
    revisions kept, so that it verifies without executing and executes again,
    counting as unchanged if its reads are (``fetch.settle``), when its value
    is read."""
    memo.value = value
    memo.has_value = value is not None
    if value is None:
        memo.hit_at = NOT_HITTABLE
    memo.changed_at = changed_at
    memo.verified_at = verified_at
    memo.durability = durability
    memo.dirty_at = revision


def fresh_memo(engine: Engine, spec: QuerySpec[Any], key: tuple[Any, ...]) -> Memo:
    """The memo of ``spec(*key)``, made empty (never computed) if the table has
    none: what a load on demand installs for a key with no stored row."""
    table = engine.tables[spec]
    memo = table.get(key)
    if memo is None:
        memo = table.setdefault(key, Memo(spec, key))
    return memo


def install_stored_memo(
    engine: Engine,
    spec: QuerySpec[Any],
    key: tuple[Any, ...],
    data: bytes | None,
    decode: Callable[[bytes], Any],
    *,
    changed_at: int,
    verified_at: int,
    durability: int,
    stored_deps: list[tuple[bytes, str, bytes]],
    revision: int,
    key_bytes: bytes | None = None,
) -> Memo:
    """Install a memo row loaded on demand, its reads left as stored ids.

    Set-default: if the table holds the key already (another thread loaded it,
    or it was computed meanwhile), that memo is kept and returned, so two
    threads racing on one key end with one memo. Otherwise as ``install_memo``:
    the value stays encoded, ``dirty_at`` is the revision opened at.

    ``key_bytes``: the key's canonical bytes, from the row's id. While someone
    listens to events, the memo's ref is made from them now (``refs.stored_ref``),
    not by encoding the key again at its first event: a template edit on the
    example site loads 40,000 rows, each named by an event.
    """
    table = engine.tables[spec]
    memo = table.get(key)
    if memo is not None:
        return memo
    memo = Memo(spec, key)
    _fill(memo, _held(data, decode), changed_at, verified_at, durability, revision)
    memo.stored_deps = stored_deps
    if key_bytes is not None and engine.listening:
        memo.ref_cache = refs.stored_ref(spec.name, key_bytes)
    return table.setdefault(key, memo)


def install_shipped_memo(
    engine: Engine,
    spec: QuerySpec[Any],
    key: tuple[Any, ...],
    data: bytes,
    decode: Callable[[bytes], Any],
    *,
    changed_at: int,
    durability: int,
    stored_deps: list[tuple[bytes, str, bytes]],
    traced: bool = False,
) -> Memo | None:
    """Install a memo that a worker computed at this revision, from the store at
    the boundary this runtime committed (``sofrito._shipping``): verified now,
    its value still encoded, its reads stored ids that the caller resolves
    (``Backing.deps``) before anything reads it. It replaces what the table held
    for the key (a row from an older boundary, or nothing): the worker started
    from that same row, so its ``changed_at`` is this runtime's answer too.

    None, and nothing changed, if the memo is verified in this revision already
    or claimed (computed here meanwhile, or shipped twice: a task that ran twice).
    Journaled and counted like an execution (``Engine.executions``; ``traced``:
    a trace answered it in the worker): the next commit writes its row and edges.
    """
    table = engine.tables[spec]
    memo = table.get(key)
    if memo is None:
        memo = table.setdefault(key, Memo(spec, key))
    revision = engine.revisions.current
    if memo.claim is not None or memo.verified_at == revision:
        return None
    rdeps.relink(memo, memo.deps, ())
    memo.deps = ()
    memo.error = memo.traceback = None
    _fill(memo, Encoded(data, decode), changed_at, revision, durability, revision)
    memo.hit_at = NOT_HITTABLE  # served once decoded (``memo.value_of``)
    memo.stored_deps = stored_deps
    if engine.journal is not None:
        engine.journal.memos.add(memo)
    engine.executions += 1
    if traced:
        engine.executions_traced += 1
    return memo


def hold_encoded(
    engine: Engine, memo: Memo, data: bytes | memoryview, decode: Callable[[Any], Any]
) -> None:
    """``memo``'s value, just written to the store as ``data`` (the row that
    holds it, or a view of its bytes in its row; ``decode`` knows which), is
    held as those bytes from now on (``Encoded``), exactly as a memo loaded
    from that row: decoded when next read, then hittable again (``fetch.ensure``).

    Why: after a first build every value sat in memory beside its encoding
    (and a non-ASCII ``str`` beside the UTF-8 copy pickling caches in it), 3
    bytes or more held per byte stored. Called under the write gate (a
    commit): nothing reads ``memo`` meanwhile. The hit table may hold the old
    value, so it is emptied, as a write empties it (``hits.py``)."""
    memo.value = Encoded(data, decode)
    memo.hit_at = NOT_HITTABLE
    if engine.hits[memo.spec.index] is not hits.EMPTY:
        hits.forget_all(engine)


def resolve_deps(memo: Memo, deps: list[Node]) -> None:
    """The stored reads of ``memo``, now nodes: linked both ways. ``stored_deps``
    goes last: another thread that finds it None walks ``deps`` without a lock."""
    reads = tuple(deps)
    rdeps.relink(memo, memo.deps, reads)
    memo.deps = reads
    memo.stored_deps = None


def link_reader(node: Node, reader: Memo) -> None:
    """Record ``reader`` (its reads still stored ids) as a reader of ``node``, as
    the stored edges say, so that a write to ``node`` marks it."""
    rdeps.add_reader(node, reader)


def push_back(engine: Engine, memos: Iterable[Memo], revision: int) -> None:
    """``memos`` (and what transitively read them) are verified before served:
    as the readers of a discarded memo are (``discard``). One verified in
    ``revision`` itself (``sofrito._settle`` pushes back in the revision it
    verifies in) is made unverified for the hot path too (``_unverify``).

    A mark made here is no write's: no frontier of ``revision`` lists the memos
    it reached, so ``revision`` can no longer be shown cut (``unmarked_change``).

    A memo marked in ``revision`` and not verified since is passed, not walked
    again: its readers were marked with it, as a write's walk has it
    (``rdeps.mark_dependents``). Walking each time, 10,000 memos discarded one
    by one after an edit of the example site's ``parsed`` each walked the
    site-wide indexes and every page above them: 43 s of a 56 s run."""
    unmarked_change(engine, revision)
    _push(engine, memos, revision)


def _push(engine: Engine, memos: Iterable[Memo], revision: int) -> None:
    stack = list(memos)
    seen: set[Memo] = set()
    while stack:
        reader = stack.pop()
        if reader in seen:
            continue
        seen.add(reader)
        if reader.dirty_at == revision and reader.verified_at < revision:
            continue  # pushed back (or marked) in this revision already
        if reader.verified_at >= revision:
            _unverify(engine, reader, revision)
        reader.dirty_at = max(reader.dirty_at, revision)  # (ALWAYS_DIRTY is above all)
        stack.extend(reader.rdeps or ())


def unmarked_change(engine: Engine, revision: int) -> None:
    """Something changed at ``revision`` that no write's frontier records, so
    nothing up to ``revision`` may be shown cut (``frontier.py``), as after a
    restore. A frontier lists the readers a write found linked to its cell, and
    three things escape it:

    - a write whose stored readers were marked by id, left unloaded and so
      unlinked (``sofrito._settle``);
    - a memo discarded (its row's code is old, or it could not be resolved):
      it is installed empty, linked to nothing, so the write it belongs to
      would settle without it and count as cut, passing its readers as valid
      without a walk: a stale value, silently;
    - readers pushed back (``push_back``)."""
    frontier.jump(engine, revision)


def date_listing(node: Cell, changed_at: int) -> None:
    """A listing node whose keys are the ones a snapshot recorded takes that
    snapshot's revision of its last change (``_persistence`` checks the keys)."""
    node.changed_at = changed_at


def discard(engine: Engine, memos: Iterable[Memo], revision: int) -> None:
    """Memos whose stored state is not to be trusted count as changed.

    Each is emptied (never computed, so it executes when read), and every
    memo that transitively read one is pushed back before ``revision``, so
    it is verified, never served from the store unchecked.

    Each also counts as a change at ``revision`` of its durability, as a
    write would: a reader's durability is at most its reads', so the
    durability rule cannot pass a pushed-back reader as unchanged (the last
    input change of a snapshot is often older than its revision). And, as for
    ``push_back``, ``revision`` can no longer be shown cut (``unmarked_change``).
    """
    unmarked_change(engine, revision)
    last_changed = engine.revisions.last_changed
    readers: list[Memo] = []
    for memo in memos:
        for level in range(memo.durability + 1):
            last_changed[level] = max(last_changed[level], revision)
        hits.forget(engine, memo)
        memo.value, memo.has_value, memo.verified_at, memo.changed_at = None, False, NEVER, NEVER
        memo.hit_at = NOT_HITTABLE
        memo.deps = ()
        memo.stored_deps = None
        readers.extend(memo.rdeps or ())
    _push(engine, readers, revision)


def _unverify(engine: Engine, memo: Memo, revision: int) -> None:
    """``memo`` counts as verified before ``revision`` only: ``verified_at`` and,
    if it is hittable, ``hit_at`` (which the cold path's hit reads alone and
    must equal ``verified_at``, ``memo.py``), and the hit table forgets its
    value (``hits.forget``), or a pushed-back memo verified in the current
    revision would still be served as a hit."""
    memo.verified_at = revision - 1
    if memo.hit_at != NOT_HITTABLE:
        memo.hit_at = revision - 1
    hits.forget(engine, memo)


def catch_up(engine: Engine, cells: Iterable[Cell], revision: int) -> int:
    """Cells stored after the snapshot at ``revision`` (``durable=True``) are
    newer than it: their changes are recorded and their readers marked; the
    revision to open at (the newest of them, or ``revision``)."""
    late = [cell for cell in cells if cell.changed_at > revision]
    if not late:
        return revision
    latest = max(cell.changed_at for cell in late)
    last_changed = engine.revisions.last_changed
    for cell in late:
        for level in range(cell.durability + 1):
            last_changed[level] = max(last_changed[level], cell.changed_at)
        rdeps.invalidate_dependents(engine, cell, latest)
    return latest


def set_durability_revisions(engine: Engine, last_changed: Sequence[int]) -> None:
    """The last change per durability level, as a snapshot header recorded it."""
    engine.revisions.last_changed[:] = list(last_changed)


def clear_memos(engine: Engine) -> None:
    """Drop every memo; cells stay (``rt.clear_cache()``). The caller holds the
    write gate. With a journal, the next commit replaces every stored memo."""
    engine.tables.clear()
    engine.lrus.clear()
    if engine.backing is not None:
        engine.backing.memos_cleared()
    for table in engine.cells.values():
        for cell in table.values():
            cell.rdeps = None
    if engine.journal is not None:
        engine.journal.memos_dropped()


def forget_everything(engine: Engine) -> None:
    """Drop every memo and cell (reset, destroy, a cold start). The caller holds
    the write gate, and the store drops its rows itself: nothing is left to commit."""
    engine.tables.clear()
    engine.cells.clear()
    engine.lrus.clear()
    engine.pending_cells.clear()
    engine.deferred_writes.clear()
    engine.backing = None  # the store dropped its rows: nothing is left to load
    if engine.journal is not None:
        engine.journal.forget()
