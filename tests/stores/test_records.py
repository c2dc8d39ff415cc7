"""The records every store moves: snapshot bytes, receipt digests, the store encoding.

The digest format is a promise to anyone holding a snapshot, so it is pinned
here byte for byte: if a golden vector changes, stored receipts stop
verifying. Change the format only with a new version tag.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sofrito as sf
from sofrito import _canonical, stores
from sofrito.stores import Receipt, SnapshotDelta, _encoding, _integrity, compute_digest

GOLDEN_DELTA = SnapshotDelta(7, b"meta", {b"q:b": b"row-b", b"q:a": b"row-a"}, frozenset({b"q:z"}))
GOLDEN_DELTA_BYTES = (
    "07000000060500000013736f667269746f2e736e617073686f742e7631030000000107060000"
    "00046d657461070000000207000000020600000003713a610600000005726f772d6107000000"
    "020600000003713a620600000005726f772d6207000000010600000003713a7a02"
)
GOLDEN_DIGEST = "f2892136a564af2107fefc6026f043f60a89734b60d628dc043caccdd7e25cbf"


def test_snapshot_bytes_are_pinned() -> None:
    assert GOLDEN_DELTA.to_bytes().hex() == GOLDEN_DELTA_BYTES


def test_receipt_digest_is_pinned_and_recomputable_by_anyone() -> None:
    digest = compute_digest("site", "run-1", 3, "commit", ["src:b", "src:a"], GOLDEN_DELTA)
    assert digest == GOLDEN_DIGEST
    receipt = Receipt("site", "run-1", 3, "commit", ("src:a", "src:b"), digest)
    assert receipt.verify(GOLDEN_DELTA)


def test_the_digest_ignores_the_order_things_were_gathered_in() -> None:
    reordered = SnapshotDelta(7, b"meta", {b"q:a": b"row-a", b"q:b": b"row-b"}, frozenset({b"q:z"}))
    assert compute_digest("site", "run-1", 3, "commit", ["src:a", "src:b"], reordered) == (
        GOLDEN_DIGEST
    )


@pytest.mark.parametrize(
    "changed",
    [
        {"runtime_id": "other"},
        {"run_id": "run-2"},
        {"sequence": 4},
        {"boundary": "end"},
        {"contributing_inputs": ("src:a",)},
        {"digest": "0" * 64},
    ],
)
def test_a_receipt_with_any_field_changed_does_not_verify(changed: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "runtime_id": "site",
        "run_id": "run-1",
        "sequence": 3,
        "boundary": "commit",
        "contributing_inputs": ("src:a", "src:b"),
        "digest": GOLDEN_DIGEST,
    }
    receipt = Receipt(**{**fields, **changed})  # type: ignore[arg-type]
    assert not receipt.verify(GOLDEN_DELTA)


@pytest.mark.parametrize(
    "other",
    [
        SnapshotDelta(8, b"meta", GOLDEN_DELTA.upserts, GOLDEN_DELTA.deletes),
        SnapshotDelta(7, b"meta!", GOLDEN_DELTA.upserts, GOLDEN_DELTA.deletes),
        SnapshotDelta(7, b"meta", {b"q:a": b"row-a"}, GOLDEN_DELTA.deletes),
        SnapshotDelta(7, b"meta", GOLDEN_DELTA.upserts),
        SnapshotDelta(7, b"meta", GOLDEN_DELTA.upserts, GOLDEN_DELTA.deletes, full=True),
    ],
)
def test_the_digest_covers_every_part_of_the_delta(other: SnapshotDelta) -> None:
    assert compute_digest("site", "run-1", 3, "commit", ["src:a", "src:b"], other) != (
        GOLDEN_DIGEST
    )


def test_the_digest_of_a_large_delta_is_hashed_in_pieces_without_copying_its_rows() -> None:
    """A commit of a cold 10,000-page build holds about 200 MB of rows: the digest
    must not encode a copy of them (it made two, most of the build's peak memory).
    The digest stays the hash of ``to_bytes()`` in its receipt payload."""
    rows = {b"memo-%05d" % n: bytes([n % 251]) * 100_000 for n in range(100)}  # 10 MB
    delta = SnapshotDelta(3, b"meta", rows, reads={b"memo-00001": [b"dep"]})
    tracemalloc.start()
    try:
        digest = compute_digest("rt", "run", 1, "b", ["i:1"], delta)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak  # a copy of the rows would be 10 MB
    payload = _encoding.encode(
        ("sofrito.receipt.v1", "rt", "run", 1, "b", ("i:1",), delta.to_bytes())
    )
    assert digest == hashlib.sha256(payload).hexdigest()


def test_the_digest_of_many_rows_and_edges_holds_none_of_their_pieces() -> None:
    """A first commit of 10,000 pages has 70,000 small rows and 255,000 edges:
    the digest hashes each piece as it is made, and holds neither a list of
    the rows' prefixes nor the edges encoded (25 MB of that commit's peak)."""
    rows = {b"memo-%05d" % n: b"r" * 20 for n in range(40_000)}
    reads = {
        memo_id: [b"node-%05d" % ((n * 7 + k) % 5_000) for k in range(10)]
        for n, memo_id in enumerate(rows)
    }
    delta = SnapshotDelta(3, b"meta", rows, frozenset({b"gone"}), reads=reads)
    tracemalloc.start()
    try:
        digest = compute_digest("rt", "run", 1, "b", ["i:1"], delta)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    encoded = delta.to_bytes()
    assert len(encoded) > 8_000_000
    assert peak < 5_000_000, peak  # a piece of edges (1 MB) as it grows and is copied
    assert delta.encoded_size() == len(encoded)
    payload = _encoding.encode(("sofrito.receipt.v1", "rt", "run", 1, "b", ("i:1",), encoded))
    assert digest == hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize(
    "delta",
    [
        SnapshotDelta(0, b""),
        SnapshotDelta(2, b"m", {b"a": b"row"}, frozenset({b"x", b"y"}), full=True),
        SnapshotDelta(2, b"m", {b"a": b"row", b"b": b""}, reads={b"a": [], b"b": [b"n", b"n"]}),
    ],
)
def test_a_delta_counts_its_encoded_size_without_encoding(delta: SnapshotDelta) -> None:
    assert delta.encoded_size() == len(delta.to_bytes())


def test_a_delta_may_not_both_write_and_delete_a_memo() -> None:
    with pytest.raises(ValueError, match=r"both upserted and deleted.*716b"):
        SnapshotDelta(1, b"", {b"qk": b"row"}, frozenset({b"qk"}))


def test_a_delta_holds_frozensets_of_whatever_sets_it_is_given() -> None:
    """The store modules compiled with mypyc check a field's declared type when
    they read it, and ``frozenset - dict.keys()`` is a plain set."""
    deletes = frozenset({b"a", b"b"}) - {b"b": b""}.keys()
    delta = SnapshotDelta(1, b"m", {b"c": b"row"}, deletes, unchanged={b"c"})
    assert type(delta.deletes) is frozenset
    assert delta.deletes == {b"a"}
    assert type(delta.unchanged) is frozenset
    assert delta.unchanged == {b"c"}


def test_wrong_types_are_refused_not_encoded_as_something_else() -> None:
    with pytest.raises(TypeError, match="are bytes, not bytes and str"):
        SnapshotDelta(1, b"", {b"id": "text"}).to_bytes()  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="int revision and bytes meta, not bool"):
        SnapshotDelta(True, b"").to_bytes()
    with pytest.raises(TypeError, match="not float"):
        compute_digest("rt", "run", 1.0, "c", [], GOLDEN_DELTA)  # type: ignore[arg-type]


_PLAIN: st.SearchStrategy[_encoding.Plain] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4).map(tuple),
    max_leaves=12,
)


@given(_PLAIN)
def test_the_store_encoding_is_the_plain_part_of_the_key_encoding(value: _encoding.Plain) -> None:
    """If this fails, the key encoding changed: the store encoding must not follow it
    (receipts depend on it); update the claim in ``_encoding``'s docstring instead."""
    policy = _canonical.Policy(mutable_containers=False, objects=False)
    assert _encoding.encode(value) == _canonical.encode(value, policy)


