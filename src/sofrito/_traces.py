"""``TraceBook``: a runtime's traces in its store, published at commit, read on demand.

The engine's side (``_engine/trace.py``) replays a trace's reads; this module
decides what a trace is, in bytes, and whom to believe:

- **A trace row** is flat bytes read with ``struct`` (as a memo row is,
  ``_snapshot.py``; a general decoder cost a replay three times as much)::

      B format (1)   16s fingerprint   B codec name length, codec name
      H query name length, query name  I key length, canonical key bytes
      I number of reads, then for each, in read order:
        c kind (b"q" query, b"i" input, b"k" key listing)
        H name length, name   I key length, key   32s hash of the value read
      the rest: the value, as the runtime's codec encoded it

  sealed whole with an HMAC-SHA256 under the team's trace secret
  (``stores.Traces``). The MAC is checked before anything is read; the
  first part must be byte for byte the one this runtime expects (its codec,
  query, fingerprint and key); the value is decoded (unpickled, with the
  default codec) only once every read matched.
- **Keys.** ``lookup`` hashes (query name, fingerprint, key bytes): every trace
  of one version of one query at one key. ``trace_id`` hashes the lookup and
  the reads: one row per distinct vector of read values, so a key that was
  built from several states of its inputs keeps a trace of each, and
  republishing the same one writes nothing (insert, on conflict do nothing).
- **Value hashes** are BLAKE2b-256 of the codec's bytes: a memo loaded from
  the store is hashed without decoding it (its stored bytes), one that
  executed is hashed from the bytes its commit encodes, a cell is encoded
  once per change. Both codecs encode an unchanged value to the same bytes in
  one Python version; a value that encodes differently (a ``set`` of
  strings under another hash seed) only costs a miss, never a wrong value,
  since equal hashes mean equal bytes.

What is published: each memo a commit stores that executed since the last
commit, except one that read a pending or failed cell, a cached error, or a
value that cannot be encoded (there is no hash to check it by), and except one
taken from a trace (it is in the store already). Publishing follows the
commit, in its own transaction: a trace is true whatever the boundary, so a
commit never waits on it, and a failure to publish is logged, not raised.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import struct
import warnings
from typing import TYPE_CHECKING, Any, Final

from sofrito import _registry
from sofrito._codec import Codec, CodecError, IntegrityError, SafeCodec, Sealer
from sofrito._engine.listing import is_listing, key_set
from sofrito._engine.memo import ALWAYS_DIRTY, Cell, CellStatus, Encoded, Memo
from sofrito._engine.trace import (
    TRACE_READ_CELL,
    TRACE_READ_KEYS,
    TRACE_READ_QUERY,
    Trace,
    TraceRead,
)
from sofrito._keys import KeyEncodingError, decode_key, encode_key
from sofrito._snapshot import INPUT, LISTING, QUERY, NodeId
from sofrito.stores.errors import StoreError, TraceRefused
from sofrito.stores.protocol import RuntimeStore
from sofrito.stores.traces import Traces

if TYPE_CHECKING:
    from sofrito._engine.memo import Node
    from sofrito._engine.spec import QuerySpec
    from sofrito._inputs import Input

__all__ = ["Published", "TraceBook"]

log = logging.getLogger("sofrito.traces")
_SAFE = SafeCodec()
_FORMAT: Final = 1
_CONTEXT: Final = b"sofrito.trace.v1"
_COUNT = struct.Struct(">I")
_READ_HEAD = struct.Struct(">cH")
_DIGEST_SIZE: Final = 32
_NOT_OURS: Final = Trace([], b"")
"""``TraceBook._opened``'s answer for an authentic trace this runtime cannot use."""

Call = tuple[int, "QuerySpec[Any] | None", "Input | None", tuple[Any, ...], bytes | None]
"""A trace's read resolved in this process (``_resolve``): what ``TraceRead`` holds
but the hash, and the lookup of the traces of the query it calls (None for an
input, or a query whose memos are not stored)."""
_UNSEEN: Final[Call] = (-1, None, None, (), None)

Published = tuple[Memo, bytes, list[NodeId], bytes]
"""What a commit hands over per stored memo: the memo, its key bytes, its reads'
node ids (as its row lists them) and its value as the codec encoded it."""


def _hash(data: bytes | memoryview) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def head_of(codec: str, name: str, fingerprint: bytes, key_bytes: bytes) -> bytes:
    """A trace's first part: what it is a trace of (module docstring)."""
    raw_codec, raw_name = codec.encode(), name.encode()
    return b"".join(
        (
            struct.pack(">B16sB", _FORMAT, fingerprint, len(raw_codec)),
            raw_codec,
            struct.pack(">H", len(raw_name)),
            raw_name,
            _COUNT.pack(len(key_bytes)),
            key_bytes,
        )
    )


