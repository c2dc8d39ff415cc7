"""One contract every store runs. A backend's test module only builds its store.

To add a backend, subclass ``StoreContract`` in ``tests/stores/test_<backend>.py``:

- a ``store`` fixture yielding a fresh, empty store (closed afterwards);
- a store that survives closing (another handle on the same backing sees what
  this one committed) subclasses ``DurableStoreContract`` instead and also
  provides a ``reopen`` fixture: a factory opening another handle on the same
  backing as ``store`` (the test closes what it opens), and a ``damage``
  fixture: ``damage(runtime_id, memo_id)`` changes the stored bytes of that
  memo row behind the store's back, as a flipped bit on disk would. What a
  backend cannot do is simply not collected for it: nothing is skipped.

Everything here is behaviour the runtime relies on; backend-specific checks
(files, locks, damage on disk) live in the backend's own module.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sofrito.stores import (
    Conflict,
    CorruptSnapshot,
    InputState,
    InputStatus,
    Receipt,
    RuntimeState,
    RuntimeStore,
    SnapshotDelta,
    SnapshotHeader,
    StaleRead,
    StoreError,
    WriteFailed,
    compute_digest,
    reader_node,
)

Reopen = Callable[[], RuntimeStore]
Damage = Callable[[str, bytes], None]


def state(input_id: str, value: bytes = b"v", *, changed_at: int = 1) -> InputState:
    return InputState(input_id, "src", input_id.encode(), value, 0, changed_at, InputStatus.READY)


def delta(revision: int, **rows: bytes) -> SnapshotDelta:
    return SnapshotDelta(revision, b"meta%d" % revision, {k.encode(): v for k, v in rows.items()})


def graph(revision: int, full: bool = False, **reads: str) -> SnapshotDelta:
    """A delta writing one memo per keyword, reading the nodes named in its value:
    ``a="i:x b"`` is memo ``a`` reading input node ``i:x`` and memo ``b``."""
    upserts = {name.encode(): b"row-" + name.encode() for name in reads}
    edges = {name.encode(): [node(part) for part in deps.split()] for name, deps in reads.items()}
    return SnapshotDelta(revision, b"m", upserts, full=full, reads=edges)


def node(name: str) -> bytes:
    """``i:x`` is an input's node id as is; a bare name is that memo's node id."""
    return name.encode() if ":" in name else reader_node(name.encode())


def closure(store: RuntimeStore, *seeds: str, runtime_id: str = "rt") -> list[tuple[str, str]]:
    """The reader closure of ``seeds``, as sorted (dep, reader) names."""
    head = store.load_head(runtime_id)
    edges = store.load_reader_closure(runtime_id, [node(seed) for seed in seeds], head=head)
    shown = [(_name(dep), reader.decode()) for dep, reader in edges]
    assert len(shown) == len(set(shown)), f"an edge came back twice: {shown}"
    return sorted(shown)


def readers(store: RuntimeStore, *nodes: str, runtime_id: str = "rt") -> list[tuple[str, str]]:
    """The edges out of ``nodes`` (one level), as sorted (dep, reader) names."""
    head = store.load_head(runtime_id)
    edges = store.load_readers(runtime_id, [node(name) for name in nodes], head=head)
    shown = [(_name(dep), reader.decode()) for dep, reader in edges]
    assert len(shown) == len(set(shown)), f"an edge came back twice: {shown}"
    return sorted(shown)


def _name(node_id: bytes) -> str:
    return node_id.decode() if b":" in node_id else node_id[1:].decode()


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

    # -- on demand: the header ------------------------------------------------------------

    def test_load_header_reads_what_opening_needs(self, store: RuntimeStore) -> None:
        assert store.load_header("rt") is None
        store.commit_boundary("rt", delta(3, a=b"A"), "r", "c", [], [state("src:a")])
        store.persist_runtime_state("rt", RuntimeState.RUNNING)
        store.commit_boundary("rt", delta(4), "r", "c", [], [])
        assert store.load_header("rt") == SnapshotHeader(4, b"meta4", 2, 2, RuntimeState.RUNNING)
        store.persist_input_state("inputs-only", state("src:a"))
        assert store.load_header("inputs-only") == SnapshotHeader(0, None, 1, 0, None)
        store.atomic_lifecycle_commit("rt", RuntimeState.IDLE, [], drop="cache")
        assert store.load_header("rt") == SnapshotHeader(0, None, 3, 2, RuntimeState.IDLE)

    # -- on demand: rows -----------------------------------------------------------------

    def test_load_memo_rows_returns_the_stored_rows_asked_for(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", delta(1, a=b"A", b=b"B", c=b"C"), "r", "c", [], [])
        store.commit_boundary("other", delta(1, d=b"D"), "r", "c", [], [])
        head = store.load_head("rt")
        asked = [b"a", b"c", b"never", b"d", b"a"]
        assert store.load_memo_rows("rt", asked, head=head) == {b"a": b"A", b"c": b"C"}
        assert store.load_memo_rows("rt", [], head=head) == {}
        assert store.load_memo_rows("rt", iter([b"b"]), head=head) == {b"b": b"B"}
        many = {b"m%d" % n: b"%d" % n for n in range(1200)}  # more than one lookup's worth
        store.commit_boundary("rt", SnapshotDelta(2, b"m", many), "r", "c", [], [])
        assert store.load_memo_rows("rt", list(many), head=head + 1) == many

    def test_load_input_rows_returns_the_stored_states_asked_for(self, store: RuntimeStore) -> None:
        removed = InputState("src:r", "src", b"r", b"", 0, 2, InputStatus.REMOVED)
        store.commit_boundary("rt", delta(1), "r", "c", [], [state("src:a"), removed])
        head = store.load_head("rt")
        found = store.load_input_rows("rt", ["src:r", "src:a", "src:gone"], head=head)
        assert found == {"src:a": state("src:a"), "src:r": removed}
        assert store.load_input_rows("never", ["src:a"], head=0) == {}

    def test_load_family_returns_every_state_of_one_input(self, store: RuntimeStore) -> None:
        other = InputState("cfg:x", "cfg", b"x", b"v", 2, 1, InputStatus.READY)
        removed = InputState("src:c", "src", b"c", b"", 0, 3, InputStatus.REMOVED)
        store.commit_boundary("rt", delta(1), "r", "c", [], [state("src:b"), other, removed])
        store.persist_input_state("rt", state("src:a"))
        store.commit_boundary("elsewhere", delta(1), "r", "c", [], [state("src:z")])
        head = store.load_head("rt")
        assert store.load_family("rt", "src", head=head) == [
            state("src:a"),
            state("src:b"),
            removed,
        ]
        assert store.load_family("rt", "cfg", head=head) == [other]
        assert store.load_family("rt", "none", head=head) == []

    # -- on demand: reverse edges and the reader closure ---------------------------------

    def test_the_closure_follows_readers_through_several_levels(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", graph(1, a="i:x", b="a", c="b i:y", d="i:y"), "r", "c", [], [])
        assert closure(store, "i:x") == [("a", "b"), ("b", "c"), ("i:x", "a")]
        assert closure(store, "i:y") == [("i:y", "c"), ("i:y", "d")]
        assert closure(store, "b") == [("b", "c")]
        assert closure(store, "c") == []
        assert closure(store, "i:nobody") == []
        assert closure(store) == []

    def test_the_readers_of_nodes_are_one_level_of_the_closure(self, store: RuntimeStore) -> None:
        # x -> a, b; a, b -> c; c -> d; and e reads x twice over (directly and via c)
        diamond = graph(1, a="i:x", b="i:x", c="a b", d="c", e="i:x c i:x")
        store.commit_boundary("rt", diamond, "r", "c", [], [])
        assert readers(store, "i:x") == [("i:x", "a"), ("i:x", "b"), ("i:x", "e")]
        assert readers(store, "a", "b", "a") == [("a", "c"), ("b", "c")]
        assert readers(store, "c", "i:nobody") == [("c", "d"), ("c", "e")]
        assert readers(store, "d") == []
        assert readers(store) == []
        store.commit_boundary("rt", graph(2, c="b"), "r", "c", [], [])  # c re-executed
        assert readers(store, "a") == []

    def test_the_closure_through_diamonds_has_each_edge_once(self, store: RuntimeStore) -> None:
        # x -> a, b; a, b -> c; c -> d; and e reads x twice over (directly and via c)
        diamond = graph(1, a="i:x", b="i:x", c="a b", d="c", e="i:x c i:x")
        store.commit_boundary("rt", diamond, "r", "c", [], [])
        expected = [
            ("a", "c"),
            ("b", "c"),
            ("c", "d"),
            ("c", "e"),
            ("i:x", "a"),
            ("i:x", "b"),
            ("i:x", "e"),
        ]
        assert closure(store, "i:x") == expected
        assert closure(store, "i:x", "a", "c") == expected  # seeds inside the closure too

    def test_a_recommitted_memo_replaces_its_edges(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", graph(1, a="i:x", b="a i:x"), "r", "c", [], [])
        store.commit_boundary("rt", graph(2, b="i:y"), "r", "c", [], [])  # b re-executed
        assert closure(store, "i:x") == [("i:x", "a")]
        assert closure(store, "a") == []
        assert closure(store, "i:y") == [("i:y", "b")]
        store.commit_boundary("rt", SnapshotDelta(3, b"m", {b"b": b"row"}), "r", "c", [], [])
        assert closure(store, "i:y") == []  # written with no reads: no edges

    def test_a_recommitted_memo_keeps_the_edges_it_read_again(self, store: RuntimeStore) -> None:
        """A store may write only the difference (SQLite does): the edges a memo read
        again stay, the ones it no longer reads go, the new ones come."""
        store.commit_boundary("rt", graph(1, a="i:x", b="a i:x i:z"), "r", "c", [], [])
        store.commit_boundary("rt", graph(2, b="a i:y i:z"), "r", "c", [], [])
        store.commit_boundary("rt", graph(3, b="a i:y i:z"), "r", "c", [], [])
        assert closure(store, "i:x") == [("a", "b"), ("i:x", "a")]
        assert closure(store, "i:y") == [("i:y", "b")]
        assert closure(store, "i:z") == [("i:z", "b")]
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert sorted(snapshot.rows) == [b"a", b"b"]

    def test_a_memo_marked_unchanged_keeps_its_stored_edges(self, store: RuntimeStore) -> None:
        """``unchanged``: the runtime vouches that a written memo's reads are its stored
        edges (a render executed again after a template edit); the store leaves
        those edges as they are, and writes the others' as ever."""
        store.commit_boundary("rt", graph(1, a="i:x", b="a i:x i:z"), "r", "c", [], [])
        again = graph(2, a="i:x", b="a i:y")
        kept = replace(again, unchanged=frozenset({b"a"}))
        receipt = store.commit_boundary("rt", kept, "r", "c", [], [])
        assert receipt.verify(again)  # not part of the digest: the edges are the same
        assert closure(store, "i:x") == [("a", "b"), ("i:x", "a")]
        assert closure(store, "i:y") == [("i:y", "b")]
        assert closure(store, "i:z") == []
        snapshot = store.load_snapshot("rt")
        assert snapshot is not None
        assert dict(snapshot.rows) == {b"a": b"row-a", b"b": b"row-b"}

    def test_a_deleted_memo_loses_its_edges_but_keeps_its_readers(
        self, store: RuntimeStore
    ) -> None:
        store.commit_boundary("rt", graph(1, a="i:x", b="a"), "r", "c", [], [])
        store.commit_boundary(
            "rt", SnapshotDelta(2, b"m", deletes=frozenset({b"a"})), "r", "c", [], []
        )
        assert closure(store, "i:x") == []
        assert closure(store, "a") == [("a", "b")]  # b's row still lists a: its edge stays

    def test_a_full_delta_replaces_every_edge(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", graph(1, a="i:x", b="a", c="i:y"), "r", "c", [], [])
        store.commit_boundary("rt", graph(2, full=True, c="i:x"), "r", "c", [], [])
        assert closure(store, "i:x") == [("i:x", "c")]
        assert closure(store, "a", "i:y") == []

    def test_reset_and_destroy_drop_the_edges(self, store: RuntimeStore) -> None:
        for drop in ("cache", "everything"):
            store.commit_boundary("rt", graph(1, a="i:x"), "r", "c", [], [])
            store.commit_boundary("keep", graph(1, a="i:x"), "r", "c", [], [])
            store.atomic_lifecycle_commit("rt", RuntimeState.IDLE, [], drop=drop)  # type: ignore[arg-type]
            assert closure(store, "i:x") == []
            assert closure(store, "i:x", runtime_id="keep") == [("i:x", "a")]

    def test_edges_belong_to_their_runtime(self, store: RuntimeStore) -> None:
        store.commit_boundary("one", graph(1, a="i:x"), "r", "c", [], [])
        store.commit_boundary("two", graph(1, b="i:x"), "r", "c", [], [])
        assert closure(store, "i:x", runtime_id="one") == [("i:x", "a")]
        assert closure(store, "i:x", runtime_id="two") == [("i:x", "b")]

    def test_a_closure_from_many_seeds_has_each_edge_once(self, store: RuntimeStore) -> None:
        chain = {f"m{n}": f"i:{n}" + (f" m{n - 1}" if n else "") for n in range(1100)}
        store.commit_boundary("rt", graph(1, **chain), "r", "c", [], [])
        edges = closure(store, *(f"i:{n}" for n in range(1100)))
        assert len(edges) == 1100 + 1099

    # -- on demand: the boundary the caller opened -----------------------------------------

    @pytest.mark.parametrize("write", ["commit", "durable input", "lifecycle"])
    def test_on_demand_loads_refuse_once_another_writer_moved_the_head(
        self, store: RuntimeStore, write: str
    ) -> None:
        store.commit_boundary("rt", graph(1, a="i:x"), "r", "c", [], [state("src:a")])
        opened = store.load_header("rt")
        assert opened is not None
        writes: dict[str, Callable[[], object]] = {
            "commit": lambda: store.commit_boundary("rt", graph(2, a="i:y"), "b", "c", [], []),
            "durable input": lambda: store.persist_input_state("rt", state("src:a", b"new")),
            "lifecycle": lambda: store.atomic_lifecycle_commit("rt", RuntimeState.RETIRED, []),
        }
        writes[write]()
        loads: list[Callable[[], object]] = [
            lambda: store.load_memo_rows("rt", [b"a"], head=opened.head),
            lambda: store.load_input_rows("rt", ["src:a"], head=opened.head),
            lambda: store.load_family("rt", "src", head=opened.head),
            lambda: store.load_reader_closure("rt", [b"i:x"], head=opened.head),
        ]
        for load in loads:
            with pytest.raises(StaleRead) as caught:
                load()
            stale = caught.value
            assert isinstance(stale, Conflict)
            assert (stale.runtime_id, stale.base, stale.head) == ("rt", 1, 2)
            message = str(stale)
            assert store.location in message
            assert "'rt'" in message
            assert "opened at head 1, the head is now 2" in message
            assert "Open the runtime again" in message
        current = store.load_head("rt")
        assert store.load_memo_rows("rt", [b"a"], head=current) == {b"a": b"row-a"}

    def test_a_closure_seeded_by_prefix_starts_from_every_node_under_it(
        self, store: RuntimeStore
    ) -> None:
        # fa and fb are two memos of one query ("f"), read by r and s; g is another
        store.commit_boundary("rt", graph(1, fa="i:x", fb="i:y", g="i:z"), "r", "c", [], [])
        store.commit_boundary("rt", graph(2, r="fa", s="fb", t="g", u="r"), "r", "c", [], [])
        head = store.load_head("rt")
        prefix = node("f")  # b"qf": every memo node whose id starts with "f"
        edges = store.load_reader_closure("rt", [], head=head, node_prefixes=[prefix])
        shown = sorted((_name(dep), reader.decode()) for dep, reader in edges)
        assert shown == [("fa", "r"), ("fb", "s"), ("r", "u")]
        both = store.load_reader_closure("rt", [node("g")], head=head, node_prefixes=[prefix])
        assert len(both) == 4
        assert store.load_reader_closure("rt", [], head=head, node_prefixes=[node("zz")]) == []
        with pytest.raises(StaleRead):
            store.load_reader_closure("rt", [], head=head - 1, node_prefixes=[prefix])

    def test_load_inputs_changed_after_returns_only_the_later_states(
        self, store: RuntimeStore
    ) -> None:
        early, late = state("src:a", changed_at=3), state("src:b", changed_at=5)
        store.commit_boundary("rt", delta(3), "r", "c", [], [early])
        store.persist_input_state("rt", late)
        store.persist_input_state("rt", state("src:c", changed_at=4))
        store.commit_boundary("elsewhere", delta(1), "r", "c", [], [state("src:z", changed_at=9)])
        head = store.load_head("rt")
        assert store.load_inputs_changed_after("rt", 3, head=head) == [
            late,
            state("src:c", changed_at=4),
        ]
        assert store.load_inputs_changed_after("rt", 5, head=head) == []
        assert store.load_inputs_changed_after("never", 0, head=0) == []
        with pytest.raises(StaleRead):
            store.load_inputs_changed_after("rt", 0, head=head - 1)

    def test_a_label_does_not_make_a_read_stale(self, store: RuntimeStore) -> None:
        store.commit_boundary("rt", graph(1, a="i:x"), "r", "c", [], [])
        store.persist_runtime_state("rt", RuntimeState.RUNNING)  # not state: head stays
        assert store.load_reader_closure("rt", [b"i:x"], head=1) == [(b"i:x", b"a")]

    def test_a_runtime_never_written_is_read_at_head_0(self, store: RuntimeStore) -> None:
        assert store.load_memo_rows("new", [b"a"], head=0) == {}
        assert store.load_reader_closure("new", [b"i:x"], head=0) == []
        with pytest.raises(StaleRead, match="opened at head 3, the head is now 0"):
            store.load_family("new", "src", head=3)

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
        for load in (
            lambda: store.load_header("rt"),
            lambda: store.load_memo_rows("rt", [b"a"], head=1),
            lambda: store.load_reader_closure("rt", [b"a"], head=1),
        ):
            with pytest.raises(StoreError, match="closed"):
                load()

    # -- traces (shared by content, across runtimes) ----------------------------------

    def test_published_traces_load_by_lookup_in_trace_id_order(self, store: RuntimeStore) -> None:
        assert store.load_traces(b"L") == []
        store.publish_traces([(b"L", b"t2", b"row-2"), (b"L", b"t1", b"row-1")])
        store.publish_traces([(b"M", b"t1", b"other")])
        assert store.load_traces(b"L") == [b"row-1", b"row-2"]
        assert store.load_traces(b"M") == [b"other"]
        store.publish_traces([])  # nothing to publish is fine

    def test_trace_rows_of_many_lookups_load_in_one_call(self, store: RuntimeStore) -> None:
        assert store.load_trace_rows([]) == {}
        assert store.load_trace_rows([b"L"]) == {}
        rows = [(b"L%d" % i, b"t%d" % j, b"row-%d-%d" % (i, j)) for i in range(700) for j in (2, 1)]
        store.publish_traces(rows)
        asked = [b"L%d" % i for i in range(0, 700, 1)] + [b"L3", b"missing"]
        found = store.load_trace_rows(asked)  # more lookups than one SQLite IN (...) takes
        assert found == {b"L%d" % i: [b"row-%d-1" % i, b"row-%d-2" % i] for i in range(700)}
        assert all(found[b"L%d" % i] == store.load_traces(b"L%d" % i) for i in (0, 699))

    def test_a_trace_is_immutable_the_first_publisher_wins(self, store: RuntimeStore) -> None:
        store.publish_traces([(b"L", b"t", b"first")])
        store.publish_traces([(b"L", b"t", b"second"), (b"L", b"t", b"third")])
        assert store.load_traces(b"L") == [b"first"]

    def test_traces_belong_to_no_runtime_and_outlive_reset_and_destroy(
        self, store: RuntimeStore
    ) -> None:
        store.commit_boundary("rt", delta(1, a=b"A"), "r", "c", [], [])
        store.publish_traces([(b"L", b"t", b"row")])
        head = store.load_head("rt")
        assert head == 1  # publishing is no write to any runtime
        store.atomic_lifecycle_commit("rt", RuntimeState.IDLE, [], "cache", base_head=head)
        store.atomic_lifecycle_commit("rt", RuntimeState.DESTROYED, [], "everything")
        assert store.load_traces(b"L") == [b"row"]

    def test_threads_publish_one_trace_at_once_harmlessly(self, store: RuntimeStore) -> None:
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def publish(n: int) -> None:
            try:
                barrier.wait()
                for i in range(20):
                    store.publish_traces([(b"L", b"t%d" % (i % 5), b"row-%d" % (i % 5))])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        workers = [threading.Thread(target=publish, args=(n,)) for n in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        assert store.load_traces(b"L") == [b"row-%d" % i for i in range(5)]

    def test_a_closed_store_refuses_trace_calls(self, store: RuntimeStore) -> None:
        store.close()
        with pytest.raises(StoreError, match="closed"):
            store.publish_traces([(b"L", b"t", b"row")])
        with pytest.raises(StoreError, match="closed"):
            store.load_traces(b"L")
        with pytest.raises(StoreError, match="closed"):
            store.load_trace_rows([b"L"])

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

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(
        st.lists(
            st.tuples(
                st.dictionaries(
                    st.sampled_from("abcdef"),
                    st.lists(st.sampled_from(["i:x", "i:y", *"abcdef"]), max_size=4),
                    max_size=3,
                ),
                st.frozensets(st.sampled_from("abcdef"), max_size=2),
                st.booleans(),
            ),
            max_size=6,
        )
    )
    def test_any_sequence_of_deltas_keeps_the_edges_of_the_rows(
        self,
        store: RuntimeStore,
        steps: list[tuple[dict[str, list[str]], frozenset[str], bool]],
    ) -> None:
        """The stored edges are, after any deltas, exactly the deps of the stored rows;
        every closure is what following them gives, each edge once."""
        runtime_id = f"edges-{uuid.uuid4().hex}"
        rows: dict[str, set[str]] = {}  # the model: memo -> what its row read
        for revision, (reads, deletes, full) in enumerate(steps, start=1):
            deleted = frozenset(name.encode() for name in deletes - reads.keys())
            # a memo that read again exactly what its row lists is marked, as the runtime does
            same = {name for name, deps in reads.items() if set(deps) == rows.get(name)}
            snapshot = SnapshotDelta(
                revision,
                b"m",
                {name.encode(): b"row" for name in reads},
                deleted,
                full,
                {name.encode(): [node(dep) for dep in deps] for name, deps in reads.items()},
                frozenset() if full else frozenset(name.encode() for name in same),
            )
            store.commit_boundary(runtime_id, snapshot, "r", "c", [], [])
            if full:
                rows = {}
            for name in deletes - reads.keys():
                rows.pop(name, None)
            rows.update((name, set(deps)) for name, deps in reads.items())
        for seed in ["i:x", "i:y", *"abcdef"]:
            reached, stack, expected = {seed}, [seed], set()
            while stack:
                dep = stack.pop()
                for reader, deps in rows.items():
                    if dep in deps:
                        expected.add((dep, reader))
                        if reader not in reached:
                            reached.add(reader)
                            stack.append(reader)
            assert closure(store, seed, runtime_id=runtime_id) == sorted(expected)


class DurableStoreContract(StoreContract):
    """What a store that survives closing adds: subclass this instead, and provide
    ``reopen``, a factory opening another handle on the same backing."""

    @pytest.fixture
    def reopen(self) -> Reopen:
        raise NotImplementedError("a durable backend provides reopen")  # pragma: no cover

    @pytest.fixture
    def damage(self) -> Damage:
        raise NotImplementedError("a durable backend provides damage")  # pragma: no cover

    def test_a_damaged_row_is_named_by_the_load_that_meets_it(
        self, store: RuntimeStore, damage: Damage
    ) -> None:
        store.commit_boundary("rt", delta(1, aa=b"A", bb=b"B"), "r", "c", [], [])
        damage("rt", b"bb")
        with pytest.raises(CorruptSnapshot) as caught:
            store.load_memo_rows("rt", [b"aa", b"bb"], head=1)
        message = str(caught.value)
        assert "memo row 6262" in message  # b"bb" in hex
        assert "'rt'" in message
        assert store.location in message
        assert store.load_memo_rows("rt", [b"aa"], head=1) == {b"aa": b"A"}  # one row, not all
        with pytest.raises(CorruptSnapshot, match="memo row 6262"):
            store.load_snapshot("rt")

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

    def test_another_handle_committing_makes_this_ones_lazy_loads_stale(
        self, store: RuntimeStore, reopen: Reopen
    ) -> None:
        store.commit_boundary("rt", graph(1, a="i:x", b="a"), "here", "c", [], [])
        opened = store.load_header("rt")
        assert opened is not None
        other = reopen()
        try:
            other.commit_boundary("rt", graph(2, b="i:y"), "there", "c", [], [], base_head=1)
        finally:
            other.close()
        with pytest.raises(StaleRead, match="opened at head 1, the head is now 2"):
            store.load_memo_rows("rt", [b"b"], head=opened.head)
        with pytest.raises(StaleRead):
            store.load_reader_closure("rt", [b"i:x"], head=opened.head)
        assert closure(store, "i:x") == [("i:x", "a")]  # read at the new head: b moved on

    def test_edges_survive_reopening(self, store: RuntimeStore, reopen: Reopen) -> None:
        store.commit_boundary("rt", graph(1, a="i:x", b="a", c="b"), "r", "c", [], [])
        store.close()
        again = reopen()
        try:
            assert closure(again, "i:x") == [("a", "b"), ("b", "c"), ("i:x", "a")]
            assert again.load_snapshot("rt") is not None  # the full load checks them too
        finally:
            again.close()

    def test_traces_survive_reopening_and_are_seen_by_another_handle(
        self, store: RuntimeStore, reopen: Reopen
    ) -> None:
        store.publish_traces([(b"L", b"t", b"row")])
        other = reopen()
        try:
            assert other.load_traces(b"L") == [b"row"]
            other.publish_traces([(b"L", b"u", b"row-u")])
        finally:
            other.close()
        assert store.load_traces(b"L") == [b"row", b"row-u"]

    def test_the_head_survives_reopening(self, store: RuntimeStore, reopen: Reopen) -> None:
        store.commit_boundary("rt", delta(1), "r", "c", [], [], base_head=0)
        store.persist_input_state("rt", state("src:a"), base_head=1)
        store.close()
        again = reopen()
        try:
            assert again.load_head("rt") == 2
        finally:
            again.close()
