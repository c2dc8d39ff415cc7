"""One contract every store runs. A backend's test module only builds its store.

Subclass ``StoreContract`` and provide a ``store`` fixture; set ``durable`` if
the store survives reopening (then also provide ``reopen``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sofrito.stores import (
    InputState,
    InputStatus,
    Receipt,
    RuntimeState,
    RuntimeStore,
    SnapshotDelta,
    WriteFailed,
    compute_digest,
)


def state(input_id: str, value: bytes = b"v", *, changed_at: int = 1) -> InputState:
    return InputState(input_id, "src", input_id.encode(), value, 0, changed_at, InputStatus.READY)


def delta(revision: int, **rows: bytes) -> SnapshotDelta:
    return SnapshotDelta(revision, b"meta%d" % revision, {k.encode(): v for k, v in rows.items()})


class StoreContract:
    durable = False

    @pytest.fixture
    def store(self) -> Iterator[RuntimeStore]:
        raise NotImplementedError("each backend provides its store")  # pragma: no cover

    # -- boundaries -------------------------------------------------------------

    def test_empty_store_has_nothing(self, store: RuntimeStore) -> None:
        assert store.load_snapshot("rt") is None
        assert store.load_input_states("rt") == []
        assert store.load_input_state("rt", "x") is None
        assert store.load_receipts("rt") == []
        assert store.load_runtime_state("rt") is None

    def test_commit_mints_contiguous_receipts_that_verify(self, store: RuntimeStore) -> None:
        first_delta = delta(1, a=b"A")
        first = store.commit_boundary("rt", first_delta, "run-1", "commit", ["src:b", "src:a"], [])
        second_delta = delta(2, b=b"B")
        second = store.commit_boundary("rt", second_delta, "run-1", "end", [], [])
        assert (first.sequence, second.sequence) == (1, 2)
        assert first.contributing_inputs == ("src:a", "src:b")
        assert first.verify(first_delta)
        assert not first.verify(second_delta)
        assert first.digest == compute_digest(
            "rt", "run-1", 1, "commit", ["src:a", "src:b"], first_delta
        )
        assert store.load_receipt("rt", "run-1", 1) == first
        assert store.load_receipt("rt", "run-2", 1) is None
        assert store.load_receipts("rt") == [second, first]

    def test_runtimes_are_independent(self, store: RuntimeStore) -> None:
        store.commit_boundary("one", delta(1, a=b"1"), "r", "c", [], [state("x")])
        store.commit_boundary("two", delta(5, a=b"2"), "r", "c", [], [])
        assert store.commit_boundary("two", delta(6), "r", "c", [], []).sequence == 2
        one, two = store.load_snapshot("one"), store.load_snapshot("two")
        assert one is not None
        assert two is not None
        assert (one.revision, dict(one.rows)) == (1, {b"a": b"1"})
        assert (two.revision, dict(two.rows)) == (6, {b"a": b"2"})
        assert store.load_input_states("two") == []

    def test_deltas_accumulate_rows_and_deletes_remove_them(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1, a=b"1", b=b"2"), "r", "c", [], [])
        store.commit_boundary(
            "rt",
            SnapshotDelta(2, b"m", {b"b": b"22", b"c": b"3"}, frozenset({b"a"})),
            "r",
            "c",
            [],
            [],
        )
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert snapshot.revision == 2
        assert snapshot.meta == b"m"
        assert dict(snapshot.rows) == {b"b": b"22", b"c": b"3"}

    def test_full_delta_replaces_every_row(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1, a=b"1", b=b"2"), "r", "c", [], [])
        store.commit_boundary(
            "rt", SnapshotDelta(2, b"m", {b"z": b"9"}, full=True), "r", "c", [], []
        )
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert dict(snapshot.rows) == {b"z": b"9"}

    def test_input_updates_commit_with_the_boundary(self, store: RuntimeStore) -> None:
        store.commit_boundary(
            "rt", delta(1), "r", "c", ["src:a"], [state("src:a", b"1"), state("src:b")]
        )
        store.commit_boundary(
            "rt", delta(2), "r", "c", ["src:a"], [state("src:a", b"2", changed_at=2)]
        )
        assert store.load_input_states("rt") == [state("src:a", b"2", changed_at=2), state("src:b")]
        assert store.load_input_state("rt", "src:b") == state("src:b")

    def test_persist_input_state_outside_a_boundary(self, store: RuntimeStore) -> None:
        store.persist_input_state("rt", state("src:a", b"now"))
        assert store.load_input_state("rt", "src:a") == state("src:a", b"now")
        assert store.load_receipts("rt") == []

    # -- foreign receipts ---------------------------------------------------------

    def test_atomic_apply_takes_a_matching_next_receipt(self, store: RuntimeStore) -> None:
        snapshot = delta(3, a=b"A")
        receipt = Receipt(
            "rt",
            "remote",
            1,
            "commit",
            ("src:a",),
            compute_digest("rt", "remote", 1, "commit", ["src:a"], snapshot),
        )
        store.atomic_apply("rt", snapshot, receipt, [state("src:a")])
        assert store.load_receipts("rt") == [receipt]
        loaded = store.load_snapshot("rt")
        assert loaded is not None
        assert dict(loaded.rows) == {b"a": b"A"}
        assert store.commit_boundary("rt", delta(4), "local", "c", [], []).sequence == 2

    @pytest.mark.parametrize("problem", ["digest", "sequence", "runtime"])
    def test_atomic_apply_refuses_a_receipt_that_does_not_fit(
        self, store: RuntimeStore, problem: str
    ) -> None:
        snapshot = delta(3, a=b"A")
        sequence = 2 if problem == "sequence" else 1
        runtime = "other" if problem == "runtime" else "rt"
        digest = compute_digest(runtime, "remote", sequence, "c", [], snapshot)
        if problem == "digest":
            digest = compute_digest(runtime, "remote", sequence, "c", [], delta(3, a=b"B"))
        receipt = Receipt(runtime, "remote", sequence, "c", (), digest)
        with pytest.raises(WriteFailed, match="nothing was written"):
            store.atomic_apply("rt", snapshot, receipt, [state("src:a")])
        assert store.load_snapshot("rt") is None
        assert store.load_input_states("rt") == []

    # -- lifecycle ----------------------------------------------------------------

    def test_runtime_state_round_trips(self, store: RuntimeStore) -> None:
        for lifecycle in RuntimeState:
            store.persist_runtime_state("rt", lifecycle)
            assert store.load_runtime_state("rt") is lifecycle

    def test_lifecycle_commit_with_inputs(self, store: RuntimeStore) -> None:
        store.atomic_lifecycle_commit("rt", RuntimeState.RETIRED, [state("src:a")])
        assert store.load_runtime_state("rt") is RuntimeState.RETIRED
        assert store.load_input_states("rt") == [state("src:a")]

    def test_reset_drops_cache_and_inputs_but_keeps_receipts(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1, a=b"1"), "r", "c", [], [state("src:a")])
        store.atomic_lifecycle_commit("rt", RuntimeState.IDLE, [], drop="cache")
        assert store.load_snapshot("rt") is None
        assert store.load_input_states("rt") == []
        assert [r.sequence for r in store.load_receipts("rt")] == [1]
        assert store.commit_boundary("rt", delta(1), "r", "c", [], []).sequence == 2

    def test_destroy_drops_everything(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1, a=b"1"), "r", "c", [], [state("src:a")])
        store.commit_boundary("keep", delta(1, a=b"1"), "r", "c", [], [])
        store.atomic_lifecycle_commit("rt", RuntimeState.DESTROYED, [], drop="everything")
        assert store.load_snapshot("rt") is None
        assert store.load_receipts("rt") == []
        assert store.load_runtime_state("rt") is RuntimeState.DESTROYED
        assert store.load_snapshot("keep") is not None

    # -- equivalence --------------------------------------------------------------

    # One store serves every example; each example uses its own runtime id.
    @settings(
        max_examples=25,
        deadline=None,
        # every backend runs this one method; each example uses its own runtime id
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(
        st.lists(
            st.tuples(
                st.dictionaries(
                    st.sampled_from([b"a", b"b", b"c", b"d"]), st.binary(max_size=8), max_size=3
                ),
                st.frozensets(st.sampled_from([b"a", b"b", b"c", b"d"]), max_size=2),
                st.booleans(),
            ),
            max_size=6,
        )
    )
    def test_any_sequence_of_deltas_loads_as_their_sum(
        self, store: RuntimeStore, steps: list[tuple[dict[bytes, bytes], frozenset[bytes], bool]]
    ) -> None:
        runtime_id = f"prop-{uuid.uuid4().hex}"
        expected: dict[bytes, bytes] = {}
        for revision, (upserts, deletes, full) in enumerate(steps, start=1):
            snapshot = SnapshotDelta(revision, b"m", upserts, deletes - upserts.keys(), full)
            receipt = store.commit_boundary(runtime_id, snapshot, "r", "c", [], [])
            assert receipt.sequence == revision
            if full:
                expected = {}
            for key in snapshot.deletes:
                expected.pop(key, None)
            expected.update(upserts)
        loaded = store.load_snapshot(runtime_id)
        if steps:
            assert loaded is not None
            assert dict(loaded.rows) == expected
        else:
            assert loaded is None
