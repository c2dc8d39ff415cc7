"""What one call of the SQLite store does to its tables, keeping the seals in step.

Every write here updates the runtime's seals (``_integrity``) in proportion to
the rows it touches: it looks up the stored checksums of just those rows, folds
them out, and folds the new ones in. Every full read folds what it read and
compares; an on-demand read checks each row it returns and can check no seal.
The functions run inside the caller's transaction; damage is raised as
``Malformed`` for the store to report.

The reverse edges are kept in groups, with their own reads and writes:
``_sqlite_edges`` (re-exported here, the one module the store calls).
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from sofrito.stores._integrity import (
    EMPTY_SEAL,
    SUM_SIZE,
    InputSums,
    fold,
    input_checksummer,
    memo_checksummer,
)
from sofrito.stores._sqlite_edges import (
    after_prefix,
    check_edges,
    drop_edges,
    has_edges,
    read_deps_by_prefix,
    read_reader_closure,
    read_readers,
    write_edges,
)
from sofrito.stores._sqlite_rows import (
    ASTRAY,
    INPUT_COLUMNS,
    SEAL_BROKEN,
    Header,
    Malformed,
    a_sum,
    input_params,
    read_header,
    read_input,
    receipt_params,
    write_header,
)
from sofrito.stores.protocol import Drop, InputState, Receipt, SnapshotDelta

__all__ = [
    "ASTRAY",
    "SEAL_BROKEN",
    "after_prefix",
    "apply_boundary",
    "check_edges",
    "drop_edges",
    "has_edges",
    "has_rows",
    "header_before_drop",
    "read_deps_by_prefix",
    "read_family",
    "read_inputs_changed_after",
    "read_readers",
    "read_input_rows",
    "read_memo_rows",
    "read_memos",
    "read_reader_closure",
    "write_inputs",
]

_CHUNK = 500  # ids per "IN (...)" lookup, well under SQLite's parameter limit


# -- writes, each keeping the runtime's seals in step ---------------------------------------


def apply_boundary(
    conn: sqlite3.Connection,
    runtime_id: str,
    header: Header,
    snapshot: SnapshotDelta,
    receipt: Receipt,
    input_updates: Sequence[InputState],
) -> None:
    memo_seal = _write_memos(conn, runtime_id, header.memo_seal, snapshot)
    edge_seal = write_edges(conn, runtime_id, header.edge_seal, snapshot)
    input_seal = write_inputs(conn, runtime_id, header.input_seal, input_updates)
    conn.execute("INSERT INTO receipts VALUES (?, ?, ?, ?, ?, ?, ?)", receipt_params(receipt))
    header = replace(
        header.advanced(),
        revision=operator.index(snapshot.revision),
        meta=snapshot.meta,
        sequence=receipt.sequence,
        memo_seal=memo_seal,
        input_seal=input_seal,
        edge_seal=edge_seal,
    )
    write_header(conn, runtime_id, header)


def _write_memos(
    conn: sqlite3.Connection, runtime_id: str, seal: bytes, snapshot: SnapshotDelta
) -> bytes:
    """Apply the delta's rows; return the new memo seal. Work is in proportion to
    the delta: old checksums are looked up only for the ids it touches."""
    if snapshot.full:
        conn.execute("DELETE FROM memos WHERE runtime_id = ?", (runtime_id,))
        seal = EMPTY_SEAL
    else:
        touched = [*snapshot.upserts, *snapshot.deletes]
        old = _old_sums(conn, "memos", "memo_id", runtime_id, touched)
        seal = fold(seal, old.values())
        conn.executemany(
            "DELETE FROM memos WHERE runtime_id = ? AND memo_id = ?",
            [(runtime_id, memo_id) for memo_id in snapshot.deletes if memo_id in old],
        )
    checksum = memo_checksummer(runtime_id)
    upserts = snapshot.upserts
    folded = int.from_bytes(seal, "big")

    def rows() -> Iterator[tuple[str, bytes, bytes, bytes]]:
        """In key order, as edge groups are (``_sqlite_edges``): most of a cold build's
        bytes. Made as SQLite takes them, as the edges are: a list of 70,000
        rows' parameters and checksums was 10 MB of a first build's peak."""
        nonlocal folded
        for memo_id in sorted(upserts):
            row = upserts[memo_id]
            stored = checksum(memo_id, row)
            folded ^= int.from_bytes(stored, "big")
            yield runtime_id, memo_id, row, stored

    conn.executemany("INSERT OR REPLACE INTO memos VALUES (?, ?, ?, ?)", rows())
    return folded.to_bytes(SUM_SIZE, "big")


def write_inputs(
    conn: sqlite3.Connection, runtime_id: str, seal: bytes, states: Sequence[InputState]
) -> bytes:
    """Write input states (the last of one id wins); return the new input seal.

    ``_CHUNK`` states at a time: a commit makes its states as they are read
    (``_persistence._InputStates``), each holding its value encoded, and all
    10,000 files of a first build at once were 15 MB of its peak. A state
    whose id an earlier chunk wrote finds that row as the stored one, and
    folds its checksum out as it would an older commit's."""
    sums = input_checksummer(runtime_id)
    for start in range(0, len(states), _CHUNK):
        seal = _write_input_chunk(conn, runtime_id, seal, states[start : start + _CHUNK], sums)
    return seal


