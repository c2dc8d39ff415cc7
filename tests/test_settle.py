"""``sofrito._settle``: writes that mark their stored readers by id, and the settle that
verifies only their changed cone (issue 24).

- Named scenarios on a real SQLite file, each in a fresh runtime as a run of
  ``sofrito run`` would open it: an edit whose value is cut off early leaves
  every other reader unloaded and green; one that goes on verifies its cone;
  a read between the writes and the settle is right; a listener gets a
  ``QueryInvalidated`` for every stored reader (the eager path).
- A property test against the oracle (``tests/oracle.py``): random graphs and
  edits, each round a fresh runtime on one SQLite file (and sometimes a
  second round in the same runtime, as ``sofrito watch`` does): writes under
  ``marks_by_id``, maybe reads before the settle, the settle, then every node
  read equals the from-scratch value.

The example site through ``sofrito run``: ``tests/cli/test_run_settle.py``.
"""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import sofrito as sf
from sofrito._settle import Settled, marks_by_id, settle
from sofrito.stores import SqliteStore
from tests.counting_store import RecordingStore
from tests.oracle import Evaluation, Failure, Graph, Missing, Value, apply
from tests.strategies import graphs, initial_values, values

# -- named scenarios -----------------------------------------------------------------------

text = sf.Input("settle.text")
RUNS: list[str] = []


@sf.query(name="settle.length")
def length(db: Any, name: str) -> int:
    RUNS.append(f"length {name}")
    return len(text(db, name))


@sf.query(name="settle.total")
def total(db: Any) -> int:
    RUNS.append("total")
    return sum(length(db, name) for name in ("a", "b", "c"))


@sf.query(name="settle.page")
def page(db: Any, name: str) -> str:
    RUNS.append(f"page {name}")
    return f"{text(db, name)} ({total(db)} letters in all)"


def _built(path: Path) -> None:
    rt = sf.Runtime(store=SqliteStore(path), runtime_id="s")
    with rt.batch():
        for name in ("a", "b", "c"):
            rt.set(text[name], name * 3)
    for name in ("a", "b", "c"):
        page(rt, name)
    rt.commit()


def _opened(path: Path) -> tuple[sf.Runtime, RecordingStore]:
    store = RecordingStore(SqliteStore(path))
    return sf.Runtime(store=store, runtime_id="s"), store


def test_an_edit_cut_off_early_verifies_its_cone_and_leaves_the_other_readers_unloaded(
    tmp_path: Path,
) -> None:
    """``a`` keeps its length: ``length('a')`` comes out equal, so ``total`` and the
    other pages are green, proved unchanged without loading their rows."""
    _built(tmp_path / "c.db")
    rt, store = _opened(tmp_path / "c.db")
    RUNS.clear()
    with marks_by_id(rt):
        rt.set(text["a"], "xyz")
    assert store.take().memo_rows == 0  # the eager write loads all 5 readers
    assert settle(rt) == Settled(green=3, verified=2, left=0)  # total, page b, c | length a, page a
    assert sorted(RUNS) == ["length a", "page a"]
    assert page(rt, "b") == "bbb (9 letters in all)"
    assert page(rt, "a") == "xyz (9 letters in all)"
    assert sorted(RUNS) == ["length a", "page a"]
    loads = store.take()
    # length a and page a (verified), total (read by page a, clean), page b (read here)
    assert sorted(_query(mid) for mid in loads.memo_ids) == [
        "settle.length",
        "settle.page",
        "settle.page",
        "settle.total",
    ]


def test_an_edit_that_goes_on_verifies_every_reader_it_reaches(tmp_path: Path) -> None:
    _built(tmp_path / "c.db")
    rt, _ = _opened(tmp_path / "c.db")
    RUNS.clear()
    with marks_by_id(rt):
        rt.set(text["a"], "a")
    done = settle(rt)
    assert done.verified == 5
    assert done.green == 0
    assert sorted(RUNS) == ["length a", "page a", "page b", "page c", "total"]
    assert [page(rt, name) for name in "abc"] == [
        "a (7 letters in all)",
        "bbb (7 letters in all)",
        "ccc (7 letters in all)",
    ]


