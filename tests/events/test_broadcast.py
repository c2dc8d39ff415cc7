"""Bounded broadcast receivers: order, lag, slow receivers, async, threads."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

import sofrito as sf
from sofrito._events.broadcast import EventHub, ReceiverClosed


def test_every_receiver_gets_every_event_in_order() -> None:
    hub: EventHub[int] = EventHub()
    first, second = hub.subscribe(), hub.subscribe()
    for n in range(5):
        hub.publish(n)
    assert [first.recv(timeout=1) for _ in range(5)] == [0, 1, 2, 3, 4]
    assert [second.recv(timeout=1) for _ in range(5)] == [0, 1, 2, 3, 4]


def test_lagging_receiver_loses_oldest_then_reports_the_exact_count() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe(capacity=3)
    for n in range(10):
        hub.publish(n)
    assert len(receiver) == 3
    with pytest.raises(sf.Lagged) as info:
        receiver.recv(timeout=1)
    assert info.value.missed == 7
    assert [receiver.recv(timeout=1) for _ in range(3)] == [7, 8, 9]
    hub.publish(10)
    assert receiver.recv(timeout=1) == 10


def test_slow_receiver_does_not_hold_back_others() -> None:
    hub: EventHub[int] = EventHub()
    slow = hub.subscribe(capacity=2)
    fast = hub.subscribe(capacity=100)
    seen = []
    for n in range(50):
        hub.publish(n)
        seen.append(fast.recv(timeout=1))
    assert seen == list(range(50))
    with pytest.raises(sf.Lagged):
        slow.recv(timeout=1)
    assert [slow.recv(timeout=1), slow.recv(timeout=1)] == [48, 49]


def test_recv_times_out() -> None:
    receiver = EventHub[int]().subscribe()
    with pytest.raises(TimeoutError):
        receiver.recv(timeout=0.01)
    assert receiver.try_recv() is None


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        EventHub[int]().subscribe(capacity=0)


def test_blocked_recv_wakes_on_publish_from_another_thread() -> None:
    hub: EventHub[str] = EventHub()
    receiver = hub.subscribe()
    got: list[str] = []
    waiting = threading.Event()

    def consume() -> None:
        waiting.set()
        got.append(receiver.recv(timeout=10))

    thread = threading.Thread(target=consume)
    thread.start()
    waiting.wait()
    hub.publish("hello")
    thread.join(timeout=10)
    assert got == ["hello"]


def test_async_receiver_wakes_on_a_write_from_another_thread() -> None:
    source = sf.Input("bc.source")
    rt = sf.Runtime()
    receiver = rt.subscribe_events()

    async def scenario() -> list[object]:
        writer = threading.Timer(0.01, lambda: rt.set(source, 1))
        writer.start()
        first = await asyncio.wait_for(receiver.arecv(), timeout=10)
        second = await asyncio.wait_for(receiver.arecv(), timeout=10)
        writer.join()
        return [first, second]

    first, second = asyncio.run(scenario())
    assert first == sf.RevisionBumped(1)
    assert isinstance(second, sf.InputSet)


def test_async_iteration_ends_on_close() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe()

    async def scenario() -> list[int]:
        seen = []
        async for event in receiver:
            seen.append(event)
            if event == 2:
                receiver.close()
        return seen

    for n in range(3):
        hub.publish(n)
    assert asyncio.run(scenario()) == [0, 1, 2]
    with pytest.raises(ReceiverClosed):
        receiver.recv(timeout=1)


def test_cancelled_async_wait_leaves_no_waiter() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe()

    async def scenario() -> None:
        task = asyncio.create_task(receiver.arecv())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert receiver._async_waiters == []
    hub.publish(1)
    assert receiver.try_recv() == 1


def test_concurrent_publishers_lose_and_duplicate_nothing() -> None:
    hub: EventHub[tuple[int, int]] = EventHub()
    receiver = hub.subscribe(capacity=10_000)
    start = threading.Barrier(4)

    def publish(worker: int) -> None:
        start.wait()
        for n in range(1_000):
            hub.publish((worker, n))

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = [receiver.recv(timeout=1) for _ in range(4_000)]
    assert sorted(events) == [(w, n) for w in range(4) for n in range(1_000)]
    for worker in range(4):
        assert [n for w, n in events if w == worker] == list(range(1_000))


def test_garbage_collected_receiver_is_forgotten() -> None:
    hub: EventHub[int] = EventHub()
    keep = hub.subscribe()
    dropped = hub.subscribe()
    hub.publish(1)
    del dropped
    gc.collect()
    assert len(hub._receivers) == 1
    assert hub.listening
    del keep
    gc.collect()
    assert not hub.listening
    hub.publish(2)  # nobody to deliver to: fine
