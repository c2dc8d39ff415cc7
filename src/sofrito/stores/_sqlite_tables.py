"""What one call of the SQLite store does to its tables, keeping the seals in step.

Every write here updates the runtime's seals (``_integrity``) in proportion to
the rows it touches: it looks up the stored checksums of just those rows, folds
them out, and folds the new ones in. Every full read folds what it read and
compares. The functions run inside the caller's transaction; damage is raised
as ``Malformed`` for the store to report.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sofrito.stores._integrity import EMPTY_SEAL, fold, input_checksummer, memo_checksummer
from sofrito.stores._sqlite_rows import (
    Header,
    Malformed,
    a_sum,
    input_params,
    read_header,
    receipt_params,
    write_header,
)
from sofrito.stores.protocol import Drop, InputState, Receipt, SnapshotDelta

__all__ = [
    "SEAL_BROKEN",
    "apply_boundary",
    "has_rows",
    "header_before_drop",
    "read_memos",
    "write_inputs",
]

_CHUNK = 500  # ids per "IN (...)" lookup, well under SQLite's parameter limit

SEAL_BROKEN = (
    "do not match the seal in the runtime's header (a row is missing or left over: damaged)"
)


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
    input_seal = write_inputs(conn, runtime_id, header.input_seal, input_updates)
    conn.execute("INSERT INTO receipts VALUES (?, ?, ?, ?, ?, ?, ?)", receipt_params(receipt))
    header = replace(
        header.advanced(),
        revision=operator.index(snapshot.revision),
        meta=snapshot.meta,
        sequence=receipt.sequence,
        memo_seal=memo_seal,
        input_seal=input_seal,
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
    rows = [
        (runtime_id, memo_id, row, checksum(memo_id, row))
        for memo_id, row in snapshot.upserts.items()
    ]
    conn.executemany("INSERT OR REPLACE INTO memos VALUES (?, ?, ?, ?)", rows)
    return fold(seal, (row[3] for row in rows))


def write_inputs(
    conn: sqlite3.Connection, runtime_id: str, seal: bytes, states: Sequence[InputState]
) -> bytes:
    """Write input states (the last of one id wins); return the new input seal."""
    if not states:
        return seal
    sums = input_checksummer(runtime_id)
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


def _memo_name(memo_id: object) -> str:
    shown = memo_id.hex() if isinstance(memo_id, bytes) else repr(memo_id)
    return f"memo row {shown}"


def has_rows(conn: sqlite3.Connection, table: str, runtime_id: str) -> bool:
    query = f"SELECT 1 FROM {table} WHERE runtime_id = ? LIMIT 1"
    return conn.execute(query, (runtime_id,)).fetchone() is not None
