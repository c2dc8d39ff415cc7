"""Execution events: ``QueryExecuting`` and ``QueryVerified`` (salsa's ``WillExecute`` and
``DidValidateMemoizedValue``), with ``QueryChanged``: for each query a call touched, whether
it executed, was verified without executing, or was cut off early."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sofrito as sf
from sofrito import QueryChanged, QueryExecuting, QueryRef, QueryVerified
from sofrito._queries import spec_of
from sofrito.stores import SqliteStore

source = sf.Input("ex.source")
other = sf.Input("ex.other")


@sf.query(name="ex.length")
def length(db: Any, path: str) -> int:
    return len(source(db, path))


@sf.query(name="ex.parity")
def parity(db: Any, path: str) -> str:
    return "even" if length(db, path) % 2 == 0 else "odd"


@sf.query(name="ex.report")
def report(db: Any) -> str:
    return f"{parity(db, 'a')}/{parity(db, 'b')}"


def ref(kind: str, *key: Any) -> QueryRef:
    return QueryRef.of(kind, key)


def drain(receiver: Any) -> list[Any]:
    events = []
    while (event := receiver.try_recv()) is not None:
        events.append(event)
    return events


def execution_events(receiver: Any) -> list[Any]:
    """What the engine said about its steps, without the writes' events."""
    kinds = (QueryExecuting, QueryVerified, QueryChanged)
    return [event for event in drain(receiver) if isinstance(event, kinds)]


def built() -> sf.Runtime:
    rt = sf.Runtime()
    with rt.batch():
        rt.set(source["a"], "xx")
        rt.set(source["b"], "yyy")
    report(rt)
    return rt


def test_a_first_computation_announces_each_execution_before_its_reads() -> None:
    rt = sf.Runtime()
    with rt.batch():
        rt.set(source["a"], "xx")
        rt.set(source["b"], "yyy")
    events = rt.subscribe_events()
    assert report(rt) == "even/odd"
    assert execution_events(events) == [
        QueryExecuting(ref("ex.report"), 1, first=True),
        QueryExecuting(ref("ex.parity", "a"), 1, first=True),
        QueryExecuting(ref("ex.length", "a"), 1, first=True),
        QueryExecuting(ref("ex.parity", "b"), 1, first=True),
        QueryExecuting(ref("ex.length", "b"), 1, first=True),
    ]  # and no QueryChanged: a first computation has nothing to differ from


def test_an_early_cutoff_executes_without_a_change_and_its_reader_is_verified() -> None:
    rt = built()
    events = rt.subscribe_events()
    rt.set(source["a"], "xxxx")  # length 2 -> 4, parity stays even
    assert report(rt) == "even/odd"
    assert execution_events(events) == [
        QueryExecuting(ref("ex.length", "a"), 2, first=False),
        QueryChanged(ref("ex.length", "a"), 2),
        QueryExecuting(ref("ex.parity", "a"), 2, first=False),  # no QueryChanged: cut off
        QueryVerified(ref("ex.report"), 2),  # its reads did not change: not executed
    ]


def test_a_change_reports_executing_then_the_bodys_reads_then_changed() -> None:
    rt = built()
    events = rt.subscribe_events()
    rt.set(source["a"], "x")  # length 2 -> 1, parity even -> odd
    assert report(rt) == "odd/odd"
    assert execution_events(events) == [
        QueryExecuting(ref("ex.length", "a"), 2, first=False),
        QueryChanged(ref("ex.length", "a"), 2),
        QueryExecuting(ref("ex.parity", "a"), 2, first=False),
        QueryChanged(ref("ex.parity", "a"), 2),
        QueryExecuting(ref("ex.report"), 2, first=False),
        QueryVerified(ref("ex.parity", "b"), 2),  # read by report's body: no write reached it
        QueryChanged(ref("ex.report"), 2),
    ]


def test_a_memo_no_write_reached_is_verified_without_looking_at_its_reads() -> None:
    rt = built()
    events = rt.subscribe_events()
    rt.set(other, 1)  # a new revision; nothing report reads
    assert report(rt) == "even/odd"
    assert execution_events(events) == [QueryVerified(ref("ex.report"), 2)]


def test_nothing_is_reported_on_a_hit() -> None:
    rt = built()
    events = rt.subscribe_events()
    for _ in range(3):
        assert report(rt) == "even/odd"
        assert parity(rt, "b") == "odd"  # verified in this revision already: hits
    assert drain(events) == []
    rt.set(source["a"], "xxxx")
    report(rt)
    drain(events)
    report(rt)
    length(rt, "a")
    assert drain(events) == []


