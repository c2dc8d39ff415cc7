"""``sf.gather`` and ``rt.query_many`` (DESIGN §8): the loop's meaning, one suspension.

Every scenario runs the same keys twice, once through ``sf.gather`` and once
through the loop ``[q(db, *k) for k in keys]``, and compares what a caller
can see: values, the dependencies the gathering query recorded (in order),
the events, the error raised, and the pending refs of a suspension. Where
gather differs on purpose (a suspension lists the pending refs of every
key, not the first one's), the test says so.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import sofrito as sf
from sofrito._engine.memo import Cell, Memo

WAIT = 10.0


class Broken(Exception):
    """A user error of one key."""


def deps_of(rt: sf.Runtime, q: Any, *key: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """What ``q(*key)`` recorded, in read order, as (name, key) pairs (white-box)."""
    memo = rt._engine.memo_for(q.spec, key)
    described = []
    for node in memo.deps:
        if isinstance(node, Memo):
            described.append((node.spec.name, node.key))
        elif isinstance(node, Cell):
            described.append((node.input.name, node.key))
        else:
            described.append((type(node).__name__, ()))
    return described


def outcome(call: Any) -> Any:
    try:
        return call()
    except Exception as exc:
        return exc


# -- values, dependencies and events -------------------------------------------

values = sf.Input("gather.values")
log: list[Any] = []


@sf.query(name="gather.double")
def double(db: Any, k: int) -> int:
    log.append(k)
    value = values(db, k)
    if value < 0:
        raise Broken(f"key {k} is negative")
    return 2 * value  # type: ignore[no-any-return]


@sf.query(name="gather.by_gather")
def by_gather(db: Any, n: int) -> list[int]:
    return sf.gather(db, double, [(k,) for k in range(n)])


@sf.query(name="gather.by_loop")
def by_loop(db: Any, n: int) -> list[int]:
    return [double(db, k) for k in range(n)]


@pytest.fixture(autouse=True)
def _clear_log() -> None:
    log.clear()


def test_gather_returns_the_loops_values_and_records_its_dependencies_in_key_order() -> None:
    rt = sf.Runtime()
    with rt.batch():
        for k in range(5):
            rt.set(values[k], k + 1)
    assert by_gather(rt, 5) == by_loop(rt, 5) == [2, 4, 6, 8, 10]
    want = [("gather.double", (k,)) for k in range(5)]
    assert deps_of(rt, by_gather, 5) == deps_of(rt, by_loop, 5) == want
    assert log == [0, 1, 2, 3, 4]  # each key once: the loop found them computed


def test_gather_reports_the_same_events_as_the_loop() -> None:
    def run(root: Any) -> list[Any]:
        rt = sf.Runtime()
        with rt.batch():
            for k in range(4):
                rt.set(values[k], k)
        root(rt, 4)
        events = rt.subscribe_events()
        rt.set(values[2], 7)  # one key changes
        rt.set(values[1], 1)  # a no-op
        root(rt, 4)
        rt.set(values[3], -1)  # a key fails
        outcome(lambda: root(rt, 4))
        seen = []
        while True:
            try:
                seen.append(events.recv(timeout=0))
            except TimeoutError:
                return seen

    def named(event: Any) -> Any:
        ref = getattr(event, "ref", None)
        kind = getattr(ref, "kind", "")
        if kind in ("gather.by_gather", "gather.by_loop"):
            return (type(event).__name__, "root", event.revision)
        return event

    gathered, looped = run(by_gather), run(by_loop)
    assert gathered
    assert [named(e) for e in gathered] == [named(e) for e in looped]


def test_a_user_error_is_the_first_failing_keys_cached_error_and_later_keys_unread() -> None:
    rt = sf.Runtime()
    with rt.batch():
        for k, value in enumerate([1, -1, 2, -2, 3]):
            rt.set(values[k], value)
    gathered = outcome(lambda: by_gather(rt, 5))
    looped = outcome(lambda: by_loop(rt, 5))
    assert isinstance(gathered, Broken)
    assert "key 1" in str(gathered)
    assert gathered is looped  # the cached error of double(1), re-raised
    want = [("gather.double", (0,)), ("gather.double", (1,))]  # the loop stops at key 1
    assert deps_of(rt, by_gather, 5) == deps_of(rt, by_loop, 5) == want
    assert sorted(set(log)) == [0, 1]  # keys 2.. never computed


def test_gather_at_the_top_level_is_query_many() -> None:
    rt = sf.Runtime()
    with rt.batch():
        for k in range(3):
            rt.set(values[k], k)
    keys = [(2,), (0,), (1,)]
    assert sf.gather(rt, double, keys) == rt.query_many(double, keys) == [4, 0, 2]
    assert rt.query_many(double, []) == []
    rt.set(values[0], -5)
    error = outcome(lambda: rt.query_many(double, keys))
    assert isinstance(error, Broken)
    assert "key 0" in str(error)


def test_gather_reads_input_cells_too() -> None:
    rt = sf.Runtime()
    rt.set(values[1], "one")

    @sf.query(name="gather.cells")
    def cells(db: Any) -> list[str]:
        return sf.gather(db, values, [(1,), (2,), (3,)])

    with pytest.raises(sf.Suspend) as info:
        cells(rt)
    assert info.value.pending == [values[2], values[3]]
    with rt.batch():
        rt.set(values[2], "two")
        rt.set(values[3], "three")
    assert cells(rt) == ["one", "two", "three"]
    assert deps_of(rt, cells) == [("gather.values", (k,)) for k in (1, 2, 3)]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (["a.md"], "keys[0] is 'a.md', not a tuple; each key is the tuple of the arguments"),
        ("ab", "keys is 'ab', a string; pass a list of key tuples"),
        ([(1,), (1, 2)], "keys[1] is (1, 2), 2 part(s), but gather.double() takes a key of 1"),
        ([(1,), 3], "keys[1] is 3, not a tuple"),
    ],
)
def test_a_bad_key_is_a_type_error_naming_the_query_and_the_key(keys: Any, message: str) -> None:
    rt = sf.Runtime()
    rt.set(values[1], 1)
    with pytest.raises(TypeError, match=r"sf.gather\(gather.double, keys\)") as info:
        rt.query_many(double, keys)
    assert message in str(info.value)
    assert log == []  # checked before any key is read

    @sf.query(name="gather.bad_inside")
    def inside(db: Any) -> Any:
        return sf.gather(db, double, keys)

    with pytest.raises(TypeError) as again:
        inside(rt)
    assert message in str(again.value)


def test_something_that_is_not_a_query_is_a_type_error() -> None:
    rt = sf.Runtime()
    with pytest.raises(TypeError, match=r"is not a query; declare it with @sf\.query"):
        rt.query_many(len, [(1,)])  # type: ignore[arg-type]


# -- suspense ------------------------------------------------------------------

pending_cells = sf.Input("gather.pending")


@sf.query(name="gather.read_cell")
def read_cell(db: Any, k: int) -> Any:
    log.append(k)
    value = pending_cells(db, k)
    if value == "bad":
        raise Broken(f"cell {k} is bad")
    return value


@sf.query(name="gather.cells_by_gather")
def cells_by_gather(db: Any, n: int) -> list[Any]:
    return sf.gather(db, read_cell, [(k,) for k in range(n)])


@sf.query(name="gather.cells_by_loop")
def cells_by_loop(db: Any, n: int) -> list[Any]:
    return [read_cell(db, k) for k in range(n)]


def test_one_suspension_lists_the_pending_refs_of_every_key_where_the_loop_lists_one() -> None:
    rt = sf.Runtime()
    with rt.batch():
        for k in (0, 2, 4):
            rt.set(pending_cells[k], k)
    with pytest.raises(sf.Suspend) as gathered:
        cells_by_gather(rt, 6)
    with pytest.raises(sf.Suspend) as looped:
        cells_by_loop(rt, 6)
    assert gathered.value.pending == [pending_cells[1], pending_cells[3], pending_cells[5]]
    assert looped.value.pending == [pending_cells[1]]
    assert set(rt.pending()) == {pending_cells[1], pending_cells[3], pending_cells[5]}
    with rt.batch():
        for ref in gathered.value.pending:
            rt.resolve(ref, ref.key[0])
    assert cells_by_gather(rt, 6) == cells_by_loop(rt, 6) == [0, 1, 2, 3, 4, 5]
    assert deps_of(rt, cells_by_gather, 6) == deps_of(rt, cells_by_loop, 6)


def test_a_gathering_memo_verified_after_keys_went_pending_suspends_on_all_of_them() -> None:
    """The deep walk of a query that gathers does not stop at the first key that
    suspends: it goes on to the gather's later keys and the suspension lists
    every pending key, where a query that loops lists the first (the walk
    suspends there)."""
    rt = sf.Runtime()
    with rt.batch():
        for k in range(5):
            rt.set(pending_cells[k], k)
    assert cells_by_gather(rt, 5) == cells_by_loop(rt, 5) == [0, 1, 2, 3, 4]
    with rt.batch():
        rt.remove(pending_cells[1])
        rt.remove(pending_cells[3])
    with pytest.raises(sf.Suspend) as gathered:
        cells_by_gather(rt, 5)
    with pytest.raises(sf.Suspend) as looped:
        cells_by_loop(rt, 5)
    assert gathered.value.pending == [pending_cells[1], pending_cells[3]]
    assert looped.value.pending == [pending_cells[1]]
    with rt.batch():
        rt.resolve(pending_cells[1], 1)
        rt.resolve(pending_cells[3], 3)
    assert cells_by_gather(rt, 5) == cells_by_loop(rt, 5) == [0, 1, 2, 3, 4]
    assert deps_of(rt, cells_by_gather, 5) == deps_of(rt, cells_by_loop, 5)


bodies: list[str] = []


@sf.query(name="gather.gathers_or_loops")
def gathers_or_loops(db: Any, how: str) -> list[Any]:
    """One query: one key gathers, the other loops over the same cells."""
    bodies.append(how)
    keys = [(k,) for k in range(3)]
    if how == "gather":
        return sf.gather(db, read_cell, keys)
    return [read_cell(db, *key) for key in keys]


def test_a_walk_past_suspended_keys_runs_no_body_and_only_for_the_memo_that_gathered() -> None:
    """Found by the property tests: with one flag per query, the memo of the
    key that loops (its query gathers for another key) executed again on a
    suspension, and so did the gathering memo, nothing they read changed."""
    rt = sf.Runtime()
    with rt.batch():
        for k in range(3):
            rt.set(pending_cells[k], k)
    assert gathers_or_loops(rt, "gather") == gathers_or_loops(rt, "loop") == [0, 1, 2]
    with rt.batch():
        rt.remove(pending_cells[0])
        rt.remove(pending_cells[2])
    bodies.clear()
    with pytest.raises(sf.Suspend) as looped:
        gathers_or_loops(rt, "loop")
    with pytest.raises(sf.Suspend) as gathered:
        gathers_or_loops(rt, "gather")
    assert looped.value.pending == [pending_cells[0]]
    assert gathered.value.pending == [pending_cells[0], pending_cells[2]]
    assert bodies == []  # the walks answered: no body ran with nothing it read changed


def test_query_many_collects_the_suspensions_of_every_key() -> None:
    rt = sf.Runtime()
    rt.set(pending_cells[1], "x")
    with pytest.raises(sf.Suspend) as info:
        rt.query_many(read_cell, [(0,), (1,), (2,), (0,)])
    assert info.value.pending == [pending_cells[0], pending_cells[2]]


def test_after_a_suspension_a_later_user_error_does_not_change_the_outcome() -> None:
    rt = sf.Runtime()
    with rt.batch():
        rt.set(pending_cells[0], 0)
        rt.set(pending_cells[2], "bad")
    with pytest.raises(sf.Suspend) as info:  # the loop suspends on key 1 first
        cells_by_gather(rt, 4)
    assert info.value.pending == [pending_cells[1], pending_cells[3]]
    with pytest.raises(sf.Suspend):
        rt.query_many(read_cell, [(0,), (1,), (2,), (3,)])
    with rt.batch():
        rt.resolve(pending_cells[1], 1)
        rt.resolve(pending_cells[3], 3)
    gathered = outcome(lambda: cells_by_gather(rt, 4))
    assert isinstance(gathered, Broken)
    assert gathered is outcome(lambda: cells_by_loop(rt, 4))
    assert deps_of(rt, cells_by_gather, 4) == deps_of(rt, cells_by_loop, 4)


def test_a_user_error_before_any_suspension_is_raised_and_the_later_keys_are_not_read() -> None:
    rt = sf.Runtime()
    rt.set(pending_cells[0], "bad")
    error = outcome(lambda: cells_by_gather(rt, 3))
    assert isinstance(error, Broken)
    assert "cell 0" in str(error)
    assert log == [0]
    assert rt.pending() == []  # cells 1 and 2, pending, were never read


def test_aquery_resolves_the_async_locators_of_a_hundred_cells_in_one_round() -> None:
    """The issue's example: 100 cells whose async locators take 50 ms each. A
    round is one resolving batch, so one revision: gather takes one, the loop
    takes one per cell. (How long it takes is for benchmarks, not tests.)"""
    running = 0
    most = 0

    async def fetch(k: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        return k

    async def fetch_at_once(k: int) -> int:
        return k

    remote = sf.Input("gather.remote", locator=fetch)
    quick = sf.Input("gather.quick", locator=fetch_at_once)

    @sf.query(name="gather.remote_cell")
    def remote_cell(db: Any, k: int) -> int:
        return remote(db, k)  # type: ignore[no-any-return]

    @sf.query(name="gather.remote_total")
    def remote_total(db: Any) -> int:
        return sum(sf.gather(db, remote_cell, [(k,) for k in range(100)]))

    @sf.query(name="gather.quick_total")
    def quick_total(db: Any) -> int:
        return sum(quick(db, k) for k in range(100))

    rt = sf.Runtime()
    assert asyncio.run(rt.aquery(remote_total, concurrency=100)) == sum(range(100))
    assert rt.revision == 1  # one round
    assert most == 100  # every locator of the round in flight at once

    loop_rt = sf.Runtime()
    assert asyncio.run(loop_rt.aquery(quick_total, concurrency=100)) == sum(range(100))
    assert loop_rt.revision == 100  # the loop: one round per cell


# -- cycles --------------------------------------------------------------------

cycle_switch = sf.Input("gather.cycle_switch")


@sf.query(name="gather.cycle_key")
def cycle_key(db: Any, k: int) -> int:
    if k == cycle_switch(db):
        return sum(cycle_root(db))
    return k


@sf.query(name="gather.cycle_root")
def cycle_root(db: Any) -> list[int]:
    return sf.gather(db, cycle_key, [(k,) for k in range(4)])


def test_a_cycle_through_a_gather_is_a_cycle_error_and_goes_when_it_is_broken() -> None:
    rt = sf.Runtime()
    rt.set(cycle_switch, 2)
    with pytest.raises(sf.CycleError) as info:
        cycle_root(rt)
    assert [ref.kind for ref in info.value.cycle] == ["gather.cycle_root", "gather.cycle_key"]
    assert "gather.cycle_root() -> gather.cycle_key(2) -> gather.cycle_root()" in str(info.value)
    rt.set(cycle_switch, 9)
    assert cycle_root(rt) == [0, 1, 2, 3]


def test_a_cycle_after_a_suspended_key_is_still_a_cycle_error() -> None:
    gate = sf.Input("gather.cycle_gate")

    @sf.query(name="gather.gated_key")
    def gated_key(db: Any, k: int) -> int:
        if k == 0:
            return gate(db)  # type: ignore[no-any-return]
        return sum(gated_root(db)) if k == 2 else k

    @sf.query(name="gather.gated_root")
    def gated_root(db: Any) -> list[int]:
        return sf.gather(db, gated_key, [(0,), (1,), (2,)])

    rt = sf.Runtime()
    with pytest.raises(sf.CycleError):
        gated_root(rt)


# -- cancellation --------------------------------------------------------------

slow_values = sf.Input("gather.slow_values")
other = sf.Input("gather.other")
entered = threading.Event()
proceed = threading.Event()


@sf.query(name="gather.slow_key")
def slow_key(db: Any, k: int) -> int:
    log.append((k, db.runtime.revision))
    if k == 1 and not proceed.is_set():
        entered.set()
        assert proceed.wait(WAIT)
    return slow_values(db, k) + other(db)  # type: ignore[no-any-return]


@sf.query(name="gather.slow_root")
def slow_root(db: Any) -> list[int]:
    return sf.gather(db, slow_key, [(k,) for k in range(3)])


def _until(condition: Any) -> None:
    for _ in range(int(WAIT / 0.001)):
        if condition():
            return
        threading.Event().wait(0.001)
    raise AssertionError("the condition never held")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("retry", [True, False])
def test_a_write_cancels_the_whole_gather_and_a_top_level_call_retries_it(retry: bool) -> None:
    entered.clear()
    proceed.clear()
    rt = sf.Runtime()
    with rt.batch():
        rt.set(other, 0)
        for k in range(3):
            rt.set(slow_values[k], k)
    result: list[Any] = []
    reader = threading.Thread(
        target=lambda: result.append(outcome(lambda: rt.query(slow_root, retry=retry)))
    )
    reader.start()
    assert entered.wait(WAIT)  # key 1 is running, key 2 not started
    writer = threading.Thread(target=lambda: rt.set(other, 100))
    writer.start()
    _until(lambda: rt._engine.gate.cancel_requested)  # the write waits for the gather
    proceed.set()
    reader.join(WAIT)
    writer.join(WAIT)
    assert not reader.is_alive()
    assert not writer.is_alive()
    if retry:
        assert result == [[100, 101, 102]]
    else:
        assert isinstance(result[0], sf.Cancelled)
    # Key 2 never ran in the cancelled attempt (revision 1), only in the retry.
    assert [revision for k, revision in log if k == 2] == ([2] if retry else [])
