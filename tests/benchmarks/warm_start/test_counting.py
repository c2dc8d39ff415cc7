"""CountingStore counts exactly what a real SqliteStore hands over and receives.

The warm-start benchmark's row counts are its machine-independent figures;
a wrapper that missed a call, or counted a header as a row, would misjudge
the lazy loader. Every count here is compared with what the same real
store returns when asked directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from benchmarks.warm_start.counting import CountingStore, Rows, rows_in

import sofrito as sf
from sofrito._snapshot import INPUT, encode_node_id
from sofrito.stores import InputState, InputStatus, SnapshotDelta, SqliteStore

source = sf.Input("tests.warm.counting.source")
ran: list[int] = []


@sf.query(name="tests.warm.counting.total")
def total(db: Any, n: int) -> int:
    ran.append(n)
    return sum(source(db, i) for i in range(n))


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A committed runtime: five inputs, one memo."""
    path = tmp_path / "cache.db"
    store = SqliteStore(path)
    rt = sf.Runtime(store=store, runtime_id="rt")
    with rt.batch():
        for i in range(5):
            rt.set(source[i], i)
    assert total(rt, 5) == 10
    rt.commit()
    store.close()
    return path


@pytest.fixture
def store(cache: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(cache)
    yield opened
    opened.close()


def test_the_eager_loads_count_every_row_the_store_returns(cache: Path, store: SqliteStore) -> None:
    snapshot = store.load_snapshot("rt")
    assert snapshot is not None
    counting = CountingStore(SqliteStore(cache))
    assert counting.load_snapshot("rt") == snapshot
    assert counting.load_input_states("rt") == store.load_input_states("rt")
    assert counting.total_loaded() == Rows(memo=len(snapshot.rows), input=5)
    assert counting.calls == {"load_snapshot": 1, "load_input_states": 1}


def test_a_runtime_on_the_counting_store_serves_the_stored_memo(cache: Path) -> None:
    """However the runtime loads (all at opening, or on demand), the memo it serves
    without running came through the wrapper, and no more rows than are stored."""
    counting = CountingStore(SqliteStore(cache))
    rt = sf.Runtime(store=counting, runtime_id="rt")
    ran.clear()
    assert total(rt, 5) == 10
    assert ran == []
    loaded = counting.total_loaded()
    assert loaded.memo == 1  # the cache holds one memo
    assert loaded.input <= 5
    assert loaded.other == 0


def test_rows_are_counted_under_the_phase_that_loaded_them(cache: Path) -> None:
    counting = CountingStore(SqliteStore(cache))
    counting.phase = "before"
    inputs = counting.load_input_states("rt")
    counting.phase = "after"
    one = counting.load_input_state("rt", inputs[0].input_id)
    assert one == inputs[0]
    assert counting.loaded == {"before": Rows(input=5), "after": Rows(input=1)}


def test_heads_and_receipts_are_calls_not_rows(cache: Path, store: SqliteStore) -> None:
    counting = CountingStore(SqliteStore(cache))
    assert counting.load_head("rt") == store.load_head("rt")
    assert counting.load_receipts("rt") == store.load_receipts("rt")
    assert counting.total_loaded() == Rows()
    assert counting.calls == {"load_head": 1, "load_receipts": 1}


def test_the_on_demand_loads_count_every_row_the_store_returns(
    cache: Path, store: SqliteStore
) -> None:
    snapshot = store.load_snapshot("rt")
    assert snapshot is not None
    head = store.load_head("rt")
    states = store.load_input_states("rt")
    memo = next(iter(snapshot.rows))
    read = encode_node_id((INPUT, states[0].kind, states[0].key))
    counting = CountingStore(SqliteStore(cache))
    header = counting.load_header("rt")
    assert header is not None
    assert header.revision == snapshot.revision
    assert counting.total_loaded() == Rows()
    assert counting.load_memo_rows("rt", [memo, b"absent"], head=head) == {
        memo: snapshot.rows[memo]
    }
    assert counting.total_loaded() == Rows(memo=1)
    ids = [s.input_id for s in states[:2]]
    assert counting.load_input_rows("rt", ids, head=head) == dict(zip(ids, states, strict=False))
    assert counting.load_family("rt", states[0].kind, head=head) == states
    assert counting.total_loaded() == Rows(memo=1, input=2 + 5)
    edges = store.load_reader_closure("rt", [read], head=head)
    assert edges  # the memo read this input
    assert counting.load_reader_closure("rt", [read], head=head) == edges
    assert counting.total_loaded() == Rows(memo=1, input=7, edge=len(edges))


def test_a_load_call_the_wrapper_was_not_written_for_is_counted(cache: Path) -> None:
    """A store may gain more calls; they count by what they return, with no edit."""

    class Gaining(SqliteStore):
        def load_every_memo_row(self, runtime_id: str) -> dict[bytes, bytes]:
            snapshot = self.load_snapshot(runtime_id)
            return {} if snapshot is None else dict(snapshot.rows)

    counting = CountingStore(Gaining(cache))
    assert len(counting.load_every_memo_row("rt")) == 1
    assert counting.loaded == {"open": Rows(memo=1)}


def test_the_shapes_of_the_on_demand_calls() -> None:
    """As the store protocol declares them for issue 23 (docs/persistence.md)."""
    state = InputState("i", "kind", b"k", b"v", 0, 1, InputStatus.READY)
    assert rows_in({b"m1": b"row", b"m2": b"row"}) == Rows(memo=2)  # load_memo_rows
    assert rows_in({"i": state}) == Rows(input=1)  # load_input_rows
    assert rows_in([state, state]) == Rows(input=2)  # load_family
    assert rows_in([(b"i", b"m1"), (b"m1", b"m2")]) == Rows(edge=2)  # load_reader_closure
    assert rows_in(None) == Rows()
    assert rows_in([object()]) == Rows(other=1)


def test_a_commit_counts_the_rows_it_carries(cache: Path, store: SqliteStore) -> None:
    counting = CountingStore(SqliteStore(cache))
    state = InputState("i", "kind", b"k", b"v", 0, 1, InputStatus.READY)
    delta = SnapshotDelta(
        7,
        b"meta",
        {b"a": b"1", b"b": b"2", b"c": b"3"},
        frozenset({b"gone"}),
        reads={b"a": [b"ix", b"iy"], b"b": [b"qa"]},
    )
    receipt = counting.commit_boundary("rt", delta, "run", "b", ["i"], [state, state])
    assert counting.written == Rows(memo=3, input=2, edge=3, deleted=1)
    assert store.load_receipts("rt")[0] == receipt
    counting.persist_input_state("rt", state)
    assert counting.written.input == 3


def test_other_attributes_pass_through(cache: Path, store: SqliteStore) -> None:
    counting = CountingStore(SqliteStore(cache))
    assert counting.location == store.location
    with pytest.raises(AttributeError):
        _ = counting.no_such_attribute