def _write_input_chunk(
    conn: sqlite3.Connection,
    runtime_id: str,
    seal: bytes,
    states: Sequence[InputState],
    sums: InputSums,
) -> bytes:
    """One chunk of ``write_inputs``; its states go when it returns, before the
    next chunk's are made."""
    latest = {state.input_id: input_params(runtime_id, state, sums) for state in states}
    old = _old_sums(conn, "inputs", "input_id", runtime_id, list(latest))
    conn.executemany(
        "INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", list(latest.values())
    )
    return fold(fold(seal, old.values()), (params[-1] for params in latest.values()))


def _old_sums(
    conn: sqlite3.Connection, table: str, column: str, runtime_id: str, ids: list[Any]
) -> dict[Any, bytes]:
    """The stored checksums of those of ``ids`` that exist, by id."""
    found: dict[Any, bytes] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT {column}, sum FROM {table} WHERE runtime_id = ? AND {column} IN ({marks})"
        for key, stored in conn.execute(query, (runtime_id, *chunk)):
            found[key] = a_sum(stored, f"the stored {table} row {key!r}")
    return found


def header_before_drop(conn: sqlite3.Connection, runtime_id: str, drop: Drop) -> Header:
    """The header a lifecycle commit starts from. A reset or destroy must work on a
    damaged header (it is how a runtime recovers), so then only the receipt count
    is kept, recounted from the receipts themselves, and the head, read unchecked
    (a damaged head can only make another process's next write a ``Conflict``).
    A destroy keeps the head too: it never goes back, so no old base matches again."""
    if drop == "nothing":
        return read_header(conn, runtime_id) or Header()
    try:
        header = read_header(conn, runtime_id) or Header()
    except Malformed:
        header = _salvaged_header(conn, runtime_id)
    if drop == "everything":
        return Header(head=header.head)
    return header.without_cache()


def _salvaged_header(conn: sqlite3.Connection, runtime_id: str) -> Header:
    (last,) = conn.execute(
        "SELECT MAX(sequence) FROM receipts WHERE runtime_id = ? AND typeof(sequence) = 'integer'",
        (runtime_id,),
    ).fetchone()
    (head,) = conn.execute(
        "SELECT MAX(head, 0) FROM runtimes WHERE runtime_id = ? AND typeof(head) = 'integer'",
        (runtime_id,),
    ).fetchone() or (0,)
    return Header(sequence=last or 0, head=head)


# -- reads --------------------------------------------------------------------------------


def read_memos(conn: sqlite3.Connection, runtime_id: str, seal: bytes) -> dict[bytes, bytes]:
    """Every memo row of the runtime, each checked, all together checked against the seal.
    This is the path that opens a large cache, so the checks are inline."""
    checksum = memo_checksummer(runtime_id)
    rows: dict[bytes, bytes] = {}
    folded = 0
    query = "SELECT memo_id, row, sum FROM memos WHERE runtime_id = ?"
    for memo_id, row, stored in conn.execute(query, (runtime_id,)):
        if type(memo_id) is not bytes or type(row) is not bytes or type(stored) is not bytes:
            raise Malformed(_memo_name(memo_id), "holds a value of the wrong type (damaged)")
        if checksum(memo_id, row) != stored:
            raise Malformed(_memo_name(memo_id))
        folded ^= int.from_bytes(stored, "big")
        rows[memo_id] = row
    if folded != int.from_bytes(seal, "big"):
        raise Malformed("the memo rows", SEAL_BROKEN)
    return rows


