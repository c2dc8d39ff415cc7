"""A worker's side of the process and Dask executors (``sofrito._shipping``):
its runtime kept open across its coordinator's boundaries, and what a task
ships. ``run_task`` is called here as a worker calls it, with a worker's
``Opened``, on a real SQLite file the coordinator commits to."""

from __future__ import annotations

from pathlib import Path

import sofrito as sf
from sofrito import _shipping
from sofrito._queries import spec_of
from tests import parallel_flow as flow
from tests.test_parallel import KEYS, _fill, _open, _serial


def _task(rt: sf.Runtime, query: object, keys: list[tuple[str]]) -> _shipping.Task:
    """A task as the coordinator sends it: committed first (``prepare``)."""
    spec = spec_of(query)
    recipe = _shipping.recipe_for(rt, spec, None)
    boundary = _shipping.prepare(rt)
    assert recipe is not None
    assert boundary is not None
    return _shipping.Task(recipe, boundary, spec.name, tuple(keys))


def _shipped_names(shipped: _shipping.Shipped) -> list[str]:
    return sorted(
        f"{name.removeprefix('parallel.')} {key.hex()}"
        for name, key in (_shipping.split_memo_id(mid) for mid, _ in shipped.rows)
    )


def test_a_worker_follows_a_later_boundary_of_its_run_without_opening_again(
    tmp_path: Path,
) -> None:
    rt = _open(tmp_path / "parallel.db")
    _fill(rt)
    opened = _shipping.Opened()
    first = _shipping.run_task(_task(rt, flow.words, KEYS[:6]), opened)
    assert first.executed == 6
    _shipping.install(rt, first)
    flow.RUNS.clear()
    # The coordinator commits what it installed: a later boundary, same revision.
    second = _shipping.run_task(_task(rt, flow.render, KEYS[:6]), opened)
    assert opened.opens == 1  # followed, not opened again
    assert second.refused is None
    # the words of those keys are in the worker's memory: not executed, not shipped
    assert sorted(flow.RUNS) == sorted([f"render {k}" for (k,) in KEYS[:6]] + ["suffix"])
    assert not any(name.startswith("words") for name in _shipped_names(second))
    assert _shipping.install(rt, second) == 7  # six renders and the suffix
    want, _ = _serial(tmp_path)
    assert [flow.render(rt, *key) for key in KEYS[:6]] == want[:6]


def test_a_worker_kept_open_sees_the_inputs_of_a_new_revision(tmp_path: Path) -> None:
    def edit(rt: sf.Runtime) -> None:
        rt.set(flow.texts["p03"], "an edited text")

    rt = _open(tmp_path / "parallel.db")
    _fill(rt)
    opened = _shipping.Opened()
    _shipping.install(rt, _shipping.run_task(_task(rt, flow.render, KEYS), opened))
    rt.commit()
    edit(rt)
    flow.RUNS.clear()
    shipped = _shipping.run_task(_task(rt, flow.render, KEYS), opened)
    assert opened.opens == 2  # an input changed: opened again at the new boundary
    assert shipped.refused is None
    assert sorted(flow.RUNS) == ["render p03", "words p03"]
    _shipping.install(rt, shipped)
    _, after_edit = _serial(tmp_path, edit)
    assert after_edit == ["render p03", "words p03"]
    assert [flow.render(rt, *key) for key in KEYS][3].startswith("<p>AN EDITED TEXT</p>")


def test_a_task_of_another_coordinator_run_opens_the_runtime_again(tmp_path: Path) -> None:
    """Another ``sofrito run`` at the same revision number may have written
    other inputs on the way: a Dask worker does not follow into its boundaries."""
    rt = _open(tmp_path / "parallel.db")
    _fill(rt)
    opened = _shipping.Opened()
    _shipping.install(rt, _shipping.run_task(_task(rt, flow.words, KEYS), opened))
    rt.commit()
    rt._persistence.store.close()  # type: ignore[union-attr]
    again = _open(tmp_path / "parallel.db")
    again.clear_cache()  # something to commit at the same revision
    task = _task(again, flow.render, KEYS)
    assert task.boundary.revision == rt.revision
    shipped = _shipping.run_task(task, opened)
    assert opened.opens == 2
    assert shipped.refused is None


def test_each_memo_is_shipped_once_by_a_worker(tmp_path: Path) -> None:
    """What every key reads (the suffix here, the site's link index there)
    travels with the first task that executed it, not with every batch."""
    rt = _open(tmp_path / "parallel.db")
    _fill(rt)
    opened = _shipping.Opened()
    one = _shipping.run_task(_task(rt, flow.render, KEYS[:6]), opened)
    two = _shipping.run_task(_task(rt, flow.render, KEYS[6:]), opened)
    assert any(name.startswith("suffix") for name in _shipped_names(one))
    assert not any(name.startswith("suffix") for name in _shipped_names(two))
    assert (one.executed, two.executed) == (13, 12)
    _shipping.install(rt, one)
    _shipping.install(rt, two)
    want, _ = _serial(tmp_path)
    flow.RUNS.clear()
    assert rt.query_many(flow.render, KEYS) == want
    assert flow.RUNS == []