_INPUT_FIELDS = st.tuples(
    st.text(), st.text(), st.binary(), st.binary(), st.integers(), st.integers(), st.text()
)


@given(st.text(), _INPUT_FIELDS, st.binary(), st.binary())
def test_the_checksummers_of_a_load_sum_what_checksum_sums(
    runtime_id: str,
    fields: tuple[str, str, bytes, bytes, int, int, str],
    memo_id: bytes,
    row: bytes,
) -> None:
    """A load hashes the runtime id once for all its rows, and writes out the
    encoding of an input row's fields: the sums must stay those of ``checksum``,
    which every stored row carries."""
    input_sums = _integrity.input_checksummer(runtime_id)
    assert input_sums(*fields) == _integrity.checksum(runtime_id, *fields)
    memo_sums = _integrity.memo_checksummer(runtime_id)
    assert memo_sums(memo_id, row) == _integrity.checksum(runtime_id, memo_id, row)


@given(st.lists(st.text(), max_size=5).map(tuple))
def test_input_ids_decode_as_they_were_encoded(ids: tuple[str, ...]) -> None:
    assert _encoding.decode_str_tuple(_encoding.encode(ids)) == ids


@pytest.mark.parametrize(
    "damaged",
    [
        b"",
        b"\x07",
        b"\x07\x00\x00\x00\x02\x05\x00\x00\x00\x01a",
        b"\x06\x00\x00\x00\x00",
        b"\x07\x00\x00\x00\x01\x05\x00\x00\x00\x09a",
        b"\x07\x00\x00\x00\x00junk",
        b"\x07\x00\x00\x00\x01\x05\x00\x00\x00\x01\xff",
    ],
)
def test_damaged_input_ids_are_refused(damaged: bytes) -> None:
    with pytest.raises(ValueError, match=r"tuple|str|trailing|decode"):
        _encoding.decode_str_tuple(damaged)


