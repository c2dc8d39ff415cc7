"""Snapshots as rows: what a commit writes, and what a load reads back.

Snapshots are stored as *rows*, one per memo, not as one blob per commit. A
commit writes a ``SnapshotDelta``: the memos that changed since the last
commit, the memos deleted, and the small runtime-level ``meta``. A commit
after a small change therefore writes in proportion to the change, and
opening a large cache reads bytes without decoding values nobody asks for
(the runtime decodes lazily). ``SnapshotDelta.to_bytes()`` is the canonical
form a receipt's digest covers, so a receipt proves exactly what its boundary
wrote.

**Reverse edges.** A delta also carries, for each memo it writes, the nodes
that memo read (``reads``). The store keeps them as edges ``dep -> reader``,
owned by the reader: writing a memo replaces its edges, deleting it removes
them, a ``full`` delta replaces them all. So a process that opened a cache
without loading it can ask the store for the stored transitive readers of a
cell it writes (``load_reader_closure``) instead of loading every row to
rebuild the graph. A *node id* is opaque bytes to the store, with one rule
the closure needs: the node id of memo ``m``, read as a dependency, is
``QUERY_NODE + m`` (``reader_node``). The runtime's other kinds of node (an
input cell, a family's key listing) are its own business (``sofrito._snapshot``).
A delta may mark memos ``unchanged``: their reads are their stored edges
already, which the runtime knows and a store could only learn by reading
them back (every page's render after a template edit), so the store leaves
them as they are.

**The digest covers the edges** (the ``sofrito.snapshot.v2`` encoding below).
They are derivable from the memo rows, whose dependency lists are sealed, but
only by the runtime: the store cannot open a row (it may be MAC-sealed, and
its layout is the runtime's). A replica applying a delta (``atomic_apply``)
would otherwise take the edges on trust, and a missing edge is a reader that
a write in a fresh process never marks. A delta with no edges encodes exactly
as before (``sofrito.snapshot.v1``), so every receipt minted before edges
existed still verifies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from sofrito.stores import _delta_bytes, _encoding

if TYPE_CHECKING:
    from sofrito.stores.protocol import RuntimeState

__all__ = ["QUERY_NODE", "SnapshotDelta", "SnapshotHeader", "StoredSnapshot", "reader_node"]

_SNAPSHOT_TAG = "sofrito.snapshot.v1"
_SNAPSHOT_TAG_EDGES = "sofrito.snapshot.v2"

QUERY_NODE: Final = b"q"
"""The first byte of a memo's node id: memo ``m`` read as a dependency is the
node ``QUERY_NODE + m``. The one thing about node ids a store must know, to
follow a reader to its own readers."""


def reader_node(memo_id: bytes) -> bytes:
    """The node id under which memo ``memo_id`` is a dependency of other memos."""
    return QUERY_NODE + memo_id


@dataclass(frozen=True, slots=True)
class SnapshotDelta:
    """What one run boundary changes in a runtime's stored snapshot.

    - ``revision``: the runtime's revision at the boundary.
    - ``meta``: opaque runtime-level state (durability marks, codec), small,
      replaced whole by every commit.
    - ``upserts``: memo id -> encoded memo row, written (inserted or replaced).
      Memo ids are opaque bytes chosen by the runtime.
    - ``deletes``: memo ids removed. An id may not be both upserted and deleted
      (``ValueError``): the delta would not say what it means.
    - ``full``: True means this delta *replaces* every stored memo of the
      runtime (after ``clear_cache``): rows not in ``upserts`` are gone, and
      so are their edges.
    - ``reads``: memo id -> the node ids that memo read, in read order. The
      store replaces the edges of every upserted memo with these (an upserted
      memo with no entry has no edges); only upserted memos may have an entry
      (``ValueError``): a memo not written keeps the edges of its stored row.
    - ``unchanged``: upserted memo ids whose ``reads`` are exactly the edges the
      store holds for them already (a memo that executed again and read the
      nodes its stored row lists). The store leaves their edges as they are,
      without reading them back to compare: the runtime knows (it loaded or
      committed those reads), the store would have to look. Only upserted
      ids, and none in a ``full`` delta, which replaces every edge
      (``ValueError``). Not part of ``to_bytes()``: ``reads`` says what the
      edges are, this only what the store need not do to make them so.
    """

    revision: int
    meta: bytes
    upserts: Mapping[bytes, bytes] = field(default_factory=dict)
    deletes: frozenset[bytes] = frozenset()
    full: bool = False
    reads: Mapping[bytes, Sequence[bytes]] = field(default_factory=dict)
    unchanged: frozenset[bytes] = frozenset()

    def __post_init__(self) -> None:
        # Any set is taken and a frozenset held, as the fields say: the store
        # modules compiled with mypyc check that type when they read the field,
        # and ``frozenset - dict.keys()`` is a set.
        for name in ("deletes", "unchanged"):
            given = getattr(self, name)
            if type(given) is not frozenset:
                object.__setattr__(self, name, frozenset(given))
        both = self.deletes.intersection(self.upserts.keys())
        if both:
            shown = ", ".join(sorted(memo_id.hex() for memo_id in both)[:3])
            raise ValueError(
                f"memo ids both upserted and deleted in one SnapshotDelta: {shown}; "
                "a delta must either write a memo or delete it"
            )
        stray = self.reads.keys() - self.upserts.keys()
        if stray:
            shown = ", ".join(sorted(memo_id.hex() for memo_id in stray)[:3])
            raise ValueError(
                f"reads of memo ids not upserted in this SnapshotDelta: {shown}; "
                "a delta gives the edges of the memos it writes, and only those"
            )
        if self.unchanged:
            _check_unchanged(self)

    def edges_of(self, memo_id: bytes) -> frozenset[bytes]:
        """The dependency node ids the store keeps for upserted ``memo_id``: a set,
        since an edge is there or not (a memo that read a node twice has one edge)."""
        return frozenset(self.reads.get(memo_id, ()))

    def to_bytes(self) -> bytes:
        """The canonical encoding the receipt digest covers (docs/persistence.md)::

            encode(("sofrito.snapshot.v1", revision, meta,
                    tuple(sorted(upserts.items())), tuple(sorted(deletes)), full))

        or, when some upserted memo has edges, the same with tag
        ``"sofrito.snapshot.v2"`` and one more item::

            tuple(sorted((memo_id, tuple(sorted(set(node_ids))))
                         for memo_id, node_ids in reads.items() if node_ids))

        with the store encoding of ``sofrito.stores._encoding`` (sorted
        bytewise, so the order the runtime built the delta in never matters;
        the edges as the set the store keeps, since that is what is written).
        """
        return b"".join(self.parts())

    def parts(self) -> list[bytes]:
        """``to_bytes()`` in pieces (``iter_parts``), as a list."""
        return list(self.iter_parts())

    def iter_parts(self) -> Iterator[bytes]:
        """``to_bytes()`` in pieces, each row its own bytes object (not copied),
        made as they are taken: a receipt's digest hashes them one by one
        (``receipt.compute_digest``), so a commit holds no copy of its delta
        beside the rows. At 10,000 pages, two copies of 200 MB were most of a
        cold build's peak memory; a list of the pieces (each row's prefix, the
        edges encoded, 30 MB) was still its last 25 MB."""
        self._check_fields()
        out = bytearray()
        out.append(_encoding.TUPLE)
        with_edges = self._has_edges()
        out += (7 if with_edges else 6).to_bytes(4, "big")
        tag = _SNAPSHOT_TAG_EDGES if with_edges else _SNAPSHOT_TAG
        for part in (tag, self.revision, self.meta):
            _encoding.encode_into(out, part)
        out.append(_encoding.TUPLE)
        out += len(self.upserts).to_bytes(4, "big")
        yield bytes(out)
        # encode((memo_id, row)) for each row, the row itself its own part: the
        # loops are compiled (``_delta_bytes``)
        yield from _delta_bytes.row_parts(self.upserts)
        out = self._tail()
        if with_edges:
            readers = sum(1 for node_ids in self.reads.values() if node_ids)
            yield from _delta_bytes.encode_edges(out, readers, self.reads)
        yield bytes(out)

    def encoded_size(self) -> int:
        """``len(self.to_bytes())``, counted without encoding anything: the digest
        needs it before the first piece (the delta is one ``bytes`` item of the
        receipt's encoding, its length first). Each field is type-checked as
        ``iter_parts`` checks it, so a bad one fails here first, the same way."""
        self._check_fields()
        with_edges = self._has_edges()
        head = bytearray()
        tag = _SNAPSHOT_TAG_EDGES if with_edges else _SNAPSHOT_TAG
        for part in (tag, self.revision, self.meta):
            _encoding.encode_into(head, part)
        size = 5 + len(head) + 5 + _delta_bytes.rows_size(self.upserts)
        size += len(self._tail())
        if with_edges:
            size += 5 + _delta_bytes.edges_size(self.reads)  # the edges' tuple, then each pair
        return size

    def _tail(self) -> bytearray:
        """The encoded deletes and ``full``: what follows the rows (then the edges)."""
        out = bytearray()
        out.append(_encoding.TUPLE)
        out += len(self.deletes).to_bytes(4, "big")
        for memo_id in sorted(self.deletes):
            _delta_bytes.check_bytes(memo_id, b"")
            _encoding.encode_into(out, memo_id)
        _encoding.encode_into(out, bool(self.full))
        return out

    def _check_fields(self) -> None:
        if type(self.revision) is not int or type(self.meta) is not bytes:
            raise TypeError(
                f"a SnapshotDelta has an int revision and bytes meta, not "
                f"{type(self.revision).__name__} and {type(self.meta).__name__}"
            )

    def _has_edges(self) -> bool:
        """Whether the delta encodes as ``sofrito.snapshot.v2``: some memo read something."""
        return any(self.reads.values())


def _check_unchanged(delta: SnapshotDelta) -> None:
    """``unchanged`` names only memos the delta writes, and never in a ``full`` delta."""
    if delta.full:
        raise ValueError(
            "a full SnapshotDelta replaces every stored edge: it cannot keep any "
            "(pass unchanged=frozenset())"
        )
    stray = delta.unchanged.difference(delta.upserts.keys())
    if stray:
        shown = ", ".join(sorted(memo_id.hex() for memo_id in stray)[:3])
        raise ValueError(
            f"memo ids marked unchanged but not upserted in this SnapshotDelta: {shown}; "
            "only a memo the delta writes can keep its stored edges"
        )


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """A runtime's latest committed snapshot: the revision, ``meta``, and every
    memo row still encoded (memo id -> row bytes), each already checked against
    its checksum. Decoding the rows is the runtime's business, lazily."""

    revision: int
    meta: bytes
    rows: Mapping[bytes, bytes]


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    """What opening a runtime reads: its header, nothing that grows with the cache.

    - ``revision`` and ``meta``: the latest committed snapshot's (``meta is None``:
      no snapshot committed, e.g. only durable inputs, or after a reset).
    - ``head``: the count of writes to the runtime's state; pass it as ``head=``
      to the on-demand loads, which refuse (``StaleRead``) once it has moved.
    - ``sequence``: the last receipt's sequence number (0: none).
    - ``state``: the lifecycle state, or None if never set.
    """

    revision: int
    meta: bytes | None
    head: int
    sequence: int
    state: RuntimeState | None = None


for _cls in (SnapshotDelta, StoredSnapshot, SnapshotHeader):
    _cls.__module__ = "sofrito.stores"
