"""Which events a runtime emits, in which order (DESIGN §3)."""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

import pytest

import sofrito as sf
from sofrito._events.kinds import (
    InputRemoved,
    InputSet,
    QueryChanged,
    QueryInvalidated,
    QueryRef,
    RevisionBumped,
    RevisionSet,
)

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
