"""PostgresStore: the contract on a real server, plus what only a shared server has.

The server is the one ``scripts/_postgres.sh`` starts (``scripts/test.sh``
sources it), named by ``SOFRITO_TEST_POSTGRES``. Each test works in a fresh
PostgreSQL schema of its own, dropped afterwards, so tests never see each
other. Without the variable these tests skip, saying why, so a contributor
without PostgreSQL can work; CI sets ``SOFRITO_REQUIRE_POSTGRES=1`` (and
``CI``), and then ``test_postgres_is_there_when_required`` fails instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sofrito.stores import (
    Conflict,
    CorruptSnapshot,
    RuntimeStore,
    SchemaMismatch,
    SnapshotDelta,
    StoreError,
    compute_digest,
)
from tests.cli.flows import make_site, one_error_line, sofrito
from tests.cli.test_rerun import (
    a_run_that_loses_twice_exits_5_and_commits_nothing,
    a_run_that_lost_the_race_runs_again_and_commits,
    a_watch_that_lost_the_race_reopens_and_goes_on,
)
from tests.postgres import DSN, required
from tests.stores.contract import Damage, DurableStoreContract, Reopen, delta, graph, state

ROOT = Path(__file__).parent.parent.parent
CHILD_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

needs_postgres = pytest.mark.skipif(
    not DSN and not required(),  # required: they run, and fail, as does the test below
    reason="no PostgreSQL server: set SOFRITO_TEST_POSTGRES=postgresql://... "
    "(scripts/test.sh starts one; see scripts/_postgres.sh)",
)


def test_postgres_is_there_when_required() -> None:
    """CI must never skip the PostgreSQL tests silently."""
    assert DSN or not required(), (
        "SOFRITO_REQUIRE_POSTGRES=1 or CI is set, but SOFRITO_TEST_POSTGRES is not: the "
        "PostgresStore tests would skip; run the suite through scripts/test.sh, which starts "
        "a server (scripts/_postgres.sh)"
    )


def test_import_sofrito_stores_does_not_import_psycopg() -> None:
    code = (
        "import sys, sofrito, sofrito.stores as s\n"
        "print(sorted(m for m in ('psycopg', 'psycopg_pool') if m in sys.modules))\n"
        "s.PostgresStore\n"
        "print(sorted(m for m in ('psycopg', 'psycopg_pool') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=CHILD_ENV
    )
    assert out.stdout.split("\n")[:2] == ["[]", "['psycopg', 'psycopg_pool']"]


def test_the_password_is_never_shown() -> None:
    """Port 1 on loopback: nothing listens, the pool gives up after connect_timeout."""
    from sofrito.stores import PostgresStore

    with pytest.raises(StoreError) as caught:
        PostgresStore("postgresql://alice:hunter2@127.0.0.1:1/team", connect_timeout=0.5)
    message = str(caught.value)
    assert "hunter2" not in message
    assert "postgresql://alice@127.0.0.1:1/team" in message
    assert "cannot connect" in message
    with pytest.raises(ValueError, match="not shown") as bad:
        PostgresStore("host=x password=hunter2 nonsense")
    assert "hunter2" not in str(bad.value)


# -- a fresh schema per test ---------------------------------------------------------------


def _admin() -> Any:
    import psycopg

    return psycopg.connect(DSN, autocommit=True)


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield name
    with _admin() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _open(schema: str, **options: Any) -> Any:
    from sofrito.stores import PostgresStore

    return PostgresStore(DSN, schema=schema, **options)


def _in_schema(schema: str, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with _admin() as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


@needs_postgres
class TestPostgresStore(DurableStoreContract):
    @pytest.fixture
    def store(self, schema: str) -> Iterator[RuntimeStore]:
        with _open(schema) as store:
            yield store

    @pytest.fixture
    def reopen(self, schema: str) -> Reopen:
        return lambda: _open(schema)

    @pytest.fixture
    def damage(self, schema: str) -> Damage:
        def damage(runtime_id: str, memo_id: bytes) -> None:
            where = "WHERE runtime_id = %s AND memo_id = %s"
            ((row,),) = _in_schema(schema, f"SELECT row FROM memos {where}", (runtime_id, memo_id))
            flipped = bytes([row[0] ^ 0x01]) + row[1:]  # still bytes, one bit off
            _in_schema(schema, f"UPDATE memos SET row = %s {where}", (flipped, runtime_id, memo_id))

        return damage


# -- many writers, one runtime ----------------------------------------------------------------


@needs_postgres
def test_processes_racing_for_one_runtime_lose_nothing_and_share_no_sequence(
    schema: str, tmp_path: Path
) -> None:
    writers, commits = 4, 6
    _open(schema).close()  # the tables, before the race
    gate = tmp_path / "go"
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.stores.postgres_child",
                DSN,
                schema,
                f"w{n}",
                str(commits),
                str(gate),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=CHILD_ENV,
            cwd=ROOT,
        )
        for n in range(writers)
    ]
    time.sleep(1.0)  # let every child open its store; the gate starts them together
    gate.touch()
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    got = [receipt for result in results for receipt in result["receipts"]]
    sequences = sorted(receipt["sequence"] for receipt in got)
    assert sequences == list(range(1, writers * commits + 1))  # none twice, none missing
    with _open(schema) as store:
        stored = {r.sequence: r for r in store.load_receipts("shared")}
        assert sorted(stored) == sequences
        for result in results:
            for receipt in result["receipts"]:
                memo_id = receipt["memo"].encode()
                delta_ = SnapshotDelta(
                    receipt["revision"], result["name"].encode(), {memo_id: b"row-" + memo_id}
                )
                mine = stored[receipt["sequence"]]
                assert mine.run_id == result["name"]
                assert mine.digest == receipt["digest"]
                assert mine.verify(delta_)
        snapshot = store.load_snapshot("shared")
        assert snapshot is not None
        assert len(snapshot.rows) == writers * commits  # every writer's rows, nothing lost
        inputs = {s.input_id for s in store.load_input_states("shared")}
        assert inputs == {receipt["input"] for receipt in got}
        assert store.load_head("shared") == writers * commits
    conflicts = [message for result in results for message in result["conflicts"]]
    assert conflicts, "four writers racing six times each never collided"
    for message in conflicts:
        assert "runtime 'shared' was written by another process" in message
        assert "nothing was written" in message
        assert "Open the runtime again" in message


@needs_postgres
def test_the_conflict_names_the_head_it_lost_to(schema: str) -> None:
    with _open(schema) as one, _open(schema) as two:
        one.commit_boundary("rt", delta(1, a=b"1"), "one", "c", [], [], base_head=0)
        one.commit_boundary("rt", delta(2, a=b"2"), "one", "c", [], [], base_head=1)
        with pytest.raises(Conflict) as caught:
            two.commit_boundary("rt", delta(1, a=b"x"), "two", "c", [], [], base_head=0)
    assert (caught.value.base, caught.value.head) == (0, 2)
    assert "based on head 0, the head is now 2" in str(caught.value)


# -- the server goes away ------------------------------------------------------------------


def _restart_server() -> None:
    ctl = os.environ["SOFRITO_TEST_POSTGRES_CTL"]
    data = os.environ["SOFRITO_TEST_POSTGRES_DATA"]
    log = str(Path(data).parent / "server.log")  # the server must not hold our pipes
    command = [ctl, "-D", data, "-l", log, "-m", "fast", "-w", "restart"]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(
        command,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )


needs_server_control = pytest.mark.skipif(
    not os.environ.get("SOFRITO_TEST_POSTGRES_CTL"),
    reason="restarting needs the server scripts/_postgres.sh started "
    "(SOFRITO_TEST_POSTGRES_CTL, SOFRITO_TEST_POSTGRES_DATA)",
)


@needs_postgres
@needs_server_control
@pytest.mark.restarts_postgres
def test_a_server_restart_mid_run_tears_nothing_and_the_next_run_recovers(schema: str) -> None:
    store = _open(schema, backoff=0.05)
    returned: list[Any] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def commit_forever() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                returned.append(
                    store.commit_boundary(
                        "rt", graph(n, **{f"m{n}": "i:x"}), "run", "c", [], [state(f"src:{n}")]
                    )
                )
            except StoreError as exc:
                failures.append(exc)

    writer = threading.Thread(target=commit_forever)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while len(returned) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        _restart_server()
        settled = len(returned) + 5
        while len(returned) < settled and time.monotonic() < deadline + 30:
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert len(returned) >= settled, failures  # the store came back by itself
    for failure in failures:  # whatever failed said so clearly, naming the server
        message = str(failure)
        assert store.location in message
        assert "'rt'" in message
    store.close()
    with _open(schema) as again:  # the next run: everything whole
        stored = again.load_receipts("rt")
        assert [r.sequence for r in stored] == list(range(len(stored), 0, -1))
        assert set(returned) <= set(stored)  # every receipt handed out was kept
        snapshot = again.load_snapshot("rt")  # every row and edge checked against its seal
        assert snapshot is not None
        assert len(snapshot.rows) == len(stored)
        assert len(again.load_input_states("rt")) == len(stored)
        head = again.load_head("rt")
        after = again.commit_boundary("rt", delta(999), "next", "c", [], [], base_head=head)
        assert after.sequence == len(stored) + 1


def _backend_waiting(schema: str, marker: str, wait: str) -> int:
    """The pid of the server process waiting (``wait``: a wait event type) in a
    statement that contains ``marker``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = _in_schema(
            schema,
            "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s "
            "AND wait_event_type = %s AND pid <> pg_backend_pid()",
            (f"%{marker}%", wait),
        )
        if rows:
            return int(rows[0][0])
        time.sleep(0.01)
    raise AssertionError(f"no backend ran {marker!r} within 30 s")


