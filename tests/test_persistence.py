"""The runtime on a store: warm restarts, receipts, fingerprints, bad data."""

from __future__ import annotations

import gc
import json
import logging
import os
import pickle
import random
import sqlite3
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import sofrito as sf
from sofrito import _snapshot
from sofrito._codec import Sealer
from sofrito._engine.memo import Encoded
from sofrito.stores import (
    Conflict,
    CorruptSnapshot,
    InputState,
    MemoryStore,
    RuntimeStore,
    SnapshotDelta,
    SqliteStore,
    StoreError,
    UnstoredValueWarning,
    WriteFailed,
)

FLOW = Path(__file__).with_name("persist_flow.py")
LOCK_CHILD = Path(__file__).parent / "stores" / "lock_child.py"
CONFLICT_FLOW = Path(__file__).with_name("conflict_flow.py")
ROOT = FLOW.parent.parent


def run_flow(db: Path, action: str, arg: str = "", **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(FLOW), str(db), action, arg],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_warm_restart_in_a_new_process_executes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "cache.db"
    first = run_flow(db, "init")
    assert first["result"] == 9
    assert first["executed"] == {"total": 1, "words:a": 1, "words:b": 1, "words:c": 1}
    second = run_flow(db, "read")
    assert second["opened_at"] == first["revision"]
    assert second["result"] == 9
    assert second["executed"] == {}
    assert second["sequence"] == 2


def test_editing_one_input_re_executes_only_its_dependents(tmp_path: Path) -> None:
    db = tmp_path / "cache.db"
    run_flow(db, "init")
    edited = run_flow(db, "edit", "one two three four five")
    assert edited["result"] == 11
    assert edited["executed"] == {"words:b": 1, "total": 1}
    again = run_flow(db, "read")
    assert (again["result"], again["executed"]) == (11, {})


def test_changed_fingerprint_discards_the_memo_and_its_dependents_verify(tmp_path: Path) -> None:
    db = tmp_path / "cache.db"
    run_flow(db, "init")
    bumped = run_flow(db, "read", SOFRITO_TEST_VERSION="2")
    assert bumped["result"] == 9
    assert bumped["executed"] == {"words:a": 1, "words:b": 1, "words:c": 1, "total": 1}
    stable = run_flow(db, "read", SOFRITO_TEST_VERSION="2")
    assert stable["executed"] == {}


def test_edited_query_code_discards_its_memos_across_a_restart(tmp_path: Path) -> None:
    """The fingerprint covers the code, not only ``version=``: an edited body with the
    same version is never served from the cache of the old one."""
    db = tmp_path / "cache.db"
    run_flow(db, "init")
    edited = run_flow(db, "read", SOFRITO_TEST_BODY="edited")
    assert edited["result"] == 9
    assert edited["executed"] == {"words:a": 1, "words:b": 1, "words:c": 1, "total": 1}
    assert run_flow(db, "read", SOFRITO_TEST_BODY="edited")["executed"] == {}
    back = run_flow(db, "read")  # the original code again: its memos were replaced
    assert back["executed"] == {"words:a": 1, "words:b": 1, "words:c": 1, "total": 1}