def test_a_memo_loaded_from_a_store_is_reported_as_verified(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    store = SqliteStore(path)
    first = sf.Runtime(store=store, runtime_id="ex")
    with first.batch():
        first.set(source["a"], "xx")
        first.set(source["b"], "yyy")
    report(first)
    first.commit()
    store.close()
    store = SqliteStore(path)
    rt = sf.Runtime(store=store, runtime_id="ex", load=False)
    events = rt.subscribe_events()
    rt.load()
    rt.set(source["b"], "y")  # length 3 -> 1, parity stays odd
    assert report(rt) == "even/odd"
    revision = rt.revision
    assert execution_events(events) == [
        QueryExecuting(ref("ex.length", "b"), revision, first=False),
        QueryChanged(ref("ex.length", "b"), revision),
        QueryExecuting(ref("ex.parity", "b"), revision, first=False),
        QueryVerified(ref("ex.report"), revision),
    ]
    store.close()


class Opaque:
    """A key part with no canonical encoding: an event cannot name its query."""


holder = sf.Input("ex.holder")


@sf.query(name="ex.opaque")
def opaque(db: Any, key: Any) -> int:
    return holder(db)  # type: ignore[no-any-return]


def test_no_receiver_no_execution_event_is_built() -> None:
    """Building an event names the query, and naming this one fails: without a
    receiver, executions and verifications go through without naming anything."""
    rt = sf.Runtime()
    rt.set(holder, 1)
    key = Opaque()
    assert opaque(rt, key) == 1  # executes
    rt.set(other, 1)
    assert opaque(rt, key) == 1  # verified
    rt.set(holder, 2)
    assert opaque(rt, key) == 2  # executes again, changed
    receiver = rt.subscribe_events()
    rt.set(other, 2)
    with pytest.raises(TypeError, match=r"ex\.opaque\(.*has type 'Opaque'"):
        opaque(rt, key)  # now the verification is reported, and cannot name it
    assert opaque(rt, key) == 2  # ...and was complete: a hit now
    assert drain(receiver) == [  # what could be named was delivered
        sf.RevisionBumped(4),
        sf.InputSet(ref("ex.other"), 4, sf.Durability.VOLATILE),
    ]


def test_an_execution_whose_key_cannot_be_named_completes_then_raises() -> None:
    rt = sf.Runtime()
    rt.set(holder, 1)
    receiver = rt.subscribe_events()
    key = Opaque()
    with pytest.raises(TypeError, match=r"ex\.opaque\("):
        opaque(rt, key)
    assert opaque(rt, key) == 1  # stored before the error: a hit, no second execution
    assert execution_events(receiver) == []


def test_a_receiver_that_leaves_out_verifications_gets_the_rest_and_none_is_built() -> None:
    """``subscribe_events(verified=False)``: the executions and changes arrive, no
    ``QueryVerified``; while no receiver takes them the engine names no memo it
    only verifies (nothing cached on it), and once one does, only that one
    gets them."""
    rt = sf.Runtime()
    with rt.batch():
        rt.set(source["a"], "x")
        rt.set(source["b"], "yy")
    report(rt)  # computed before anyone listens: no memo named yet
    quiet = rt.subscribe_events(verified=False)
    rt.set(other, 1)  # reaches nothing: every memo is verified on the next read
    assert report(rt) == "odd/even"
    rt.set(source["a"], "zz")
    assert report(rt) == "even/even"
    events = execution_events(quiet)
    changed = [ref("ex.length", "a"), ref("ex.parity", "a"), ref("ex.report")]
    assert sorted(str(e.ref) for e in events if type(e) is QueryExecuting) == sorted(
        map(str, changed)
    )
    assert sorted(str(e.ref) for e in events if type(e) is QueryChanged) == sorted(
        map(str, changed)
    )
    assert not [e for e in events if type(e) is QueryVerified]
    assert rt._engine.tables[spec_of(parity)][("b",)].ref_cache is None  # never named
    loud = rt.subscribe_events()
    rt.set(other, 2)
    assert report(rt) == "even/even"
    assert execution_events(loud) == [QueryVerified(ref("ex.report"), rt.revision)]
    assert execution_events(quiet) == []