@needs_postgres
def test_a_connection_lost_before_commit_is_retried_and_lands_once(schema: str) -> None:
    """The writer is killed while it waits for the header row's lock: nothing was
    committed, so the store retries on a new connection, and one receipt results."""
    import psycopg

    with _open(schema, backoff=0.01) as store:
        store.commit_boundary("rt", delta(1), "r", "c", [], [])
        result: list[Any] = []
        with psycopg.connect(DSN) as holder:  # a transaction holding the header row
            holder.execute(f'SET search_path TO "{schema}"')
            holder.execute("SELECT 1 FROM runtimes WHERE runtime_id = 'rt' FOR UPDATE")
            writer = threading.Thread(
                target=lambda: result.append(
                    store.commit_boundary("rt", delta(2, a=b"2"), "r", "c", [], [], base_head=1)
                )
            )
            writer.start()
            victim = _backend_waiting(schema, "SET head = head + 1", "Lock")
            _in_schema(schema, "SELECT pg_terminate_backend(%s)", (victim,))
            holder.rollback()
        writer.join(timeout=60)
        assert [r.sequence for r in result] == [2]
        assert [r.sequence for r in store.load_receipts("rt")] == [2, 1]
        assert store.load_head("rt") == 2


@needs_postgres
def test_a_connection_lost_during_commit_is_read_back_never_sent_again(schema: str) -> None:
    """A deferred trigger makes COMMIT itself slow; the writer is killed inside it.
    The store does not send the commit again: it reads back, finds no receipt, and
    says nothing was written."""
    from sofrito.stores import WriteFailed

    with _open(schema, backoff=0.01) as store:
        store.commit_boundary("rt", delta(1), "r", "c", [], [])
        _in_schema(
            schema,
            "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$",
        )
        _in_schema(
            schema,
            "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON receipts "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()",
        )
        failed: list[BaseException] = []

        def commit() -> None:
            try:
                store.commit_boundary("rt", delta(2, a=b"2"), "r", "c", [], [], base_head=1)
            except BaseException as exc:
                failed.append(exc)

        writer = threading.Thread(target=commit)
        writer.start()
        victim = _backend_waiting(schema, "COMMIT", "Timeout")  # in pg_sleep
        _in_schema(schema, "SELECT pg_terminate_backend(%s)", (victim,))
        writer.join(timeout=60)
        _in_schema(schema, "DROP TRIGGER slow_commit ON receipts")
        assert len(failed) == 1
        assert isinstance(failed[0], WriteFailed)
        message = str(failed[0])
        assert "while committing boundary 2 of runtime 'rt'" in message
        assert "read back after reconnecting, it was not committed: nothing was written" in message
        assert store.location in message
        assert [r.sequence for r in store.load_receipts("rt")] == [1]
        assert store.load_head("rt") == 1
        assert store.commit_boundary("rt", delta(2), "r", "c", [], [], base_head=1).sequence == 2