# -- on-demand reads: what was asked for, each row checked --------------------------------


def read_memo_rows(
    conn: sqlite3.Connection, runtime_id: str, memo_ids: list[bytes]
) -> dict[bytes, bytes]:
    """The stored rows among ``memo_ids``, by primary key, ``_CHUNK`` ids per lookup."""
    checksum = memo_checksummer(runtime_id)
    wanted = set(memo_ids)
    found: dict[bytes, bytes] = {}
    for start in range(0, len(memo_ids), _CHUNK):
        chunk = memo_ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT memo_id, row, sum FROM memos WHERE runtime_id = ? AND memo_id IN ({marks})"
        for memo_id, row, stored in conn.execute(query, (runtime_id, *chunk)):
            if type(memo_id) is not bytes or type(row) is not bytes or type(stored) is not bytes:
                raise Malformed(_memo_name(memo_id), "holds a value of the wrong type (damaged)")
            if memo_id not in wanted:
                raise Malformed(_memo_name(memo_id), ASTRAY)
            if checksum(memo_id, row) != stored:
                raise Malformed(_memo_name(memo_id))
            found[memo_id] = row
    return found


def read_input_rows(
    conn: sqlite3.Connection, runtime_id: str, input_ids: list[str]
) -> dict[str, InputState]:
    """The stored input states among ``input_ids``, ``_CHUNK`` ids per lookup."""
    sums = input_checksummer(runtime_id)
    wanted = set(input_ids)
    found: dict[str, InputState] = {}
    for start in range(0, len(input_ids), _CHUNK):
        chunk = input_ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT {INPUT_COLUMNS} FROM inputs WHERE runtime_id = ? AND input_id IN ({marks})"
        for row in conn.execute(query, (runtime_id, *chunk)):
            state = read_input(sums, row)[0]
            if state.input_id not in wanted:
                raise Malformed(f"input state {state.input_id!r}", ASTRAY)
            found[state.input_id] = state
    return found


def read_family(conn: sqlite3.Connection, runtime_id: str, kind: str) -> list[InputState]:
    """Every input state of one family: the primary key's range of ids that start
    with ``kind:`` (the protocol's ``InputState``: a runtime's input ids begin
    with their family's name and a colon).

    Not the ``(runtime_id, kind)`` index: without statistics (no ``ANALYZE``)
    SQLite's planner prefers the primary key for ``runtime_id = ?`` and read
    every input row of the runtime, file contents included (16 ms for a
    family of one cell beside 10,000 files); and forced onto the index, a
    damaged index entry would drop a cell from the family without a trace,
    where the range is read from the table itself, the b-tree a full load
    checks (tests/stores/test_sqlite.py, flipped bits)."""
    sums = input_checksummer(runtime_id)
    query = (
        f"SELECT {INPUT_COLUMNS} FROM inputs "
        "WHERE runtime_id = ? AND input_id >= ? AND input_id < ? AND kind = ? "
        "ORDER BY input_id"
    )
    low, high = f"{kind}:", f"{kind};"  # ";" follows ":"
    found = [read_input(sums, row)[0] for row in conn.execute(query, (runtime_id, low, high, kind))]
    for state in found:
        if state.kind != kind or not state.input_id.startswith(low):
            raise Malformed(f"input state {state.input_id!r}", ASTRAY)
    return found


def read_inputs_changed_after(
    conn: sqlite3.Connection, runtime_id: str, revision: int
) -> list[InputState]:
    """The input states changed after ``revision``, through ``inputs_by_changed``."""
    sums = input_checksummer(runtime_id)
    query = (
        f"SELECT {INPUT_COLUMNS} FROM inputs WHERE runtime_id = ? AND changed_at > ? "
        "ORDER BY input_id"
    )
    found = [read_input(sums, row)[0] for row in conn.execute(query, (runtime_id, revision))]
    for state in found:
        if state.changed_at <= revision:
            raise Malformed(f"input state {state.input_id!r}", ASTRAY)
    return found


def _memo_name(memo_id: object) -> str:
    shown = memo_id.hex() if isinstance(memo_id, bytes) else repr(memo_id)
    return f"memo row {shown}"


def has_rows(conn: sqlite3.Connection, table: str, runtime_id: str) -> bool:
    query = f"SELECT 1 FROM {table} WHERE runtime_id = ? LIMIT 1"
    return conn.execute(query, (runtime_id,)).fetchone() is not None