def test_public_names_are_exported_once_and_say_sofrito_stores() -> None:
    assert len(stores.__all__) == len(set(stores.__all__))
    for name in stores.__all__:
        obj = getattr(stores, name)
        if isinstance(obj, type):
            assert obj.__module__ == "sofrito.stores", name
    errors = {"StoreError", "WriteFailed", "ReadFailed", "RecordNotFound", "Conflict"}
    assert errors | {"CorruptSnapshot"} <= set(stores.__all__)
    for error in (
        stores.WriteFailed,
        stores.ReadFailed,
        stores.RecordNotFound,
        stores.Conflict,
        stores.CorruptSnapshot,
    ):
        assert issubclass(error, stores.StoreError)


GOLDEN_EDGES = SnapshotDelta(
    7,
    b"meta",
    {b"q:b": b"row-b", b"q:a": b"row-a"},
    frozenset({b"q:z"}),
    reads={b"q:a": [b"i:x", b"qq:b", b"i:x"]},
)
GOLDEN_EDGES_DIGEST = "870e8fedb8d559ee90532bb3b0780bf3f4a4db5cab1f6d9e5f1a9bca10e8ecee"


def test_a_delta_with_edges_has_its_own_pinned_encoding_that_covers_them() -> None:
    digest = compute_digest("site", "run-1", 3, "commit", ["src:a", "src:b"], GOLDEN_EDGES)
    assert digest == GOLDEN_EDGES_DIGEST
    assert GOLDEN_EDGES.to_bytes().startswith(bytes.fromhex("0700000007"))  # seven parts
    assert b"sofrito.snapshot.v2" in GOLDEN_EDGES.to_bytes()
    # the edges as the store keeps them: a set per reader, in any order
    same = SnapshotDelta(
        7, b"meta", GOLDEN_EDGES.upserts, GOLDEN_EDGES.deletes, reads={b"q:a": [b"qq:b", b"i:x"]}
    )
    assert same.to_bytes() == GOLDEN_EDGES.to_bytes()
    other = SnapshotDelta(
        7, b"meta", GOLDEN_EDGES.upserts, GOLDEN_EDGES.deletes, reads={b"q:a": [b"i:x"]}
    )
    assert other.to_bytes() != GOLDEN_EDGES.to_bytes()
    moved = SnapshotDelta(
        7, b"meta", GOLDEN_EDGES.upserts, GOLDEN_EDGES.deletes, reads={b"q:b": [b"i:x", b"qq:b"]}
    )
    assert moved.to_bytes() != GOLDEN_EDGES.to_bytes()


def test_a_large_delta_encodes_as_the_formula_says_whatever_its_size() -> None:
    """The encoding is cut into parts for the digest (rows apart, edges in pieces):
    the bytes stay the documented encoding of the whole delta."""
    upserts = {f"q:{n:05}".encode(): bytes([n % 251]) * (n % 300) for n in range(3000)}
    reads = {memo_id: [f"i:{n % 700:04}".encode() * 4 for n in range(40)] for memo_id in upserts}
    delta = SnapshotDelta(9, b"meta", upserts, frozenset({b"q:gone"}), reads=reads)
    edges = tuple(sorted((m, tuple(sorted(set(ids)))) for m, ids in reads.items()))
    formula = (
        "sofrito.snapshot.v2",
        9,
        b"meta",
        tuple(sorted(upserts.items())),
        (b"q:gone",),
        False,
        edges,
    )
    assert len(delta.parts()) > 2 * len(upserts) + 2  # the edges came in several parts
    assert delta.to_bytes() == _encoding.encode(formula)


def test_a_delta_without_edges_encodes_as_before_edges_existed() -> None:
    """Receipts minted before edges existed still verify: no edge, the v1 bytes."""
    empty_reads = SnapshotDelta(
        7, b"meta", GOLDEN_DELTA.upserts, GOLDEN_DELTA.deletes, reads={b"q:a": []}
    )
    assert empty_reads.to_bytes().hex() == GOLDEN_DELTA_BYTES


def test_edges_only_for_memos_the_delta_writes() -> None:
    with pytest.raises(ValueError, match=r"reads of memo ids not upserted .*: 713a63"):
        SnapshotDelta(1, b"", {b"q:a": b"row"}, reads={b"q:c": [b"i:x"]})
    with pytest.raises(ValueError, match="not upserted"):
        SnapshotDelta(1, b"", deletes=frozenset({b"q:c"}), reads={b"q:c": []})