@needs_postgres
@needs_server_control
@pytest.mark.restarts_postgres
def test_a_listener_cut_off_by_a_restart_says_so(schema: str) -> None:
    with _open(schema) as store:
        listener = store.listen("rt")
        try:
            _restart_server()
            with pytest.raises(StoreError, match="listen again and re-read the head"):
                listener.wait(timeout=10)
        finally:
            listener.close()


# -- schema versions ---------------------------------------------------------------------


@needs_postgres
def test_a_newer_schema_is_refused_naming_both_versions(schema: str) -> None:
    from sofrito.stores.postgres import SCHEMA_VERSION

    _open(schema).close()
    _in_schema(schema, "UPDATE sofrito_schema SET version = 99")
    with pytest.raises(SchemaMismatch) as caught:
        _open(schema)
    assert (caught.value.found, caught.value.expected, caught.value.older) == (
        99,
        SCHEMA_VERSION,
        False,
    )
    message = str(caught.value)
    assert (
        f"holds store schema 99, written by a newer sofrito (this sofrito knows {SCHEMA_VERSION})"
        in message
    )
    assert "upgrade sofrito" in message
    assert schema in message


@needs_postgres
def test_a_schema_of_something_else_is_left_alone(schema: str) -> None:
    with _admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".memos (x int)')
    with pytest.raises(StoreError, match="no sofrito_schema version table"):
        _open(schema)
    assert _in_schema(schema, "SELECT to_regclass('runtimes')") == [(None,)]


