"""One contract every store runs. A backend's test module only builds its store.

To add a backend, subclass ``StoreContract`` in ``tests/stores/test_<backend>.py``:

- a ``store`` fixture yielding a fresh, empty store (closed afterwards);
- a store that survives closing (another handle on the same backing sees what
  this one committed) subclasses ``DurableStoreContract`` instead and also
  provides a ``reopen`` fixture: a factory opening another handle on the same
  backing as ``store`` (the test closes what it opens). What a backend cannot
  do is simply not collected for it: nothing is skipped.

Everything here is behaviour the runtime relies on; backend-specific checks
(files, locks, damage on disk) live in the backend's own module.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sofrito.stores import (
    Conflict,
    InputState,
    InputStatus,
    Receipt,
    RuntimeState,
    RuntimeStore,
    SnapshotDelta,
    StoreError,
    WriteFailed,
    compute_digest,
)

Reopen = Callable[[], RuntimeStore]


def state(input_id: str, value: bytes = b"v", *, changed_at: int = 1) -> InputState:
    return InputState(input_id, "src", input_id.encode(), value, 0, changed_at, InputStatus.READY)


def delta(revision: int, **rows: bytes) -> SnapshotDelta:
    return SnapshotDelta(revision, b"meta%d" % revision, {k.encode(): v for k, v in rows.items()})


def foreign_receipt(runtime_id: str, sequence: int, snapshot: SnapshotDelta) -> Receipt:
    """A receipt minted somewhere else, for ``atomic_apply``."""
    digest = compute_digest(runtime_id, "remote", sequence, "import", ["src:a"], snapshot)
    return Receipt(runtime_id, "remote", sequence, "import", ("src:a",), digest)


class StoreContract:
    @pytest.fixture
    def store(self) -> Iterator[RuntimeStore]:
        raise NotImplementedError("each backend provides its store")  # pragma: no cover

    # -- boundaries -------------------------------------------------------------------

    def test_empty_store_has_nothing(self, store: RuntimeStore) -> None:
        assert store.load_snapshot("rt") is None
        assert store.load_input_states("rt") == []
        assert store.load_input_state("rt", "x") is None
        assert store.load_receipts("rt") == []
        assert store.load_receipt("rt", "run", 1) is None
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
        assert store.load_receipt("rt", "run-1", 3) is None
        assert store.load_receipts("rt") == [second, first]

    def test_returned_receipt_is_exactly_what_is_stored(self, store: RuntimeStore) -> None:
        minted = [
            store.commit_boundary(
                "rt", delta(n, **{f"m{n}": b"x" * n}), f"run-{n % 2}", f"b{n}", [f"i:{n}"], []
            )
            for n in range(1, 6)
        ]
        for receipt in minted:
            assert store.load_receipt("rt", receipt.run_id, receipt.sequence) == receipt
        assert store.load_receipts("rt") == minted[::-1]

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
        assert [r.sequence for r in store.load_receipts("one")] == [1]

    def test_deltas_accumulate_rows_and_deletes_remove_them(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1, a=b"1", b=b"2"), "r", "c", [], [])
        change = SnapshotDelta(2, b"m", {b"b": b"22", b"c": b"3"}, frozenset({b"a", b"never"}))
        store.commit_boundary("rt", change, "r", "c", [], [])
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert (snapshot.revision, snapshot.meta) == (2, b"m")
        assert dict(snapshot.rows) == {b"b": b"22", b"c": b"3"}

    def test_full_delta_replaces_every_row(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1, a=b"1", b=b"2"), "r", "c", [], [])
        store.commit_boundary(
            "rt", SnapshotDelta(2, b"m", {b"z": b"9"}, full=True), "r", "c", [], []
        )
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert dict(snapshot.rows) == {b"z": b"9"}

    def test_an_empty_delta_still_commits_a_snapshot(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", SnapshotDelta(0, b""), "r", "c", [], [])
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert (snapshot.revision, snapshot.meta, dict(snapshot.rows)) == (0, b"", {})

    def test_rows_are_bytes_of_any_size(self, store: RuntimeStore) -> None:
        rows = {b"": b"", b"\x00\xff": bytes(range(256)), b"big": b"\x01" * 3_000_000}
        store.commit_boundary("rt", SnapshotDelta(1, b"\x00" * 100, rows), "r", "c", [], [])
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert dict(snapshot.rows) == rows

    # -- input states -----------------------------------------------------------------

    def test_input_updates_commit_with_the_boundary(self, store: RuntimeStore) -> None:
        store.commit_boundary(
            "rt", delta(1), "r", "c", ["src:a"], [state("src:a", b"1"), state("src:b")]
        )
        store.commit_boundary(
            "rt", delta(2), "r", "c", ["src:a"], [state("src:a", b"2", changed_at=2)]
        )
        assert store.load_input_states("rt") == [state("src:a", b"2", changed_at=2), state("src:b")]
        assert store.load_input_state("rt", "src:b") == state("src:b")

    def test_the_last_update_of_one_input_in_a_call_wins(self, store: RuntimeStore) -> None:
        updates = [state("src:a", b"first"), state("src:a", b"last")]
        store.commit_boundary("rt", delta(1), "r", "c", ["src:a"], updates)
        assert store.load_input_states("rt") == [state("src:a", b"last")]

    def test_input_states_round_trip_every_field(self, store: RuntimeStore) -> None:
        states = [
            InputState(f"in:{status}", "kind.é", b"\x00key", b"\xff" * 70_000, 3, 41, status)
            for status in InputStatus
        ]
        store.commit_boundary("rt", delta(1), "r", "c", [], states[:2])
        for one in states[2:]:
            store.persist_input_state("rt", one)
        assert store.load_input_states("rt") == sorted(states, key=lambda s: s.input_id)
        for one in states:
            assert store.load_input_state("rt", one.input_id) == one

    def test_persist_input_state_outside_a_boundary(self, store: RuntimeStore) -> None:
        store.persist_input_state("rt", state("src:a", b"now"))
        store.persist_input_state("rt", state("src:a", b"later", changed_at=2))
        assert store.load_input_state("rt", "src:a") == state("src:a", b"later", changed_at=2)
        assert store.load_input_states("rt") == [state("src:a", b"later", changed_at=2)]
        assert store.load_receipts("rt") == []
        assert store.load_snapshot("rt") is None

    # -- foreign receipts ---------------------------------------------------------------

    def test_atomic_apply_takes_a_matching_next_receipt(self, store: RuntimeStore) -> None:
        snapshot = delta(3, a=b"A")
        receipt = foreign_receipt("rt", 1, snapshot)
        store.atomic_apply("rt", snapshot, receipt, [state("src:a")])
        assert store.load_receipts("rt") == [receipt]
        assert store.load_receipt("rt", "remote", 1) == receipt
        loaded = store.load_snapshot("rt")
        assert loaded is not None
        assert (loaded.revision, dict(loaded.rows)) == (3, {b"a": b"A"})
        assert store.load_input_states("rt") == [state("src:a")]
        assert store.commit_boundary("rt", delta(4), "local", "c", [], []).sequence == 2

    @pytest.mark.parametrize("problem", ["digest", "sequence", "runtime"])
    def test_atomic_apply_refuses_a_receipt_that_does_not_fit(
        self, store: RuntimeStore, problem: str
    ) -> None:
        snapshot = delta(3, a=b"A")
        sequence = 2 if problem == "sequence" else 1
        runtime = "other" if problem == "runtime" else "rt"
        receipt = foreign_receipt(runtime, sequence, snapshot)
        if problem == "digest":
            receipt = foreign_receipt(runtime, sequence, delta(3, a=b"B"))
        with pytest.raises(WriteFailed, match="nothing was written"):
            store.atomic_apply("rt", snapshot, receipt, [state("src:a")])
        assert store.load_snapshot("rt") is None
        assert store.load_input_states("rt") == []
        assert store.load_receipts("rt") == []
        assert store.commit_boundary("rt", delta(4), "local", "c", [], []).sequence == 1

    def test_atomic_apply_refuses_a_receipt_already_applied(self, store: RuntimeStore) -> None:
        snapshot = delta(1, a=b"A")
        store.atomic_apply("rt", snapshot, foreign_receipt("rt", 1, snapshot), [])
        with pytest.raises(WriteFailed, match="next receipt must be 2, not 1"):
            store.atomic_apply("rt", snapshot, foreign_receipt("rt", 1, snapshot), [])
        assert len(store.load_receipts("rt")) == 1

    # -- lifecycle ----------------------------------------------------------------------

    def test_runtime_state_round_trips(self, store: RuntimeStore) -> None:
        for lifecycle in RuntimeState:
            store.persist_runtime_state("rt", lifecycle)
            assert store.load_runtime_state("rt") is lifecycle
        assert store.load_runtime_state("other") is None

    def test_runtime_state_survives_commits(self, store: RuntimeStore) -> None:
        store.persist_runtime_state("rt", RuntimeState.RUNNING)
        store.commit_boundary("rt", delta(1, a=b"1"), "r", "c", [], [state("src:a")])
        store.persist_input_state("rt", state("src:b"))
        assert store.load_runtime_state("rt") is RuntimeState.RUNNING

    def test_lifecycle_commit_with_inputs(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1, a=b"1"), "r", "c", [], [state("src:a")])
        store.atomic_lifecycle_commit("rt", RuntimeState.RETIRED, [state("src:b")])
        assert store.load_runtime_state("rt") is RuntimeState.RETIRED
        assert store.load_input_states("rt") == [state("src:a"), state("src:b")]
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert dict(snapshot.rows) == {b"a": b"1"}

    def test_reset_drops_cache_and_inputs_but_keeps_receipts(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1, a=b"1"), "r", "c", [], [state("src:a")])
        store.atomic_lifecycle_commit("rt", RuntimeState.IDLE, [state("src:new")], drop="cache")
        assert store.load_snapshot("rt") is None
        assert store.load_input_states("rt") == [state("src:new")]  # written after the drop
        assert store.load_runtime_state("rt") is RuntimeState.IDLE
        assert [r.sequence for r in store.load_receipts("rt")] == [1]
        assert store.commit_boundary("rt", delta(1), "r", "c", [], []).sequence == 2

    def test_destroy_drops_everything_and_restarts_the_sequence(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1, a=b"1"), "r", "c", [], [state("src:a")])
        store.commit_boundary("keep", delta(1, a=b"1"), "r", "c", [], [state("src:a")])
        store.atomic_lifecycle_commit("rt", RuntimeState.DESTROYED, [], drop="everything")
        assert store.load_snapshot("rt") is None
        assert store.load_input_states("rt") == []
        assert store.load_receipts("rt") == []
        assert store.load_runtime_state("rt") is RuntimeState.DESTROYED
        assert store.commit_boundary("rt", delta(1), "r", "c", [], []).sequence == 1
        kept = store.load_snapshot("keep")
        assert kept is not None
        assert dict(kept.rows) == {b"a": b"1"}
        assert store.load_input_states("keep") == [state("src:a")]

    def test_unknown_drop_is_refused(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1, a=b"1"), "r", "c", [], [])
        with pytest.raises(ValueError, match="drop must be one of"):
            store.atomic_lifecycle_commit("rt", RuntimeState.IDLE, [], drop="all")  # type: ignore[arg-type]
        assert store.load_snapshot("rt") is not None

    # -- the head: compare-and-swap ----------------------------------------------------

    def test_every_write_to_a_runtime_advances_its_head_by_one(self, store: RuntimeStore) -> None:
        assert store.load_head("rt") == 0
        store.persist_runtime_state("rt", RuntimeState.IDLE)  # a label, not state
        assert store.load_head("rt") == 0
        store.commit_boundary("rt", delta(1, a=b"1"), "r", "c", [], [], base_head=0)
        store.persist_input_state("rt", state("src:a"), base_head=1)
        store.atomic_lifecycle_commit("rt", RuntimeState.RETIRED, [], base_head=2)
        snapshot = delta(2)
        store.atomic_apply("rt", snapshot, foreign_receipt("rt", 2, snapshot), [])
        store.commit_boundary("rt", delta(3), "r", "c", [], [])  # no base: still a write
        assert store.load_head("rt") == 5
        assert store.load_head("other") == 0

    @pytest.mark.parametrize("write", ["commit", "durable input", "lifecycle", "reset"])
    def test_a_write_based_on_an_old_head_is_a_conflict_and_writes_nothing(
        self, store: RuntimeStore, write: str
    ) -> None:
        first = store.commit_boundary("rt", delta(1, a=b"1"), "a", "c", [], [state("src:a")])
        store.persist_runtime_state("rt", RuntimeState.IDLE)
        writes: dict[str, Callable[[], object]] = {
            "commit": lambda: store.commit_boundary(
                "rt", delta(2, a=b"2"), "b", "c", [], [], base_head=0
            ),
            "durable input": lambda: store.persist_input_state(
                "rt", state("src:a", b"new"), base_head=0
            ),
            "lifecycle": lambda: store.atomic_lifecycle_commit(
                "rt", RuntimeState.RETIRED, [state("src:b")], base_head=0
            ),
            "reset": lambda: store.atomic_lifecycle_commit(
                "rt", RuntimeState.IDLE, [state("src:b")], "cache", base_head=0
            ),
        }
        with pytest.raises(Conflict, match=r"based on head 0, the head is now 1") as caught:
            writes[write]()
        conflict = caught.value
        assert isinstance(conflict, StoreError)
        assert (conflict.runtime_id, conflict.base, conflict.head) == ("rt", 0, 1)
        assert "'rt'" in str(conflict)
        assert store.location in str(conflict)
        assert "nothing was written" in str(conflict)
        assert store.load_head("rt") == 1
        assert store.load_receipts("rt") == [first]
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert (snapshot.revision, dict(snapshot.rows)) == (1, {b"a": b"1"})
        assert store.load_input_states("rt") == [state("src:a")]
        assert store.load_runtime_state("rt") is RuntimeState.IDLE

    def test_the_head_survives_reset_and_destroy(self, store: RuntimeStore) -> None:
        """It never goes back, so a base taken before a destroy can never match again."""
        store.commit_boundary("rt", delta(1, a=b"1"), "r", "c", [], [], base_head=0)
        store.atomic_lifecycle_commit("rt", RuntimeState.IDLE, [], "cache", base_head=1)
        assert store.load_head("rt") == 2
        store.atomic_lifecycle_commit("rt", RuntimeState.DESTROYED, [], "everything", base_head=2)
        assert store.load_head("rt") == 3
        assert store.load_receipts("rt") == []
        assert store.commit_boundary("rt", delta(1), "r", "c", [], [], base_head=3).sequence == 1
        with pytest.raises(Conflict):
            store.commit_boundary("rt", delta(2), "r", "c", [], [], base_head=1)

    def test_runtimes_have_their_own_heads(self, store: RuntimeStore) -> None:
        store.commit_boundary("one", delta(1), "r", "c", [], [], base_head=0)
        store.commit_boundary("two", delta(1), "r", "c", [], [], base_head=0)
        assert (store.load_head("one"), store.load_head("two")) == (1, 1)

    # -- sharing and closing ------------------------------------------------------------

    def test_threads_share_one_store(self, store: RuntimeStore) -> None:
        threads, boundaries = 6, 15
        deltas: dict[tuple[str, int], SnapshotDelta] = {}
        errors: list[BaseException] = []
        start = threading.Barrier(threads)

        def work(name: str) -> None:
            try:
                start.wait()
                for n in range(boundaries):
                    memo_id = f"{name}-{n}".encode()
                    snapshot = SnapshotDelta(n, name.encode(), {memo_id: b"x"})
                    receipt = store.commit_boundary("rt", snapshot, name, "c", [], [])
                    deltas[(name, receipt.sequence)] = snapshot
                    store.persist_input_state("rt", state(f"{name}:{n}"))
                    store.load_snapshot("rt")
            except BaseException as exc:  # reported below, with the thread's name
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        receipts = store.load_receipts("rt")
        assert [r.sequence for r in receipts] == list(range(threads * boundaries, 0, -1))
        assert all(r.verify(deltas[(r.run_id, r.sequence)]) for r in receipts)
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert len(snapshot.rows) == threads * boundaries
        assert len(store.load_input_states("rt")) == threads * boundaries

    def test_a_closed_store_refuses_calls(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1), "r", "c", [], [])
        store.close()
        store.close()  # twice is fine
        with pytest.raises(StoreError, match="closed"):
            store.load_snapshot("rt")
        with pytest.raises(StoreError, match="closed"):
            store.commit_boundary("rt", delta(2), "r", "c", [], [])

    # -- any sequence of deltas -------------------------------------------------------

    @settings(
        max_examples=25,
        deadline=None,
        # one store serves every example (each uses its own runtime id), and every
        # backend's subclass runs this same method
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
            assert receipt.verify(snapshot)
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


class DurableStoreContract(StoreContract):
    """What a store that survives closing adds: subclass this instead, and provide
    ``reopen``, a factory opening another handle on the same backing."""

    @pytest.fixture
    def reopen(self) -> Reopen:
        raise NotImplementedError("a durable backend provides reopen")  # pragma: no cover

    def test_everything_survives_reopening(self, store: RuntimeStore, reopen: Reopen) -> None:
        store.persist_runtime_state("rt", RuntimeState.RUNNING)
        receipt = store.commit_boundary(
            "rt", delta(3, a=b"A", b=b"B"), "r", "c", ["src:a"], [state("src:a")]
        )
        store.persist_input_state("rt", state("src:b"))
        store.close()
        again = reopen()
        try:
            snapshot = again.load_snapshot("rt")
            assert snapshot is not None
            assert (snapshot.revision, snapshot.meta) == (3, b"meta3")
            assert dict(snapshot.rows) == {b"a": b"A", b"b": b"B"}
            assert again.load_input_states("rt") == [state("src:a"), state("src:b")]
            assert again.load_receipts("rt") == [receipt]
            assert again.load_runtime_state("rt") is RuntimeState.RUNNING
            assert again.commit_boundary("rt", delta(4), "r", "c", [], []).sequence == 2
        finally:
            again.close()

    def test_two_handles_see_each_others_commits(self, store: RuntimeStore, reopen: Reopen) -> None:
        other = reopen()
        try:
            store.commit_boundary("rt", delta(1, a=b"1"), "here", "c", [], [])
            assert other.commit_boundary("rt", delta(2, b=b"2"), "there", "c", [], []).sequence == 2
            snapshot = store.load_snapshot("rt")
            assert snapshot is not None
            assert dict(snapshot.rows) == {b"a": b"1", b"b": b"2"}
            assert [r.run_id for r in store.load_receipts("rt")] == ["there", "here"]
        finally:
            other.close()

    def test_two_handles_race_for_one_head_and_one_loses(
        self, store: RuntimeStore, reopen: Reopen
    ) -> None:
        other = reopen()
        try:
            base = store.load_head("rt")
            assert other.load_head("rt") == base
            store.commit_boundary("rt", delta(1, a=b"1"), "here", "c", [], [], base_head=base)
            with pytest.raises(Conflict, match=rf"based on head {base}, the head is now 1"):
                other.commit_boundary("rt", delta(1, a=b"2"), "there", "c", [], [], base_head=base)
            assert other.load_head("rt") == 1
            assert [r.run_id for r in other.load_receipts("rt")] == ["here"]
        finally:
            other.close()

    def test_the_head_survives_reopening(self, store: RuntimeStore, reopen: Reopen) -> None:
        store.commit_boundary("rt", delta(1), "r", "c", [], [], base_head=0)
        store.persist_input_state("rt", state("src:a"), base_head=1)
        store.close()
        again = reopen()
        try:
            assert again.load_head("rt") == 2
        finally:
            again.close()
