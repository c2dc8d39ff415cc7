"""Traces: memos shared by content between runtimes (issue 25, docs/persistence.md).

Two runtimes (two ``runtime_id``s, or two stores) build the same small site
of word counts; the second one's cold build takes the first one's published
traces instead of executing, as far as its inputs are the same. Executions
are counted by the bodies themselves (``RUNS``).
"""

from __future__ import annotations

import sqlite3
import uuid
import warnings
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import sofrito as sf
from sofrito.stores import MemoryStore, RuntimeStore, SqliteStore, TraceRefused, Traces
from tests.postgres import DSN as POSTGRES
from tests.postgres import need_postgres

SECRET = "a team secret of enough bytes"
RUNS: list[tuple[Any, ...]] = []

src = sf.Input("traces.src")
config = sf.Input("traces.config", durability=sf.Durability.STABLE)


@sf.query(name="traces.words")
def words(db: Any, name: str) -> int:
    RUNS.append(("words", name))
    return len(src(db, name).split())


@sf.query(name="traces.title")
def title(db: Any) -> str:
    RUNS.append(("title",))
    return str(config(db)["title"]).upper()


@sf.query(name="traces.page")
def page(db: Any, name: str) -> str:
    RUNS.append(("page", name))
    return f"{title(db)}: {name} has {words(db, name)} words"


@sf.query(name="traces.total")
def total(db: Any) -> int:
    RUNS.append(("total",))
    return sum(words(db, name) for (name,) in src.keys(db))


@sf.query(name="traces.picky")
def picky(db: Any, name: str) -> int:
    RUNS.append(("picky", name))
    if src(db, name) == "boom":
        raise ValueError(f"{name} is boom")
    return 1


@sf.query(name="traces.forgiving")
def forgiving(db: Any, name: str) -> int:
    RUNS.append(("forgiving", name))
    try:
        return picky(db, name)
    except ValueError:
        return -1


@sf.query(name="traces.status")
def status(db: Any, name: str) -> str:
    RUNS.append(("status", name))
    seen = sf.state(db, src[name])
    return f"ready: {seen.value}" if isinstance(seen, sf.Ready) else type(seen).__name__


SOURCES = {"a": "one two", "b": "three four five", "c": "six"}


def build(rt: sf.Runtime, sources: dict[str, str] = SOURCES) -> dict[str, Any]:
    """Set the sources and read every page and the total; the values read."""
    with rt.batch():
        rt.set(config, {"title": "site"})
        for name, text in sources.items():
            rt.set(src[name], text)
    values: dict[str, Any] = {name: page(rt, name) for name in sorted(sources)}
    values["total"] = total(rt)
    return values


def cold(sources: dict[str, str] = SOURCES) -> dict[str, Any]:
    """What a runtime without a store computes: the oracle of these tests."""
    return build(sf.Runtime(), sources)


@pytest.fixture(autouse=True)
def _runs() -> Iterator[None]:
    RUNS.clear()
    yield
    RUNS.clear()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "cache.db"


Place = Path | str
"""Where the runtimes of a test keep their rows and traces: a SQLite file, or a
PostgreSQL schema (on ``SOFRITO_TEST_POSTGRES``, the issue's target store)."""


