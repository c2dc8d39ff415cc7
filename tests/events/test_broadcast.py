"""Bounded broadcast receivers: order, lag, slow receivers, async, threads, GC."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import pytest

import sofrito as sf
from sofrito import ReceiverClosed
from sofrito._events.broadcast import EventHub, EventReceiver


def _listening(hub: EventHub[int]) -> bool:
    """``hub.listening``, read afresh (so the type checker does not narrow it)."""
    return hub.listening


def _drain(receiver: EventReceiver[int]) -> list[int]:
    events = []
    while (event := receiver.try_recv()) is not None:
        events.append(event)
    return events


# -- delivery and lag ------------------------------------------------------------------


def test_every_receiver_gets_every_event_in_order() -> None:
    hub: EventHub[int] = EventHub()
    first, second = hub.subscribe(), hub.subscribe()
    for n in range(5):
        hub.publish(n)
    assert len(first) == 5
    assert [first.recv(timeout=1) for _ in range(5)] == [0, 1, 2, 3, 4]
    assert _drain(second) == [0, 1, 2, 3, 4]
    assert len(first) == 0


def test_a_receiver_gets_only_what_was_published_after_it_subscribed() -> None:
    hub: EventHub[int] = EventHub()
    hub.publish(0)
    receiver = hub.subscribe()
    hub.publish(1)
    assert _drain(receiver) == [1]


def test_a_lagging_receiver_loses_its_oldest_events_and_learns_exactly_how_many() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe(capacity=3)
    for n in range(10):
        hub.publish(n)
    assert len(receiver) == 3
    with pytest.raises(sf.Lagged) as info:
        receiver.recv(timeout=1)
    assert info.value.missed == 7
    assert str(info.value) == "receiver lagged behind and missed 7 events"
    assert [receiver.recv(timeout=1) for _ in range(3)] == [7, 8, 9]
    hub.publish(10)
    assert receiver.recv(timeout=1) == 10


def test_each_lag_counts_only_what_was_lost_since_the_last_one() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe(capacity=2)
    for n in range(5):
        hub.publish(n)
    with pytest.raises(sf.Lagged) as first:
        receiver.try_recv()
    assert first.value.missed == 3
    assert receiver.try_recv() == 3  # read one: room for one more
    for n in range(5, 8):
        hub.publish(n)
    with pytest.raises(sf.Lagged) as second:
        receiver.try_recv()
    assert second.value.missed == 2  # 4 and 5
    assert _drain(receiver) == [6, 7]


def test_capacity_one_keeps_only_the_newest_event() -> None:
    hub: EventHub[str] = EventHub()
    receiver = hub.subscribe(capacity=1)
    hub.publish("a")
    assert receiver.try_recv() == "a"  # nothing lost: no Lagged
    hub.publish("b")
    hub.publish("c")
    with pytest.raises(sf.Lagged, match="missed 1 events"):
        receiver.try_recv()
    assert receiver.try_recv() == "c"


def test_many_receivers_with_one_slow_one() -> None:
    hub: EventHub[int] = EventHub()
    fast = [hub.subscribe(capacity=1000) for _ in range(8)]
    slow = hub.subscribe(capacity=4)
    for n in range(100):
        hub.publish(n)
        assert fast[0].recv(timeout=1) == n  # one reads as it goes
    for receiver in fast[1:]:
        assert _drain(receiver) == list(range(100))
    assert len(slow) == 4
    with pytest.raises(sf.Lagged) as info:
        slow.recv(timeout=1)
    assert info.value.missed == 96
    assert _drain(slow) == [96, 97, 98, 99]


def test_a_stuck_consumer_blocks_neither_the_publisher_nor_other_receivers() -> None:
    hub: EventHub[int] = EventHub()
    stuck = hub.subscribe(capacity=2)
    other = hub.subscribe(capacity=500)
    got_first = threading.Event()
    release = threading.Event()
    after: list[int] = []

    def consume() -> None:
        stuck.recv(timeout=30)
        got_first.set()
        release.wait(30)  # busy with something else; reads nothing meanwhile
        try:
            stuck.recv(timeout=30)
        except sf.Lagged as lagged:
            after.append(lagged.missed)
        after.append(stuck.recv(timeout=30))

    thread = threading.Thread(target=consume)
    thread.start()
    hub.publish(0)
    got_first.wait(30)
    for n in range(1, 301):
        hub.publish(n)
    assert _drain(other) == list(range(301))
    release.set()
    thread.join(timeout=30)
    assert after == [298, 299]


def test_recv_times_out_and_try_recv_returns_none() -> None:
    receiver = EventHub[int]().subscribe()
    with pytest.raises(TimeoutError, match=r"no event within 0\.01 s"):
        receiver.recv(timeout=0.01)
    with pytest.raises(TimeoutError):
        receiver.recv(timeout=0)
    assert receiver.try_recv() is None


@pytest.mark.parametrize("capacity", [0, -1, True, 1.5, "3"])
def test_capacity_must_be_an_int_of_at_least_one(capacity: object) -> None:
    hub: EventHub[int] = EventHub()
    with pytest.raises(ValueError, match="capacity must be an int of at least 1"):
        hub.subscribe(capacity=capacity)  # type: ignore[arg-type]
    assert not hub.listening


def test_a_receiver_says_what_it_holds() -> None:
    receiver = EventHub[int]().subscribe(capacity=8)
    assert receiver.capacity == 8
    assert repr(receiver) == "<EventReceiver holding 0 of 8 events>"
    assert type(receiver).__module__ == "sofrito"


# -- threads ------------------------------------------------------------------------


def test_a_blocked_recv_wakes_on_a_publish_from_another_thread() -> None:
    hub: EventHub[str] = EventHub()
    receiver = hub.subscribe()
    about_to_wait = threading.Event()
    got: list[str] = []

    def consume() -> None:
        about_to_wait.set()
        got.append(receiver.recv(timeout=30))

    thread = threading.Thread(target=consume)
    thread.start()
    about_to_wait.wait()
    hub.publish("hello")  # before or during the wait: either way it arrives
    thread.join(timeout=30)
    assert got == ["hello"]


def test_threads_sharing_a_receiver_each_get_different_events() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe()
    ready = threading.Barrier(3)
    got: list[int] = []
    lock = threading.Lock()

    def consume() -> None:
        ready.wait()
        event = receiver.recv(timeout=30)
        with lock:
            got.append(event)

    threads = [threading.Thread(target=consume) for _ in range(2)]
    for thread in threads:
        thread.start()
    ready.wait()
    hub.publish(1)
    hub.publish(2)
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(got) == [1, 2]


def test_concurrent_publishers_lose_and_duplicate_nothing_and_all_see_one_order() -> None:
    hub: EventHub[tuple[int, int]] = EventHub()
    receivers = [hub.subscribe(capacity=10_000) for _ in range(3)]
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
    orders = [[receiver.recv(timeout=1) for _ in range(4_000)] for receiver in receivers]
    assert all(len(receiver) == 0 for receiver in receivers)
    events = orders[0]
    assert sorted(events) == [(w, n) for w in range(4) for n in range(1_000)]
    for worker in range(4):
        assert [n for w, n in events if w == worker] == list(range(1_000))
    assert orders[1] == orders[0]
    assert orders[2] == orders[0]


def test_receivers_come_and_go_while_others_publish() -> None:
    hub: EventHub[int] = EventHub()
    keeper = hub.subscribe(capacity=100_000)
    start = threading.Barrier(3)

    def publish() -> None:
        start.wait()
        for n in range(5_000):
            hub.publish(n)

    def churn() -> None:
        start.wait()
        for n in range(500):
            receiver = hub.subscribe(capacity=4)
            if n % 2:
                receiver.close()
            del receiver

    threads = [threading.Thread(target=publish), threading.Thread(target=churn)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    gc.collect()
    assert _drain(keeper) == list(range(5_000))
    assert hub.receiver_count == 1
    assert hub.listening
    del keeper
    gc.collect()
    assert not hub.listening


# -- asyncio ------------------------------------------------------------------------


def test_an_async_receiver_wakes_on_a_publish_from_another_thread() -> None:
    hub: EventHub[str] = EventHub()
    receiver = hub.subscribe()

    async def scenario() -> str:
        task = asyncio.create_task(receiver.arecv())
        await asyncio.sleep(0)  # the task runs up to its wait
        assert len(receiver._waiters) == 1
        publisher = threading.Thread(target=hub.publish, args=("ping",))
        publisher.start()
        event = await asyncio.wait_for(task, timeout=30)
        publisher.join()
        return event

    assert asyncio.run(scenario()) == "ping"
    assert len(receiver._waiters) == 0


def test_one_publish_wakes_receivers_on_loops_in_several_threads() -> None:
    hub: EventHub[int] = EventHub()
    receivers = [hub.subscribe() for _ in range(3)]
    waiting = threading.Barrier(4)
    got: list[int] = []
    lock = threading.Lock()

    def run_loop(receiver: EventReceiver[int]) -> None:
        async def wait() -> int:
            task = asyncio.create_task(receiver.arecv())
            await asyncio.sleep(0)
            await asyncio.to_thread(waiting.wait)
            return await asyncio.wait_for(task, timeout=30)

        event = asyncio.run(wait())
        with lock:
            got.append(event)

    threads = [threading.Thread(target=run_loop, args=(r,)) for r in receivers]
    for thread in threads:
        thread.start()
    waiting.wait()
    hub.publish(42)
    for thread in threads:
        thread.join(timeout=30)
    assert got == [42, 42, 42]


def test_a_cancelled_arecv_leaves_no_waiter_and_loses_no_event() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe()

    async def scenario() -> int:
        task = asyncio.create_task(receiver.arecv())
        await asyncio.sleep(0)
        assert len(receiver._waiters) == 1
        hub.publish(1)  # the wake-up is scheduled, but the cancel gets there first
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(receiver._waiters) == 0
        return await receiver.arecv()

    assert asyncio.run(scenario()) == 1


def test_lagged_reaches_arecv_and_async_for_and_iteration_can_resume() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe(capacity=2)

    async def scenario() -> list[object]:
        seen: list[object] = []
        for n in range(4):
            hub.publish(n)
        with pytest.raises(sf.Lagged):
            await receiver.arecv()
        seen.append(await receiver.arecv())
        for n in range(4, 8):
            hub.publish(n)
        try:
            async for event in receiver:
                seen.append(event)
        except sf.Lagged as lagged:
            seen.append(f"lagged {lagged.missed}")
        async for event in receiver:
            seen.append(event)
            if event == 7:
                receiver.close()
        return seen

    assert asyncio.run(scenario()) == [2, "lagged 3", 6, 7]


def test_async_iteration_ends_when_the_receiver_is_closed_from_another_thread() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe()

    async def scenario() -> list[int]:
        seen = []
        async for event in receiver:
            seen.append(event)
            if event == 2:
                threading.Thread(target=receiver.close).start()
        return seen

    for n in range(3):
        hub.publish(n)
    assert asyncio.run(asyncio.wait_for(scenario(), timeout=30)) == [0, 1, 2]


def test_an_async_receiver_wakes_on_a_runtime_write_from_another_thread() -> None:
    source = sf.Input("bc.source")
    rt = sf.Runtime()
    receiver = rt.subscribe_events()

    async def scenario() -> list[object]:
        task = asyncio.create_task(receiver.arecv())
        await asyncio.sleep(0)
        writer = threading.Thread(target=rt.set, args=(source, 1))
        writer.start()
        first = await asyncio.wait_for(task, timeout=30)
        second = await asyncio.wait_for(receiver.arecv(), timeout=30)
        writer.join()
        return [first, second]

    first, second = asyncio.run(scenario())
    assert first == sf.RevisionBumped(1)
    assert second == sf.InputSet(sf.QueryRef.of("bc.source", ()), 1, sf.Durability.VOLATILE)


# -- closing and forgetting -----------------------------------------------------------


def test_close_stops_delivery_and_ends_reads_once_drained() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe()
    hub.publish(1)
    receiver.close()
    assert receiver.closed
    assert not hub.listening
    hub.publish(2)
    assert receiver.recv(timeout=1) == 1
    with pytest.raises(ReceiverClosed):
        receiver.recv(timeout=1)
    with pytest.raises(ReceiverClosed):
        receiver.try_recv()
    receiver.close()  # twice is fine


def test_close_wakes_a_blocked_recv() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe()
    about_to_wait = threading.Event()
    outcome: list[str] = []

    def consume() -> None:
        about_to_wait.set()
        try:
            receiver.recv(timeout=30)
        except ReceiverClosed:
            outcome.append("closed")

    thread = threading.Thread(target=consume)
    thread.start()
    about_to_wait.wait()
    receiver.close()
    thread.join(timeout=30)
    assert outcome == ["closed"]


def test_a_with_block_closes_the_receiver() -> None:
    hub: EventHub[int] = EventHub()
    with hub.subscribe() as receiver:
        assert hub.listening
    assert receiver.closed
    assert not hub.listening


def test_listening_is_a_plain_attribute_true_while_a_receiver_lives() -> None:
    hub: EventHub[int] = EventHub()
    assert "listening" in vars(hub)
    assert not isinstance(getattr(type(hub), "listening", None), property)
    assert hub.listening is False
    receiver = hub.subscribe()
    assert _listening(hub) is True
    del receiver
    assert _listening(hub) is False  # refcounting frees it at once


def test_on_listening_hears_every_change_of_listening() -> None:
    heard: list[bool] = []
    hub: EventHub[int] = EventHub(on_listening=heard.append)
    first = hub.subscribe()
    second = hub.subscribe()
    first.close()
    del second  # refcounting frees it at once
    assert heard == [True, True, True, False]
    assert heard[-1] is _listening(hub)


def test_the_runtime_keeps_the_engines_copy_of_listening_in_step() -> None:
    # The engine reads its own copy before any event work: a copy that stayed
    # False would lose events, one that stayed True would cost every write.
    rt = sf.Runtime()
    engine = rt._engine
    assert engine.listening is False
    receiver = rt.subscribe_events()
    assert engine.listening is True
    cycle: list[object] = [receiver]
    cycle.append(cycle)
    del receiver, cycle
    gc.collect()
    assert engine.listening is False
    with rt.subscribe_events():
        assert engine.listening is True
    assert engine.listening is False


def test_a_receiver_dropped_mid_stream_is_forgotten() -> None:
    hub: EventHub[int] = EventHub()
    keep = hub.subscribe()
    dropped = hub.subscribe(capacity=2)
    for n in range(5):
        hub.publish(n)  # dropped is full and lagging when it goes
    gone = weakref.ref(dropped)
    del dropped
    gc.collect()
    assert gone() is None
    assert hub.receiver_count == 1
    assert hub.listening
    hub.publish(5)
    assert _drain(keep) == [0, 1, 2, 3, 4, 5]
    del keep
    gc.collect()
    assert not _listening(hub)
    assert hub.receiver_count == 0
    hub.publish(6)  # nobody to deliver to: fine


def test_a_receiver_in_a_reference_cycle_is_forgotten_by_the_collector() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe()
    cycle: list[object] = [receiver]
    cycle.append(cycle)
    del receiver, cycle
    gc.collect()
    assert not hub.listening
    hub.publish(1)


def test_a_receiver_collected_while_the_hub_is_busy_is_forgotten_afterwards() -> None:
    hub: EventHub[int] = EventHub()
    receiver = hub.subscribe()
    with hub._lock:  # as if the collector ran inside subscribe, on this thread
        del receiver  # the callback must not wait for the lock: that would deadlock
        assert hub.listening
    other = hub.subscribe()  # the next holder of the lock tidies up
    assert hub.receiver_count == 1
    other.close()
    assert not hub.listening


# -- receivers that leave types out ------------------------------------------------------


def test_a_receiver_is_not_given_the_types_it_skips_and_the_hub_says_who_wants_what() -> None:
    hub: EventHub[object] = EventHub()
    assert not hub.wants(int)  # no receiver
    everything = hub.subscribe()
    no_ints = hub.subscribe(skip=(int,))
    for event in (1, "a", 2, True, "b"):  # bool is an int: skipped too
        hub.publish(event)
    assert _drain(everything) == [1, "a", 2, True, "b"]  # type: ignore[arg-type]
    assert _drain(no_ints) == ["a", "b"]  # type: ignore[arg-type]
    assert (hub.wants(int), hub.wants(bool), hub.wants(str)) == (True, True, True)
    everything.close()  # only the skipping one is left:
    assert (hub.wants(int), hub.wants(bool), hub.wants(str)) == (False, False, True)
    del no_ints
    assert not hub.wants(str)


def test_skip_takes_a_tuple_of_types() -> None:
    hub: EventHub[object] = EventHub()
    with pytest.raises(TypeError, match="skip must be a tuple of event types"):
        hub.subscribe(skip=int)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="skip must be a tuple of event types"):
        hub.subscribe(skip=("QueryVerified",))  # type: ignore[arg-type]