def _url(schema: str) -> str:
    """The test server's URL with ``schema`` as its search_path, as a user would write it."""
    return f"{DSN}?options=-csearch_path%3D{schema}"


@needs_postgres
def test_store_upgrade_creates_then_has_nothing_to_do_and_refuses_a_newer(schema: str) -> None:
    from sofrito.stores.postgres import SCHEMA_VERSION

    with _admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    created = sofrito("store", "upgrade", _url(schema))
    assert (created.code, created.out.strip()) == (
        0,
        f"created a sofrito store, schema {SCHEMA_VERSION}",
    ), created
    again = sofrito("store", "upgrade", _url(schema))
    assert (again.code, again.out.strip()) == (
        0,
        f"the store schema is already {SCHEMA_VERSION}; nothing to do",
    )
    _in_schema(schema, "UPDATE sofrito_schema SET version = 7")
    newer = sofrito("store", "upgrade", _url(schema))
    assert newer.code == 9
    line = one_error_line(newer)
    assert f"the cache {_url(schema)} has store schema 7, written by a newer sofrito" in line
    assert "upgrade sofrito here" in line
    sqlite = sofrito("store", "upgrade", "sqlite:cache.db")
    assert sqlite.code == 2
    assert "give a postgresql:// URL" in one_error_line(sqlite)


def test_every_schema_version_before_this_one_has_an_upgrade_step() -> None:
    from sofrito.stores import _postgres_schema

    assert set(_postgres_schema._UPGRADES) == set(range(1, _postgres_schema.SCHEMA_VERSION))


def _make_version_1(schema: str) -> None:
    """Turn a current store into the layout of schema version 1, as a sofrito of
    that version created it: traces without ``published_at``."""
    _in_schema(schema, "ALTER TABLE traces DROP COLUMN published_at")
    _in_schema(schema, "UPDATE sofrito_schema SET version = 1")


