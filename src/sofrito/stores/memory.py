"""``MemoryStore``: the store contract without durability, for tests and throwaway runs.

It keeps exactly what the SQLite store keeps, with the same atomicity (one
lock, and every method checks everything before it changes anything), so code
tested against it behaves the same on disk: the same receipts, byte for
byte, the same drops, the same refusals, ``StoreError`` once closed. Nothing
survives the process, and nothing is checksummed: no bytes leave memory.

Reverse edges are kept twice: by reader (what a commit replaces) and by
dependency (what a closure follows), both updated in proportion to the memos a
delta touches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sofrito.stores import receipt as receipts
from sofrito.stores._checks import (
    check_base,
    check_drop,
    check_foreign_receipt,
    check_opened_at,
)
from sofrito.stores.errors import StoreError
from sofrito.stores.protocol import (
    Drop,
    InputState,
    Receipt,
    RuntimeState,
    SnapshotDelta,
    SnapshotHeader,
    StoredSnapshot,
)
from sofrito.stores.snapshot import reader_node

__all__ = ["MemoryStore"]


@dataclass
class _Runtime:
    state: RuntimeState | None = None
    revision: int = 0
    meta: bytes = b""
    has_snapshot: bool = False
    rows: dict[bytes, bytes] = field(default_factory=dict)
    inputs: dict[str, InputState] = field(default_factory=dict)
    receipts: list[Receipt] = field(default_factory=list)
    sequence: int = 0
    head: int = 0
    deps: dict[bytes, frozenset[bytes]] = field(default_factory=dict)
    """Reader memo id -> the node ids it read: its edges."""
    readers: dict[bytes, set[bytes]] = field(default_factory=dict)
    """Dependency node id -> the memo ids that read it: the same edges, reversed."""

    def replace_edges(self, reader: bytes, deps: frozenset[bytes]) -> None:
        """Give ``reader`` exactly the edges from ``deps`` (none: forget it)."""
        for dep in self.deps.pop(reader, frozenset()):
            readers = self.readers[dep]
            readers.discard(reader)
            if not readers:
                del self.readers[dep]
        if deps:
            self.deps[reader] = deps
            for dep in deps:
                self.readers.setdefault(dep, set()).add(reader)


class MemoryStore:
    """A ``RuntimeStore`` in a dict, behind one lock; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runtimes: dict[str, _Runtime] = {}
        self._traces: dict[bytes, dict[bytes, bytes]] = {}
        """lookup -> trace_id -> row: shared by every runtime, never dropped."""
        self._closed = False

    @property
    def location(self) -> str:
        return "memory store"

    def _runtime(self, runtime_id: str) -> _Runtime:
        """The runtime's record, created on first write. Callers hold the lock."""
        self._check_open()
        return self._runtimes.setdefault(runtime_id, _Runtime())

    def _existing(self, runtime_id: str) -> _Runtime | None:
        self._check_open()
        return self._runtimes.get(runtime_id)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.location}: the store is closed")

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
        with self._lock:
            runtime = self._runtime(runtime_id)
            check_base(self.location, runtime_id, base_head, runtime.head)
            receipt = receipts.mint(
                runtime_id, run_id, runtime.sequence + 1, boundary, contributing_inputs, snapshot
            )
            self._apply(runtime, snapshot, receipt, input_updates)
            return receipt

    def atomic_apply(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        receipt: Receipt,
        input_updates: Sequence[InputState],
    ) -> None:
        with self._lock:
            runtime = self._runtime(runtime_id)
            check_foreign_receipt(self.location, runtime_id, receipt, snapshot, runtime.sequence)
            self._apply(runtime, snapshot, receipt, input_updates)

    @staticmethod
    def _apply(
        runtime: _Runtime,
        snapshot: SnapshotDelta,
        receipt: Receipt,
        input_updates: Sequence[InputState],
    ) -> None:
        # Build every new piece first, then swap them in: nothing can fail halfway.
        rows = {} if snapshot.full else dict(runtime.rows)
        for memo_id in snapshot.deletes:
            rows.pop(memo_id, None)
        rows.update(snapshot.upserts)
        inputs = {**runtime.inputs, **{state.input_id: state for state in input_updates}}
        kept = snapshot.unchanged  # their stored edges are these already
        edges = [
            (memo_id, snapshot.edges_of(memo_id))
            for memo_id in snapshot.upserts
            if memo_id not in kept
        ]
        runtime.rows, runtime.inputs = rows, inputs
        # From here on only dict and set updates, which cannot fail.
        if snapshot.full:
            runtime.deps, runtime.readers = {}, {}
        for memo_id in snapshot.deletes:
            runtime.replace_edges(memo_id, frozenset())
        for memo_id, deps in edges:
            runtime.replace_edges(memo_id, deps)
        runtime.revision, runtime.meta = snapshot.revision, snapshot.meta
        runtime.has_snapshot = True
        runtime.receipts.append(receipt)
        runtime.sequence = receipt.sequence
        runtime.head += 1

    def load_input_states(self, runtime_id: str) -> list[InputState]:
        with self._lock:
            runtime = self._existing(runtime_id)
            return sorted(runtime.inputs.values(), key=_by_id) if runtime else []

    def load_input_state(self, runtime_id: str, input_id: str) -> InputState | None:
        with self._lock:
            runtime = self._existing(runtime_id)
            return runtime.inputs.get(input_id) if runtime else None

    def persist_input_state(
        self, runtime_id: str, state: InputState, *, base_head: int | None = None
    ) -> None:
        with self._lock:
            runtime = self._runtime(runtime_id)
            check_base(self.location, runtime_id, base_head, runtime.head)
            runtime.inputs[state.input_id] = state
            runtime.head += 1

    def load_head(self, runtime_id: str) -> int:
        with self._lock:
            runtime = self._existing(runtime_id)
            return runtime.head if runtime else 0

    def load_receipt(self, runtime_id: str, run_id: str, sequence: int) -> Receipt | None:
        for receipt in self.load_receipts(runtime_id):
            if receipt.sequence == sequence and receipt.run_id == run_id:
                return receipt
        return None

    def load_receipts(self, runtime_id: str) -> list[Receipt]:
        with self._lock:
            runtime = self._existing(runtime_id)
            return list(reversed(runtime.receipts)) if runtime else []

    def load_snapshot(self, runtime_id: str) -> StoredSnapshot | None:
        with self._lock:
            runtime = self._existing(runtime_id)
            if runtime is None or not runtime.has_snapshot:
                return None
            return StoredSnapshot(runtime.revision, runtime.meta, dict(runtime.rows))

    # -- on demand ----------------------------------------------------------------------

    def load_header(self, runtime_id: str) -> SnapshotHeader | None:
        with self._lock:
            runtime = self._existing(runtime_id)
            if runtime is None:
                return None
            meta = runtime.meta if runtime.has_snapshot else None
            return SnapshotHeader(
                runtime.revision, meta, runtime.head, runtime.sequence, runtime.state
            )

    def _opened(self, runtime_id: str, head: int) -> _Runtime:
        """The runtime as of ``head``, or ``StaleRead``. Callers hold the lock."""
        runtime = self._existing(runtime_id) or _Runtime()
        check_opened_at(self.location, runtime_id, head, runtime.head)
        return runtime

    def load_memo_rows(
        self, runtime_id: str, memo_ids: Iterable[bytes], *, head: int
    ) -> dict[bytes, bytes]:
        with self._lock:
            rows = self._opened(runtime_id, head).rows
            return {memo_id: rows[memo_id] for memo_id in memo_ids if memo_id in rows}

    def load_input_rows(
        self, runtime_id: str, input_ids: Iterable[str], *, head: int
    ) -> dict[str, InputState]:
        with self._lock:
            inputs = self._opened(runtime_id, head).inputs
            return {one: inputs[one] for one in input_ids if one in inputs}

    def load_family(self, runtime_id: str, kind: str, *, head: int) -> list[InputState]:
        with self._lock:
            inputs = self._opened(runtime_id, head).inputs.values()
            return sorted((state for state in inputs if state.kind == kind), key=_by_id)

    def load_reader_closure(
        self,
        runtime_id: str,
        node_ids: Iterable[bytes],
        *,
        head: int,
        node_prefixes: Iterable[bytes] = (),
    ) -> list[tuple[bytes, bytes]]:
        with self._lock:
            readers = self._opened(runtime_id, head).readers
            reached = set(node_ids)
            prefixes = tuple(node_prefixes)
            if prefixes:  # a scan: the memory store keeps no order to range over
                reached.update(dep for dep in readers if dep.startswith(prefixes))
            stack = list(reached)
            edges: list[tuple[bytes, bytes]] = []
            while stack:
                dep = stack.pop()
                for reader in readers.get(dep, ()):
                    edges.append((dep, reader))
                    node = reader_node(reader)
                    if node not in reached:
                        reached.add(node)
                        stack.append(node)
            return edges

    def load_readers(
        self, runtime_id: str, node_ids: Iterable[bytes], *, head: int
    ) -> list[tuple[bytes, bytes]]:
        with self._lock:
            readers = self._opened(runtime_id, head).readers
            return [
                (dep, reader) for dep in dict.fromkeys(node_ids) for reader in readers.get(dep, ())
            ]

    def load_inputs_changed_after(
        self, runtime_id: str, revision: int, *, head: int
    ) -> list[InputState]:
        with self._lock:
            inputs = self._opened(runtime_id, head).inputs.values()
            return sorted((state for state in inputs if state.changed_at > revision), key=_by_id)

    def persist_runtime_state(self, runtime_id: str, state: RuntimeState) -> None:
        with self._lock:
            self._runtime(runtime_id).state = RuntimeState(state)

    def load_runtime_state(self, runtime_id: str) -> RuntimeState | None:
        with self._lock:
            runtime = self._existing(runtime_id)
            return runtime.state if runtime else None

    def atomic_lifecycle_commit(
        self,
        runtime_id: str,
        runtime_state: RuntimeState,
        input_states: Sequence[InputState],
        drop: Drop = "nothing",
        *,
        base_head: int | None = None,
    ) -> None:
        check_drop(drop)
        lifecycle = RuntimeState(runtime_state)  # before anything changes
        with self._lock:
            head = self._runtime(runtime_id).head
            check_base(self.location, runtime_id, base_head, head)
            if drop == "everything":
                self._runtimes[runtime_id] = _Runtime(head=head)  # the head never goes back
            runtime = self._runtime(runtime_id)
            runtime.head += 1
            inputs = {} if drop == "cache" else dict(runtime.inputs)
            inputs.update((state.input_id, state) for state in input_states)
            if drop == "cache":
                runtime.rows, runtime.deps, runtime.readers = {}, {}, {}
                runtime.meta, runtime.has_snapshot, runtime.revision = b"", False, 0
            runtime.inputs, runtime.state = inputs, lifecycle

    def publish_traces(self, traces: Iterable[tuple[bytes, bytes, bytes]]) -> None:
        rows = list(traces)
        with self._lock:
            self._check_open()
            for lookup, trace_id, row in rows:
                self._traces.setdefault(bytes(lookup), {}).setdefault(bytes(trace_id), bytes(row))

    def load_traces(self, lookup: bytes) -> list[bytes]:
        with self._lock:
            self._check_open()
            found = self._traces.get(bytes(lookup), {})
            return [found[trace_id] for trace_id in sorted(found)]

    def load_trace_rows(self, lookups: Sequence[bytes]) -> dict[bytes, list[bytes]]:
        with self._lock:
            self._check_open()
            rows: dict[bytes, list[bytes]] = {}
            for lookup in lookups:
                found = self._traces.get(bytes(lookup))
                if found:
                    rows[bytes(lookup)] = [found[trace_id] for trace_id in sorted(found)]
            return rows

    def close(self) -> None:
        """Forget everything; later calls raise ``StoreError``, as on a closed file."""
        with self._lock:
            self._closed = True
            self._runtimes.clear()
            self._traces.clear()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


MemoryStore.__module__ = "sofrito.stores"


def _by_id(state: InputState) -> str:
    return state.input_id