def test_unchanged_edges_only_for_memos_the_delta_writes_and_never_in_a_full_delta() -> None:
    with pytest.raises(ValueError, match=r"marked unchanged but not upserted .*: 713a63"):
        SnapshotDelta(1, b"", {b"q:a": b"row"}, unchanged=frozenset({b"q:c"}))
    with pytest.raises(ValueError, match="full SnapshotDelta replaces every stored edge"):
        SnapshotDelta(1, b"", {b"q:a": b"row"}, full=True, unchanged=frozenset({b"q:a"}))


def test_unchanged_edges_are_not_part_of_the_digest() -> None:
    """They say what the store need not do, not what it holds: ``reads`` says that."""
    reads = {b"q:a": [b"i:x"], b"q:b": [b"i:y"]}
    plain = SnapshotDelta(2, b"m", GOLDEN_DELTA.upserts, reads=reads)
    marked = SnapshotDelta(
        2, b"m", GOLDEN_DELTA.upserts, reads=reads, unchanged=frozenset({b"q:a"})
    )
    assert marked.to_bytes() == plain.to_bytes()
    assert marked.encoded_size() == plain.encoded_size()


def test_node_ids_must_be_bytes() -> None:
    delta = SnapshotDelta(1, b"", {b"q:a": b"row"}, reads={b"q:a": ["i:x"]})  # type: ignore[list-item]
    with pytest.raises(TypeError, match="node ids in a SnapshotDelta are bytes"):
        delta.to_bytes()


def test_a_stale_read_is_a_conflict_that_survives_pickling() -> None:
    stale = stores.StaleRead("moved on", "rt", 3, 5)
    assert isinstance(stale, stores.Conflict)
    again = pickle.loads(pickle.dumps(stale))
    assert (type(again), str(again)) == (stores.StaleRead, "moved on")
    assert (again.runtime_id, again.base, again.head) == ("rt", 3, 5)


@given(st.text(), st.binary(), st.binary())
def test_the_edge_checksummer_sums_a_tagged_row(runtime_id: str, reader: bytes, dep: bytes) -> None:
    sums = _integrity.edge_checksummer(runtime_id)
    assert sums(reader, dep) == _integrity.checksum("sofrito.edge", runtime_id, reader, dep)
    assert sums(reader, dep) != _integrity.checksum(runtime_id, reader, dep)  # not a memo row's


def test_the_old_name_not_found_still_imports_with_a_deprecation_warning() -> None:
    """``sofrito.stores.NotFound`` shared its name with ``sofrito.NotFound`` (a
    locator's answer); it is ``RecordNotFound`` now, and the old name still works."""
    with pytest.warns(DeprecationWarning, match=r"renamed sofrito\.stores\.RecordNotFound"):
        from sofrito.stores import NotFound
    assert NotFound is stores.RecordNotFound
    with pytest.warns(DeprecationWarning, match="RecordNotFound"):
        assert stores.NotFound is stores.RecordNotFound  # type: ignore[attr-defined]
    assert "NotFound" not in stores.__all__
    assert stores.RecordNotFound is not sf.NotFound
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        stores.Nothing  # type: ignore[attr-defined]  # noqa: B018


def test_a_conflict_names_both_heads_and_survives_pickling() -> None:
    conflict = stores.Conflict("lost", "rt", 3, 5)
    again = pickle.loads(pickle.dumps(conflict))
    assert (type(again), str(again)) == (stores.Conflict, "lost")
    assert (again.runtime_id, again.base, again.head) == ("rt", 3, 5)


def test_a_schema_mismatch_says_which_side_is_older_and_survives_pickling() -> None:
    older = stores.SchemaMismatch("old store", "db", 1, 2)
    newer = stores.SchemaMismatch("new store", "db", 3, 2)
    assert isinstance(older, stores.StoreError)
    assert (older.older, newer.older) == (True, False)
    again = pickle.loads(pickle.dumps(newer))
    assert (type(again), str(again)) == (stores.SchemaMismatch, "new store")
    assert (again.location, again.found, again.expected) == ("db", 3, 2)
    assert stores.SchemaMismatch.__module__ == "sofrito.stores"


def test_the_reference_implementation_in_the_docs_recomputes_the_digest() -> None:
    """docs/persistence.md shows how to check a receipt without sofrito; it must work."""
    docs = Path(__file__).parent.parent.parent / "docs" / "persistence.md"
    blocks = re.findall(r"```python\n(.*?)```", docs.read_text(), re.DOTALL)
    (reference,) = [block for block in blocks if "def E(v)" in block]
    assert GOLDEN_DIGEST in reference
    exec(compile(reference, str(docs), "exec"), {})  # its own assert checks the digest