def lookup_of(name: str, fingerprint: bytes, key_bytes: bytes) -> bytes:
    """Where the traces of ``name`` (at ``fingerprint``) and ``key_bytes`` are kept."""
    return _hash(head_of("", name, fingerprint, key_bytes))


def _parse_reads(payload: bytes, at: int) -> tuple[list[tuple[bytes, str, bytes, bytes]], int]:
    """The reads of a trace from offset ``at``, and where its value starts."""
    (count,) = _COUNT.unpack_from(payload, at)
    at += _COUNT.size
    reads = []
    for _ in range(count):
        kind, size = _READ_HEAD.unpack_from(payload, at)
        at += _READ_HEAD.size
        name = payload[at : at + size].decode()
        at += size
        (key_size,) = _COUNT.unpack_from(payload, at)
        at += _COUNT.size
        key = payload[at : at + key_size]
        at += key_size
        digest = payload[at : at + _DIGEST_SIZE]
        if len(key) != key_size or len(digest) != _DIGEST_SIZE:
            raise ValueError("truncated")
        at += _DIGEST_SIZE
        reads.append((kind, name, key, digest))
    return reads, at


def _pack_reads(reads: list[tuple[bytes, str, bytes, bytes]]) -> bytes:
    parts = [_COUNT.pack(len(reads))]
    for kind, name, key, digest in reads:
        raw = name.encode()
        parts += (_READ_HEAD.pack(kind, len(raw)), raw, _COUNT.pack(len(key)), key, digest)
    return b"".join(parts)


