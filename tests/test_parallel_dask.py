"""The Dask executor on a real ``distributed.LocalCluster`` (two worker processes,
one cluster per test session, its HTTP server on a free port): results equal a
local run, a no-op ships nothing, a worker killed mid-task is rescheduled and
the result is right. Skipped without ``distributed`` (an optional extra), except when
``SOFRITO_REQUIRE_DASK=1`` (CI), where its absence fails."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sofrito as sf
from tests import parallel_flow as flow
from tests.test_parallel import KEYS, _fill, _open, _serial

HAVE_DASK = importlib.util.find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(
    not HAVE_DASK, reason="distributed is not installed (pip install 'sofrito[dask]')"
)


def test_dask_is_installed_when_required() -> None:
    if os.environ.get("SOFRITO_REQUIRE_DASK") == "1":
        assert HAVE_DASK, "SOFRITO_REQUIRE_DASK=1 but distributed is not installed"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    from distributed import LocalCluster

    os.environ["SOFRITO_TEST_COORDINATOR"] = str(os.getpid())
    # dashboard_address=None still serves HTTP on 8787 (distributed falls back
    # to its default port), which another cluster on the machine may hold: ":0"
    # takes a free port.
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local


@pytest.fixture
def executor(cluster: Any) -> Iterator[Any]:
    """Every key that needs work goes to the cluster (``caller_share=False``)."""
    from sofrito.executors import Dask

    with Dask(cluster.scheduler_address, caller_share=False) as dask:
        yield dask


def _tasks_run(executor: Any) -> int:
    from sofrito._dask import tasks_run

    return sum(executor.client.run(tasks_run).values())


@needs_dask
def test_dask_equals_a_local_run_and_an_edit_reexecutes_the_same(
    tmp_path: Path, executor: Any
) -> None:
    def edit(rt: sf.Runtime) -> None:
        rt.set(flow.texts["p03"], "an edited text")

    want, want_after_edit = _serial(tmp_path, edit)
    rt = _open(tmp_path / "dask.db")
    _fill(rt)
    flow.RUNS.clear()
    before = _tasks_run(executor)
    assert rt.query_many(flow.render, KEYS, executor=executor) == want
    assert flow.RUNS == []  # every key came from the workers
    assert _tasks_run(executor) > before
    rt.commit()
    edit(rt)
    rt.query_many(flow.render, KEYS)
    assert sorted(flow.RUNS) == want_after_edit


@needs_dask
def test_dask_leaves_the_gatherer_its_share_of_the_keys(tmp_path: Path, cluster: Any) -> None:
    """By default the gatherer computes the first of every ``workers + 1`` keys
    (4 of 12 with two workers) and the cluster the others."""
    from sofrito.executors import Dask

    want, _ = _serial(tmp_path)
    rt = _open(tmp_path / "dask.db")
    _fill(rt)
    flow.RUNS.clear()
    with Dask(cluster.scheduler_address) as dask:
        before = _tasks_run(dask)
        assert rt.query_many(flow.render, KEYS, executor=dask) == want
        assert _tasks_run(dask) > before
    here = sorted(run.split()[1] for run in flow.RUNS if run.startswith("render"))
    assert here == [name for (name,) in KEYS[:4]]


@needs_dask
def test_dask_no_op_ships_nothing(tmp_path: Path, executor: Any) -> None:
    rt = _open(tmp_path / "dask.db")
    _fill(rt)
    want = rt.query_many(flow.render, KEYS, executor=executor)
    rt.commit()
    rt._persistence.store.close()  # type: ignore[union-attr]
    reopened = _open(tmp_path / "dask.db")
    before = _tasks_run(executor)
    assert reopened.query_many(flow.render, KEYS, executor=executor) == want
    assert _tasks_run(executor) == before


@needs_dask
def test_dask_reschedules_the_task_of_a_worker_killed_mid_task(
    tmp_path: Path, executor: Any
) -> None:
    want, _ = _serial(tmp_path)
    mark = tmp_path / "killed"
    rt = _open(tmp_path / "dask.db")
    _fill(rt, {"p05": f"kill-once:{mark}"})
    flow.RUNS.clear()
    assert rt.query_many(flow.render, KEYS, executor=executor) == want
    assert mark.exists()  # a worker died rendering p05
    assert flow.RUNS == []  # and another rendered it: Dask rescheduled the task


@needs_dask
def test_dask_connects_on_the_first_dispatch_that_sends_keys(tmp_path: Path, cluster: Any) -> None:
    from sofrito.executors import Dask

    def clients() -> int:
        return len(cluster.scheduler.clients)

    before = clients()
    with Dask(cluster.scheduler_address) as dask:
        rt = _open(tmp_path / "dask.db", dask)
        _fill(rt)
        rt.query_many(flow.render, KEYS[:1])  # one key: computed here, nothing sent
        assert clients() == before  # not connected
        rt.query_many(flow.render, KEYS)
        assert clients() == before + 1
        assert _tasks_run(dask) > 0
    assert clients() == before  # closed by shutdown


@needs_dask
def test_dask_with_no_scheduler_computes_every_key_here_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import socket

    from sofrito.executors import Dask

    want, _ = _serial(tmp_path)
    # A port bound and not listening refuses connections, and stays ours while the
    # test runs: a port closed again could be taken by the session cluster's
    # restarted worker, and a client connected to a worker waits for a reply.
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
        with (
            Dask(f"127.0.0.1:{port}", connect_timeout=1) as dask,
            caplog.at_level(logging.WARNING),
        ):
            rt = _open(tmp_path / "dask.db", dask)
            _fill(rt)
            flow.RUNS.clear()
            assert rt.query_many(flow.render, KEYS) == want
            rt.commit()
            rt.set(flow.texts["p03"], "an edited text")
            rt.set(flow.texts["p04"], "another edited text")
            rt.query_many(flow.render, KEYS)
    assert caplog.text.count("cannot be reached") == 1  # said once, not per dispatch
    assert f"render {KEYS[0][0]}" in flow.RUNS  # computed here


@needs_dask
def test_dask_refuses_what_is_neither_a_client_nor_an_address(cluster: Any) -> None:
    from sofrito.executors import Dask

    with pytest.raises(TypeError, match=r"a distributed\.Client or a scheduler's address"):
        Dask(cluster)  # the cluster, not its address: said when made, not at a dispatch


@needs_dask
def test_dask_with_an_address_it_cannot_use_computes_every_key_here(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from sofrito.executors import Dask

    want, _ = _serial(tmp_path)
    with Dask("not an address") as dask, caplog.at_level(logging.WARNING):
        rt = _open(tmp_path / "dask.db", dask)
        _fill(rt)
        assert rt.query_many(flow.render, KEYS) == want
    assert "cannot be reached" in caplog.text