@pytest.fixture(params=["sqlite", "postgres"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    """The tests of sharing run on both stores (tests/stores/test_postgres.py skips
    the same way without a server; CI always has one)."""
    if request.param == "sqlite":
        yield tmp_path / "cache.db"
        return
    need_postgres()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield schema
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def open_store(place: Place) -> RuntimeStore:
    if isinstance(place, Path):
        return SqliteStore(place)
    from sofrito.stores import PostgresStore

    return PostgresStore(POSTGRES, schema=place)


def runtime(
    place: Place, runtime_id: str, traces: Traces | None = None, **options: Any
) -> sf.Runtime:
    return sf.Runtime(store=open_store(place), runtime_id=runtime_id, traces=traces, **options)


def publisher(path: Place, sources: dict[str, str] = SOURCES) -> dict[str, Any]:
    """Runtime "ci" builds ``sources`` and commits, publishing its traces."""
    rt = runtime(path, "ci", Traces(SECRET, read=False))
    values = build(rt, sources)
    rt.commit()
    RUNS.clear()
    return values


def trace_rows(path: Path) -> list[bytes]:
    with closing(sqlite3.connect(path)) as conn:
        return [row[0] for row in conn.execute("SELECT row FROM traces")]


# -- sharing -------------------------------------------------------------------


def test_a_second_runtime_builds_identical_sources_from_traces_executing_nothing(
    place: Place,
) -> None:
    expected = publisher(place)
    rt = runtime(place, "laptop", Traces(SECRET, publish=False))
    values = build(rt)
    assert RUNS == []
    assert values == expected == cold()


def test_with_one_source_different_only_its_cone_executes(place: Place) -> None:
    publisher(place)
    rt = runtime(place, "laptop", Traces(SECRET, publish=False))
    edited = {**SOURCES, "b": "three four five six"}
    values = build(rt, edited)
    assert sorted(RUNS) == [("page", "b"), ("total",), ("words", "b")]
    assert values == cold(edited)


def test_a_taken_memo_has_the_edges_an_execution_records(place: Place) -> None:
    """Later edits invalidate it as if it had executed: the reads were recorded."""
    publisher(place)
    rt = runtime(place, "laptop", Traces(SECRET, publish=False))
    build(rt)
    rt.set(src["a"], "one two three four")
    assert page(rt, "a") == "SITE: a has 4 words"
    assert total(rt) == 8
    assert sorted(RUNS) == [("page", "a"), ("total",), ("words", "a")]
    RUNS.clear()
    rt.set(config, {"title": "other"})
    assert page(rt, "c") == "OTHER: c has 1 words"
    assert sorted(RUNS) == [("page", "c"), ("title",)]


def test_taken_memos_are_committed_and_served_after_a_restart(place: Place) -> None:
    expected = publisher(place)
    rt = runtime(place, "laptop", Traces(SECRET, publish=False))
    build(rt)
    rt.commit()
    again = runtime(place, "laptop")  # no traces at all now: its own rows serve
    assert {name: page(again, name) for name in "abc"} == {k: expected[k] for k in "abc"}
    assert total(again) == expected["total"]
    assert RUNS == []


def test_a_runtime_that_reads_traces_also_publishes_what_it_executes(place: Place) -> None:
    publisher(place)
    edited = {**SOURCES, "c": "seven eight"}
    first = runtime(place, "one", Traces(SECRET))
    build(first, edited)
    first.commit()
    RUNS.clear()
    second = runtime(place, "two", Traces(SECRET, publish=False))
    values = build(second, edited)
    assert RUNS == []
    assert values == cold(edited)


class Counting:
    """A real store whose trace loads are counted (delegated, not imitated)."""

    def __init__(self, store: RuntimeStore) -> None:
        self.store = store
        self.loads = 0
        self.asked: list[bytes] = []

    def load_traces(self, lookup: bytes) -> list[bytes]:
        self.loads += 1
        self.asked.append(lookup)
        return self.store.load_traces(lookup)

    def load_trace_rows(self, lookups: list[bytes]) -> dict[bytes, list[bytes]]:
        self.loads += 1
        self.asked += lookups
        return self.store.load_trace_rows(lookups)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_build_from_traces_loads_them_a_level_at_a_time(place: Place) -> None:
    """total reads words(x) of each source: its traces and theirs come in two reads
    of the store, not one per memo (one store transaction each)."""
    sources = {f"s{i}": "word " * i for i in range(30)}
    shared = Counting(open_store(place))
    ci = runtime(place, "ci", Traces(SECRET, read=False, store=shared))  # type: ignore[arg-type]
    with ci.batch():
        for name, text in sources.items():
            ci.set(src[name], text)
    expected = total(ci)
    ci.commit()
    RUNS.clear()
    laptop = runtime(place, "laptop", Traces(SECRET, publish=False, store=shared))  # type: ignore[arg-type]
    with laptop.batch():
        for name, text in sources.items():
            laptop.set(src[name], text)
    shared.loads = 0
    assert total(laptop) == expected == sum(range(30))
    assert RUNS == []
    assert shared.loads == 2


def test_calls_announced_ahead_have_their_traces_loaded_together(place: Place) -> None:
    """sofrito run announces its renders (``_on_demand.prefetch``): their traces come
    in one read, what those read in one more, not two reads per page."""
    from sofrito._on_demand import prefetch

    publisher(place)
    shared = Counting(open_store(place))
    laptop = runtime(place, "laptop", Traces(SECRET, publish=False, store=shared))  # type: ignore[arg-type]
    with laptop.batch():
        laptop.set(config, {"title": "site"})
        for name, text in SOURCES.items():
            laptop.set(src[name], text)
    shared.loads = 0
    prefetch(laptop, [(page, (name,)) for name in sorted(SOURCES)])
    assert [page(laptop, name) for name in sorted(SOURCES)] == [
        cold()[name] for name in sorted(SOURCES)
    ]
    RUNS.clear()
    assert shared.loads == 2  # the pages', then title's and the words'


def test_a_runtime_with_rows_loads_only_the_traces_of_what_executes(place: Place) -> None:
    """After its first commit, an edit's cone executes and the rest is stored: the
    traces that cone's traces read are not loaded ahead (the first build did)."""
    publisher(place)
    shared = Counting(open_store(place))
    laptop = runtime(place, "laptop", Traces(SECRET, publish=False, store=shared))  # type: ignore[arg-type]
    build(laptop)
    laptop.commit()
    assert RUNS == []
    again = runtime(place, "laptop", Traces(SECRET, publish=False, store=shared))  # type: ignore[arg-type]
    shared.asked = []
    edited = {**SOURCES, "b": "three four five six"}
    assert build(again, edited) == cold(edited)
    RUNS.clear()
    assert len(shared.asked) == 3  # page("b"), words("b"), total: nothing they read


def test_traces_in_a_store_of_their_own_are_shared_by_two_caches(tmp_path: Path) -> None:
    """Each checkout keeps its own cache (its own head); the team's traces live apart."""
    shared = SqliteStore(tmp_path / "team.db")
    ci = sf.Runtime(
        store=SqliteStore(tmp_path / "ci.db"), traces=Traces(SECRET, read=False, store=shared)
    )
    expected = build(ci)
    ci.commit()
    RUNS.clear()
    laptop = sf.Runtime(
        store=SqliteStore(tmp_path / "laptop.db"),
        traces=Traces(SECRET, publish=False, store=shared),
    )
    assert build(laptop) == expected
    assert RUNS == []
    assert trace_rows(tmp_path / "ci.db") == []


def test_traces_work_on_a_memory_store(tmp_path: Path) -> None:
    store = MemoryStore()
    ci = sf.Runtime(store=store, runtime_id="ci", traces=Traces(SECRET))
    expected = build(ci)
    ci.commit()
    RUNS.clear()
    laptop = sf.Runtime(store=store, runtime_id="laptop", traces=Traces(SECRET))
    assert build(laptop) == expected
    assert RUNS == []


def test_events_of_a_cold_build_from_traces_are_those_of_a_first_computation(
    path: Path,
) -> None:
    publisher(path)
    rt = runtime(path, "laptop", Traces(SECRET, publish=False), load=False)
    events = rt.subscribe_events()
    rt.load()
    build(rt)
    seen = []
    while True:
        try:
            seen.append(events.recv(timeout=0))
        except TimeoutError:
            break
    assert not [event for event in seen if isinstance(event, sf.QueryChanged)]
    RUNS.clear()
    rt.set(src["a"], "x y z")  # a trace of that does not exist: executes, and changes
    assert page(rt, "a") == "SITE: a has 3 words"
    changed = set()
    while True:
        try:
            event = events.recv(timeout=0)
        except TimeoutError:
            break
        if isinstance(event, sf.QueryChanged):
            changed.add(str(event.ref))
    assert changed == {"traces.words('a')", "traces.page('a')"}


# -- what is published --------------------------------------------------------------


def test_nothing_is_published_or_read_without_traces(path: Path) -> None:
    rt = runtime(path, "ci")
    build(rt)
    rt.commit()
    assert trace_rows(path) == []
    RUNS.clear()
    runtime(path, "ci", Traces(SECRET, read=False))  # publishes only what executes
    assert trace_rows(path) == []


def test_publish_false_publishes_nothing_and_read_false_reads_nothing(path: Path) -> None:
    rt = runtime(path, "laptop", Traces(SECRET, publish=False))
    build(rt)
    rt.commit()
    assert trace_rows(path) == []
    expected = publisher(path)
    assert trace_rows(path) != []
    other = runtime(path, "other", Traces(SECRET, read=False))
    assert build(other) == expected
    assert len(RUNS) == 8  # every page, words, the title and the total


def test_a_memo_that_read_a_cached_error_is_not_published_but_still_right(
    path: Path,
) -> None:
    ci = runtime(path, "ci", Traces(SECRET))
    ci.set(src["x"], "boom")
    assert forgiving(ci, "x") == -1
    ci.commit()
    RUNS.clear()
    laptop = runtime(path, "laptop", Traces(SECRET))
    laptop.set(src["x"], "boom")
    assert forgiving(laptop, "x") == -1
    assert sorted(RUNS) == [("forgiving", "x"), ("picky", "x")]


def test_a_trace_replay_that_meets_a_cached_error_executes_the_body(path: Path) -> None:
    ci = runtime(path, "ci", Traces(SECRET))
    ci.set(src["x"], "fine")
    assert forgiving(ci, "x") == 1
    ci.commit()
    RUNS.clear()
    laptop = runtime(path, "laptop", Traces(SECRET, publish=False))
    laptop.set(src["x"], "boom")
    assert forgiving(laptop, "x") == -1
    assert sorted(RUNS) == [("forgiving", "x"), ("picky", "x")]


def test_a_runtime_with_another_codec_does_not_take_the_traces(path: Path) -> None:
    expected = publisher(path)
    rt = runtime(path, "safe", Traces(SECRET, publish=False), codec="safe")
    assert build(rt) == expected
    assert len(RUNS) == 8


# -- trust ----------------------------------------------------------------------------


def test_a_tampered_trace_is_refused_with_a_warning_and_computed(path: Path) -> None:
    expected = publisher(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        rows = conn.execute("SELECT lookup, trace_id, row FROM traces").fetchall()
        for lookup, trace_id, row in rows:
            forged = row.replace(b"three", b"THREE") if b"three" in row else row[:-1] + b"!"
            conn.execute(
                "UPDATE traces SET row = ? WHERE lookup = ? AND trace_id = ?",
                (forged, lookup, trace_id),
            )
    rt = runtime(path, "laptop", Traces(SECRET, publish=False))
    with pytest.warns(TraceRefused) as caught:
        assert build(rt) == expected
    assert len(RUNS) == 8  # every one computed
    messages = [str(w.message) for w in caught]
    assert len(messages) == len(set(messages)) == 4  # once per query
    assert any("traces.words(" in m and str(path) in m and "'laptop'" in m for m in messages)


def test_a_wrong_secret_reads_nothing(place: Place) -> None:
    expected = publisher(place)
    rt = runtime(place, "laptop", Traces("another secret of enough bytes", publish=False))
    with pytest.warns(TraceRefused, match="does not verify"):
        assert build(rt) == expected
    assert len(RUNS) == 8


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Traces("short")
    with pytest.raises(ValueError, match="needs a store"):
        sf.Runtime(traces=Traces(SECRET))


def test_the_secret_is_not_shown() -> None:
    assert SECRET not in repr(Traces(SECRET))


def test_traces_from_the_environment() -> None:
    assert Traces.from_environment({}) is None
    both = Traces.from_environment({"SOFRITO_TRACE_SECRET": SECRET})
    assert both == Traces(SECRET, publish=True, read=True)
    read = Traces.from_environment({"SOFRITO_TRACE_SECRET": SECRET, "SOFRITO_TRACES": "read"})
    assert read == Traces(SECRET, publish=False, read=True)
    with pytest.raises(ValueError, match="SOFRITO_TRACES='wirte'"):
        Traces.from_environment({"SOFRITO_TRACE_SECRET": SECRET, "SOFRITO_TRACES": "wirte"})


def test_no_warning_when_every_trace_verifies(path: Path) -> None:
    publisher(path)
    rt = runtime(path, "laptop", Traces(SECRET, publish=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(rt)


def test_a_refusal_under_warnings_as_errors_is_never_the_querys_error(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expected = publisher(path)
    rt = runtime(path, "laptop", Traces("another secret of enough bytes", publish=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build(rt) == expected
    assert "was refused" in caplog.text


def test_a_trace_that_read_a_value_does_not_serve_a_reader_of_a_pending_cell(
    path: Path,
) -> None:
    """sf.state of a pending cell is Loading in the body, never a suspension of the replay."""
    ci = runtime(path, "ci", Traces(SECRET))
    ci.set(src["x"], "here")
    assert status(ci, "x") == "ready: here"
    ci.commit()
    RUNS.clear()
    laptop = runtime(path, "laptop", Traces(SECRET, publish=False))
    assert status(laptop, "x") == "Loading"
    assert RUNS == [("status", "x")]
    RUNS.clear()
    laptop.set(src["x"], "here")
    assert status(laptop, "x") == "ready: here"
    assert RUNS == []  # now the trace's read matches


def test_a_trace_hit_is_an_announced_execution_whose_body_did_not_run(path: Path) -> None:
    """QueryExecuting, then QueryTraced: tools counting executions can tell them apart."""
    publisher(path)
    rt = runtime(path, "laptop", Traces(SECRET, publish=False), load=False)
    events = rt.subscribe_events()
    rt.load()
    build(rt, {**SOURCES, "b": "edited"})
    seen: list[tuple[str, str]] = []
    while True:
        try:
            event = events.recv(timeout=0)
        except TimeoutError:
            break
        if isinstance(event, sf.QueryExecuting | sf.QueryTraced):
            seen.append((type(event).__name__, str(event.ref)))
    executing = [ref for kind, ref in seen if kind == "QueryExecuting"]
    traced = [ref for kind, ref in seen if kind == "QueryTraced"]
    bodies = sorted(set(executing) - set(traced))
    assert bodies == ["traces.page('b')", "traces.total()", "traces.words('b')"]
    assert sorted(RUNS) == [("page", "b"), ("total",), ("words", "b")]
    assert len(traced) == 5  # title, words and page of a and c
    for ref in traced:  # each announced first
        assert seen.index(("QueryExecuting", ref)) < seen.index(("QueryTraced", ref))