@needs_postgres
def test_a_version_1_store_is_refused_until_store_upgrade_brings_it_to_2(
    schema: str, tmp_path: Path
) -> None:
    """A store made by the sofrito of schema 1, with a committed run and a trace:
    a client refuses it (SchemaMismatch, older; `run` exits 9 naming the upgrade
    command, and writes nothing), `sofrito store upgrade URL` upgrades it in place,
    and then the same run uses what was there: nothing executes."""
    with _admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    site = make_site(tmp_path)
    assert site.run("--store", _url(schema)).code == 0
    with _open(schema) as store:
        store.publish_traces([(b"lookup", b"trace", b"row")])
    _make_version_1(schema)
    heads = _in_schema(schema, "SELECT runtime_id, head, sequence FROM runtimes")

    with pytest.raises(SchemaMismatch) as caught:
        _open(schema)
    assert (caught.value.found, caught.value.expected, caught.value.older) == (1, 2, True)
    assert "sofrito store upgrade URL" in str(caught.value)
    site.page("a.md", "Alpha\nedited\n")
    refused = site.run("--store", _url(schema))
    assert refused.code == 9
    line = one_error_line(refused)
    assert "has store schema 1, older than the 2 this sofrito uses" in line
    assert f"run `sofrito store upgrade {_url(schema)}`" in line
    assert _in_schema(schema, "SELECT runtime_id, head, sequence FROM runtimes") == heads

    upgraded = sofrito("store", "upgrade", _url(schema))
    assert (upgraded.code, upgraded.out.strip()) == (
        0,
        "upgraded the store schema from 1 to 2",
    ), upgraded
    assert _in_schema(schema, "SELECT version FROM sofrito_schema") == [(2,)]
    ((published,),) = _in_schema(schema, "SELECT published_at FROM traces")
    assert published is not None  # the old row got the time of the upgrade
    assert _in_schema(schema, "SELECT runtime_id, head, sequence FROM runtimes") == heads
    site.page("a.md", "Alpha\nfirst page\n")  # back as it was built
    site.executions()
    again = site.run("--store", _url(schema))
    assert again.code == 0, again.err
    assert again.out.startswith("0 executed"), again.out
    assert site.executions() == []
    with _open(schema) as store:
        store.publish_traces([(b"lookup", b"new", b"row 2")])
        assert sorted(store.load_traces(b"lookup")) == [b"row", b"row 2"]


@needs_postgres
def test_sofrito_run_on_a_newer_schema_says_upgrade_sofrito(schema: str, tmp_path: Path) -> None:
    with _admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    site = make_site(tmp_path)
    assert site.run("--store", _url(schema)).code == 0
    _in_schema(schema, "UPDATE sofrito_schema SET version = 99")
    result = site.run("--store", _url(schema))
    assert result.code == 9
    line = one_error_line(result)
    assert "has store schema 99, written by a newer sofrito (this one knows 2)" in line
    assert "upgrade sofrito here" in line
    assert "do not delete it" in line


# -- LISTEN/NOTIFY ---------------------------------------------------------------------------


@needs_postgres
def test_a_commit_is_announced_to_listeners_of_its_runtime(schema: str) -> None:
    from sofrito.stores import Committed

    with _open(schema) as watcher, _open(schema) as writer, watcher.listen("rt") as listener:
        assert listener.wait(timeout=0.2) is None  # nothing yet
        writer.commit_boundary("other", delta(1), "w", "c", [], [])  # another runtime
        writer.commit_boundary("rt", delta(1), "w", "c", [], [])
        writer.persist_input_state("rt", state("src:a"))
        assert listener.wait(timeout=10) == Committed("rt", 1)
        assert listener.wait(timeout=10) == Committed("rt", 2)
        assert watcher.load_head("rt") == 2