def test_durable_set_is_in_the_store_before_it_returns(tmp_path: Path) -> None:
    db = tmp_path / "cache.db"
    run_flow(db, "init")
    killed = subprocess.run(
        [sys.executable, str(FLOW), str(db), "durable-then-die", "now it is durable"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=False,
    )
    assert killed.returncode == -9
    after = run_flow(db, "read")
    assert after["result"] == 4 + 3 + 3  # the durable write survived the kill
    assert after["executed"] == {"words:a": 1, "total": 1}
    with SqliteStore(db) as store:
        states = {s.input_id.split(":")[0] for s in store.load_input_states("flow")}
        assert "flow.document" in states


# -- in-process scenarios -------------------------------------------------------

source = sf.Input("persist.source")
runs: dict[str, int] = {}


@sf.query(name="persist.upper")
def upper(db: Any, key: str) -> str:
    runs[key] = runs.get(key, 0) + 1
    return str(source(db, key)).upper()


@sf.query(name="persist.joined")
def joined(db: Any, *keys: str) -> str:
    return "+".join(upper(db, key) for key in keys)


class RecordingStore(MemoryStore):
    """A real MemoryStore that also remembers the deltas it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.deltas: list[SnapshotDelta] = []

    def commit_boundary(
        self, runtime_id: str, snapshot: SnapshotDelta, *rest: Any, **options: Any
    ) -> Any:
        self.deltas.append(snapshot)
        return super().commit_boundary(runtime_id, snapshot, *rest, **options)


def test_commit_after_a_small_change_writes_only_what_executed() -> None:
    store = RecordingStore()
    rt = sf.Runtime(store=store, runtime_id="small")
    keys = [f"k{n}" for n in range(200)]
    with rt.batch():
        for key in keys:
            rt.set(source[key], key)
    for key in keys:
        upper(rt, key)
    rt.commit()
    assert len(store.deltas[-1].upserts) == 200
    rt.set(source["k7"], "changed")
    for key in keys:
        upper(rt, key)
    receipt = rt.commit()
    assert len(store.deltas[-1].upserts) == 1
    assert receipt.contributing_inputs == (
        f"persist.source:{sf.QueryRef.of('x', ('k7',)).key.hex()}",
    )
    assert receipt.verify(store.deltas[-1])
    assert store.load_receipt("small", receipt.run_id, receipt.sequence) == receipt


def test_a_commit_pauses_the_cyclic_collector_and_resumes_it(tmp_path: Path) -> None:
    """Everything a commit builds lives until the store has written it: collecting
    meanwhile walks the heap for nothing. Paused for the commit, as it was before after."""

    enabled: list[bool] = []

    class GcWatchingStore(RecordingStore):
        def commit_boundary(
            self, runtime_id: str, snapshot: SnapshotDelta, *rest: Any, **options: Any
        ) -> Any:
            enabled.append(gc.isenabled())
            return super().commit_boundary(runtime_id, snapshot, *rest, **options)

    rt = sf.Runtime(store=GcWatchingStore(), runtime_id="gc")
    rt.set(source["a"], "x")
    upper(rt, "a")
    assert gc.isenabled()
    rt.commit()
    assert gc.isenabled()
    gc.disable()
    try:
        rt.set(source["a"], "y")
        upper(rt, "a")
        rt.commit()
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()
    assert enabled == [False, False]


def test_receipts_are_contiguous_and_verify(tmp_path: Path) -> None:
    store = RecordingStore()
    rt = sf.Runtime(store=store, runtime_id="r")
    receipts = []
    for n in range(3):
        rt.set(source["a"], n)
        upper(rt, "a")
        receipts.append(rt.commit(f"step-{n}"))
    assert [r.sequence for r in receipts] == [1, 2, 3]
    assert [r.boundary for r in receipts] == ["step-0", "step-1", "step-2"]
    assert all(r.verify(d) for r, d in zip(receipts, store.deltas, strict=True))
    assert store.load_receipts("r") == receipts[::-1]


def test_values_are_decoded_only_when_read(tmp_path: Path) -> None:
    db = tmp_path / "lazy.db"
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="lazy")
    with rt.batch():
        for n in range(300):
            rt.set(source[f"k{n}"], f"v{n}")
    for n in range(300):
        upper(rt, f"k{n}")
    rt.commit()
    reopened = sf.Runtime(store=SqliteStore(db), runtime_id="lazy")
    table = reopened._engine.tables[upper.spec]
    assert all(type(memo.value) is Encoded for memo in table.values())
    runs.clear()
    assert upper(reopened, "k5") == "V5"
    assert runs == {}
    decoded = [key for key, memo in table.items() if type(memo.value) is not Encoded]
    assert decoded == [("k5",)]


def test_a_commit_holds_each_stored_value_as_its_encoding_until_read(tmp_path: Path) -> None:
    """A first build kept every value beside the bytes written for it: after the
    commit a stored memo holds the bytes, as if loaded, and is decoded when read."""
    rt = sf.Runtime(store=SqliteStore(tmp_path / "held.db"), runtime_id="held")
    with rt.batch():
        for n in range(3):
            rt.set(source[f"k{n}"], f"v{n}")
    for n in range(3):
        upper(rt, f"k{n}")
    assert joined(rt, "k0", "k1") == joined(rt, "k0", "k1") == "V0+V1"  # a hit, held twice
    runs.clear()
    rt.commit()
    table = rt._engine.tables[upper.spec]
    assert all(type(memo.value) is Encoded for memo in table.values())
    assert type(rt._engine.tables[joined.spec][("k0", "k1")].value) is Encoded
    # Held once: the row written, which ends with the value's bytes (no copy of
    # them, and no view, whose object and buffer cost more than a small value).
    held = table[("k0",)].value.data
    assert type(held) is bytes
    assert held.endswith(pickle.dumps("V0", protocol=5))
    with closing(sqlite3.connect(tmp_path / "held.db")) as db:
        stored = db.execute("SELECT count(*) FROM memos WHERE row = ?", (held,)).fetchone()
    assert stored == (1,)
    assert joined(rt, "k0", "k1") == "V0+V1"  # not the hit table's old value: decoded
    assert upper(rt, "k2") == "V2"
    assert runs == {}
    held = [key for key, memo in table.items() if type(memo.value) is Encoded]
    assert held == [("k0",), ("k1",)]
    rt.set(source["k1"], "w1")
    assert joined(rt, "k0", "k1") == "V0+W1"  # k0's held value is read, not recomputed
    assert runs == {"k1": 1}
    rt.commit()
    reopened = sf.Runtime(store=SqliteStore(tmp_path / "held.db"), runtime_id="held")
    assert joined(reopened, "k0", "k1") == "V0+W1"
    assert runs == {"k1": 1}


def test_clear_cache_makes_the_next_commit_replace_the_stored_memos(tmp_path: Path) -> None:
    db = tmp_path / "cleared.db"
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="cleared")
    with rt.batch():
        for key in ("a", "b", "c"):
            rt.set(source[key], key)
    assert joined(rt, "a", "b", "c") == "A+B+C"
    rt.commit()
    rt.clear_cache()
    assert upper(rt, "a") == "A"  # the only memo computed since the clear
    rt.commit()
    reopened = sf.Runtime(store=SqliteStore(db), runtime_id="cleared")
    runs.clear()
    assert upper(reopened, "a") == "A"
    assert runs == {}  # restored
    assert joined(reopened, "a", "b", "c") == "A+B+C"
    assert runs == {"b": 1, "c": 1}  # dropped by the clear, not resurrected by the restart


@sf.query(name="persist.tens")
def tens(db: Any, key: str) -> int:
    return int(source(db, key)) // 10


@sf.query(name="persist.above_tens")
def above_tens(db: Any, key: str) -> int:
    return int(tens(db, key)) + 1


@sf.query(name="persist.parity")
def parity(db: Any, key: str) -> int:
    return int(source(db, key)) % 2


@sf.query(name="persist.above_parity")
def above_parity(db: Any, key: str) -> int:
    runs["above_parity"] = runs.get("above_parity", 0) + 1
    return int(parity(db, key)) + 10


def test_a_memo_left_dirty_in_the_store_is_verified_after_a_restart(tmp_path: Path) -> None:
    """A restart jumps to the stored revision: no revision before it can count as
    cut, so a memo stored dirty is walked, never taken as valid (frontier.py)."""
    db = tmp_path / "dirty.db"
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="dirty")
    rt.set(source["n"], "11")
    assert above_tens(rt, "n") == 2
    assert above_parity(rt, "n") == 11
    rt.set(source["n"], "12")  # same tens, other parity; nobody reads the parity
    assert above_tens(rt, "n") == 2
    rt.commit()  # above_parity is stored verified before the write
    reopened = sf.Runtime(store=SqliteStore(db), runtime_id="dirty")
    reopened.set(source["unrelated"], "1")  # a revision of its own, cut at once
    runs.clear()
    assert above_parity(reopened, "n") == 10
    assert runs == {"above_parity": 1}


@sf.query(name="persist.lock")
def holds_a_lock(db: Any, key: str) -> Any:
    source(db, key)
    return threading.Lock()


@pytest.fixture(params=["memory", "sqlite"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RuntimeStore]:
    store: RuntimeStore = (
        MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "any.db")
    )
    yield store
    store.close()


def test_unserializable_value_fails_a_strict_commit_naming_query_and_key_and_writes_nothing(
    any_store: RuntimeStore,
) -> None:
    rt = sf.Runtime(store=any_store, runtime_id="bad")
    rt.set(source["x"], "fine")
    upper(rt, "x")
    first, committed_at = rt.commit(), rt.revision
    rt.set(source["x"], "still fine")
    upper(rt, "x")
    holds_a_lock(rt, "x")
    with pytest.raises(
        StoreError, match=r"persist\.lock\('x'\).*cannot pickle.*nothing was written"
    ) as caught:
        rt.commit(strict=True)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert any_store.load_receipts("bad") == [first]
    snapshot = any_store.load_snapshot("bad")
    assert snapshot is not None
    assert len(snapshot.rows) == 1  # upper('x') as first committed; neither new row
    (stored,) = any_store.load_input_states("bad")
    assert stored.changed_at == committed_at  # the new value of x was not written either


def test_an_unencodable_value_is_left_out_with_one_warning_and_commits_go_on(
    any_store: RuntimeStore,
) -> None:
    rt = sf.Runtime(store=any_store, runtime_id="bad")
    rt.set(source["x"], "fine")
    upper(rt, "x")
    holds_a_lock(rt, "x")
    with pytest.warns(UnstoredValueWarning) as warned:
        first = rt.commit()
    (warning,) = warned
    message = str(warning.message)
    assert "persist.lock('x') is not stored" in message
    assert "persist=False" in message
    assert any_store.location in message
    assert warning.filename == __file__  # it points at the rt.commit() call
    snapshot = any_store.load_snapshot("bad")
    assert snapshot is not None
    assert [mid for mid in snapshot.rows if b"persist.lock" in mid] == []
    assert len(snapshot.rows) == 1  # upper('x')
    rt.set(source["x"], "again")
    holds_a_lock(rt, "x")  # the same query and key: no second warning
    second = rt.commit()
    assert second.sequence == first.sequence + 1


@sf.query(name="persist.lock_len")
def lock_len(db: Any, key: str) -> tuple[Any, int]:
    runs["lock_len"] = runs.get("lock_len", 0) + 1
    text = str(source(db, key))
    return (threading.Lock() if "lock" in text else None, len(text))


@sf.query(name="persist.reads_lock_len")
def reads_lock_len(db: Any, key: str) -> int:
    runs["reads_lock_len"] = runs.get("reads_lock_len", 0) + 1
    return lock_len(db, key)[1] * 10


def test_a_reader_of_an_unstored_memo_is_verified_after_a_restart(tmp_path: Path) -> None:
    """The skipped memo has no row (its older, encodable row is deleted too), so
    after a restart its readers are verified like a discarded memo's, never served."""
    db = tmp_path / "skip.db"
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="skip")
    rt.set(source["x"], "abc")
    assert reads_lock_len(rt, "x") == 30
    rt.commit()  # both stored: no lock yet
    rt.set(source["x"], "a lock")
    assert reads_lock_len(rt, "x") == 60
    with pytest.warns(UnstoredValueWarning, match=r"persist\.lock_len\('x'\)"):
        rt.commit()
    with SqliteStore(db) as store:
        snapshot = store.load_snapshot("skip")
    assert snapshot is not None
    assert [mid for mid in snapshot.rows if b"persist.lock_len" in mid] == []
    reopened = sf.Runtime(store=SqliteStore(db), runtime_id="skip")
    runs.clear()
    assert reads_lock_len(reopened, "x") == 60
    # Verified, not served from its row: the memo it read has no row, so it ran
    # (a first computation, nothing to compare with), and so did the reader.
    assert runs == {"lock_len": 1, "reads_lock_len": 1}
    reopened.set(source["x"], "no l0ck here")
    assert reads_lock_len(reopened, "x") == 120
    assert runs == {"lock_len": 2, "reads_lock_len": 2}


