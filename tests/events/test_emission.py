"""Which events a runtime emits, in which order (DESIGN §3)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections import Counter
from typing import Any

import pytest

import sofrito as sf
from sofrito._events.kinds import (
    InputRemoved,
    InputSet,
    QueryChanged,
    QueryExecuting,
    QueryInvalidated,
    QueryRef,
    RevisionBumped,
    RevisionSet,
)
from sofrito.stores import MemoryStore

source = sf.Input("ev.source")
config = sf.Input("ev.config", durability=sf.Durability.STABLE)
runs: Counter[str] = Counter()


@sf.query(name="ev.length")
def length(db: Any, path: str) -> int:
    runs["length"] += 1
    return len(source(db, path))


@sf.query(name="ev.parity")
def parity(db: Any, path: str) -> str:
    return "even" if length(db, path) % 2 == 0 else "odd"


@sf.query(name="ev.report")
def report(db: Any) -> str:
    return f"{parity(db, 'a')}/{parity(db, 'b')}"


def ref(kind: str, *key: Any) -> QueryRef:
    return QueryRef.of(kind, key)


def drain(receiver: Any) -> list[Any]:
    events = []
    while (event := receiver.try_recv()) is not None:
        events.append(event)
    return events


@pytest.fixture
def rt() -> sf.Runtime:
    runtime = sf.Runtime()
    with runtime.batch():
        runtime.set(source["a"], "xx")
        runtime.set(source["b"], "yyy")
    report(runtime)
    return runtime


def test_write_reports_bump_set_then_every_transitive_dependent(rt: sf.Runtime) -> None:
    events = rt.subscribe_events()
    rt.set(source["a"], "xxxx")
    by = ref("ev.source", "a")
    assert drain(events) == [
        RevisionBumped(2),
        InputSet(by, 2, sf.Durability.VOLATILE),
        QueryInvalidated(ref("ev.length", "a"), by, 2),
        QueryInvalidated(ref("ev.parity", "a"), by, 2),
        QueryInvalidated(ref("ev.report"), by, 2),
    ]


@sf.query(name="ev.shout")
def shout(db: Any, path: str, times: int) -> str:
    return str(source(db, path)) * times


def test_readers_of_one_node_are_reported_in_the_order_they_started_reading() -> None:
    runtime = sf.Runtime()
    runtime.set(source["a"], "x")
    order = [7, 2, 19, 0, 11, 5, 16, 3, 13, 8, 1, 18, 9, 14, 4, 17, 6, 12, 10, 15]
    for times in order:
        shout(runtime, "a", times)
    events = runtime.subscribe_events()
    runtime.set(source["a"], "y")
    invalidated = [e.ref for e in drain(events) if isinstance(e, QueryInvalidated)]
    assert invalidated == [ref("ev.shout", "a", times) for times in order]


def test_changed_only_when_a_re_execution_changes_the_value(rt: sf.Runtime) -> None:
    events = rt.subscribe_events()
    rt.set(source["a"], "xxxx")  # length 2 -> 4, parity stays even: cutoff
    report(rt)
    changed = [e for e in drain(events) if isinstance(e, QueryChanged)]
    assert changed == [QueryChanged(ref("ev.length", "a"), 2)]
    rt.set(source["a"], "x")
    report(rt)
    changed = [e for e in drain(events) if isinstance(e, QueryChanged)]
    assert changed == [
        QueryChanged(ref("ev.length", "a"), 3),
        QueryChanged(ref("ev.parity", "a"), 3),
        QueryChanged(ref("ev.report"), 3),
    ]


def test_first_computation_is_not_a_change() -> None:
    runtime = sf.Runtime()
    events = runtime.subscribe_events()
    runtime.set(source["a"], "x")
    runtime.set(source["b"], "x")
    report(runtime)
    assert not [e for e in drain(events) if isinstance(e, QueryChanged)]


def test_batch_bumps_once_and_reports_each_write_with_all_its_dependents(
    rt: sf.Runtime,
) -> None:
    events = rt.subscribe_events()
    with rt.batch():
        rt.set(source["a"], "1")
        rt.set(source["b"], "22")
    by_a, by_b = ref("ev.source", "a"), ref("ev.source", "b")
    assert drain(events) == [
        RevisionBumped(2),
        InputSet(by_a, 2, sf.Durability.VOLATILE),
        QueryInvalidated(ref("ev.length", "a"), by_a, 2),
        QueryInvalidated(ref("ev.parity", "a"), by_a, 2),
        QueryInvalidated(ref("ev.report"), by_a, 2),
        InputSet(by_b, 2, sf.Durability.VOLATILE),
        QueryInvalidated(ref("ev.length", "b"), by_b, 2),
        QueryInvalidated(ref("ev.parity", "b"), by_b, 2),
        QueryInvalidated(ref("ev.report"), by_b, 2),  # again: once per write
    ]


def test_remove_invalidate_and_resolve_error_are_reported(rt: sf.Runtime) -> None:
    events = rt.subscribe_events()
    rt.remove(source["a"])
    by = ref("ev.source", "a")
    removed = drain(events)
    assert removed[:2] == [RevisionBumped(2), InputRemoved(by, 2)]
    rt.resolve_error(source["a"], OSError("gone"))
    assert drain(events)[:2] == [RevisionBumped(3), InputSet(by, 3, sf.Durability.VOLATILE)]
    rt.set(source["a"], "again")
    rt.invalidate(source["a"])
    assert drain(events)[-5:-3] == [RevisionBumped(5), InputRemoved(by, 5)]


def test_no_op_write_emits_nothing(rt: sf.Runtime) -> None:
    events = rt.subscribe_events()
    rt.set(source["a"], "xx")
    assert drain(events) == []


def test_durability_is_reported(rt: sf.Runtime) -> None:
    events = rt.subscribe_events()
    rt.set(config, {"x": 1})
    assert drain(events) == [RevisionBumped(2), InputSet(ref("ev.config"), 2, sf.Durability.STABLE)]


def test_set_current_revision_emits_revision_set(rt: sf.Runtime) -> None:
    events = rt.subscribe_events()
    rt.set_current_revision(40)
    rt.bump_revision()
    assert drain(events) == [RevisionSet(40), RevisionBumped(41)]


def test_invalidation_follows_the_graph_as_it_changes_shape() -> None:
    flag, left, right = sf.Input("ev.flag"), sf.Input("ev.left"), sf.Input("ev.right")

    @sf.query(name="ev.pick")
    def pick(db: Any) -> int:
        return left(db) if flag(db) else right(db)  # type: ignore[no-any-return]

    runtime = sf.Runtime()
    with runtime.batch():
        runtime.set(flag, True)
        runtime.set(left, 1)
        runtime.set(right, 2)
    pick(runtime)
    events = runtime.subscribe_events()
    runtime.set(right, 3)  # not read: nobody is invalidated
    assert [e for e in drain(events) if isinstance(e, QueryInvalidated)] == []
    runtime.set(flag, False)
    pick(runtime)
    drain(events)
    runtime.set(left, 5)  # no longer read
    assert [e for e in drain(events) if isinstance(e, QueryInvalidated)] == []
    runtime.set(right, 4)
    assert [e for e in drain(events) if isinstance(e, QueryInvalidated)] == [
        QueryInvalidated(ref("ev.pick"), ref("ev.right"), runtime.revision)
    ]


def test_multi_level_fan_out_reports_each_dependent_once_per_write() -> None:
    base = sf.Input("ev.base")

    @sf.query(name="ev.level")
    def level(db: Any, depth: int, index: int) -> int:
        if depth == 0:
            return base(db)  # type: ignore[no-any-return]
        return level(db, depth - 1, index) + level(db, depth - 1, (index + 1) % 3)

    runtime = sf.Runtime()
    runtime.set(base, 1)
    for index in range(3):
        level(runtime, 3, index)
    events = runtime.subscribe_events()
    runtime.set(base, 2)
    invalidated = [e.ref for e in drain(events) if isinstance(e, QueryInvalidated)]
    assert len(invalidated) == len(set(invalidated)) == 12  # 4 levels x 3 indices


def test_dropped_receiver_is_forgotten_and_costs_nothing(rt: sf.Runtime) -> None:
    events = rt.subscribe_events()
    assert rt._engine.events.listening
    rt.set(source["a"], "abc")
    del events
    gc.collect()
    assert not rt._engine.events.listening
    rt.set(source["a"], "abcd")  # nothing to deliver, nothing to build
    assert report(rt) == "even/odd"


def test_receiver_for_unencodable_key_names_the_query() -> None:
    class Opaque:
        pass

    holder = sf.Input("ev.holder")

    @sf.query(name="ev.opaque")
    def opaque(db: Any, key: Any) -> int:
        return holder(db)  # type: ignore[no-any-return]

    runtime = sf.Runtime()
    runtime.set(holder, 1)
    key = Opaque()
    assert opaque(runtime, key) == 1
    receiver = runtime.subscribe_events()
    with pytest.raises(TypeError, match=r"ev\.opaque\(.*has type 'Opaque'"):
        runtime.set(holder, 2)
    # The write itself went through, and its dependents were marked: the
    # re-execution stores its value, then reporting QueryChanged fails the same way.
    assert runtime.get(holder) == 2
    with pytest.raises(TypeError, match=r"ev\.opaque\("):
        opaque(runtime, key)
    assert opaque(runtime, key) == 2
    assert isinstance(receiver.try_recv(), RevisionBumped)


def test_a_write_to_a_cell_whose_key_cannot_be_named_still_reaches_its_readers() -> None:
    class Opaque:
        pass

    key = Opaque()
    cells = sf.Input("ev.opaque.cells")

    @sf.query(name="ev.opaque.reader")
    def reader(db: Any) -> int:
        return cells(db, key)  # type: ignore[no-any-return]

    runtime = sf.Runtime()
    runtime.set(cells[key], 1)
    assert reader(runtime) == 1
    receiver = runtime.subscribe_events()
    with pytest.raises(TypeError, match=r"ev\.opaque\.cells\[.*has type 'Opaque'"):
        runtime.set(cells[key], 2)
    assert runtime.get(cells[key]) == 2  # the write happened...
    assert reader(runtime) == 2  # ...and its reader was marked, not served stale
    assert drain(receiver) == [
        RevisionBumped(2),
        QueryExecuting(ref("ev.opaque.reader"), 2, first=False),
        QueryChanged(ref("ev.opaque.reader"), 2),
    ]


# -- receivers on a real runtime -------------------------------------------------------


def _edits(runtime: sf.Runtime, count: int) -> None:
    """``count`` writes, each one a revision with its events (bump, set, three dependents)."""
    for n in range(count):
        runtime.set(source["a"], "x" * (n + 10))


def test_default_capacity_is_1024_and_settable(rt: sf.Runtime) -> None:
    assert rt.subscribe_events().capacity == 1024
    assert rt.subscribe_events(capacity=3).capacity == 3


def test_a_lagging_runtime_receiver_learns_exactly_what_it_missed(rt: sf.Runtime) -> None:
    everything = rt.subscribe_events()
    small = rt.subscribe_events(capacity=4)
    _edits(rt, 3)
    expected = drain(everything)
    assert len(expected) == 15  # per write: RevisionBumped, InputSet, 3 x QueryInvalidated
    with pytest.raises(sf.Lagged) as info:
        small.recv(timeout=1)
    assert info.value.missed == 11
    assert drain(small) == expected[-4:]  # the oldest event still held comes first
    rt.bump_revision()  # one event: room for it, nothing lost
    assert small.recv(timeout=1) == RevisionBumped(rt.revision)


def test_a_stuck_runtime_receiver_blocks_no_writer_and_no_other_receiver(rt: sf.Runtime) -> None:
    fast = [rt.subscribe_events() for _ in range(3)]
    stuck = rt.subscribe_events(capacity=2)
    got_first = threading.Event()
    release = threading.Event()
    after: list[object] = []

    def consume() -> None:
        after.append(stuck.recv(timeout=30))
        got_first.set()
        release.wait(30)  # busy elsewhere: reads nothing while the writer writes
        try:
            stuck.recv(timeout=30)
        except sf.Lagged as lagged:
            after.append(lagged.missed)
        after.append(stuck.recv(timeout=30))

    thread = threading.Thread(target=consume)
    thread.start()
    rt.bump_revision()
    assert got_first.wait(30)
    writer = threading.Thread(target=_edits, args=(rt, 40))
    writer.start()
    writer.join(timeout=30)
    assert not writer.is_alive()  # 200 events into a full queue: the writer never waited
    first = drain(fast[0])
    assert len(first) == 1 + 40 * 5
    assert drain(fast[1]) == drain(fast[2]) == first
    release.set()
    thread.join(timeout=30)
    assert after == [RevisionBumped(2), 198, first[-2]]


def test_a_runtime_receiver_dropped_mid_stream_leaks_nothing(rt: sf.Runtime) -> None:
    kept = rt.subscribe_events(capacity=10_000)
    dropped = rt.subscribe_events(capacity=2)
    _edits(rt, 5)  # dropped is full and lagging when it goes
    gone = weakref.ref(dropped)
    del dropped
    gc.collect()
    hub = rt._engine.events
    assert gone() is None
    assert hub.receiver_count == 1
    _edits(rt, 1)
    assert len(drain(kept)) == 6 * 5
    del kept
    gc.collect()
    assert hub.receiver_count == 0
    assert hub._targets == ()
    assert not hub.listening


def test_no_event_work_is_done_while_nobody_listens() -> None:
    """Events name queries by their canonical key bytes; a key with no encoding
    fails to be named. Without a receiver nothing is named, so nothing fails."""

    class Opaque:
        pass

    holder = sf.Input("ev.quiet.holder")

    @sf.query(name="ev.quiet")
    def quiet(db: Any, key: Any) -> int:
        return holder(db)  # type: ignore[no-any-return]

    runtime = sf.Runtime()
    runtime.set(holder, 1)
    key = Opaque()
    assert quiet(runtime, key) == 1
    runtime.set(holder, 2)  # invalidates quiet(key): no QueryInvalidated is built
    assert quiet(runtime, key) == 2  # a change: no QueryChanged is built
    with runtime.batch():
        runtime.set(holder, 3)
    runtime.set_current_revision(10)
    assert quiet(runtime, key) == 3
    assert runtime._engine.revision_watch is None  # no watch until someone asks for one
    receiver = runtime.subscribe_events()
    with pytest.raises(TypeError, match=r"ev\.quiet\("):
        runtime.set(holder, 4)  # now the event work happens, and names the query
    assert isinstance(receiver.try_recv(), RevisionBumped)


# -- what counts as a change -----------------------------------------------------------


def test_a_value_becoming_an_error_and_back_is_reported_as_changed() -> None:
    number = sf.Input("ev.number")

    @sf.query(name="ev.inverse")
    def inverse(db: Any) -> float:
        return 1 / number(db)  # type: ignore[no-any-return]

    runtime = sf.Runtime()
    runtime.set(number, 2)
    assert inverse(runtime) == 0.5
    events = runtime.subscribe_events()
    runtime.set(number, 0)
    with pytest.raises(ZeroDivisionError):
        inverse(runtime)
    runtime.set(number, 4)
    assert inverse(runtime) == 0.25
    changed = [e for e in drain(events) if isinstance(e, QueryChanged)]
    assert changed == [QueryChanged(ref("ev.inverse"), 2), QueryChanged(ref("ev.inverse"), 3)]


def test_an_equal_error_under_error_eq_is_a_cutoff_not_a_change() -> None:
    text = sf.Input("ev.text")

    @sf.query(name="ev.parsed", error_eq=lambda old, new: type(old) is type(new))
    def parsed(db: Any) -> int:
        return int(text(db))

    runtime = sf.Runtime()
    runtime.set(text, "x")
    with pytest.raises(ValueError, match="invalid literal"):
        parsed(runtime)
    events = runtime.subscribe_events()
    runtime.set(text, "y")
    with pytest.raises(ValueError, match="invalid literal"):
        parsed(runtime)
    assert [e for e in drain(events) if isinstance(e, QueryChanged)] == []


def test_completing_after_a_suspension_is_a_first_computation_not_a_change() -> None:
    runtime = sf.Runtime()
    runtime.set(source["b"], "yyy")
    events = runtime.subscribe_events()
    with pytest.raises(sf.Suspend):
        report(runtime)
    runtime.resolve(source["a"], "xx")
    assert report(runtime) == "even/odd"
    assert [e for e in drain(events) if isinstance(e, QueryChanged)] == []


def test_invalidate_then_an_equal_resolve_reports_no_change_downstream(rt: sf.Runtime) -> None:
    events = rt.subscribe_events()
    rt.invalidate(source["a"])
    with pytest.raises(sf.Suspend):
        report(rt)
    rt.resolve(source["a"], "zz")
    assert report(rt) == "even/odd"
    assert [e for e in drain(events) if isinstance(e, QueryChanged)] == []
    rt.invalidate(source["a"])
    rt.resolve(source["a"], "zzz")
    assert report(rt) == "odd/odd"
    changed = [e.ref for e in drain(events) if isinstance(e, QueryChanged)]
    assert changed == [ref("ev.length", "a"), ref("ev.parity", "a"), ref("ev.report")]


# -- the reverse-dependency graph after a restore --------------------------------------


def test_the_reverse_dependency_graph_is_restored_from_a_snapshot() -> None:
    store = MemoryStore()
    first = sf.Runtime(store=store, runtime_id="ev.restore")
    with first.batch():
        first.set(source["a"], "xx")
        first.set(source["b"], "yyy")
    assert report(first) == "even/odd"
    first.commit()
    runs.clear()

    restored = sf.Runtime(store=store, runtime_id="ev.restore")
    assert restored.revision == first.revision
    events = restored.subscribe_events()
    restored.set(source["b"], "y")  # no query has run in this runtime yet
    by = ref("ev.source", "b")
    assert drain(events) == [
        RevisionBumped(2),
        InputSet(by, 2, sf.Durability.VOLATILE),
        QueryInvalidated(ref("ev.length", "b"), by, 2),
        QueryInvalidated(ref("ev.parity", "b"), by, 2),
        QueryInvalidated(ref("ev.report"), by, 2),
    ]
    assert report(restored) == "even/odd"
    assert runs == {"length": 1}  # length('b') 3 -> 1: still odd, cut off
    assert [e for e in drain(events) if isinstance(e, QueryChanged)] == [
        QueryChanged(ref("ev.length", "b"), 2)
    ]