@needs_postgres
def test_the_notification_is_seen_by_a_plain_connection(schema: str) -> None:
    with _open(schema) as store, _admin() as conn:
        conn.execute(f'LISTEN "{store.channel}"')
        store.commit_boundary("rt", delta(1), "w", "c", [], [])
        notices = list(conn.notifies(timeout=10, stop_after=1))
    assert [json.loads(n.payload) for n in notices] == [{"runtime_id": "rt", "head": 1}]
    assert notices[0].channel == f"sofrito.{schema}"


@needs_postgres
def test_a_conflict_announces_nothing(schema: str) -> None:
    with _open(schema) as store, store.listen() as listener:
        store.commit_boundary("rt", delta(1), "w", "c", [], [])
        assert listener.wait(timeout=10) is not None
        with pytest.raises(Conflict):
            store.commit_boundary("rt", delta(2), "w", "c", [], [], base_head=0)
        assert listener.wait(timeout=0.3) is None


# -- bulk writes -----------------------------------------------------------------------------


@needs_postgres
def test_a_large_commit_goes_in_whole_and_a_damaged_row_is_caught(schema: str) -> None:
    rows = {b"m%d" % n: b"row %d" % n for n in range(30_000)}
    reads = {memo_id: [b"i:x"] for memo_id in list(rows)[:10_000]}
    updates = [state(f"src:{n}") for n in range(5_000)] + [state("src:1", b"last")]
    with _open(schema) as store:
        receipt = store.commit_boundary(
            "rt", SnapshotDelta(1, b"m", rows, reads=reads), "r", "c", [], updates
        )
        assert receipt.digest == compute_digest(
            "rt", "r", 1, "c", [], SnapshotDelta(1, b"m", rows, reads=reads)
        )
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert dict(snapshot.rows) == rows
        assert len(store.load_reader_closure("rt", [b"i:x"], head=1)) == 10_000
        assert store.load_input_state("rt", "src:1") == state("src:1", b"last")
        _in_schema(schema, "DELETE FROM memos WHERE memo_id = %s", (b"m7",))  # vanished
        with pytest.raises(CorruptSnapshot, match="do not match the seal"):
            store.load_snapshot("rt")


# -- the command -----------------------------------------------------------------------------


@needs_postgres
def test_sofrito_run_on_postgresql_builds_then_does_nothing(schema: str, tmp_path: Path) -> None:
    with _admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    site = make_site(tmp_path)
    first = site.run("--store", _url(schema))
    assert first.code == 0, first.err
    assert "7 executed" in first.out
    assert (site.out / "a.html").read_text() == "<h1>Alpha</h1>\nAlpha\nfirst page\n"
    assert site.executions() != []
    assert not (tmp_path / ".sofrito").exists()  # the cache is on the server
    second = site.run("--store", _url(schema).replace("postgresql://", "postgres://", 1))
    assert second.code == 0, second.err
    assert "0 executed" in second.out
    assert site.executions() == []
    receipts = _in_schema(schema, "SELECT runtime_id, sequence FROM receipts ORDER BY sequence")
    assert receipts == [("flow", 1), ("flow", 2)]


@needs_postgres
def test_a_run_that_lost_the_race_on_postgresql_runs_again_and_commits(
    schema: str, tmp_path: Path
) -> None:
    with _admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    a_run_that_lost_the_race_runs_again_and_commits(tmp_path, ["--store", _url(schema)])


@needs_postgres
def test_a_run_that_loses_twice_on_postgresql_exits_5(schema: str, tmp_path: Path) -> None:
    with _admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    a_run_that_loses_twice_exits_5_and_commits_nothing(tmp_path, ["--store", _url(schema)])


@needs_postgres
def test_a_watch_that_lost_the_race_on_postgresql_reopens(schema: str, tmp_path: Path) -> None:
    with _admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    a_watch_that_lost_the_race_reopens_and_goes_on(tmp_path, ["--store", _url(schema)])


@needs_postgres
def test_a_store_url_naming_no_schema_that_exists_is_one_clear_line(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    result = site.run("--store", f"{DSN}?options=-csearch_path%3Dno_such_schema_here")
    assert result.code != 0
    line = one_error_line(result)
    assert "the search_path names no schema that exists" in line
