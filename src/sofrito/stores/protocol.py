"""What a store is: the ``RuntimeStore`` protocol and the records it moves.

A store holds many logical runtimes, each named by a ``runtime_id``. Every
method is atomic: it happens entirely or not at all, and a process killed in
the middle leaves the store as it was before the call. The snapshot records
are in ``snapshot.py``, the receipt and its digest in ``receipt.py``.

The store moves bytes, never Python values: the runtime encodes memo rows,
input values and ``meta`` with its codec, and decodes them lazily. So a
store never runs user code, and two stores can be compared byte for byte.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from sofrito._runtime_state import RuntimeState
from sofrito.stores.receipt import Receipt
from sofrito.stores.snapshot import SnapshotDelta, SnapshotHeader, StoredSnapshot

__all__ = [
    "Drop",
    "InputState",
    "InputStatus",
    "Receipt",
    "RuntimeState",
    "RuntimeStore",
    "SnapshotDelta",
    "SnapshotHeader",
    "StoredSnapshot",
]


class InputStatus(enum.StrEnum):
    """The state of a stored input cell."""

    READY = "ready"
    PENDING = "pending"
    FAILED = "failed"
    REMOVED = "removed"


Drop = Literal["nothing", "cache", "everything"]
"""What ``atomic_lifecycle_commit`` deletes before it writes:

- ``"nothing"``: a plain lifecycle change (retire, stop).
- ``"cache"`` (reset): every memo row, the snapshot header and every input
  state. The identity stays, and so do the receipts: they are history, and
  the next boundary continues their sequence.
- ``"everything"`` (destroy): every trace of the runtime, receipts included;
  a later commit starts again at sequence 1.

