"""Real threads: single-flight, cycles across threads, cancellation, no mixed revisions.

DESIGN §1, "Concurrency and cancellation". Threads meet at staged events and
barriers, never at sleeps. Where a test must know that other threads are
*blocked inside the runtime* (waiting for a computation another thread
owns), it looks at their stacks (``sys._current_frames``): innermost frame
waiting in ``threading``, a ``sofrito`` frame below it, and not inside the
query body. That is a condition polled until it holds, not a timing guess.
Every test is bounded by ``pytest.mark.timeout``: a deadlock fails, it does
not hang.
"""

from __future__ import annotations

import functools
import gc
import os
import random
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from types import CodeType, FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sofrito as sf
from tests.oracle import Evaluation, Failure, Graph, Missing, Ref, Value, apply
from tests.strategies import STATE_OPS, graphs

source = sf.Input("threads.source")
values = sf.Input("threads.values")
pair = sf.Input("threads.pair")

_SOFRITO_FILES = (os.path.dirname(sf.__file__), "<sofrito entry point of ")
"""Where sofrito's Python frames come from: its package, and the entry points
it generates. In the compiled build the engine's own frames do not show."""
_THREADING_FILE = threading.__file__
WAIT = 10.0
"""Upper bound for any single staged wait; the tests' timeouts are above it."""


def _start(target: Callable[..., Any], *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def _join(threads: Iterable[threading.Thread], timeout: float = WAIT) -> None:
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), f"{thread.name} is still running: a deadlock?"


