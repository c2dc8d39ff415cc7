"""The revision watch holds only the latest revision (``sofrito._events.watch``)."""

from __future__ import annotations

import asyncio
import gc
import re
import threading
import weakref
from pathlib import Path

import pytest

import sofrito as sf
from sofrito._events import AsyncWaiters
from sofrito._events.watch import RevisionWatch

source = sf.Input("watch.source")


# -- the watch on its own ----------------------------------------------------------


def test_a_new_receiver_has_seen_the_current_revision() -> None:
    watch = RevisionWatch(5)
    receiver = watch.subscribe()
    assert receiver.current == 5
    with pytest.raises(TimeoutError, match="stayed at 5"):
        receiver.changed(timeout=0)


def test_changed_returns_the_latest_revision_once_for_many_publishes() -> None:
    watch = RevisionWatch(0)
    receiver = watch.subscribe()
    for revision in range(1, 6):
        watch.publish(revision)
    assert receiver.current == 5
    assert receiver.changed(timeout=0) == 5
    with pytest.raises(TimeoutError):
        receiver.changed(timeout=0.01)
    watch.publish(6)
    assert receiver.changed(timeout=0) == 6


def test_each_receiver_tracks_what_it_saw() -> None:
    watch = RevisionWatch(0)
    early = watch.subscribe()
    watch.publish(1)
    late = watch.subscribe()
    assert early.changed(timeout=0) == 1
    with pytest.raises(TimeoutError):
        late.changed(timeout=0)
    watch.publish(2)
    assert late.changed(timeout=0) == 2
    assert early.changed(timeout=0) == 2


def test_publishing_the_revision_already_held_is_not_a_change() -> None:
    watch = RevisionWatch(3)
    receiver = watch.subscribe()
    watch.publish(3)
    with pytest.raises(TimeoutError):
        receiver.changed(timeout=0.01)


def test_a_late_publish_of_an_older_revision_changes_nothing() -> None:
    watch = RevisionWatch(5)
    receiver = watch.subscribe()
    watch.publish(3)
    assert receiver.current == 5
    with pytest.raises(TimeoutError):
        receiver.changed(timeout=0)
    watch.publish(6)
    watch.publish(5)
    assert receiver.changed(timeout=0) == 6
    assert receiver.current == 6


def test_blocked_changed_wakes_on_a_publish_from_another_thread() -> None:
    watch = RevisionWatch(0)
    receiver = watch.subscribe()
    about_to_wait = threading.Event()
    got: list[int] = []

    def wait() -> None:
        about_to_wait.set()
        got.append(receiver.changed(timeout=30))

    thread = threading.Thread(target=wait)
    thread.start()
    about_to_wait.wait()
    watch.publish(7)  # before or during the wait: either way, no lost wake-up
    thread.join(timeout=30)
    assert got == [7]