class TraceBook:
    """The ``TraceSource`` of a runtime on a store, and its publisher."""

    def __init__(self, store: RuntimeStore, codec: Codec, config: Traces, runtime_id: str) -> None:
        self.store = store
        self.codec = codec
        self.sealer = Sealer(config.secret)
        self.publishing = config.publish
        self.reading = config.read
        self.runtime_id = runtime_id
        self._memo_digests: dict[Memo, tuple[Any, bytes]] = {}
        """memo -> (the value object hashed, its hash): valid while the memo holds it."""
        self._cell_digests: dict[Cell, tuple[int, bytes]] = {}
        """cell -> (its changed_at when hashed, the hash)."""
        self._taken: set[Memo] = set()
        """Memos given a trace's value since the last commit: not published again."""
        self._refused: set[str] = set()
        """Queries warned about (``TraceRefused``): once each."""
        self._ready: dict[bytes, tuple[list[Trace], bool]] = {}
        """lookup -> (its traces opened, whether one was refused): loaded ahead of
        the execution that replays them (``_load``), taken once."""
        self._fetched: set[bytes] = set()
        """The lookups loaded since the last commit, replayed or not."""
        self._calls: dict[tuple[bytes, str, bytes], Call | None] = {}
        """(kind, name, key bytes) of a read -> what it reads in this process, and the
        lookup of its traces (a query's): a node is read by many traces."""
        self.ahead = True
        """Whether to load the traces of what a trace reads ahead of its replay
        (``_load``): while the runtime has nothing stored, what its traces read
        will execute too, or be taken from a trace. Once it has rows (opened on
        some, or after a commit), what executes is an edit's cone: most of what
        its traces read is stored, so only the executing memo's own are loaded."""

    # -- reading (the engine's TraceSource) -------------------------------------------

    def candidates(self, memo: Memo) -> list[Trace]:
        spec = memo.spec
        if not spec.persist:
            return []
        try:
            key_bytes = encode_key(memo.key)
        except KeyEncodingError:
            return []
        lookup = lookup_of(spec.name, spec.fingerprint, key_bytes)
        found = self._ready.pop(lookup, None)
        if found is None:
            self._load({lookup: (spec, key_bytes)})
            found = self._ready.pop(lookup, ([], False))
        traces, refused = found
        if refused:
            self._refuse(memo)
        return traces

    def _load(self, pending: dict[bytes, tuple[QuerySpec[Any], bytes]]) -> None:
        """Open the traces under ``pending`` into ``_ready`` and, a level at a time,
        those of every query call they read (while ``ahead``): one
        ``load_trace_rows`` per level of the build, not one store transaction per
        memo (what a replay will ask for next is what the traces it replays
        read). A lookup is loaded once per commit (``_fetched``), so a trace that
        did not match is not loaded again for each of its readers.

        The cyclic collector is paused meanwhile: a level builds a few objects per
        read of each trace and frees none, the worst case for it: it walked the
        growing heap again and again (a 10,000-page site's first build from
        traces: 1,386 collections, 1.4 s, while loading 255,000 reads)."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._load_levels(pending)
        finally:
            if was_enabled:
                gc.enable()

    def _load_levels(self, pending: dict[bytes, tuple[QuerySpec[Any], bytes]]) -> None:
        first = True
        while pending:
            try:
                rows = self.store.load_trace_rows(list(pending))
            except StoreError as exc:  # a cache that cannot be read is no cache: compute
                if first:
                    log.warning(
                        "traces of %d quer%s not read from %s: %s",
                        len(pending),
                        "y" if len(pending) == 1 else "ies",
                        self.store.location,
                        exc,
                    )
                return
            first = False
            following: dict[bytes, tuple[QuerySpec[Any], bytes]] = {}
            for lookup, (spec, key_bytes) in pending.items():
                self._fetched.add(lookup)
                traces: list[Trace] = []
                refused = False
                for sealed in rows.get(lookup, ()):
                    trace = self._opened(spec, key_bytes, sealed, following)
                    if trace is None:
                        refused = True
                    elif trace is not _NOT_OURS:
                        traces.append(trace)
                self._ready[lookup] = (traces, refused)
            if not self.ahead:
                return
            pending = {
                lookup: call for lookup, call in following.items() if lookup not in self._fetched
            }

    def _opened(
        self,
        spec: QuerySpec[Any],
        key_bytes: bytes,
        sealed: bytes,
        following: dict[bytes, tuple[QuerySpec[Any], bytes]],
    ) -> Trace | None:
        """The trace in ``sealed`` if its MAC verifies and it is one of ``spec``'s at
        ``key_bytes``, resolved to this process's queries and inputs, the lookups of
        the query calls it reads added to ``following``; None if it is refused (a
        MAC that fails, an authentic row this sofrito cannot read); ``_NOT_OURS``
        for a trace of another codec or of a query or input this process lacks."""
        try:
            payload = self.sealer.open(sealed, _CONTEXT)
        except IntegrityError:
            return None
        head = head_of(self.codec.name, spec.name, spec.fingerprint, key_bytes)
        if not payload.startswith(head):
            return _NOT_OURS  # another codec (a team's other runtimes): not this runtime's
        try:
            reads, at = _parse_reads(payload, len(head))
        except (struct.error, UnicodeDecodeError, ValueError):
            return None  # authentic, yet not a trace this sofrito reads
        resolved = []
        calls = self._calls
        for kind, dep_name, dep_key, digest in reads:
            what = (kind, dep_name, dep_key)
            call = calls.get(what, _UNSEEN)
            if call is _UNSEEN:
                call = calls[what] = _resolve(kind, dep_name, dep_key)
            if call is None:
                return _NOT_OURS  # it read a query or input this process does not define
            read_kind, dep_spec, input, key, lookup = call
            resolved.append(TraceRead(read_kind, dep_spec, input, key, digest))
            if lookup is not None:
                assert dep_spec is not None
                following.setdefault(lookup, (dep_spec, dep_key))
        return Trace(resolved, payload[at:])

    def expect(self, calls: list[tuple[QuerySpec[Any], tuple[Any, ...]]]) -> None:
        """Load the traces of ``calls``, which the caller is about to ask for (``sofrito
        run``'s renders, through ``sofrito._on_demand.prefetch``), and what they read,
        a level at a time: without it each top-level call that misses starts a
        level of its own. Only while loading ahead (``ahead``)."""
        if not (self.reading and self.ahead):
            return
        pending: dict[bytes, tuple[QuerySpec[Any], bytes]] = {}
        for spec, key in calls:
            if not spec.persist:
                continue
            try:
                key_bytes = encode_key(key)
            except KeyEncodingError:
                continue
            lookup = lookup_of(spec.name, spec.fingerprint, key_bytes)
            if lookup not in self._fetched:
                pending[lookup] = (spec, key_bytes)
        self._load(pending)

    def forget(self) -> None:
        """Drop the traces loaded ahead and not replayed (after a commit): a later
        execution reads the store again, and sees what was published since. The
        runtime has rows now: no more loading ahead (``ahead``)."""
        self._ready.clear()
        self._fetched.clear()
        self._calls.clear()
        self.ahead = False

    def _refuse(self, memo: Memo) -> None:
        name = memo.spec.name
        if name in self._refused:
            return
        self._refused.add(name)
        message = (
            f"a trace of {memo!r} in {self.store.location} was refused (runtime "
            f"{self.runtime_id!r}): its MAC does not verify under this runtime's trace "
            "secret (published with another secret, altered or forged); it was computed "
            "instead. Check who can write the store, and that every runtime has the "
            "team's current SOFRITO_TRACE_SECRET"
        )
        try:
            warnings.warn(message, TraceRefused, stacklevel=2)
        except Exception:  # warnings made errors (-W error): this runs inside an
            # execution, where an exception would be cached as the query's own error
            log.warning("%s", message)

    def digest(self, node: Node) -> bytes | None:
        if type(node) is Cell:
            return self._cell_digest(node)
        assert type(node) is Memo
        return self._memo_digest(node)

    def _memo_digest(self, memo: Memo) -> bytes | None:
        if not memo.has_value or memo.error is not None:
            return None
        value = memo.value
        known = self._memo_digests.get(memo)
        if known is not None and known[0] is value:
            return known[1]
        if type(value) is Encoded:
            digest = _hash(value.data)
        else:
            try:
                digest = _hash(self.codec.encode(value))
            except CodecError:
                return None
        self._memo_digests[memo] = (value, digest)
        return digest

    def _cell_digest(self, cell: Cell) -> bytes | None:
        if cell.status != CellStatus.READY:
            return None
        known = self._cell_digests.get(cell)
        if known is not None and known[0] == cell.changed_at:
            return known[1]
        try:
            if is_listing(cell):
                keys = sorted(encode_key(key) for key in key_set(cell).listed())
                digest = _hash(_SAFE.encode(keys))
            else:
                digest = _hash(self.codec.encode(cell.value))
        except (CodecError, KeyEncodingError):
            return None
        self._cell_digests[cell] = (cell.changed_at, digest)
        return digest

    def take(self, memo: Memo, trace: Trace) -> tuple[bool, Any]:
        try:
            value = self.codec.decode(trace.value)
        except Exception:  # a class that moved: compute, as for a stored row
            return False, None
        self._memo_digests[memo] = (value, _hash(trace.value))
        self._taken.add(memo)
        return True, value

    # -- publishing (after a commit) -------------------------------------------------

    def publish(self, stored: list[Published]) -> None:
        """Publish a trace of each memo in ``stored`` that has one (module docstring)."""
        taken, self._taken = self._taken, set()
        for memo, _, _, encoded in stored:  # first: a reader's trace hashes these
            value = memo.value
            self._memo_digests[memo] = (value, _hash(encoded))
        rows = []
        for memo, key_bytes, dep_ids, encoded in stored:
            if memo in taken or memo.dirty_at == ALWAYS_DIRTY:
                continue
            row = self._row(memo, key_bytes, dep_ids, encoded)
            if row is not None:
                rows.append(row)
        if not rows:
            return
        try:
            self.store.publish_traces(rows)
        except StoreError as exc:  # the commit stands; the team's cache misses these
            log.warning(
                "%d trace(s) of runtime %r not published to %s: %s",
                len(rows),
                self.runtime_id,
                self.store.location,
                exc,
            )

    def _row(
        self, memo: Memo, key_bytes: bytes, dep_ids: list[NodeId], encoded: bytes
    ) -> tuple[bytes, bytes, bytes] | None:
        reads = []
        for node, (kind, name, dep_key) in zip(memo.deps, dep_ids, strict=True):
            digest = self.digest(node)
            if digest is None:
                return None  # an error, a pending cell: nothing to check it by
            reads.append((kind, name, dep_key, digest))
        spec = memo.spec
        lookup = lookup_of(spec.name, spec.fingerprint, key_bytes)
        packed = _pack_reads(reads)
        payload = head_of(self.codec.name, spec.name, spec.fingerprint, key_bytes) + packed
        return lookup, _hash(lookup + packed), self.sealer.seal(payload + encoded, _CONTEXT)


def _resolve(kind: bytes, name: str, key_bytes: bytes) -> Call | None:
    """A trace's read as this process's query or input, or None if it has none."""
    if kind == QUERY:
        found = _registry.query_and_key(name, key_bytes)
        if found is None or found[0].keys is not None:  # a keys= query needs its arguments
            return None
        spec = found[0]
        lookup = lookup_of(name, spec.fingerprint, key_bytes) if spec.persist else None
        return TRACE_READ_QUERY, spec, None, found[1], lookup
    input = _registry.input_named(name)
    if input is None:
        return None
    if kind == LISTING:
        return TRACE_READ_KEYS, None, input, (), None
    if kind != INPUT:
        return None
    try:
        key = decode_key(key_bytes)
    except ValueError:
        return None
    return TRACE_READ_CELL, None, input, key, None