The ``runtime_state`` and ``input_states`` passed are written *after* the drop,
so ``drop="everything"`` with ``RuntimeState.DESTROYED`` leaves only that state.
"""


@dataclass(frozen=True, slots=True)
class InputState:
    """One input cell as stored.

    ``input_id`` is a stable id chosen by the runtime: the input's name, a
    colon, the hex key (a store may read a family as the ids that start with
    ``kind:``, as ``SqliteStore`` does); ``kind`` the input's name; ``key`` the canonical key bytes;
    ``value`` the value already encoded by the runtime's codec; ``durability``
    the level as an int; ``changed_at`` the revision of its last change.
    """

    input_id: str
    kind: str
    key: bytes
    value: bytes
    durability: int
    changed_at: int
    status: InputStatus


class RuntimeStore(Protocol):
    """Durable runtime state. Every method is atomic and names the ``runtime_id``.

    Errors are the ``StoreError`` family (``sofrito.stores.errors``); a method
    that raises has written nothing. Implementations are safe to share between
    the threads of one process.

    **The head.** Each runtime has a head, a count of the writes to its state:
    every ``commit_boundary``, ``atomic_apply``, ``persist_input_state`` and
    ``atomic_lifecycle_commit`` advances it by exactly one (``destroy`` too: it
    never goes back, so an old base can never match again). The writes that
    take ``base_head`` compare it with the head inside their transaction and
    raise ``Conflict``, writing nothing, when they differ; ``None`` skips the
    comparison (replication and repair tools). A runtime passes the head it
    opened at, plus one per write it has made since. ``persist_runtime_state``
    stores a label, not state, and leaves the head alone.
    """

    def commit_boundary(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        run_id: str,
        boundary: str,
        contributing_inputs: Sequence[str],
        input_updates: Sequence[InputState],
        *,
        base_head: int | None = None,
    ) -> Receipt:
        """Write the delta, the input states and a receipt minted here (the next
        sequence number, the digest), in one transaction. The returned receipt is
        exactly what was stored. ``Conflict`` if ``base_head`` is not the head."""
        ...

    def atomic_apply(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        receipt: Receipt,
        input_updates: Sequence[InputState],
    ) -> None:
        """The same writes with a receipt minted elsewhere (replication, import).
        ``WriteFailed``, with nothing written, unless the receipt belongs to this
        runtime, is the next in sequence and its digest matches the delta."""
        ...

    def load_input_states(self, runtime_id: str) -> list[InputState]:
        """Every stored input state of the runtime, sorted by ``input_id``."""
        ...

    def load_input_state(self, runtime_id: str, input_id: str) -> InputState | None: ...

    def persist_input_state(
        self, runtime_id: str, state: InputState, *, base_head: int | None = None
    ) -> None:
        """Write one input state outside a boundary; durable before it returns.
        ``Conflict`` if ``base_head`` is not the head."""
        ...

    def load_head(self, runtime_id: str) -> int:
        """The runtime's head (0 for a runtime never written). A runtime reads it
        *before* it restores, so a write that lands in between makes its first
        write a ``Conflict``, never a mix."""
        ...

    def load_receipt(self, runtime_id: str, run_id: str, sequence: int) -> Receipt | None:
        """The receipt with this sequence number, if it was minted by ``run_id``."""
        ...

    def load_receipts(self, runtime_id: str) -> list[Receipt]:
        """All receipts of a runtime, newest first."""
        ...

    def load_snapshot(self, runtime_id: str) -> StoredSnapshot | None:
        """The latest committed snapshot, rows checked; None before the first
        commit and after a reset or destroy."""
        ...

    # -- on demand: each one transaction, in proportion to what it asks for ---------------

    def load_header(self, runtime_id: str) -> SnapshotHeader | None:
        """The runtime's header (revision, ``meta``, head, sequence, lifecycle state),
        nothing that grows with the cache; None for a runtime the store has no
        record of. Opening a runtime reads this and nothing else."""
        ...

    def load_memo_rows(
        self, runtime_id: str, memo_ids: Iterable[bytes], *, head: int
    ) -> dict[bytes, bytes]:
        """The rows of those ``memo_ids`` that are stored, each checked against its
        checksum (``CorruptSnapshot`` naming the row); absent ids are simply missing.
        ``StaleRead`` if the runtime's head is no longer ``head``, the head the
        caller opened at: this and every load below read that boundary or nothing."""
        ...

    def load_input_rows(
        self, runtime_id: str, input_ids: Iterable[str], *, head: int
    ) -> dict[str, InputState]:
        """The stored input states of those ``input_ids`` that exist, checked;
        ``StaleRead`` as for ``load_memo_rows``."""
        ...

    def load_family(self, runtime_id: str, kind: str, *, head: int) -> list[InputState]:
        """Every stored input state of the input family ``kind`` (any status),
        sorted by ``input_id``: what a family's key listing is rebuilt from."""
        ...

    def load_reader_closure(
        self,
        runtime_id: str,
        node_ids: Iterable[bytes],
        *,
        head: int,
        node_prefixes: Iterable[bytes] = (),
    ) -> list[tuple[bytes, bytes]]:
        """Every stored edge ``(dep node id, reader memo id)`` reachable from
        ``node_ids`` by following readers transitively (a reader ``m`` is the
        node ``reader_node(m)``), each edge once, in no particular order: the
        stored transitive readers of a write, found without loading rows.

        ``node_prefixes`` seeds, besides ``node_ids``, every stored dep node id
        that starts with one of them (a range scan): every memo of a query
        whose code changed, without listing its keys."""
        ...

    def load_readers(
        self, runtime_id: str, node_ids: Iterable[bytes], *, head: int
    ) -> list[tuple[bytes, bytes]]:
        """The stored edges ``(dep node id, reader memo id)`` out of ``node_ids``:
        one level of ``load_reader_closure``, each edge once, in no particular
        order. ``settle`` walks a write's readers level by level with it, only
        past the readers that changed (``sofrito._settle``)."""
        ...

    def load_inputs_changed_after(
        self, runtime_id: str, revision: int, *, head: int
    ) -> list[InputState]:
        """The stored input states whose ``changed_at`` is after ``revision``
        (``durable=True`` writes after the last commit), sorted by ``input_id``,
        through an index: in proportion to what it returns."""
        ...

    # -- traces: shared by every runtime of the store (docs/persistence.md, "Traces") ------

    def publish_traces(self, traces: Iterable[tuple[bytes, bytes, bytes]]) -> None:
        """Store each ``(lookup, trace_id, row)``, unless a row with that ``lookup``
        and ``trace_id`` is stored already: insert, on conflict do nothing. Traces
        are immutable and content-addressed, so concurrent publishers are
        harmless and none waits on a runtime's head. They belong to no runtime:
        reset and destroy leave them. The rows are opaque, sealed by the runtime."""
        ...

    def load_traces(self, lookup: bytes) -> list[bytes]:
        """The rows published under ``lookup`` (any runtime), in ``trace_id`` order;
        an empty list if there are none."""
        ...

    def load_trace_rows(self, lookups: Sequence[bytes]) -> dict[bytes, list[bytes]]:
        """``load_traces`` of each of ``lookups`` in one read: the lookups that have
        rows, each with its rows in ``trace_id`` order. A runtime reading traces
        asks for a whole level of its build at once (``sofrito._traces``): one
        round trip instead of one per memo."""
        ...

    def persist_runtime_state(self, runtime_id: str, state: RuntimeState) -> None: ...

    def load_runtime_state(self, runtime_id: str) -> RuntimeState | None: ...

    def atomic_lifecycle_commit(
        self,
        runtime_id: str,
        runtime_state: RuntimeState,
        input_states: Sequence[InputState],
        drop: Drop = "nothing",
        *,
        base_head: int | None = None,
    ) -> None:
        """A lifecycle change plus input states, after dropping what ``drop`` says
        (``Drop``), in one transaction. ``Conflict`` if ``base_head`` is not the head."""
        ...

    @property
    def location(self) -> str:
        """What to name in messages: a file path or a server."""
        ...

    def close(self) -> None:
        """Release the store; later calls raise ``StoreError``. Idempotent."""
        ...


for _cls in (InputStatus, RuntimeState, InputState, RuntimeStore):
    _cls.__module__ = "sofrito.stores"