def test_safe_codec_refuses_non_plain_values() -> None:
    rt = sf.Runtime(store=MemoryStore(), runtime_id="safe", codec="safe")
    rt.set(source["x"], "ok")
    upper(rt, "x")
    rt.commit()
    rt.set(source["y"], object())
    with pytest.raises(StoreError, match=r"persist\.source\['y'\].*'safe' codec"):
        rt.commit()


def _committed_db(tmp_path: Path, **options: Any) -> Path:
    db = tmp_path / "c.db"
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="c", **options)
    rt.set(source["a"], "alpha")
    rt.set(source["b"], "beta")
    assert joined(rt, "a", "b") == "ALPHA+BETA"
    rt.commit()
    return db


def _damage_every_row(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        for (row,) in conn.execute("SELECT row FROM memos").fetchall():
            conn.execute("UPDATE memos SET row = ? WHERE row = ?", (row[:-3] + b"XYZ", row))


def test_corrupt_row_is_reported_when_loaded_never_served(tmp_path: Path) -> None:
    db = _committed_db(tmp_path)
    _damage_every_row(db)
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="c")  # opening reads no row
    with pytest.raises(CorruptSnapshot, match="fails its checksum"):
        joined(rt, "a", "b")


def test_on_corrupt_cold_drops_a_damaged_row_when_loaded_and_recomputes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = _committed_db(tmp_path)
    _damage_every_row(db)
    runs.clear()
    with caplog.at_level(logging.WARNING, logger="sofrito.persistence"):
        rt = sf.Runtime(store=SqliteStore(db), runtime_id="c", on_corrupt="cold")
        assert joined(rt, "a", "b") == "ALPHA+BETA"  # recomputed, from the inputs
    assert "fails its checksum" in caplog.text
    assert "on_corrupt='cold': dropped it, recomputing what it held" in caplog.text
    assert runs == {"a": 1, "b": 1}


