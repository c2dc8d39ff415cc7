"""Lifecycle: retire, stop, reset, destroy; writes refused where they must be."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sofrito as sf
from sofrito.stores import RuntimeState, SqliteStore

cell = sf.Input("life.cell")


@sf.query(name="life.double")
def double(db: Any) -> int:
    return cell(db) * 2  # type: ignore[no-any-return]


def _runtime(tmp_path: Path) -> sf.Runtime:
    rt = sf.Runtime(store=SqliteStore(tmp_path / "life.db"), runtime_id="life")
    rt.set(cell, 21)
    assert double(rt) == 42
    rt.commit()
    return rt


def _reopen(tmp_path: Path) -> sf.Runtime:
    return sf.Runtime(store=SqliteStore(tmp_path / "life.db"), runtime_id="life")


def test_a_new_runtime_is_idle(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    assert rt.state is RuntimeState.IDLE
    assert SqliteStore(tmp_path / "life.db").load_runtime_state("life") is RuntimeState.IDLE


@pytest.mark.parametrize(("operation", "state"), [("retire", "retired"), ("stop", "stopped")])
def test_retired_and_stopped_runtimes_refuse_writes_but_keep_state(
    tmp_path: Path, operation: str, state: str
) -> None:
    rt = _runtime(tmp_path)
    rt.set(cell, 5)  # not committed: goes with the lifecycle commit
    getattr(rt, operation)()
    assert rt.state.value == state
    with pytest.raises(RuntimeError, match=rf"cannot write to runtime 'life': it is {state}"):
        rt.set(cell, 1)
    with pytest.raises(RuntimeError, match=state):
        rt.commit()
    assert double(rt) == 10  # reads still work
    reopened = _reopen(tmp_path)
    assert reopened.state.value == state
    assert reopened.get(cell) == 5
    with pytest.raises(RuntimeError, match=state):
        reopened.set(cell, 2)


def test_reset_drops_memos_and_inputs_and_keeps_identity(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    before = rt.revision
    rt.reset()
    assert rt.revision == before + 1
    with pytest.raises(sf.Suspend):
        double(rt)
    with pytest.raises(sf.Suspend):
        double(_reopen(tmp_path))  # dropped in the store too, without a commit
    rt.set(cell, 1)
    assert double(rt) == 2
    receipt = rt.commit()
    assert receipt.sequence == 2  # the receipts of the identity go on
    reopened = _reopen(tmp_path)
    assert double(reopened) == 2


def test_destroy_removes_everything_and_refuses_writes(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    rt.destroy()
    with pytest.raises(RuntimeError, match="it is destroyed"):
        rt.set(cell, 1)
    with pytest.raises(RuntimeError, match="destroyed"):
        rt.destroy()
    store = SqliteStore(tmp_path / "life.db")
    assert store.load_receipts("life") == []
    assert store.load_snapshot("life") is None
    fresh = _reopen(tmp_path)  # the id can be used again, from nothing
    assert fresh.state is RuntimeState.IDLE
    assert fresh.revision == 0


def test_lifecycle_without_a_store_is_in_memory() -> None:
    rt = sf.Runtime()
    rt.set(cell, 1)
    rt.retire()
    with pytest.raises(RuntimeError, match="retired"):
        rt.set(cell, 2)
    assert rt.get(cell) == 1


def test_a_batch_that_retires_the_runtime_takes_no_further_write() -> None:
    rt = sf.Runtime()
    with rt.batch():
        rt.set(cell["a"], 1)
        rt.retire()
        with pytest.raises(RuntimeError, match="retired"):
            rt.set(cell["b"], 2)  # the batch holds the gate and has bumped: still refused
    assert rt.get(cell["a"]) == 1
    with pytest.raises(sf.Suspend):
        rt.get(cell["b"])


def test_the_documented_sequence_retire_stop_reset_destroy_runs_in_order(tmp_path: Path) -> None:
    """Retiring comes before stopping, and a shut-down runtime can still be
    reset or destroyed: cleanup must not need a second runtime object."""
    rt = _runtime(tmp_path)
    rt.retire()
    rt.stop()
    assert _reopen(tmp_path).state is RuntimeState.STOPPED
    rt.reset()  # start over: the runtime takes writes again
    assert rt.state is RuntimeState.IDLE
    rt.set(cell, 3)
    assert double(rt) == 6
    rt.commit()
    rt.stop()
    rt.destroy()
    assert rt.state is RuntimeState.DESTROYED
    assert SqliteStore(tmp_path / "life.db").load_snapshot("life") is None


@pytest.mark.parametrize(
    ("first", "then", "state"),
    [("stop", "retire", "stopped"), ("retire", "retire", "retired"), ("stop", "stop", "stopped")],
)
def test_a_transition_that_goes_back_or_repeats_is_refused_naming_the_state(
    tmp_path: Path, first: str, then: str, state: str
) -> None:
    rt = _runtime(tmp_path)
    getattr(rt, first)()
    with pytest.raises(RuntimeError, match=rf"cannot {then} runtime 'life': it is {state}"):
        getattr(rt, then)()
    assert rt.state.value == state


def test_a_destroyed_runtime_cannot_be_reset() -> None:
    rt = sf.Runtime()
    rt.destroy()
    with pytest.raises(RuntimeError, match="cannot reset runtime 'default': it is destroyed"):
        rt.reset()