def test_one_publish_wakes_every_waiting_thread() -> None:
    watch = RevisionWatch(0)
    receivers = [watch.subscribe() for _ in range(4)]
    ready = threading.Barrier(5)
    got: list[int] = []
    lock = threading.Lock()

    def wait(index: int) -> None:
        ready.wait()
        revision = receivers[index].changed(timeout=30)
        with lock:
            got.append(revision)

    threads = [threading.Thread(target=wait, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    ready.wait()
    watch.publish(1)
    for thread in threads:
        thread.join(timeout=30)
    assert got == [1, 1, 1, 1]


def test_achanged_wakes_on_a_publish_from_another_thread() -> None:
    watch = RevisionWatch(0)
    receiver = watch.subscribe()

    async def scenario() -> int:
        task = asyncio.create_task(receiver.achanged())
        await asyncio.sleep(0)  # the task runs up to its wait
        assert len(watch._waiters) == 1
        publisher = threading.Thread(target=watch.publish, args=(4,))
        publisher.start()
        revision = await asyncio.wait_for(task, timeout=30)
        publisher.join()
        return revision

    assert asyncio.run(scenario()) == 4
    assert len(watch._waiters) == 0


def test_achanged_returns_at_once_when_the_revision_already_moved() -> None:
    watch = RevisionWatch(0)
    receiver = watch.subscribe()
    watch.publish(2)
    assert asyncio.run(receiver.achanged()) == 2
    assert len(watch._waiters) == 0


def test_a_cancelled_achanged_leaves_no_waiter_and_consumes_nothing() -> None:
    watch = RevisionWatch(0)
    receiver = watch.subscribe()

    async def scenario() -> int:
        task = asyncio.create_task(receiver.achanged())
        await asyncio.sleep(0)
        assert len(watch._waiters) == 1
        watch.publish(1)  # the wake-up is scheduled, but the cancel gets there first
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(watch._waiters) == 0
        return await receiver.achanged()

    assert asyncio.run(scenario()) == 1


def test_a_waiter_left_on_a_closed_loop_does_not_break_publishing() -> None:
    watch = RevisionWatch(0)
    receiver = watch.subscribe()
    loop = asyncio.new_event_loop()
    with watch._cond:
        orphan = watch._waiters.add(loop)
    loop.close()
    watch.publish(1)
    assert receiver.changed(timeout=0) == 1
    assert not orphan.done()
    assert len(watch._waiters) == 0


def test_async_waiters_wake_settles_only_what_is_still_waiting() -> None:
    async def scenario() -> tuple[bool, bool]:
        waiters = AsyncWaiters()
        loop = asyncio.get_running_loop()
        waiting, cancelled = waiters.add(loop), waiters.add(loop)
        cancelled.cancel()
        AsyncWaiters.wake(waiters.take())
        await waiting
        return waiting.result() is None, cancelled.cancelled()

    assert asyncio.run(scenario()) == (True, True)


def test_a_dropped_receiver_is_garbage_and_the_watch_goes_on() -> None:
    watch = RevisionWatch(0)
    kept = watch.subscribe()
    dropped = watch.subscribe()
    gone = weakref.ref(dropped)
    del dropped
    gc.collect()
    assert gone() is None
    watch.publish(1)
    assert kept.changed(timeout=0) == 1


# -- the watch on a runtime ---------------------------------------------------------


def test_a_runtime_watch_sees_writes_and_batches_as_revisions() -> None:
    rt = sf.Runtime()
    watch = rt.subscribe_revisions()
    assert watch.current == 0
    for n in range(5):
        rt.set(source, n)
    assert watch.changed(timeout=1) == 5
    with rt.batch():
        rt.set(source["a"], 1)
        rt.set(source["b"], 2)
    assert watch.changed(timeout=1) == 6
    rt.set(source["b"], 2)  # equal value: no write, no revision
    with pytest.raises(TimeoutError):
        watch.changed(timeout=0.01)


def test_a_watch_made_after_writes_starts_at_the_current_revision() -> None:
    rt = sf.Runtime()
    rt.set(source, 1)
    rt.set(source, 2)
    first = rt.subscribe_revisions()
    second = rt.subscribe_revisions()
    assert first.current == second.current == 2
    with pytest.raises(TimeoutError):
        first.changed(timeout=0)
    rt.set(source, 3)
    assert first.changed(timeout=1) == second.changed(timeout=1) == 3


def test_set_current_revision_moves_the_watch() -> None:
    rt = sf.Runtime()
    watch = rt.subscribe_revisions()
    rt.set_current_revision(12)
    assert watch.changed(timeout=1) == 12


def test_achanged_wakes_on_a_runtime_write_from_another_thread() -> None:
    rt = sf.Runtime()
    watch = rt.subscribe_revisions()

    async def scenario() -> int:
        task = asyncio.create_task(watch.achanged())
        await asyncio.sleep(0)
        writer = threading.Thread(target=rt.set, args=(source, "y"))
        writer.start()
        revision = await asyncio.wait_for(task, timeout=30)
        writer.join()
        return revision

    assert asyncio.run(scenario()) == 1


def test_the_live_reload_example_in_the_docs_runs() -> None:
    page = Path(__file__).parents[2] / "docs" / "events.md"
    blocks = re.findall(r"```python\n(# live reload\n.*?)```", page.read_text(), re.DOTALL)
    assert len(blocks) == 1
    namespace: dict[str, object] = {"__name__": "docs_events_example"}
    exec(compile(blocks[0], str(page), "exec"), namespace)
    assert namespace["log"] == [
        "built: Home | About us",
        "rebuilt at revision 2: Welcome home | About us",
        "  changed: docs.title('home')",
        "  changed: docs.index()",
    ]