def test_on_corrupt_cold_starts_cold_when_the_header_is_damaged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = _committed_db(tmp_path)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE runtimes SET meta = ?", (b"garbage",))
    with caplog.at_level(logging.WARNING, logger="sofrito.persistence"):
        rt = sf.Runtime(store=SqliteStore(db), runtime_id="c", on_corrupt="cold")
    assert "starting runtime 'c' cold" in caplog.text
    assert rt.revision == 0
    with pytest.raises(sf.Suspend):
        joined(rt, "a", "b")  # the inputs went with the damaged state: nothing stale


def test_file_that_is_not_a_store_is_moved_aside_in_cold_mode_and_says_where(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "c.db"
    db.write_bytes(b"definitely not sqlite" * 200)
    with pytest.raises(CorruptSnapshot):
        sf.Runtime(store=SqliteStore(db), runtime_id="c")
    with caplog.at_level(logging.WARNING, logger="sofrito.persistence"):
        rt = sf.Runtime(store=SqliteStore(db), runtime_id="c", on_corrupt="cold")
    assert rt.revision == 0
    (moved,) = [p for p in tmp_path.iterdir() if p.name.startswith("c.db.corrupt-")]
    (record,) = caplog.records
    assert f"moved the damaged file aside to {moved}" in record.getMessage()
    assert "starting runtime 'c' cold" in record.getMessage()
    rt.set(source["a"], "x")
    rt.commit()


def test_secret_authenticates_rows(tmp_path: Path) -> None:
    db = _committed_db(tmp_path, secret="s3cret")
    again = sf.Runtime(store=SqliteStore(db), runtime_id="c", secret="s3cret")
    assert joined(again, "a", "b") == "ALPHA+BETA"
    with pytest.raises(CorruptSnapshot, match="MAC does not verify"):
        sf.Runtime(store=SqliteStore(db), runtime_id="c", secret="wrong")
    with pytest.raises(CorruptSnapshot):
        sf.Runtime(store=SqliteStore(db), runtime_id="c")  # unauthenticated: refused too


def test_commit_without_a_store_explains() -> None:
    with pytest.raises(RuntimeError, match=r"no store; create it with sf\.Runtime\(store="):
        sf.Runtime().commit()


# -- forged rows, restored graph, locks ----------------------------------------------


def _forge(
    db: Path, rows: dict[bytes, bytes] | None = None, inputs: list[InputState] | None = None
) -> None:
    """Rewrite runtime 'c' through the store itself, as anyone who can write the file
    can: the store's checksums and seals come out right (they are not secret)."""
    with SqliteStore(db) as store:
        snapshot = store.load_snapshot("c")
        assert snapshot is not None
        forged = SnapshotDelta(snapshot.revision, snapshot.meta, rows or {})
        store.commit_boundary("c", forged, "intruder", "forged", [], inputs or [])


def _upper_rows(db: Path) -> dict[bytes, bytes]:
    with SqliteStore(db) as store:
        snapshot = store.load_snapshot("c")
    assert snapshot is not None
    found = {mid: row for mid, row in snapshot.rows.items() if b"persist.upper" in mid}
    assert len(found) == 2
    return found


def _both_uppers(rt: sf.Runtime) -> tuple[str, str]:
    """Read both memos of ``upper``: whichever row was damaged is loaded."""
    return upper(rt, "a"), upper(rt, "b")


def test_a_forged_row_with_a_valid_store_checksum_is_corrupt_not_a_crash(
    tmp_path: Path,
) -> None:
    db = _committed_db(tmp_path)
    first = next(iter(_upper_rows(db)))
    _forge(db, rows={first: b"\x00" * 40})
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="c")
    # refused by the row's header: without a secret the seal is a checksum of the
    # bytes the store has just checked, and is not checked again (_snapshot.py)
    with pytest.raises(CorruptSnapshot, match=r"memo row .* of runtime 'c': not a memo row"):
        _both_uppers(rt)
    cold = sf.Runtime(store=SqliteStore(db), runtime_id="c", on_corrupt="cold")
    runs.clear()
    assert _both_uppers(cold) == ("ALPHA", "BETA")
    assert len(runs) == 1  # the forged one, recomputed


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (
            _snapshot._HEAD.pack(_snapshot.NO_VALUE + 1, bytes(16), 1, 1, 0, 0),
            f"row format {_snapshot.NO_VALUE + 1}",
        ),
        (b"\x02\x01", "not a memo row"),
    ],
    ids=["from a newer sofrito", "not a row at all"],
)
def test_a_sealed_row_that_does_not_read_as_a_row_is_corrupt_and_named(
    tmp_path: Path, content: bytes, why: str
) -> None:
    """Its seal verifies (no secret: anyone can seal), so only reading it finds the damage."""
    db = _committed_db(tmp_path)
    first = next(iter(_upper_rows(db)))
    _forge(db, rows={first: Sealer(None).seal(content)})
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="c")
    with pytest.raises(CorruptSnapshot, match=rf"memo row {first.hex()} of runtime 'c': {why}"):
        _both_uppers(rt)


