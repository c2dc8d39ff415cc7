"""Worker processes against the oracle: random graphs whose "gather" nodes, and the
top-level ``rt.query_many`` of every node, ship their keys to ``Processes``.

Each example is a runtime on a real SQLite file with a pool of two worker
processes (shared by the examples: a task of another runtime opens that
runtime in the worker). A shipped key is computed by a worker at the boundary
the coordinator committed before it dispatched, and the coordinator installs
the rows it returns as memos, linked to what they read. Two pools: one that
gets every key (``caller_share=False``), and one as ``sofrito run --jobs``
has it, where the gatherer keeps a share and takes back the batches no worker
has started. Then rounds of edits (new values, removals), sometimes in a
fresh runtime on the same file, each followed by the same run and a commit.
After each run, every node read in the coordinator must be what a
from-scratch evaluation of the current inputs gives: a stale installed memo,
a dependency lost in shipping, or a worker pinned to the wrong boundary would
show as a wrong value, here or after a later edit.

Not on Dask: a ``distributed`` client runs an event loop in this process,
whose threads use the ``random`` module while hypothesis draws, which
hypothesis refuses (a random run failed so). The Dask executor shares the
shipping code; tests/test_parallel_dask.py runs it on a real cluster.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import sofrito as sf
from sofrito.executors import Processes
from sofrito.stores import SqliteStore
from tests.oracle import Failure, Graph, Value, expected_outcome, outcome
from tests.parallel_oracle import cells, graph_cell, node
from tests.strategies import GATHER_OPS, apply_cell_edits, cell_edits, graphs, initial_values


@pytest.fixture(scope="module", params=[False, True], ids=["workers-only", "caller-share"])
def processes(request: pytest.FixtureRequest) -> Iterator[Processes]:
    """Every key shipped; or the default, where the gatherer keeps a share and takes
    back a batch no worker has started (both sides then compute, and race)."""
    with Processes(2, caller_share=request.param) as executor:
        yield executor


rounds = st.lists(st.tuples(cell_edits(4, sets=2), st.booleans()), min_size=1, max_size=4)
"""Each round: its edits, and whether a fresh runtime makes them."""


def _open(path: Path, executor: Any) -> tuple[sf.Runtime, SqliteStore]:
    store = SqliteStore(path)
    return sf.Runtime(store=store, runtime_id="po", executor=executor), store


def _run_and_check(rt: sf.Runtime, graph: Graph, current: dict[int, Value], when: str) -> None:
    keys = [(index,) for index in range(len(graph.nodes))]
    with contextlib.suppress(Failure, sf.Suspend):  # the loop's first error or the
        rt.query_many(node, keys)  # suspension: each key is checked below
    got = [outcome(partial(node, rt, index)) for index in range(len(graph.nodes))]
    want = [expected_outcome(graph, current, index) for index in range(len(graph.nodes))]
    assert got == want, f"{when}: nodes {got}, expected {want}"


EXAMPLES = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "phases": (Phase.explicit, Phase.generate),
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(max_examples=25, **EXAMPLES)
@given(st.data())
def test_runs_whose_keys_go_to_worker_processes_agree_with_the_oracle(
    processes: Processes, data: st.DataObject
) -> None:
    _play(processes, data)


def _play(executor: Any, data: st.DataObject) -> None:
    graph = data.draw(graphs(max_inputs=4, max_nodes=10, ops=GATHER_OPS))
    first = data.draw(initial_values(graph))
    plan = data.draw(rounds)
    current = {cell: value for cell, value in enumerate(first) if value is not None}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "parallel.db"
        rt, store = _open(path, executor)
        rt.set(graph_cell, graph)
        with rt.batch():
            for cell, value in current.items():
                rt.set(cells[cell], value)
        _run_and_check(rt, graph, current, "the first run")
        rt.commit()
        for number, (changes, reopen) in enumerate(plan, 1):
            if reopen:
                store.close()
                rt, store = _open(path, executor)
            with rt.batch():
                apply_cell_edits(rt, cells, graph, changes, current)
            _run_and_check(rt, graph, current, f"round {number} ({changes}, reopened: {reopen})")
            rt.commit()
        store.close()
