"""FileWatch sees create, modify and delete in a real directory, and stops promptly."""

from __future__ import annotations

import logging
import queue
from pathlib import Path

import pytest
from watchfiles import Change, DefaultFilter, PythonFilter

from sofrito.subscriptions import Batch, FileWatch, Reconciler

from .helpers import new_threads, thread_snapshot

Batches = queue.SimpleQueue[Batch]


def has(batch: Batch, kind: Change, name: str) -> bool:
    return any(change == kind and Path(path).name == name for change, path in batch)


def wait_for(batches: Batches, kind: Change, name: str) -> Batch:
    """The first batch holding ``kind`` of ``name``; batches before it are skipped."""
    while True:
        batch = batches.get(timeout=10)
        if has(batch, kind, name):
            return batch


def arm(batches: Batches, directory: Path) -> None:
    """Poke until the watcher reports: it starts watching asynchronously, on its thread."""
    probe = directory / "probe.txt"
    for attempt in range(200):
        probe.write_text(str(attempt))
        try:
            batch = batches.get(timeout=0.1)
        except queue.Empty:
            continue
        if any(Path(path).name == "probe.txt" for _, path in batch):
            break
    else:
        raise AssertionError("the watcher never reported the probe")
    probe.unlink()
    wait_for(batches, Change.deleted, "probe.txt")


@pytest.mark.timeout(60)
def test_create_modify_delete_arrive_as_batches(tmp_path: Path) -> None:
    before = thread_snapshot()
    batches: Batches = queue.SimpleQueue()
    reconciler: Reconciler[Batch] = Reconciler(batches.put)
    reconciler.reconcile([FileWatch([tmp_path], lambda batch: batch, debounce=20)])
    arm(batches, tmp_path)
    target = tmp_path / "page.md"
    target.write_text("new")
    assert str(target) in {path for _, path in wait_for(batches, Change.added, "page.md")}
    target.write_text("changed")
    wait_for(batches, Change.modified, "page.md")
    target.unlink()
    wait_for(batches, Change.deleted, "page.md")
    reconciler.stop_all()
    assert new_threads(before) == []


def only_markdown(change: Change, path: str) -> bool:
    return path.endswith(".md")


@pytest.mark.timeout(60)
def test_the_filter_chooses_what_arrives(tmp_path: Path) -> None:
    batches: Batches = queue.SimpleQueue()
    reconciler: Reconciler[Batch] = Reconciler(batches.put)
    reconciler.reconcile([FileWatch([tmp_path], lambda b: b, debounce=20, filter=only_markdown)])
    for attempt in range(200):  # arm with .md writes; .txt never shows
        (tmp_path / "noise.txt").write_text(str(attempt))
        (tmp_path / "probe.md").write_text(str(attempt))
        try:
            batch = batches.get(timeout=0.1)
        except queue.Empty:
            continue
        assert {Path(path).suffix for _, path in batch} == {".md"}
        break
    else:
        raise AssertionError("the watcher never reported probe.md")
    reconciler.stop_all()


@pytest.mark.timeout(30)
def test_stop_is_prompt_even_with_nothing_happening(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = thread_snapshot()
    reconciler: Reconciler[Batch] = Reconciler(lambda _: None, join_timeout=2)
    reconciler.reconcile([FileWatch([tmp_path], lambda b: b)])
    with caplog.at_level(logging.ERROR, logger="sofrito.subscriptions"):
        reconciler.stop_all()
    assert "did not exit" not in caplog.text  # the stop event reached the Rust loop
    assert new_threads(before) == []


@pytest.mark.timeout(30)
def test_a_missing_path_is_a_reported_failure(tmp_path: Path) -> None:
    failures: queue.SimpleQueue[BaseException] = queue.SimpleQueue()
    reconciler: Reconciler[Batch] = Reconciler(
        lambda _: None, on_error=lambda sub_id, exc: failures.put(exc)
    )
    reconciler.reconcile([FileWatch([tmp_path / "missing"], lambda b: b)])
    assert isinstance(failures.get(timeout=10), FileNotFoundError)
    reconciler.stop_all()


def test_id_follows_paths_debounce_and_filter(tmp_path: Path) -> None:
    assert FileWatch([tmp_path], str).id == FileWatch([str(tmp_path)], repr).id
    assert FileWatch([tmp_path, tmp_path / "."], str).id == FileWatch([tmp_path], str).id
    assert FileWatch([tmp_path], str) == FileWatch([tmp_path], repr)
    assert FileWatch([tmp_path], str).id != FileWatch([tmp_path / "a"], str).id
    assert FileWatch([tmp_path], str).id != FileWatch([tmp_path], str, debounce=999).id
    with_md = FileWatch([tmp_path], str, filter=only_markdown)
    assert with_md.id == FileWatch([tmp_path], str, filter=only_markdown).id
    assert with_md.id != FileWatch([tmp_path], str).id
    with pytest.raises(ValueError, match="at least one path"):
        FileWatch([], str)


def test_watchfiles_filters_count_by_configuration_others_by_identity(tmp_path: Path) -> None:
    def watch(filter: object) -> int:
        return FileWatch([tmp_path], str, filter=filter).id  # type: ignore[arg-type]

    assert watch(PythonFilter()) == watch(PythonFilter())  # a fresh instance per query run
    assert watch(DefaultFilter(ignore_dirs=["a"])) != watch(DefaultFilter(ignore_dirs=["b"]))
    assert watch(PythonFilter()) != watch(DefaultFilter())
    first, second = (lambda c, p: True), (lambda c, p: True)  # both alive, like a running one
    assert watch(first) != watch(second)  # a new lambda, a new watcher
