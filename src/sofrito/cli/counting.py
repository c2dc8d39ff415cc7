"""Counting executions: the memos a run's boundary writes.

The summary's ``executed`` is the number of memo rows the run's commit
writes or deletes: the store is handed a thin wrapper (``CountingStore``)
that forwards every call and, in ``commit_boundary``, counts the delta's
upserts and deletes. A commit writes exactly the memos that executed since
the previous one (verification alone writes nothing; an execution that
ended in an error deletes the stored row), so this counts each (query, key)
that executed once, whatever the number of times.

What it does not count: queries declared ``persist=False`` (they are never
stored). Why not wrap the flow's query bodies, or profile calls: the first
changes what the user runs, the second costs on every call. When the
engine gains execution events (issue 24, ``inspect --why``), the count
moves to them and this wrapper goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sofrito.stores import InputState, Receipt, RuntimeStore, SnapshotDelta

__all__ = ["CountingStore"]


class CountingStore:
    """Forwards to ``store``; counts the memo rows each ``commit_boundary`` writes."""

    def __init__(self, store: RuntimeStore) -> None:
        self.store = store
        self.written = 0
        """Memo rows written or deleted by the commits since ``take``."""

    def take(self) -> int:
        """The count since the last ``take``, and start again from 0."""
        count, self.written = self.written, 0
        return count

    def commit_boundary(
        self,
        runtime_id: str,
        snapshot: SnapshotDelta,
        run_id: str,
        boundary: str,
        contributing_inputs: Sequence[str],
        input_updates: Sequence[InputState],
        *args: Any,
        **kwargs: Any,
    ) -> Receipt:
        receipt = self.store.commit_boundary(
            runtime_id,
            snapshot,
            run_id,
            boundary,
            contributing_inputs,
            input_updates,
            *args,
            **kwargs,
        )
        self.written += len(snapshot.upserts) + len(snapshot.deletes)
        return receipt

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)