def test_with_a_secret_rows_swapped_between_keys_are_refused(tmp_path: Path) -> None:
    """Each row is authentic, but in another row's place: the MAC binds the memo id."""
    db = _committed_db(tmp_path, secret="s3cret")
    (id_a, row_a), (id_b, row_b) = sorted(_upper_rows(db).items())
    _forge(db, rows={id_a: row_b, id_b: row_a})
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="c", secret="s3cret")
    with pytest.raises(CorruptSnapshot, match="MAC does not verify"):
        upper(rt, "a")
    cold = sf.Runtime(store=SqliteStore(db), runtime_id="c", secret="s3cret", on_corrupt="cold")
    runs.clear()
    assert _both_uppers(cold) == ("ALPHA", "BETA")  # never swapped
    assert runs == {"a": 1, "b": 1}


def test_with_a_secret_input_values_swapped_between_inputs_are_refused(tmp_path: Path) -> None:
    db = _committed_db(tmp_path, secret="s3cret")
    with SqliteStore(db) as store:
        a, b = store.load_input_states("c")
    _forge(db, inputs=[replace(a, value=b.value), replace(b, value=a.value)])
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="c", secret="s3cret")
    with pytest.raises(CorruptSnapshot, match=r"input .* MAC does not verify"):
        rt.get(source["a"])


def test_with_a_secret_rows_moved_to_another_runtime_are_refused(tmp_path: Path) -> None:
    db = _committed_db(tmp_path, secret="s3cret")
    with SqliteStore(db) as store:
        snapshot = store.load_snapshot("c")
        assert snapshot is not None
        moved = SnapshotDelta(snapshot.revision, snapshot.meta, dict(snapshot.rows))
        store.commit_boundary("copy", moved, "intruder", "forged", [], [])
        for state in store.load_input_states("c"):
            store.persist_input_state("copy", state)
    with pytest.raises(CorruptSnapshot, match="MAC does not verify"):
        sf.Runtime(store=SqliteStore(db), runtime_id="copy", secret="s3cret")


def test_reopening_restores_the_reverse_dependencies(tmp_path: Path) -> None:
    """A write right after opening reaches the restored readers, though none ran here."""
    db = _committed_db(tmp_path)
    with SqliteStore(db) as store:
        stored = store.load_snapshot("c")
    assert stored is not None
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="c")
    assert rt.revision == stored.revision
    assert rt.subscribe_revisions().current == stored.revision
    events = rt.subscribe_events()
    runs.clear()
    rt.set(source["a"], "again")
    invalidated = []
    while (event := events.try_recv()) is not None:
        if isinstance(event, sf.QueryInvalidated):
            invalidated.append(event.ref)
    assert sorted(invalidated, key=str) == [
        sf.QueryRef.of("persist.joined", ("a", "b")),
        sf.QueryRef.of("persist.upper", ("a",)),
    ]
    assert runs == {}
    assert joined(rt, "a", "b") == "AGAIN+BETA"
    assert runs == {"a": 1}  # upper('b') was served from the snapshot