def test_a_read_before_the_settle_is_right_and_a_commit_keeps_unsettled_marks(
    tmp_path: Path,
) -> None:
    """The marks by id make every stored reader load dirty until settled: a read in
    between verifies it, and a commit without a settle records the rest, so the
    next process verifies them too."""
    _built(tmp_path / "c.db")
    rt, _ = _opened(tmp_path / "c.db")
    with marks_by_id(rt):
        rt.set(text["a"], "a")
    assert page(rt, "b") == "bbb (7 letters in all)"
    rt.commit()
    del rt
    gc.collect()
    again, _ = _opened(tmp_path / "c.db")
    assert page(again, "c") == "ccc (7 letters in all)"
    assert settle(again) == Settled(0, 0, 0)


def test_a_listener_gets_every_stored_reader_invalidated(tmp_path: Path) -> None:
    """``QueryInvalidated`` names each reader: with a listener, writes take the eager
    path, whatever ``marks_by_id`` asks."""
    _built(tmp_path / "c.db")
    rt, _ = _opened(tmp_path / "c.db")
    events = rt.subscribe_events()
    with marks_by_id(rt):
        rt.set(text["a"], "xyz")
    invalidated = set()
    while True:
        try:
            event = events.recv(timeout=0)
        except TimeoutError:
            break
        if isinstance(event, sf.QueryInvalidated):
            invalidated.add((event.ref.kind, event.ref.key))
    assert {kind for kind, _ in invalidated} == {"settle.length", "settle.total", "settle.page"}
    assert len(invalidated) == 5
    assert settle(rt) == Settled(0, 0, 0)
    assert page(rt, "c") == "ccc (9 letters in all)"


def _query(mid: bytes) -> str:
    return mid[4 : 4 + int.from_bytes(mid[:4], "big")].decode()


# -- against the oracle --------------------------------------------------------------------

cells = sf.Input("settle.cell")
graph_cell = sf.Input("settle.graph", durability=sf.Durability.STATIC)


@sf.query(name="settle.node")
def node(db: Any, index: int) -> Value:
    graph: Graph = graph_cell(db)

    def read(ref: tuple[str, int]) -> Value:
        kind, position = ref
        return cells(db, position) if kind == "i" else node(db, position)  # type: ignore[no-any-return]

    def keys(family: int) -> tuple[int, ...]:
        listed = (key[0] for key in cells.keys(db))
        return tuple(sorted(cell for cell in listed if graph.families[cell] == family))

    return apply(graph.nodes[index], read, None, keys)


def _outcome(rt: sf.Runtime, index: int) -> Any:
    try:
        return node(rt, index)
    except Failure:
        return "error"
    except sf.Suspend:
        return "missing"


def _expected(graph: Graph, current: dict[int, Value], index: int) -> Any:
    result = Evaluation(graph, current, listed=set(current)).result(index)
    if isinstance(result, Failure):
        return "error"
    if isinstance(result, Missing):
        return "missing"
    return result


edits = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(0, 5), values()),
        st.tuples(st.just("remove"), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=3,
)
rounds = st.lists(
    st.tuples(edits, st.lists(st.integers(0, 11), max_size=2), st.booleans()),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_settled_runs_agree_with_the_oracle(data: st.DataObject) -> None:
    graph = data.draw(graphs(max_inputs=6, max_nodes=12))
    first = data.draw(initial_values(graph))
    plan = data.draw(rounds)
    current = {cell: value for cell, value in enumerate(first) if value is not None}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "settle.db"
        rt = sf.Runtime(store=SqliteStore(path), runtime_id="o")
        rt.set(graph_cell, graph)
        with rt.batch():
            for cell, value in current.items():
                rt.set(cells[cell], value)
        for index in range(len(graph.nodes)):
            _outcome(rt, index)
        rt.commit()
        reopen = True
        for changes, early, same_process in plan:
            if reopen:
                del rt
                gc.collect()
                rt = sf.Runtime(store=SqliteStore(path), runtime_id="o")
            with marks_by_id(rt), rt.batch():
                for change in changes:
                    cell = change[1] % graph.inputs
                    if change[0] == "set":
                        rt.set(cells[cell], change[2])
                        current[cell] = change[2]
                    else:
                        rt.remove(cells[cell])
                        current.pop(cell, None)
            for index in early:  # a read before the settle
                if index < len(graph.nodes):
                    assert _outcome(rt, index) == _expected(graph, current, index)
            settle(rt)
            for index in range(len(graph.nodes)):
                assert _outcome(rt, index) == _expected(graph, current, index), index
            rt.commit()
            reopen = not same_process
        del rt
        gc.collect()