def _until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` (a state, not a duration) until it holds."""
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while not condition():
            assert not deadline.is_set(), f"timed out waiting until {what}"
            deadline.wait(0.001)
    finally:
        timer.cancel()


def _current_frames() -> dict[int, FrameType]:
    """``sys._current_frames()``, with the collector paused around it.

    Before 3.11.9 (CPython gh-106883), a collection that starts inside it, while
    it holds the interpreter's thread-list lock, deadlocks if it frees a
    ``threading.local`` (each runtime has one, freed by the collector): clearing
    the local takes that lock again. The polls below call it hundreds of times
    while earlier tests' runtimes wait to be collected; on 3.11.7, with the
    machine busy, it hung this file in 7 runs of 9.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return sys._current_frames()
    finally:
        if paused:
            gc.enable()


def _blocked_in_runtime(thread: threading.Thread, *bodies: CodeType) -> bool:
    """``thread`` waits inside sofrito (not inside one of ``bodies``)."""
    frame = _current_frames().get(thread.ident or -1)
    if frame is None or frame.f_code.co_filename != _THREADING_FILE:
        return False
    in_runtime = False
    while frame is not None:
        if frame.f_code in bodies:
            return False
        in_runtime = in_runtime or frame.f_code.co_filename.startswith(_SOFRITO_FILES)
        frame = frame.f_back
    return in_runtime


def _code(q: Any) -> CodeType:
    return q.__wrapped__.__code__  # type: ignore[no-any-return]


class Outcomes:
    """What each thread got: a value or an exception, in arrival order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[object] = []

    def call(self, fn: Callable[[], object]) -> None:
        try:
            result = fn()
        except BaseException as exc:
            result = exc
        with self.lock:
            self.items.append(result)


# -- single-flight -------------------------------------------------------------


@pytest.mark.timeout(30)
def test_eight_threads_share_one_execution() -> None:
    started = threading.Event()
    release = threading.Event()
    runs = Counter[int]()

    @sf.query(name="threads.slow")
    def slow(db: Any) -> list[int]:
        runs[db.runtime.revision] += 1
        started.set()
        assert release.wait(WAIT)
        return [source(db)]

    rt = sf.Runtime()
    rt.set(source, 7)
    outcomes = Outcomes()
    all_ready = threading.Barrier(8)

    def call() -> None:
        all_ready.wait(WAIT)
        outcomes.call(lambda: slow(rt))

    threads = [_start(call) for _ in range(8)]
    assert started.wait(WAIT)
    owner = [t for t in threads if not _blocked_in_runtime(t, _code(slow))]
    _until(
        lambda: sum(_blocked_in_runtime(t, _code(slow)) for t in threads) == 7,
        "seven threads wait for the one computing",
    )
    assert len(owner) >= 1
    assert sum(runs.values()) == 1, "a second execution started while the first ran"
    release.set()
    _join(threads)
    assert sum(runs.values()) == 1
    assert len(outcomes.items) == 8
    assert outcomes.items[0] == [7]
    assert all(result is outcomes.items[0] for result in outcomes.items), (
        "every caller gets the one value object"
    )


@pytest.mark.timeout(30)
def test_waiters_share_a_cached_user_error() -> None:
    started = threading.Event()
    release = threading.Event()
    runs = Counter[str]()

    @sf.query(name="threads.failing")
    def failing(db: Any) -> int:
        runs["failing"] += 1
        started.set()
        assert release.wait(WAIT)
        raise ValueError(f"bad {source(db)}")

    rt = sf.Runtime()
    rt.set(source, 3)
    outcomes = Outcomes()
    threads = [_start(outcomes.call, lambda: failing(rt)) for _ in range(4)]
    assert started.wait(WAIT)
    _until(
        lambda: sum(_blocked_in_runtime(t, _code(failing)) for t in threads) == 3,
        "three threads wait for the one computing",
    )
    release.set()
    _join(threads)
    assert runs["failing"] == 1
    assert all(isinstance(item, ValueError) for item in outcomes.items), outcomes.items
    assert {str(item) for item in outcomes.items} == {"bad 3"}
    with pytest.raises(ValueError, match="bad 3"):
        failing(rt)  # cached
    assert runs["failing"] == 1


@pytest.mark.timeout(30)
def test_waiters_share_a_suspension() -> None:
    started = threading.Event()
    release = threading.Event()
    runs = Counter[str]()

    @sf.query(name="threads.suspending")
    def suspending(db: Any) -> int:
        runs["suspending"] += 1
        started.set()
        assert release.wait(WAIT)
        return values(db, "missing") + 1  # type: ignore[no-any-return]

    rt = sf.Runtime()
    outcomes = Outcomes()
    threads = [_start(outcomes.call, lambda: suspending(rt)) for _ in range(4)]
    assert started.wait(WAIT)
    _until(
        lambda: sum(_blocked_in_runtime(t, _code(suspending)) for t in threads) == 3,
        "three threads wait for the one computing",
    )
    release.set()
    _join(threads)
    assert runs["suspending"] == 1
    for item in outcomes.items:
        assert isinstance(item, sf.Suspend), item
        assert item.pending == [values["missing"]]
    rt.set(values["missing"], 41)
    assert suspending(rt) == 42


@pytest.mark.timeout(30)
def test_a_nested_read_waits_for_the_thread_computing_it() -> None:
    started = threading.Event()
    release = threading.Event()
    runs = Counter[str]()

    @sf.query(name="threads.shared")
    def shared(db: Any) -> list[int]:
        runs["shared"] += 1
        started.set()
        assert release.wait(WAIT)
        return [source(db)]

    @sf.query(name="threads.left")
    def left(db: Any) -> tuple[str, list[int]]:
        runs["left"] += 1
        return ("left", shared(db))

    @sf.query(name="threads.right")
    def right(db: Any) -> tuple[str, list[int]]:
        runs["right"] += 1
        return ("right", shared(db))

    rt = sf.Runtime()
    rt.set(source, 5)
    outcomes = Outcomes()
    first = _start(outcomes.call, lambda: left(rt))
    assert started.wait(WAIT)
    second = _start(outcomes.call, lambda: right(rt))
    _until(lambda: _blocked_in_runtime(second, _code(shared)), "right waits for shared")
    release.set()
    _join([first, second])
    assert runs == {"shared": 1, "left": 1, "right": 1}
    by_name = dict(outcomes.items)  # type: ignore[arg-type]
    assert by_name["left"] is by_name["right"]
    assert by_name["left"] == [5]


# -- cycles across threads -----------------------------------------------------


@pytest.mark.timeout(30)
def test_cycle_across_two_threads_is_reported_not_a_deadlock() -> None:
    both_inside = threading.Barrier(2)
    first_time = {"a": True, "b": True}

    @sf.query(name="threads.a")
    def a(db: Any, key: str) -> int:
        if first_time["a"]:
            first_time["a"] = False
            both_inside.wait(WAIT)
        return b(db, key) + 1  # type: ignore[no-any-return]

    @sf.query(name="threads.b")
    def b(db: Any, key: str) -> int:
        if first_time["b"]:
            first_time["b"] = False
            both_inside.wait(WAIT)
        return a(db, key) + 1  # type: ignore[no-any-return]

    rt = sf.Runtime()
    outcomes = Outcomes()
    threads = [_start(outcomes.call, lambda: a(rt, "x")), _start(outcomes.call, lambda: b(rt, "x"))]
    _join(threads, timeout=20)
    ref_a, ref_b = sf.QueryRef.of("threads.a", ("x",)), sf.QueryRef.of("threads.b", ("x",))
    assert len(outcomes.items) == 2
    for error in outcomes.items:
        assert isinstance(error, sf.CycleError), error
        assert error.cycle in ([ref_a, ref_b], [ref_b, ref_a]), error.cycle
    # Not cached: asked again, on one thread, it is still a cycle, in call order.
    with pytest.raises(sf.CycleError) as caught:
        a(rt, "x")
    assert caught.value.cycle == [ref_a, ref_b]
    assert str(caught.value).endswith("threads.a('x') -> threads.b('x') -> threads.a('x')")
    with pytest.raises(sf.CycleError) as caught:
        b(rt, "x")
    assert caught.value.cycle == [ref_b, ref_a]


@pytest.mark.timeout(30)
def test_cycle_across_three_threads_is_reported_to_all_of_them() -> None:
    all_inside = threading.Barrier(3)
    first_time = {"a": True, "b": True, "c": True}
    order = {"a": "b", "b": "c", "c": "a"}
    queries: dict[str, Any] = {}

    def make(name: str) -> Any:
        @sf.query(name=f"threads.ring.{name}")
        def ring(db: Any) -> int:
            if first_time[name]:
                first_time[name] = False
                all_inside.wait(WAIT)
            return queries[order[name]](db) + 1  # type: ignore[no-any-return]

        return ring

    for name in order:
        queries[name] = make(name)
    rt = sf.Runtime()
    outcomes = Outcomes()
    threads = [_start(outcomes.call, lambda q=q: q(rt)) for q in queries.values()]
    _join(threads, timeout=20)
    assert len(outcomes.items) == 3
    refs = {sf.QueryRef.of(f"threads.ring.{name}", ()) for name in order}
    for error in outcomes.items:
        assert isinstance(error, sf.CycleError), error
        assert set(error.cycle) == refs
        assert len(error.cycle) == 3
        start = [ref.kind for ref in error.cycle]
        for here, there in zip(start, [*start[1:], start[0]], strict=True):
            assert there == f"threads.ring.{order[here.rsplit('.', 1)[1]]}", error.cycle
    with pytest.raises(sf.CycleError):
        queries["a"](rt)


# -- cancellation --------------------------------------------------------------


@pytest.mark.timeout(30)
def test_write_cancels_a_running_computation_which_retries_at_the_new_revision() -> None:
    inside = threading.Event()
    give_up = threading.Event()
    attempts: list[tuple[int, int]] = []
    cancelled_at: list[tuple[int, bool]] = []
    write_returned = threading.Event()

    @sf.query(name="threads.reader")
    def reader(db: Any) -> int:
        first: int = source(db)
        attempts.append((first, db.runtime.revision))
        if first == 1:
            inside.set()
            try:
                while not give_up.is_set():  # read until the write cancels this
                    source(db)
            except sf.Cancelled:
                cancelled_at.append((db.runtime.revision, write_returned.is_set()))
                raise
        return first * 10

    rt = sf.Runtime()
    rt.set(source, 1)
    before = rt.revision
    outcomes = Outcomes()
    thread = _start(outcomes.call, lambda: reader(rt))
    try:
        assert inside.wait(WAIT)

        def write() -> None:
            rt.set(source, 5)
            write_returned.set()

        writer = _start(write)
        _join([writer, thread])
    finally:
        give_up.set()
    # The body saw Cancelled before the write changed anything, and the write
    # returned only after the body unwound.
    assert cancelled_at == [(before, False)]
    assert rt.revision == before + 1
    assert attempts == [(1, before), (5, before + 1)]
    assert outcomes.items == [50]  # retried by itself, at the new revision


@pytest.mark.timeout(30)
def test_retry_false_lets_cancelled_through() -> None:
    inside = threading.Event()
    give_up = threading.Event()
    runs = Counter[int]()

    @sf.query(name="threads.once")
    def once(db: Any) -> int:
        value: int = source(db)
        runs[value] += 1
        if value == 1:
            inside.set()
            while not give_up.is_set():
                source(db)
        return value * 10

    rt = sf.Runtime()
    rt.set(source, 1)
    outcomes = Outcomes()
    thread = _start(outcomes.call, lambda: rt.query(once, retry=False))
    try:
        assert inside.wait(WAIT)
        writer = _start(rt.set, source, 2)
        _join([writer, thread])
    finally:
        give_up.set()
    assert len(outcomes.items) == 1
    assert isinstance(outcomes.items[0], sf.Cancelled), outcomes.items
    assert runs == {1: 1}  # not retried
    assert rt.query(once, retry=False) == 20
    assert runs == {1: 1, 2: 1}


@pytest.mark.timeout(30)
def test_threads_waiting_on_a_cancelled_computation_retry_and_share_the_new_one() -> None:
    inside = threading.Event()
    give_up = threading.Event()
    started = Counter[int]()
    completed = Counter[int]()

    @sf.query(name="threads.contended")
    def contended(db: Any) -> list[int]:
        value: int = source(db)
        started[db.runtime.revision] += 1
        if value == 1:
            inside.set()
            while not give_up.is_set():
                source(db)
        completed[db.runtime.revision] += 1
        return [value]

    rt = sf.Runtime()
    rt.set(source, 1)
    before = rt.revision
    outcomes = Outcomes()
    threads = [_start(outcomes.call, lambda: contended(rt)) for _ in range(4)]
    try:
        assert inside.wait(WAIT)
        _until(
            lambda: sum(_blocked_in_runtime(t, _code(contended)) for t in threads) == 3,
            "three threads wait for the one computing",
        )
        writer = _start(rt.set, source, 2)
        _join([writer, *threads])
    finally:
        give_up.set()
    assert started == {before: 1, before + 1: 1}
    assert completed == {before + 1: 1}
    assert len(outcomes.items) == 4
    assert outcomes.items[0] == [2]
    assert all(item is outcomes.items[0] for item in outcomes.items)


@pytest.mark.timeout(30)
def test_threads_waiting_on_an_interrupted_computation_compute_it_themselves() -> None:
    inside = threading.Event()
    go_on = threading.Event()
    executions: list[str] = []

    @sf.query(name="threads.interrupted")
    def interrupted(db: Any) -> int:
        value: int = source(db)
        first = not executions
        executions.append(threading.current_thread().name)
        if first:
            inside.set()
            assert go_on.wait(WAIT)
            raise KeyboardInterrupt  # Ctrl-C reaches the first execution
        return value * 10

    rt = sf.Runtime()
    rt.set(source, 4)
    interrupted_outcome, waiting_outcomes = Outcomes(), Outcomes()
    first = _start(interrupted_outcome.call, lambda: interrupted(rt))
    assert inside.wait(WAIT)
    waiters = [_start(waiting_outcomes.call, lambda: interrupted(rt)) for _ in range(2)]
    _until(
        lambda: all(_blocked_in_runtime(t, _code(interrupted)) for t in waiters),
        "both threads wait for the computation in flight",
    )
    go_on.set()
    _join([first, *waiters])
    assert len(interrupted_outcome.items) == 1
    assert isinstance(interrupted_outcome.items[0], KeyboardInterrupt)
    assert waiting_outcomes.items == [40, 40]  # Cancelled for them, so they retried
    assert len(executions) == 2  # the interrupted one, then one of the waiters, once
    assert executions[1] != first.name


# -- no mixed revisions --------------------------------------------------------


SPIN = 100_000
"""Reads a computation in flight makes after the writer said it is about to write: it
is cancelled at one of them (a bound, not a duration)."""


class Progress:
    """The newest version a computation has started at, and completed at.

    The writer paces itself on it, round by round: wait until a reader has
    a result at the version just written (readers complete computations at
    many revisions), or until a computation has *started* at it (the next
    write lands while it is in flight and cancels it), or write straight on.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.newest = {"started": -1, "done": -1}
        self.writing = threading.Event()
        """Set by the writer just before each write."""

    def mark(self, what: str, version: int) -> None:
        with self.cond:
            if version > self.newest[what]:
                self.newest[what] = version
                self.cond.notify_all()

    def pace(self, version: int, stop: threading.Event) -> None:
        what = ("done", "started", None)[version % 3]
        if what is None:
            return
        with self.cond:
            self.cond.wait_for(lambda: self.newest[what] >= version or stop.is_set(), WAIT)


@pytest.mark.timeout(60)
def test_readers_never_see_a_mix_of_revisions_under_a_stream_of_batches() -> None:
    width, rounds, n_readers = 32, 200, 4
    progress = Progress()
    stop = threading.Event()
    lock = threading.Lock()
    completed = Counter[tuple[str, int]]()
    started = Counter[str]()

    @sf.query(name="threads.cell")
    def cell(db: Any, index: int) -> int:
        value: int = values(db, index)
        with lock:
            completed[(f"cell{index}", db.runtime.revision)] += 1
        return value

    @sf.query(name="threads.total")
    def total(db: Any) -> int:
        with lock:
            started["total"] += 1
        version: int = values(db, 0)
        progress.mark("started", version)
        if version % 3 == 1:  # the writer waits for this start: be in flight when it writes
            while not (progress.writing.is_set() or stop.is_set()):
                values(db, 0)  # raises Cancelled once the write comes
            for _ in range(SPIN):
                values(db, 0)
        # Half through queries, half read directly: all of one revision.
        result = sum(cell(db, i) for i in range(0, width, 2))
        result += sum(values(db, i) for i in range(1, width, 2))
        with lock:
            completed[("total", db.runtime.revision)] += 1
        return result

    rt = sf.Runtime()
    with rt.batch():
        for index in range(width):
            rt.set(values[index], 0)
    seen: list[list[int]] = [[] for _ in range(n_readers)]
    gave_up = Counter[int]()

    def read(me: int) -> None:
        while not stop.is_set():
            try:
                value = total(rt)
            except sf.Cancelled:  # the retry bound ran out under the storm of writes
                gave_up[me] += 1
                continue
            seen[me].append(value)
            progress.mark("done", value // width)

    def write() -> None:
        for version in range(1, rounds + 1):
            progress.writing.set()
            with rt.batch():
                for index in range(width):
                    rt.set(values[index], version)
            progress.writing.clear()
            progress.pace(version, stop)

    readers = [_start(read, me) for me in range(n_readers)]
    writer = _start(write)
    try:
        _join([writer], timeout=40)
    finally:
        stop.set()
    _join(readers)
    assert total(rt) == width * rounds
    for results in seen:
        mixed = [value for value in results if value % width]
        assert not mixed, f"results mixing revisions: {mixed[:5]}"
        assert results == sorted(results), "a reader saw the versions go backwards"
    versions = {value // width for results in seen for value in results}
    assert len(versions) > rounds // 3, f"readers saw only versions {sorted(versions)}"
    twice = {key: count for key, count in completed.items() if count > 1}
    assert not twice, f"computed more than once in one revision: {twice}"
    finished = sum(1 for name, _ in completed if name == "total")
    assert started["total"] > finished, "no computation was ever cancelled in flight"


@pytest.mark.timeout(60)
def test_single_writes_never_split_what_a_computation_reads() -> None:
    rounds, n_readers = 300, 3
    problems: list[str] = []
    progress = Progress()
    stop = threading.Event()
    runs = Counter[str]()

    @sf.query(name="threads.left_half")
    def left_half(db: Any) -> int:
        return pair(db, "p")  # type: ignore[no-any-return]

    @sf.query(name="threads.snapshot")
    def snapshot(db: Any) -> tuple[int, int, int]:
        runs["started"] += 1
        p = left_half(db)
        first_count: int = source(db)
        progress.mark("started", first_count)
        if first_count % 3 == 1:  # the writer waits for this start: be in flight
            while not (progress.writing.is_set() or stop.is_set()):
                source(db)
            for _ in range(SPIN):
                source(db)
        row = [values(db, i) for i in range(8)]  # time for a write to land
        q: int = pair(db, "q")
        last_count: int = source(db)
        # The writer sets the counter, then the row one cell at a time: any one
        # revision shows the row as a prefix at the counter, the rest one behind.
        written = sum(1 for value in row if value == first_count)
        expected_row = [first_count] * written + [max(0, first_count - 1)] * (8 - written)
        if p != q or first_count != last_count or row != expected_row:
            problems.append(
                f"inside a computation: p={p} q={q} counter={first_count},{last_count} row={row}"
            )
        runs["completed"] += 1
        return p, q, first_count

    rt = sf.Runtime()
    with rt.batch():
        rt.set(pair["p"], 0)
        rt.set(pair["q"], 0)
        rt.set(source, 0)
        for index in range(8):
            rt.set(values[index], 0)
    seen: list[tuple[int, int, int]] = []

    def read() -> None:
        while not stop.is_set():
            try:
                result = snapshot(rt)
            except sf.Cancelled:
                continue
            seen.append(result)
            progress.mark("done", result[2])

    def write() -> None:
        for version in range(1, rounds + 1):
            progress.writing.set()
            rt.set(source, version)  # single writes: each one a revision
            progress.writing.clear()
            for index in range(8):
                rt.set(values[index], version)
            if version % 3 == 0:
                with rt.batch():
                    rt.set(pair["p"], version)
                    rt.set(pair["q"], version)
            progress.pace(version, stop)

    readers = [_start(read) for _ in range(n_readers)]
    writer = _start(write)
    try:
        _join([writer], timeout=40)
    finally:
        stop.set()
    _join(readers)
    assert problems == []
    assert len({counter for _, _, counter in seen}) > rounds // 3
    assert runs["started"] > runs["completed"], "no computation was ever cancelled in flight"
    for p, q, _ in seen:
        assert p == q, (p, q)
    assert snapshot(rt) == (rounds, rounds, rounds)


# -- writes from inside a computation ------------------------------------------


def _batch_write(rt: sf.Runtime) -> None:
    with rt.batch():
        rt.set(source, 99)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda rt: rt.set(source, 99), id="set"),
        pytest.param(lambda rt: rt.remove(source), id="remove"),
        pytest.param(lambda rt: rt.bump_revision(), id="bump_revision"),
        pytest.param(lambda rt: rt.clear_cache(), id="clear_cache"),
        pytest.param(_batch_write, id="batch"),
    ],
)
def test_writing_from_inside_a_query_is_refused_not_a_deadlock(
    write: Callable[[sf.Runtime], None],
) -> None:
    @sf.query(name="threads.impure")
    def impure(db: Any) -> int:
        write(db.runtime)
        return 1

    rt = sf.Runtime()
    rt.set(source, 1)
    revision = rt.revision
    with pytest.raises(RuntimeError, match="from inside a query"):
        impure(rt)
    assert rt.get(source) == 1
    assert rt.revision == revision
    # The refused write left nothing held: a write from outside goes through.
    done = threading.Event()
    _start(lambda: (rt.set(source, 2), done.set()))
    assert done.wait(WAIT), "a write after the refused one does not go through"
    assert rt.revision == revision + 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda rt: rt.set(source, 1), id="set-equal"),
        pytest.param(lambda rt: rt.remove(values["never-set"]), id="remove-absent"),
    ],
)
def test_a_write_from_inside_a_query_is_refused_even_when_it_would_change_nothing(
    write: Callable[[sf.Runtime], None],
) -> None:
    """Purity is not data-dependent: a query that writes is refused whatever the
    value, not only on the day the value differs."""

    @sf.query(name="threads.impure_noop")
    def impure(db: Any) -> int:
        write(db.runtime)
        return 1

    rt = sf.Runtime()
    rt.set(source, 1)
    with pytest.raises(RuntimeError, match="from inside a query"):
        impure(rt)


# -- many readers and a writer, against the oracle -----------------------------

graph_cell = sf.Input("threads.graph", durability=sf.Durability.STATIC)
cells = sf.Input("threads.cells")


def _graph_body(db: Any, index: int, reader: Any) -> Value:
    graph: Graph = graph_cell(db)

    def read(ref: Ref) -> Value:
        kind, position = ref
        if kind == "i":
            return cells(db, position)  # type: ignore[no-any-return]
        return reader(db, position)  # type: ignore[no-any-return]

    def peek(cell: int) -> Value | None:
        state = sf.state(db, cells[cell])
        return state.value if isinstance(state, sf.Ready) else None  # type: ignore[no-any-return]

    def keys(family: int) -> tuple[int, ...]:  # the listing, filtered as the oracle does
        listed = (int(key[0]) for key in cells.keys(db))
        return tuple(sorted(cell for cell in listed if graph.families[cell] == family))

    return apply(graph.nodes[index], read, peek, keys)


@sf.query(name="threads.node")
def graph_node(db: Any, index: int) -> Value:
    return _graph_body(db, index, graph_node)


@sf.query(name="threads.node_lru", lru=2)
def graph_node_lru(db: Any, index: int) -> Value:
    return _graph_body(db, index, graph_node_lru)


def _expected(graph: Graph, inputs: dict[int, Value | Failure], index: int) -> object:
    result = Evaluation(graph, inputs, listed=list(inputs)).result(index)
    return type(result) if isinstance(result, Failure | Missing) else result


def _observed(call: Callable[[], Value]) -> object:
    try:
        return call()
    except Failure:
        return Failure
    except sf.Suspend:
        return Missing
    except sf.Cancelled:
        raise
    except Exception as exc:  # wrong, and reported as such below
        return exc


@pytest.mark.timeout(120)
@pytest.mark.parametrize("query", [graph_node, graph_node_lru], ids=["plain", "lru"])
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    graph=graphs(max_inputs=4, max_nodes=12, ops=STATE_OPS),
    edits=st.lists(
        st.tuples(st.integers(0, 3), st.one_of(st.integers(0, 9), st.none())),
        min_size=20,
        max_size=40,
    ),
    seed=st.integers(0, 2**16),
)
def test_concurrent_readers_agree_with_the_oracle_at_a_revision_of_their_call(
    query: Any, graph: Graph, edits: list[tuple[int, int | None]], seed: int
) -> None:
    """Readers on three threads read random nodes while a writer edits (sets and
    removes cells, which nodes reading through ``sf.state`` see as pending);
    every result equals the oracle's at some revision between the call's start
    and end."""
    rt = sf.Runtime()
    rt.set(graph_cell, graph)
    inputs: dict[int, Value | Failure] = {cell: cell for cell in range(graph.inputs)}
    with rt.batch():
        for cell, value in inputs.items():
            rt.set(cells[cell], value)
    states = {rt.revision: dict(inputs)}
    progress = Progress()
    stop = threading.Event()
    reads: list[tuple[int, int, int, object]] = []

    def read(me: int) -> None:
        rng = random.Random(seed * 8 + me)
        while not stop.is_set():
            index = rng.randrange(len(graph.nodes))
            before = rt.revision
            try:
                got = _observed(functools.partial(query, rt, index))
            except sf.Cancelled:
                continue
            after = rt.revision
            reads.append((before, after, index, got))
            progress.mark("done", after)

    def write() -> None:
        for step, (cell, value) in enumerate(edits):
            ref = cells[cell % graph.inputs]
            if value is None:
                rt.remove(ref)
                inputs.pop(cell % graph.inputs, None)
            else:
                rt.set(ref, value)
                inputs[cell % graph.inputs] = value
            states[rt.revision] = dict(inputs)
            if step % 2:
                with progress.cond:
                    progress.cond.wait_for(
                        lambda: progress.newest["done"] >= rt.revision or stop.is_set(), WAIT
                    )

    readers = [_start(read, me) for me in range(3)]
    writer = _start(write)
    try:
        _join([writer], timeout=60)
    finally:
        stop.set()
    _join(readers)
    assert reads
    for before, after, index, got in reads:
        allowed = [
            _expected(graph, states[revision], index)
            for revision in range(before, after + 1)
            if revision in states
        ]
        assert any(got == want for want in allowed), (
            f"node {index} ({graph.nodes[index]}) read {got!r} between revisions {before} "
            f"and {after}, where the oracle says {allowed}"
        )
