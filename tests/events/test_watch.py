"""The revision watch holds only the latest revision."""

from __future__ import annotations

import asyncio
import threading

import pytest

import sofrito as sf

source = sf.Input("watch.source")


def test_changed_returns_once_for_many_writes() -> None:
    rt = sf.Runtime()
    watch = rt.subscribe_revisions()
    assert watch.current == 0
    for n in range(5):
        rt.set(source, n)
    assert watch.changed(timeout=1) == 5
    with pytest.raises(TimeoutError):
        watch.changed(timeout=0.01)
    rt.set(source, 99)
    assert watch.changed(timeout=1) == 6


def test_each_receiver_tracks_what_it_saw() -> None:
    rt = sf.Runtime()
    early = rt.subscribe_revisions()
    rt.set(source, 1)
    late = rt.subscribe_revisions()
    assert early.changed(timeout=1) == 1
    with pytest.raises(TimeoutError):
        late.changed(timeout=0.01)


def test_changed_blocks_until_a_write_on_another_thread() -> None:
    rt = sf.Runtime()
    watch = rt.subscribe_revisions()
    waiting = threading.Event()
    got: list[int] = []

    def wait() -> None:
        waiting.set()
        got.append(watch.changed(timeout=10))

    thread = threading.Thread(target=wait)
    thread.start()
    waiting.wait()
    rt.set(source, "x")
    thread.join(timeout=10)
    assert got == [1]


def test_achanged_wakes_on_a_write_from_another_thread() -> None:
    rt = sf.Runtime()
    watch = rt.subscribe_revisions()

    async def scenario() -> int:
        writer = threading.Timer(0.01, lambda: rt.set(source, "y"))
        writer.start()
        revision = await asyncio.wait_for(watch.achanged(), timeout=10)
        writer.join()
        return revision

    assert asyncio.run(scenario()) == 1


def test_set_current_revision_moves_the_watch() -> None:
    rt = sf.Runtime()
    watch = rt.subscribe_revisions()
    rt.set_current_revision(12)
    assert watch.changed(timeout=1) == 12
