"""FileWatch sees create, modify and delete in a real directory."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest
from watchfiles import Change

from sofrito.subscriptions import FileWatch, Reconciler


def _next_batch(
    batches: queue.SimpleQueue[frozenset[tuple[Change, str]]], kind: Change, name: str
) -> None:
    for _ in range(20):
        batch = batches.get(timeout=10)
        if any(change == kind and path.endswith(name) for change, path in batch):
            return
    raise AssertionError(f"no {kind.name} of {name}")


@pytest.mark.timeout(60)
def test_create_modify_delete_arrive_as_batches(tmp_path: Path) -> None:
    batches: queue.SimpleQueue[frozenset[tuple[Change, str]]] = queue.SimpleQueue()
    reconciler: Reconciler[frozenset[tuple[Change, str]]] = Reconciler(batches.put)
    watch = FileWatch([tmp_path], lambda batch: batch, debounce=20)
    reconciler.reconcile([watch])
    target = tmp_path / "page.md"
    # The watcher needs a moment to arm; write until the first event shows up.
    for attempt in range(50):
        target.write_text(f"v{attempt}")
        try:
            _next_batch(batches, Change.added, "page.md")
            break
        except (queue.Empty, AssertionError):
            continue
    target.write_text("changed")
    _next_batch(batches, Change.modified, "page.md")
    target.unlink()
    _next_batch(batches, Change.deleted, "page.md")
    reconciler.stop_all()


def test_id_follows_paths_debounce_and_filter(tmp_path: Path) -> None:
    def only_md(change: Change, path: str) -> bool:
        return path.endswith(".md")

    assert FileWatch([tmp_path], str).id == FileWatch([str(tmp_path)], repr).id
    assert FileWatch([tmp_path], str).id != FileWatch([tmp_path], str, debounce=999).id
    assert (
        FileWatch([tmp_path], str, filter=only_md).id
        == FileWatch([tmp_path], str, filter=only_md).id
    )
    assert FileWatch([tmp_path], str).id != FileWatch([tmp_path], str, filter=only_md).id
    with pytest.raises(ValueError, match="at least one path"):
        FileWatch([], str)