def test_a_commit_blocked_by_another_process_fails_clearly_and_can_be_retried(
    tmp_path: Path,
) -> None:
    db = tmp_path / "c.db"
    rt = sf.Runtime(store=SqliteStore(db, busy_timeout=0.2), runtime_id="c")
    rt.set(source["a"], "alpha")
    assert upper(rt, "a") == "ALPHA"
    holder = subprocess.Popen(
        [sys.executable, str(LOCK_CHILD), str(db), "stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert holder.stdin is not None
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline() == b"locked\n"
        with pytest.raises(WriteFailed, match=rf"{db} is locked by another process") as caught:
            rt.commit()
        assert caught.value.__cause__ is None  # restated by sofrito, not chained
        assert caught.value.__suppress_context__
    finally:
        holder.stdin.write(b"go\n")
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
        holder.stdout.close()
    receipt = rt.commit()  # nothing was lost: the retry writes the whole boundary
    assert receipt.sequence == 1
    assert len(receipt.contributing_inputs) == 1
    runs.clear()
    reopened = sf.Runtime(store=SqliteStore(db), runtime_id="c")
    assert upper(reopened, "a") == "ALPHA"
    assert runs == {}


def test_flipped_bytes_in_the_file_never_give_a_runtime_wrong_values(tmp_path: Path) -> None:
    """End to end: damage anywhere in a committed cache file, then open the runtime.
    It either refuses or serves the right values; in cold mode it opens and serves
    the right values or starts from nothing."""
    db = _committed_db(tmp_path, secret="s3cret")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = db.read_bytes()
    written = [offset for offset, byte in enumerate(data) if byte]  # skip empty space
    rng = random.Random(int(os.environ.get("SOFRITO_TEST_SEED", "66")))
    refused = 0
    for trial in range(120):
        damaged = bytearray(data)
        damaged[rng.choice(written)] ^= 1 << rng.randrange(8)
        path = tmp_path / f"damaged-{trial}.db"
        path.write_bytes(bytes(damaged))
        outcome = _open_and_read(path)
        if isinstance(outcome, StoreError):
            assert str(path) in str(outcome)
            assert _a_refusal(outcome), outcome
            refused += 1
        else:
            assert outcome == "ALPHA+BETA"
        cold = _open_and_read(path, on_corrupt="cold")
        if isinstance(cold, StoreError):  # only a file that claims a newer schema
            assert type(cold) is StoreError, cold
            assert _a_refusal(cold), cold
        else:
            assert cold in ("ALPHA+BETA", "started cold")
    assert refused > 30  # the damage did land in data, many times


def _open_and_read(path: Path, **options: Any) -> str | StoreError:
    """What a runtime opened on ``path`` serves, or why it refused to open.

    Refusals are ``CorruptSnapshot``, or a plain ``StoreError`` for a file whose
    (unchecksummed) schema version now reads as a newer one: that must be refused,
    never read, and never moved aside, since it may be a newer sofrito's store.
    Anything else fails the test (``_a_refusal``)."""
    try:
        rt = sf.Runtime(store=SqliteStore(path), runtime_id="c", secret="s3cret", **options)
        return joined(rt, "a", "b")  # a damaged row is met when loaded
    except StoreError as exc:
        return exc
    except sf.Suspend:
        return "started cold"  # the inputs went with the damaged state


def _a_refusal(error: StoreError) -> bool:
    return isinstance(error, CorruptSnapshot) or "written by a newer sofrito" in str(error)


# -- one head per runtime: compare-and-swap ---------------------------------------


def test_two_runtime_objects_on_one_id_the_second_commit_is_a_conflict(
    any_store: RuntimeStore,
) -> None:
    first = sf.Runtime(store=any_store, runtime_id="two")
    second = sf.Runtime(store=any_store, runtime_id="two")  # opened before first commits
    first.set(source["a"], "alpha")
    assert upper(first, "a") == "ALPHA"
    won = first.commit()
    second.set(source["a"], "beta")
    with pytest.raises(Conflict, match=r"based on head 0, the head is now 1") as caught:
        second.commit()
    assert "'two'" in str(caught.value)
    assert "Open the runtime again" in str(caught.value)
    assert any_store.load_receipts("two") == [won]
    third = sf.Runtime(store=any_store, runtime_id="two")  # the way on: reopen, rerun
    assert third.get(source["a"]) == "alpha"
    third.set(source["a"], "beta")
    assert upper(third, "a") == "BETA"
    assert third.commit().sequence == 2
    with pytest.raises(Conflict):  # the first is now behind the third
        first.commit()


def test_a_stale_runtime_cannot_retire_or_reset_what_it_has_not_seen(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ahead = sf.Runtime(store=SqliteStore(db), runtime_id="c")
    behind = sf.Runtime(store=SqliteStore(db), runtime_id="c")
    ahead.set(source["a"], "alpha")
    ahead.commit()
    with pytest.raises(Conflict):
        behind.reset()
    with pytest.raises(Conflict):
        behind.retire()
    reopened = sf.Runtime(store=SqliteStore(db), runtime_id="c")
    assert reopened.get(source["a"]) == "alpha"
    assert reopened.state is sf.stores.RuntimeState.IDLE
    reopened.retire()  # one that is up to date can


class Child:
    """``tests/conflict_flow.py`` in a real process, driven one command at a time."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(CONFLICT_FLOW), str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.opened = self._answer()["opened"]

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the child died"
        return json.loads(line)  # type: ignore[no-any-return]

    def __call__(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0
        assert self.process.stdout is not None
        self.process.stdout.close()


def _reopened_race(db: Path) -> tuple[str, int]:
    child = Child(db)
    try:
        return child("f")["f"], child.opened
    finally:
        child.close()


def test_two_processes_on_one_runtime_id_never_lose_a_write(tmp_path: Path) -> None:
    """The issue's repro: B opened before A's commit, sets x without reading f, and
    commits. B's commit is refused whole, so the store never says f = 10 with len(x) 2."""
    db = tmp_path / "race.db"
    a, b = Child(db), Child(db)
    try:
        assert a.opened == b.opened == 0
        assert a("set aaaaaaaaaa") == {"ok": True}
        assert a("f") == {"f": 10}
        assert a("commit") == {"sequence": 1}
        assert b("set bb") == {"ok": True}
        lost = b("commit")
        assert lost["error"] == "Conflict"
        assert "based on head 0, the head is now 1" in lost["message"]
        assert str(db) in lost["message"]
        assert b("commit")["error"] == "Conflict"  # and stays refused: reopen to go on
    finally:
        a.close()
        b.close()
    with SqliteStore(db) as store:
        assert [r.sequence for r in store.load_receipts("race")] == [1]
    c = Child(db)  # the way on: open again, and run again
    try:
        assert c.opened == 1
        assert c("f") == {"f": 10}
        assert c("set bb") == {"ok": True}
        assert c("f") == {"f": 2}
        assert c("commit") == {"sequence": 2}
    finally:
        c.close()
    assert _reopened_race(db) == (2, 2)


def test_a_durable_write_by_one_process_refuses_a_commit_based_on_what_it_replaced(
    tmp_path: Path,
) -> None:
    """A ``durable=True`` write advances the head too: B, which computed g from the
    y it restored, must not commit that g over A's new y."""
    db = tmp_path / "race.db"
    setup = Child(db)
    try:
        assert setup("durable old") == {"ok": True}
        assert setup("g") == {"g": "OLD"}
        assert setup("set abc") == {"ok": True}
        assert setup("f") == {"f": 3}
        assert setup("commit") == {"sequence": 1}
    finally:
        setup.close()
    a, b = Child(db), Child(db)
    try:
        assert a.opened == b.opened == 2
        assert b("g") == {"g": "OLD"}
        assert a("durable new") == {"ok": True}  # in the store before set returns
        # B's write needs the stored readers of what it writes, from a boundary gone
        assert b("set abcd")["error"] == "StaleRead"
        assert b("commit")["error"] == "Conflict"
        # B is behind for every write (a StaleRead is a Conflict too)
        assert b("durable newer")["error"] in ("Conflict", "StaleRead")
    finally:
        a.close()
        b.close()
    c = Child(db)
    try:
        assert c("g") == {"g": "NEW"}
        assert c("f") == {"f": 3}
    finally:
        c.close()


# -- stored reverse edges: what a fresh process finds without loading the cache ---------------

edge_flag = sf.Input("persist.edge_flag")


@sf.query(name="persist.edge_pair")
def edge_pair(db: Any, left: str, right: str) -> str:
    return upper(db, left) + upper(db, right)


@sf.query(name="persist.edge_switch")
def edge_switch(db: Any) -> str:
    """Reads ``a`` or ``b`` depending on the flag: its dependencies change."""
    return upper(db, "a" if edge_flag(db) else "b")


@sf.query(name="persist.edge_top")
def edge_top(db: Any) -> str:
    return edge_pair(db, "a", "b") + edge_pair(db, "b", "c") + edge_switch(db)


@sf.query(name="persist.edge_count")
def edge_count(db: Any) -> int:
    return len(source.keys(db))


def _cell_node(input: sf.Input, *key: Any) -> bytes:
    from sofrito._keys import encode_key

    return _snapshot.encode_node_id((_snapshot.INPUT, input.name, encode_key(key)))


def _stored_readers(rt: sf.Runtime, store: RuntimeStore, node: bytes) -> set[bytes]:
    edges = store.load_reader_closure("edges", [node], head=store.load_head("edges"))
    return {reader for _, reader in edges}


def _memory_readers(rt: sf.Runtime, input: sf.Input, key: tuple[Any, ...]) -> set[bytes]:
    """The runtime's own transitive readers of a cell, as memo ids."""
    from sofrito._keys import encode_key

    cell = rt._engine.cells[input][key]
    found: set[bytes] = set()
    stack = list(cell.rdeps or ())
    while stack:
        memo = stack.pop()
        mid = _snapshot.memo_id(memo.spec.name, encode_key(memo.key))
        if mid not in found:
            found.add(mid)
            stack.extend(memo.rdeps or ())
    return found


def _assert_edges_match(rt: sf.Runtime, store: RuntimeStore) -> None:
    for key in ("a", "b", "c"):
        stored = _stored_readers(rt, store, _cell_node(source, key))
        assert stored == _memory_readers(rt, source, (key,)), key
    assert _stored_readers(rt, store, _cell_node(edge_flag)) == _memory_readers(rt, edge_flag, ())


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_commit_stores_the_edges_the_runtime_holds(tmp_path: Path, backend: str) -> None:
    store: RuntimeStore = MemoryStore() if backend == "memory" else SqliteStore(tmp_path / "e.db")
    rt = sf.Runtime(store=store, runtime_id="edges")
    with rt.batch():
        for key in ("a", "b", "c"):
            rt.set(source[key], key)
        rt.set(edge_flag, True)
    edge_top(rt)
    edge_count(rt)
    rt.commit()
    _assert_edges_match(rt, store)
    unit = sf.QueryRef.of("x", ()).key
    switch = _snapshot.memo_id("persist.edge_switch", unit)
    top = _snapshot.memo_id("persist.edge_top", unit)
    assert {switch, top} <= _stored_readers(rt, store, _cell_node(source, "a"))

    # a re-execution that changed its dependencies: the edges follow
    rt.set(edge_flag, False)
    edge_top(rt)
    rt.commit()
    _assert_edges_match(rt, store)
    assert switch not in _stored_readers(rt, store, _cell_node(source, "a"))
    assert top in _stored_readers(rt, store, _cell_node(source, "a"))  # still, via a pair
    assert switch in _stored_readers(rt, store, _cell_node(source, "b"))

    # the key listing is a node of its own: adding a key reaches its readers
    listing = _snapshot.encode_node_id((_snapshot.LISTING, source.name, b""))
    count = _snapshot.memo_id("persist.edge_count", unit)
    assert _stored_readers(rt, store, listing) == {count}

    # clear_cache + commit: a full delta, whose edges replace every stored one
    rt.clear_cache()
    upper(rt, "c")
    rt.commit()
    assert _stored_readers(rt, store, _cell_node(source, "a")) == set()
    assert _stored_readers(rt, store, _cell_node(source, "c")) == {
        _snapshot.memo_id("persist.upper", sf.QueryRef.of("x", ("c",)).key)
    }
    _assert_edges_match(rt, store)
    store.close()


class _Boom(Exception):
    pass


@sf.query(name="persist.edge_fragile")
def edge_fragile(db: Any) -> str:
    """Reads one cell, and fails on one value: its row goes, its reads stay."""
    value = source(db, "f")
    if value == "boom":
        raise _Boom(value)
    return str(value)


class _RecordingSqlite(SqliteStore):
    """A real SqliteStore that also remembers the deltas it was given."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.deltas: list[SnapshotDelta] = []

    def commit_boundary(
        self, runtime_id: str, snapshot: SnapshotDelta, *rest: Any, **options: Any
    ) -> Any:
        self.deltas.append(snapshot)
        return super().commit_boundary(runtime_id, snapshot, *rest, **options)


def _assert_edges_are_the_rows(store: MemoryStore | _RecordingSqlite, runtime_id: str) -> None:
    """The store's edges are exactly the deps its rows list (``_snapshot``): asked of
    every node any delta named, so that a stale edge would show too."""
    snapshot = store.load_snapshot(runtime_id)
    assert snapshot is not None
    expected = set()
    for mid, row in snapshot.rows.items():
        for dep in _snapshot.decode_memo_row(row, Sealer(None), b"").deps:
            expected.add((_snapshot.encode_node_id(dep), mid))
    named = {dep for delta in store.deltas for deps in delta.reads.values() for dep in deps}
    named |= {b"q" + mid for delta in store.deltas for mid in (*delta.upserts, *delta.deletes)}
    head = store.load_head(runtime_id)
    assert set(store.load_readers(runtime_id, sorted(named), head=head)) == expected


def _mid(query: Any, *key: Any) -> bytes:
    from sofrito._keys import encode_key

    return _snapshot.memo_id(query.spec.name, encode_key(key))


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_memo_that_read_what_its_row_lists_keeps_its_stored_edges_unread(
    tmp_path: Path, backend: str
) -> None:
    """A commit marks ``unchanged`` each memo that executed again and read exactly
    what its stored row lists (after a template edit: every render), and only
    those: the store leaves their edges unread. A memo whose reads changed, or
    whose row a commit deleted, has its edges written; they stay right."""
    store: MemoryStore | _RecordingSqlite = (
        RecordingStore() if backend == "memory" else _RecordingSqlite(tmp_path / "same.db")
    )
    rt = sf.Runtime(store=store, runtime_id="edges")
    with rt.batch():
        for key in ("a", "b", "c", "f"):
            rt.set(source[key], key)
        rt.set(edge_flag, True)
    edge_top(rt)
    edge_fragile(rt)
    rt.commit()
    assert store.deltas[-1].unchanged == frozenset()  # first executions: nothing stored
    del rt
    gc.collect()

    # a fresh process: every memo loaded from its row, then executed with the same reads
    rt = sf.Runtime(store=store, runtime_id="edges")
    rt.set(source["a"], "a2")
    edge_top(rt)
    rt.commit()
    written = set(store.deltas[-1].upserts)
    top, switch = _mid(edge_top), _mid(edge_switch)
    assert {_mid(upper, "a"), _mid(edge_pair, "a", "b"), switch, top} <= written
    assert store.deltas[-1].unchanged == written
    _assert_edges_are_the_rows(store, "edges")

    # reads changed: written; its reader, which read the same memos, is not
    rt.set(edge_flag, False)
    edge_top(rt)
    rt.commit()
    assert switch in store.deltas[-1].upserts
    assert switch not in store.deltas[-1].unchanged
    assert top in store.deltas[-1].unchanged
    _assert_edges_are_the_rows(store, "edges")
    assert switch in _stored_readers(rt, store, _cell_node(source, "b"))

    # reads changed and changed back between two commits: what is stored is still right
    rt.set(edge_flag, True)
    edge_top(rt)
    rt.set(edge_flag, False)
    edge_top(rt)
    rt.commit()
    assert switch in store.deltas[-1].unchanged
    _assert_edges_are_the_rows(store, "edges")

    # a row deleted (an error), then a value again with the same reads: edges written
    rt.set(source["f"], "boom")
    with pytest.raises(_Boom):
        edge_fragile(rt)
    rt.commit()
    fragile = _mid(edge_fragile)
    assert fragile in store.deltas[-1].deletes
    assert _stored_readers(rt, store, _cell_node(source, "f")) == set()
    rt.set(source["f"], "fine")
    assert edge_fragile(rt) == "fine"
    rt.commit()
    assert fragile in store.deltas[-1].upserts
    assert fragile not in store.deltas[-1].unchanged
    assert _stored_readers(rt, store, _cell_node(source, "f")) == {fragile}
    _assert_edges_are_the_rows(store, "edges")
    store.close()


def test_an_upgrade_that_drops_the_memo_rows_leaves_no_row_trusted(tmp_path: Path) -> None:
    """Opening a schema 5 file upgrades it: its memo rows and edges go (the edges
    cannot be regrouped trusted), and so does the snapshot that described them.
    Kept, it passed every row as clean without loading it (``untouched``, which
    ``sofrito run`` asks about every output), and after a template edit no edge
    was left to mark the pages: every one stayed stale."""
    from sofrito._on_demand import untouched
    from tests.stores.test_sqlite import _make_version_5

    db = tmp_path / "u.db"
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="u")
    rt.set(source["a"], "alpha")
    assert joined(rt, "a") == "ALPHA"
    rt.commit()
    assert untouched(rt, [(joined, ("a",))]) == [False]  # in memory: not a stored row's
    del rt
    gc.collect()
    assert untouched(sf.Runtime(store=SqliteStore(db), runtime_id="u"), [(joined, ("a",))]) == [
        True
    ]
    gc.collect()
    _make_version_5(db)
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="u")
    assert untouched(rt, [(joined, ("a",))]) == [False]
    assert rt.get(source["a"]) == "alpha"  # the inputs stay
    rt.set(source["a"], "again")
    assert joined(rt, "a") == "AGAIN"
    rt.commit()
    del rt
    gc.collect()
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="u")
    rt.set(source["a"], "third")
    assert joined(rt, "a") == "THIRD"  # its new edges marked it


def test_a_commit_makes_its_input_states_as_the_store_writes_them(tmp_path: Path) -> None:
    """Each input state holds its value encoded: a commit of 1,200 files of
    20 KB held all 24 MB of them through the store's whole write. They are
    made as SQLite writes them, 500 at a time, and all of them are stored."""
    rt = sf.Runtime(store=SqliteStore(tmp_path / "states.db"), runtime_id="states")
    with rt.batch():
        for n in range(1_200):
            rt.set(source[f"f{n}"], bytes([n % 251]) * 20_000)
    tracemalloc.start()
    try:
        rt.commit()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16_000_000, peak  # 24.8 MB when all were made first
    reopened = sf.Runtime(store=SqliteStore(tmp_path / "states.db"), runtime_id="states")
    assert reopened.get(source["f1199"]) == bytes([1199 % 251]) * 20_000


def test_a_held_value_is_encoded_again_as_the_row_its_commit_wrote(tmp_path: Path) -> None:
    """A memo whose value is still held (its row, never decoded) gives the same
    row when asked for it again, as a worker ships one: its value's bytes are
    found at the end of the row, not taken for the whole row."""
    rt = sf.Runtime(store=SqliteStore(tmp_path / "again.db"), runtime_id="again")
    rt.set(source["k0"], "v0")
    upper(rt, "k0")
    rt.commit()
    memo = rt._engine.tables[upper.spec][("k0",)]
    assert type(memo.value) is Encoded
    persistence = rt._persistence
    assert persistence is not None
    shipped = persistence.row_to_ship(memo)
    assert shipped is not None
    assert shipped[1] == memo.value.data
    assert upper(rt, "k0") == "V0"
