"""Assets and suspense: locators, pending cells, state(), resolve, aquery."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from typing import Any

import pytest

import sofrito as sf

calls: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    calls.clear()


def test_locator_value_resolves_quietly_and_is_cached() -> None:
    def read(name: str, version: int) -> str:
        calls[f"{name}@{version}"] += 1
        return f"{name} v{version}"

    files = sf.Input("files", locator=read)

    @sf.query
    def show(db: Any) -> str:
        return files(db, "a.md", 2)  # type: ignore[no-any-return]

    rt = sf.Runtime()
    assert show(rt) == "a.md v2"
    assert rt.get(files["a.md", 2]) == "a.md v2"
    assert rt.revision == 0
    assert calls == {"a.md@2": 1}


def test_pending_locator_suspends_and_is_asked_again_after_a_revision() -> None:
    ready: dict[str, str] = {}

    def fetch(key: str) -> Any:
        calls[key] += 1
        return ready.get(key, sf.PENDING)

    remote = sf.Input("remote", locator=fetch)
    other = sf.Input("other")

    @sf.query
    def use(db: Any) -> str:
        return remote(db, "x").upper()  # type: ignore[no-any-return]

    rt = sf.Runtime()
    with pytest.raises(sf.Suspend) as info:
        use(rt)
    assert info.value.pending == [remote["x"]]
    ready["x"] = "value"
    with pytest.raises(sf.Suspend):
        use(rt)  # same revision: the locator is not asked again
    assert calls["x"] == 1
    rt.set(other, 1)
    assert use(rt) == "VALUE"
    assert calls["x"] == 2


def test_not_found_becomes_missing_dependency_and_is_never_cached() -> None:
    exists: set[str] = set()

    def lookup(key: str) -> str:
        calls[key] += 1
        if key not in exists:
            raise sf.NotFound(f"no file {key}")
        return key * 2

    files = sf.Input("files", locator=lookup)

    @sf.query
    def use(db: Any) -> str:
        return files(db, "ab")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    with pytest.raises(sf.MissingDependency) as info:
        use(rt)
    assert info.value.ref == files["ab"]
    assert "files['ab'] does not exist: no file ab" in str(info.value)
    exists.add("ab")
    assert use(rt) == "abab"
    assert calls["ab"] == 2


def test_other_locator_exception_is_cached_for_the_cell() -> None:
    def broken(key: str) -> str:
        calls[key] += 1
        raise PermissionError(f"cannot read {key}")

    files = sf.Input("files", locator=broken)

    @sf.query
    def use(db: Any) -> str:
        return files(db, "secret")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    for _ in range(2):
        with pytest.raises(PermissionError, match="cannot read secret"):
            use(rt)
    with pytest.raises(PermissionError):
        rt.get(files["secret"])
    assert calls["secret"] == 1
    assert sf.state(rt, files["secret"]) == sf.Failed(rt_error(rt, files["secret"]))


def rt_error(rt: sf.Runtime, ref: sf.InputRef) -> BaseException:
    try:
        rt.get(ref)
    except Exception as exc:
        return exc
    raise AssertionError("expected an error")


def test_locator_reentering_its_own_cell_is_a_cycle() -> None:
    rt = sf.Runtime()

    def loop(key: str) -> str:
        return str(rt.get(selfref[key]))

    selfref = sf.Input("selfref", locator=loop)
    with pytest.raises(sf.CycleError):
        rt.get(selfref["k"])


def test_locator_may_read_the_runtime() -> None:
    base = sf.Input("base")
    rt = sf.Runtime()
    derived = sf.Input("derived", locator=lambda key: rt.get(base) + key)

    @sf.query
    def use(db: Any) -> str:
        return derived(db, "!")  # type: ignore[no-any-return]

    rt.set(base, "hi")
    assert use(rt) == "hi!"


def test_pending_lists_unresolved_reads_filtered_by_input() -> None:
    left, right = sf.Input("left"), sf.Input("right")

    @sf.query
    def both(db: Any) -> int:
        total = 0
        for source in (left, right):
            with contextlib.suppress(sf.Suspend):
                total += source(db, 1)
        return total

    rt = sf.Runtime()
    with pytest.raises(sf.Suspend) as info:
        both(rt)
    assert info.value.pending == [left[1], right[1]]
    assert rt.pending() == [left[1], right[1]]
    assert rt.pending(right) == [right[1]]
    for ref in info.value.pending:
        rt.resolve(ref, 10 * len(ref.input.name))
    assert both(rt) == 90
    assert rt.pending() == []


def test_resolve_error_is_seen_by_readers_as_a_cached_user_error() -> None:
    source = sf.Input("source")

    @sf.query
    def use(db: Any) -> int:
        calls["use"] += 1
        return source(db) + 1  # type: ignore[no-any-return]

    rt = sf.Runtime()
    rt.resolve_error(source, OSError("disk on fire"))
    assert rt.revision == 1
    for _ in range(2):
        with pytest.raises(OSError, match="disk on fire"):
            use(rt)
    assert calls["use"] == 1
    rt.resolve(source, 1)
    assert use(rt) == 2


def test_invalidate_suspends_dependents_until_resolved() -> None:
    def load(key: str) -> str:
        calls[key] += 1
        return sf.PENDING if calls[key] > 1 else "first"  # type: ignore[return-value]

    source = sf.Input("source", locator=load)

    @sf.query
    def use(db: Any) -> str:
        return source(db, "k")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    assert use(rt) == "first"
    rt.invalidate(source["k"])
    assert rt.revision == 1
    with pytest.raises(sf.Suspend):
        use(rt)
    assert calls["k"] == 2  # the locator was asked again
    rt.resolve(source["k"], "second")
    assert use(rt) == "second"


def test_invalidate_then_resolve_equal_value_cuts_off_downstream() -> None:
    source = sf.Input("source")

    @sf.query
    def length(db: Any) -> int:
        calls["length"] += 1
        return len(source(db))

    @sf.query
    def report(db: Any) -> str:
        calls["report"] += 1
        return f"{length(db)} chars"

    rt = sf.Runtime()
    rt.set(source, "abc")
    assert report(rt) == "3 chars"
    rt.invalidate(source)
    with pytest.raises(sf.Suspend):
        report(rt)
    rt.resolve(source, "xyz")
    assert report(rt) == "3 chars"
    assert calls == {"length": 3, "report": 1}  # one of them suspended


def test_state_reports_loading_ready_failed_without_suspending() -> None:
    source = sf.Input("source")

    @sf.query
    def status(db: Any) -> str:
        calls["status"] += 1
        match sf.state(db, source["a"]):
            case sf.Ready(value):
                return f"ready: {value}"
            case sf.Failed(error):
                return f"failed: {error}"
            case _:
                return "loading"

    rt = sf.Runtime()
    assert status(rt) == "loading"
    assert rt.pending() == [source["a"]]
    rt.resolve(source["a"], 7)
    assert status(rt) == "ready: 7"
    rt.resolve_error(source["a"], ValueError("bad"))
    assert status(rt) == "failed: bad"
    assert calls["status"] == 3
    assert sf.state(rt, source["a"]) == sf.Failed(rt_error(rt, source["a"]))
    assert sf.state(rt, sf.Input("never")) == sf.Loading()


def test_state_reader_sees_a_sync_locator_that_resolves_later() -> None:
    available: dict[str, str] = {}

    def poll(key: str) -> Any:
        calls[key] += 1
        return available.get(key, sf.PENDING)

    source = sf.Input("source", locator=poll)
    other = sf.Input("other")

    @sf.query
    def status(db: Any) -> str:
        state = sf.state(db, source["a"])
        return f"ready: {state.value}" if isinstance(state, sf.Ready) else "loading"

    @sf.query
    def page(db: Any) -> str:
        calls["page"] += 1
        return status(db).upper()

    rt = sf.Runtime()
    assert page(rt) == "LOADING"
    available["a"] = "done"
    rt.set(other, 1)  # a new revision: the locator may be asked again
    # This call re-verifies the loading reader, which asks the locator; the
    # value becomes a write applied as the call ends...
    page(rt)
    # ...so the next call sees it, and re-executes only what read it.
    assert page(rt) == "READY: DONE"
    assert rt.get(source["a"]) == "done"
    assert calls["page"] == 2


def test_a_locator_asked_during_a_verification_may_compute_queries() -> None:
    """Re-verifying a loading reader asks the locator inside the top-level call
    but outside any computation; the locator's own ``rt.query`` is a task of its
    own there, and computes normally."""
    available: dict[str, str] = {}
    rt = sf.Runtime()
    other = sf.Input("other")
    prefix = sf.Input("prefix")

    @sf.query
    def label(db: Any, key: str) -> str:
        calls["label"] += 1
        return f"{prefix(db)}{key}"

    def poll(key: str) -> Any:
        return rt.query(label, available[key]) if key in available else sf.PENDING

    source = sf.Input("source", locator=poll)

    @sf.query
    def status(db: Any) -> str:
        state = sf.state(db, source["a"])
        return f"ready: {state.value}" if isinstance(state, sf.Ready) else "loading"

    rt.set(prefix, "#")
    assert status(rt) == "loading"
    available["a"] = "x"
    rt.set(other, 1)
    status(rt)  # verifies status: asks the locator, which computes label("x")
    assert status(rt) == "ready: #x"
    assert calls["label"] == 1


def test_runtime_wide_error_eq_cuts_off_equal_errors() -> None:
    source = sf.Input("source")

    @sf.query
    def parse(db: Any) -> int:
        return int(source(db))

    @sf.query
    def show(db: Any) -> str:
        calls["show"] += 1
        try:
            return str(parse(db))
        except ValueError:
            return "invalid"

    rt = sf.Runtime(error_eq=lambda a, b: type(a) is type(b))
    rt.set(source, "x")
    assert show(rt) == "invalid"
    rt.set(source, "y")
    assert show(rt) == "invalid"
    assert calls["show"] == 1


# -- aquery -------------------------------------------------------------------

asset = sf.Input("tests.suspense.asset")


def _async_input(name: str, loader: Any) -> sf.Input:
    return sf.Input(name, locator=loader)


def test_aquery_resolves_many_pending_cells_concurrently_in_bounded_rounds() -> None:
    in_flight = 0
    peak = 0

    async def load(index: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return index * 2

    items = _async_input("items", load)

    @sf.query
    def total(db: Any) -> int:
        values = []
        for index in range(100):
            with contextlib.suppress(sf.Suspend):
                values.append(items(db, index))
        return sum(values)

    rt = sf.Runtime()
    assert asyncio.run(rt.aquery(total, concurrency=10)) == sum(range(100)) * 2
    assert rt.revision == 1  # one round: all hundred resolved in one batch
    assert 1 < peak <= 10


def test_aquery_walks_sequential_dependencies_round_by_round() -> None:
    async def load(key: str) -> str:
        return key.upper()

    parts = _async_input("parts", load)

    @sf.query
    def joined(db: Any) -> str:
        return parts(db, "a") + parts(db, "b")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    assert asyncio.run(rt.aquery(joined)) == "AB"
    assert rt.revision == 2


def test_aquery_locator_failure_reaches_the_caller_naming_the_cell() -> None:
    async def load(key: str) -> str:
        raise ConnectionError(f"cannot fetch {key}")

    remote = _async_input("remote", load)

    @sf.query
    def use(db: Any) -> str:
        return remote(db, "k")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    with pytest.raises(ConnectionError, match="cannot fetch k") as info:
        asyncio.run(rt.aquery(use))
    assert "raised by the locator of remote['k']" in info.value.__notes__


def test_aquery_not_found_is_missing_dependency() -> None:
    async def load(key: str) -> str:
        raise sf.NotFound(key)

    remote = _async_input("remote", load)

    @sf.query
    def use(db: Any) -> str:
        return remote(db, "k")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    with pytest.raises(sf.MissingDependency):
        asyncio.run(rt.aquery(use))


def test_aquery_without_async_locator_raises_suspend() -> None:
    @sf.query
    def use(db: Any) -> str:
        return asset(db, "k")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    with pytest.raises(sf.Suspend):
        asyncio.run(rt.aquery(use))


def test_cancelling_aquery_leaves_the_runtime_consistent() -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def load(key: str) -> str:
        started.set()
        await release.wait()
        return key

    slow = _async_input("slow", load)

    @sf.query
    def use(db: Any) -> str:
        return slow(db, "k")  # type: ignore[no-any-return]

    rt = sf.Runtime()

    async def scenario() -> str:
        task = asyncio.create_task(rt.aquery(use))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert rt.revision == 0
        assert rt.pending() == [slow["k"]]
        release.set()
        return await rt.aquery(use)

    assert asyncio.run(scenario()) == "k"
    assert rt.revision == 1


def test_aquery_while_another_thread_writes() -> None:
    async def load(index: int) -> int:
        await asyncio.sleep(0)
        return index

    cells = _async_input("cells", load)
    counter = sf.Input("counter")

    @sf.query
    def total(db: Any) -> int:
        values = []
        for index in range(20):
            with contextlib.suppress(sf.Suspend):
                values.append(cells(db, index))
        return sum(values) + counter(db) * 0

    rt = sf.Runtime()
    rt.set(counter, 0)
    stop = threading.Event()

    def writer() -> None:
        value = 0
        while not stop.is_set():
            value += 1
            rt.set(counter, value)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert asyncio.run(rt.aquery(total)) == sum(range(20))
    finally:
        stop.set()
        thread.join()


# -- audit of issue 5: paths not covered above ---------------------------------------


def test_three_pending_inputs_read_through_nested_queries_are_all_reported() -> None:
    pages, styles, data = sf.Input("pages"), sf.Input("styles"), sf.Input("data")

    @sf.query
    def part(db: Any, index: int) -> str:
        calls[f"part{index}"] += 1
        return str((pages, styles, data)[index](db, "home"))

    @sf.query
    def site(db: Any) -> list[str]:
        calls["site"] += 1
        parts = []
        for index in range(3):
            with contextlib.suppress(sf.Suspend):  # keep reading: learn of every pending cell
                parts.append(part(db, index))
        return parts

    rt = sf.Runtime()
    with pytest.raises(sf.Suspend) as info:
        site(rt)
    assert info.value.pending == [pages["home"], styles["home"], data["home"]]
    assert rt.pending() == [pages["home"], styles["home"], data["home"]]
    with pytest.raises(sf.Suspend) as again:  # never cached: each call tries again
        site(rt)
    assert again.value.pending == info.value.pending
    with rt.batch():
        for ref in info.value.pending:
            rt.resolve(ref, ref.input.name)
    assert site(rt) == ["pages", "styles", "data"]
    assert calls == {"site": 3, "part0": 3, "part1": 3, "part2": 3}


def test_a_located_value_has_the_inputs_durability() -> None:
    def read(key: str) -> str:
        calls[f"read:{key}"] += 1
        return key.upper()

    settings = sf.Input("settings", durability=sf.Durability.STABLE, locator=read)
    edits = sf.Input("edits")

    @sf.query
    def theme(db: Any) -> str:
        calls["theme"] += 1
        return settings(db, "theme")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    assert theme(rt) == "THEME"
    memo = rt._engine.memo_for(theme.spec, ())
    assert sf.Durability(memo.durability) is sf.Durability.STABLE
    rt.set(edits, 1)  # a volatile write: the stable reader passes the durability check
    assert rt._engine.revisions.unchanged_since(memo.durability, memo.verified_at)
    assert theme(rt) == "THEME"
    assert calls == {"read:theme": 1, "theme": 1}  # located once, cached


def test_an_async_locator_is_never_called_by_a_sync_read() -> None:
    async def fetch(key: str) -> str:
        calls[key] += 1
        return key

    remote = sf.Input("remote", locator=fetch)

    @sf.query
    def use(db: Any) -> str:
        return remote(db, "k")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    with pytest.raises(sf.Suspend) as info:
        use(rt)  # no coroutine is created (filterwarnings=error would catch one left unawaited)
    assert info.value.pending == [remote["k"]]
    with pytest.raises(sf.Suspend):
        rt.get(remote["k"])
    assert calls == {}
    assert asyncio.run(rt.aquery(use)) == "k"
    assert calls == {"k": 1}


def test_a_querys_error_eq_wins_over_the_runtime_default() -> None:
    source = sf.Input("source")

    @sf.query(error_eq=lambda old, new: False)
    def parse(db: Any) -> int:
        return int(source(db))

    @sf.query
    def show(db: Any) -> str:
        calls["show"] += 1
        try:
            return str(parse(db))
        except ValueError:
            return "invalid"

    rt = sf.Runtime(error_eq=lambda old, new: True)
    rt.set(source, "x")
    assert show(rt) == "invalid"
    rt.set(source, "y")
    assert show(rt) == "invalid"
    assert calls["show"] == 2  # parse's own comparator said "changed"


@pytest.mark.parametrize("listening", [False, True], ids=["silent walk", "reporting walk"])
def test_a_loading_reader_reached_by_a_write_still_learns_of_the_locators_value(
    listening: bool,
) -> None:
    available: dict[str, str] = {}

    def poll(key: str) -> Any:
        return available.get(key, sf.PENDING)

    source = sf.Input("source", locator=poll)
    other, unrelated = sf.Input("other"), sf.Input("unrelated")

    @sf.query
    def parity(db: Any) -> int:
        return other(db) % 2  # type: ignore[no-any-return]

    @sf.query
    def status(db: Any) -> str:
        state = sf.state(db, source["a"])
        shown = f"ready: {state.value}" if isinstance(state, sf.Ready) else "loading"
        return f"{shown} ({parity(db)})"

    rt = sf.Runtime()
    receiver = rt.subscribe_events() if listening else None
    rt.set(other, 0)
    assert status(rt) == "loading (0)"
    rt.set(other, 2)  # reaches status through parity, which cuts off
    assert status(rt) == "loading (0)"
    available["a"] = "done"
    rt.set(unrelated, 1)  # a new revision: the locator may be asked again
    status(rt)  # asks it; the value is written as this call ends
    assert status(rt) == "ready: done (0)"
    assert listening is (receiver is not None)


def test_a_reader_of_a_loading_query_that_cut_off_learns_of_the_locators_value() -> None:
    available: dict[str, str] = {}

    def poll(key: str) -> Any:
        return available.get(key, sf.PENDING)

    source = sf.Input("source", locator=poll)
    unrelated = sf.Input("unrelated")

    @sf.query
    def status(db: Any) -> str:
        state = sf.state(db, source["a"])
        return state.value if isinstance(state, sf.Ready) else "x"  # type: ignore[no-any-return]

    @sf.query
    def page(db: Any) -> str:
        return status(db).upper()

    rt = sf.Runtime()
    rt.set(source["a"], "x")
    assert page(rt) == "X"
    rt.invalidate(source["a"])  # loading: status says "x" again, a cutoff
    assert page(rt) == "X"
    available["a"] = "y"
    rt.set(unrelated, 1)
    page(rt)  # asks the locator; the value is written as this call ends
    assert page(rt) == "Y"


def test_a_cycle_between_locators_is_not_cached_on_either_cell() -> None:
    """A locator that reads a cell whose locator reads back raises CycleError, a
    system error: the next read asks the locators again, and once one cell is
    resolved by hand, the other's locator sees it."""
    rt = sf.Runtime()

    def locate_a(key: str) -> str:
        calls["a"] += 1
        return f"a+{rt.get(b[key])}"

    def locate_b(key: str) -> str:
        calls["b"] += 1
        return f"b+{rt.get(a[key])}"

    a = sf.Input("cycle_a", locator=locate_a)
    b = sf.Input("cycle_b", locator=locate_b)

    @sf.query
    def show(db: Any, key: str) -> str:
        return a(db, key)  # type: ignore[no-any-return]

    with pytest.raises(sf.CycleError):
        show(rt, "k")
    with pytest.raises(sf.CycleError):
        rt.get(a["k"])
    assert calls["a"] == 2  # asked again: the cycle was not cached on a["k"]
    rt.resolve(b["k"], "base")
    assert show(rt, "k") == "a+base"
    assert rt.get(a["k"]) == "a+base"


def test_a_locator_reading_its_own_cell_is_asked_again_on_the_next_read() -> None:
    rt = sf.Runtime()

    def loop(key: str) -> str:
        calls["loop"] += 1
        if calls["loop"] > 1:
            return "settled"
        return str(rt.get(selfref[key]))

    selfref = sf.Input("selfref_again", locator=loop)
    with pytest.raises(sf.CycleError):
        rt.get(selfref["k"])
    assert rt.get(selfref["k"]) == "settled"


def test_a_locator_that_reads_a_pending_cell_suspends_and_is_not_cached() -> None:
    """``Suspend`` from inside a locator is a system error too: the cell stays
    unresolved and its locator runs again once what it waited for is set."""
    rt = sf.Runtime()
    base = sf.Input("pending_base")
    derived = sf.Input("derived_of_pending", locator=lambda key: rt.get(base[key]) + "!")

    @sf.query
    def show(db: Any, key: str) -> str:
        return derived(db, key)  # type: ignore[no-any-return]

    with pytest.raises(sf.Suspend):
        show(rt, "k")
    rt.set(base["k"], "ready")
    assert show(rt, "k") == "ready!"
    assert sf.state(rt, derived["k"]) == sf.Ready("ready!")
