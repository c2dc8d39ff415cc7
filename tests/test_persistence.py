"""The runtime on a store: warm restarts, receipts, fingerprints, bad data."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import sofrito as sf
from sofrito._engine.memo import Encoded
from sofrito.stores import CorruptSnapshot, MemoryStore, SnapshotDelta, SqliteStore, StoreError

FLOW = Path(__file__).with_name("persist_flow.py")
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

    def commit_boundary(self, runtime_id: str, snapshot: SnapshotDelta, *rest: Any) -> Any:
        self.deltas.append(snapshot)
        return super().commit_boundary(runtime_id, snapshot, *rest)


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


def test_unserializable_value_fails_commit_naming_query_and_key_and_writes_nothing() -> None:
    store = MemoryStore()
    rt = sf.Runtime(store=store, runtime_id="bad")
    rt.set(source["x"], "fine")
    upper(rt, "x")

    @sf.query(name="persist.lock")
    def holds_a_lock(db: Any, key: str) -> Any:
        source(db, key)
        import threading

        return threading.Lock()

    holds_a_lock(rt, "x")
    with pytest.raises(
        StoreError, match=r"persist\.lock\('x'\).*cannot pickle.*nothing was written"
    ):
        rt.commit()
    assert store.load_receipts("bad") == []
    assert store.load_snapshot("bad") is None


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


def test_corrupt_row_is_reported_never_served(tmp_path: Path) -> None:
    db = _committed_db(tmp_path)
    with sqlite3.connect(db) as conn:
        (row,) = conn.execute("SELECT row FROM memos LIMIT 1").fetchone()
        conn.execute("UPDATE memos SET row = ?, sum = sum WHERE row = ?", (row[:-3] + b"XYZ", row))
    with pytest.raises(CorruptSnapshot, match="fails its checksum"):
        sf.Runtime(store=SqliteStore(db), runtime_id="c")


def test_on_corrupt_cold_drops_the_damaged_state_and_recomputes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = _committed_db(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE memos SET row = ?", (b"garbage",))
    with caplog.at_level(logging.WARNING, logger="sofrito.persistence"):
        rt = sf.Runtime(store=SqliteStore(db), runtime_id="c", on_corrupt="cold")
    assert "starting runtime 'c' cold" in caplog.text
    assert rt.revision == 0
    with pytest.raises(sf.Suspend):
        joined(rt, "a", "b")  # the inputs went with the damaged state: nothing stale


def test_file_that_is_not_a_store_is_moved_aside_in_cold_mode(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    db.write_bytes(b"definitely not sqlite" * 200)
    with pytest.raises(CorruptSnapshot):
        sf.Runtime(store=SqliteStore(db), runtime_id="c")
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="c", on_corrupt="cold")
    assert rt.revision == 0
    assert [p.name.startswith("c.db.corrupt-") for p in tmp_path.iterdir()].count(True) == 1
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
