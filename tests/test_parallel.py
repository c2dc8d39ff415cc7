"""Process and Dask executors (DESIGN §8): results, installed memos, failures.

Real worker processes (a spawn pool; a ``distributed.LocalCluster`` with two
worker processes, one per test session) on a real SQLite file. Each test
compares with a serial run on its own file: the values, and what an edit
after the parallel run executes (the installed memos' dependencies must
invalidate exactly what a serial run's do).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sofrito as sf
from sofrito.executors import Processes
from tests import parallel_flow as flow

NAMES = [f"p{i:02}" for i in range(12)]
KEYS = [(name,) for name in NAMES]


def _open(path: Path, executor: Any = None) -> sf.Runtime:
    return sf.Runtime(store=sf.stores.SqliteStore(path), runtime_id="parallel", executor=executor)


def _fill(rt: sf.Runtime, behaviour: dict[str, str] | None = None) -> None:
    with rt.batch():
        for name in NAMES:
            rt.set(flow.texts[name], f"text of {name} " * (1 + int(name[1:]) % 3))
        rt.set(flow.settings, {"suffix": "!", "behaviour": behaviour or {}})


def _serial(tmp_path: Path, edit: Any = None) -> tuple[list[str], list[str]]:
    """A serial run's values, and what an edit after it executes."""
    rt = _open(tmp_path / "serial.db")
    _fill(rt)
    values = rt.query_many(flow.render, KEYS)
    rt.commit()
    flow.RUNS.clear()
    if edit is not None:
        edit(rt)
        rt.query_many(flow.render, KEYS)
    return values, sorted(flow.RUNS)


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Two workers that get every key needing work (``caller_share=False``), so
    that a test sees each key go through shipping and installing."""
    os.environ["SOFRITO_TEST_COORDINATOR"] = str(os.getpid())
    with Processes(2, caller_share=False) as executor:
        yield executor


def _edit_one_text(rt: sf.Runtime) -> None:
    rt.set(flow.texts["p03"], "an edited text")


def _edit_suffix(rt: sf.Runtime) -> None:
    rt.set(flow.settings, {"suffix": "?", "behaviour": {}})


@pytest.mark.parametrize("edit", [_edit_one_text, _edit_suffix])
def test_processes_equal_a_serial_run_and_an_edit_reexecutes_the_same(
    tmp_path: Path, processes: Processes, edit: Any
) -> None:
    want, want_after_edit = _serial(tmp_path, edit)
    rt = _open(tmp_path / "parallel.db")
    _fill(rt)
    flow.RUNS.clear()
    assert rt.query_many(flow.render, KEYS, executor=processes) == want
    assert flow.RUNS == []  # every key came from the workers
    rt.commit()
    edit(rt)
    assert rt.query_many(flow.render, KEYS) != want  # here, on this thread
    assert sorted(flow.RUNS) == want_after_edit


def _executions(rt: sf.Runtime, run: Any) -> set[tuple[str, str, bytes, bool]]:
    """The execution events ``run()`` makes ``rt`` send: (event, query, key, first)."""
    receiver = rt.subscribe_events(capacity=10_000)
    run()
    seen: set[tuple[str, str, bytes, bool]] = set()
    while (event := receiver.try_recv()) is not None:
        if isinstance(event, sf.QueryExecuting):
            seen.add(("executing", event.ref.kind, event.ref.key, event.first))
        elif isinstance(event, sf.QueryChanged):
            seen.add(("changed", event.ref.kind, event.ref.key, False))
    receiver.close()
    return seen


def test_what_workers_execute_is_reported_as_a_serial_run_reports_it(
    tmp_path: Path, processes: Processes
) -> None:
    serial = _open(tmp_path / "serial.db")
    parallel = _open(tmp_path / "parallel.db", processes)
    for rt in (serial, parallel):
        _fill(rt)
    flow.RUNS.clear()
    cold = _executions(parallel, lambda: parallel.query_many(flow.render, KEYS))
    assert flow.RUNS == []  # all in the workers, yet reported here
    assert cold == _executions(serial, lambda: serial.query_many(flow.render, KEYS))
    assert len(cold) == 2 * len(KEYS) + 1  # render and words per key, suffix once
    for rt in (serial, parallel):
        rt.commit()
        _edit_suffix(rt)
    flow.RUNS.clear()
    edited = _executions(parallel, lambda: parallel.query_many(flow.render, KEYS))
    assert flow.RUNS == []
    assert edited == _executions(serial, lambda: serial.query_many(flow.render, KEYS))
    assert {what for what, name, _, first in edited if name == "parallel.render"} == {
        "executing",
        "changed",
    }
    assert all(not first for _, _, _, first in edited)


def test_installed_memos_survive_a_restart_and_a_no_op_ships_nothing(
    tmp_path: Path, processes: Processes
) -> None:
    want, _ = _serial(tmp_path)
    rt = _open(tmp_path / "parallel.db", processes)
    _fill(rt)
    assert rt.query_many(flow.render, KEYS) == want
    rt.commit()
    rt._persistence.store.close()  # type: ignore[union-attr]
    reopened = _open(tmp_path / "parallel.db", processes)
    before = reopened.revision
    flow.RUNS.clear()
    submitted: list[Any] = []
    real = processes._submit
    processes._submit = lambda task: submitted.append(task) or real(task)  # type: ignore[method-assign]
    assert reopened.query_many(flow.render, KEYS) == want
    assert submitted == []  # every key a hit: nothing shipped
    assert flow.RUNS == []
    assert reopened.revision == before


def test_a_worker_killed_mid_task_leaves_the_keys_to_the_gatherer(
    tmp_path: Path, processes: Processes, caplog: pytest.LogCaptureFixture
) -> None:
    want, _ = _serial(tmp_path)
    rt = _open(tmp_path / "parallel.db", processes)
    _fill(rt, {"p05": "kill"})  # a worker that renders p05 kills itself
    flow.RUNS.clear()
    with caplog.at_level(logging.WARNING, logger="sofrito.executors"):
        assert rt.query_many(flow.render, KEYS) == want
    assert "computing them here" in caplog.text
    assert "render p05" in flow.RUNS  # the gatherer rendered it (not killed: the coordinator)
    rt.commit()
    flow.RUNS.clear()
    _edit_one_text(rt)  # the pool starts afresh after the loss
    _fill(rt, {})
    assert rt.query_many(flow.render, KEYS) == [*want[:3], want[3], *want[4:]]


def test_a_user_error_in_a_worker_is_raised_by_the_gatherer_as_in_a_serial_run(
    tmp_path: Path, processes: Processes
) -> None:
    rt = _open(tmp_path / "parallel.db", processes)
    _fill(rt, {"p04": "fail"})
    with pytest.raises(ValueError, match="cannot render p04"):
        rt.query_many(flow.render, KEYS)
    assert [flow.render(rt, name) for name in NAMES[:4]] == [
        flow.render(rt, name) for name in NAMES[:4]
    ]


def test_a_runtime_on_a_memory_store_computes_every_key_itself(processes: Processes) -> None:
    rt = sf.Runtime(store=sf.stores.MemoryStore(), runtime_id="m", executor=processes)
    _fill(rt)
    flow.RUNS.clear()
    values = rt.query_many(flow.render, KEYS)
    assert len(values) == len(KEYS)
    assert sum(1 for run in flow.RUNS if run.startswith("render")) == len(KEYS)


def test_processes_takes_a_positive_number_of_jobs() -> None:
    with pytest.raises(ValueError, match="positive int"):
        Processes(0)


def test_a_worker_kept_open_across_boundaries_that_dies_leaves_its_keys_to_the_gatherer(
    tmp_path: Path, processes: Processes, caplog: pytest.LogCaptureFixture
) -> None:
    """The words go to the workers first; the renders, at a later boundary of the
    same revision, to the same workers kept open, one of which dies on p05."""
    want, _ = _serial(tmp_path)
    rt = _open(tmp_path / "parallel.db", processes)
    _fill(rt, {"p05": "kill"})  # a worker that renders p05 kills itself
    flow.RUNS.clear()
    rt.query_many(flow.words, KEYS)
    assert flow.RUNS == []  # in the workers
    with caplog.at_level(logging.WARNING, logger="sofrito.executors"):
        assert rt.query_many(flow.render, KEYS) == want
    assert "computing them here" in caplog.text
    assert "render p05" in flow.RUNS  # the gatherer rendered it
    assert not any(run.startswith("words") for run in flow.RUNS)  # installed, not redone
    rt.commit()
    _fill(rt, {})
    _edit_one_text(rt)
    flow.RUNS.clear()
    edited = rt.query_many(flow.render, KEYS)  # a new pool
    assert edited[3].startswith("<p>AN EDITED TEXT</p>")
    assert [value for i, value in enumerate(edited) if i != 3] == want[:3] + want[4:]
    assert flow.RUNS == []  # all in the new pool's workers


def test_the_gatherer_computes_its_share_and_the_workers_the_rest(tmp_path: Path) -> None:
    """By default the gatherer keeps the first of every ``jobs + 1`` keys that
    need work (here 6 of 12 with one worker) and computes them while the
    worker starts; the worker computes what it was sent, each key once."""
    want, want_after_edit = _serial(tmp_path, _edit_one_text)
    os.environ["SOFRITO_TEST_COORDINATOR"] = str(os.getpid())
    with Processes(1) as one_worker:
        rt = _open(tmp_path / "parallel.db", one_worker)
        _fill(rt, {"p00": "slow"})  # the worker's pool is filled before p01 is reached
        flow.RUNS.clear()
        executions = _executions(rt, lambda: rt.query_many(flow.render, KEYS))
        assert rt.query_many(flow.render, KEYS) == want
        here = {run.split()[1] for run in flow.RUNS if run.startswith("render")}
        assert set(NAMES[:6]) <= here  # the gatherer's share
        assert here < set(NAMES)  # the worker computed the rest, or some of it
        # every key executed once, wherever: what a serial run reports
        serial = _open(tmp_path / "again.db")
        _fill(serial, {"p00": "slow"})
        assert executions == _executions(serial, lambda: serial.query_many(flow.render, KEYS))
        rt.commit()
        _edit_one_text(rt)
        flow.RUNS.clear()
        rt.query_many(flow.render, KEYS)
        assert sorted(flow.RUNS) == want_after_edit  # one key needs work: none is sent


def test_a_batch_no_worker_has_started_is_taken_back_by_the_gatherer(tmp_path: Path) -> None:
    """``take`` cancels a batch still waiting for a worker and leaves its keys
    to the gatherer, instead of waiting for a worker to reach it."""
    from concurrent.futures import Future

    from sofrito.executors import _Shipping

    rt = _open(tmp_path / "parallel.db")
    waiting: list[Future[Any]] = [Future(), Future()]

    def never_started() -> None:  # a take that waited instead fails, not hangs
        for future in waiting:
            if not future.done():
                future.set_exception(RuntimeError("waited for a batch no worker started"))

    timer = threading.Timer(10, never_started)
    timer.start()
    shipping = _Shipping(rt, "render", {0: 0, 1: 0, 2: 1}, [0, 2], waiting, take_back=True)
    shipping.take(0)
    shipping.take(1)
    shipping.take(2)
    timer.cancel()
    assert [future.cancelled() for future in waiting] == [True, True]
    assert (shipping.taken_back, shipping.installed) == (2, 0)
    started: Future[Any] = Future()
    assert started.set_running_or_notify_cancel()
    started.set_exception(RuntimeError("the worker was lost"))
    lost = _Shipping(rt, "render", {0: 0}, [0], [started], take_back=True)
    lost.take(0)  # started, then failed: left to the gatherer with a warning, not taken back
    assert lost.taken_back == 0
