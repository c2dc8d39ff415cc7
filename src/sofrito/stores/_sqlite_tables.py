"""What one call of the SQLite store does to its tables, keeping the seals in step.

Every write here updates the runtime's seals (``_integrity``) in proportion to
the rows it touches: it looks up the stored checksums of just those rows, folds
them out, and folds the new ones in. Every full read folds what it read and
compares; an on-demand read checks each row it returns and can check no seal.
The functions run inside the caller's transaction; damage is raised as
``Malformed`` for the store to report.

Edges are stored by the reader's *node id* (``reader_node(memo_id)``), not its
memo id, so that the reader closure follows ``edges.reader`` straight into
``edges.dep`` through the primary key, one recursive CTE, with no byte
arithmetic in SQL (``||`` would turn blobs into text). Why the key starts
with ``dep``: ``_sqlite_schema``.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from sofrito.stores._integrity import (
    EMPTY_SEAL,
    SUM_SIZE,
    EdgeSums,
    InputSums,
    edge_checksummer,
    fold,
    input_checksummer,
    memo_checksummer,
)
from sofrito.stores._sqlite_rows import (
    INPUT_COLUMNS,
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
from sofrito.stores.snapshot import QUERY_NODE, reader_node

__all__ = [
    "ASTRAY",
    "SEAL_BROKEN",
    "after_prefix",
    "apply_boundary",
    "check_edges",
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

SEAL_BROKEN = (
    "do not match the seal in the runtime's header (a row is missing or left over: damaged)"
)
ASTRAY = "was looked up, but another row came back (damaged index)"


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
    edge_seal = _write_edges(conn, runtime_id, header.edge_seal, snapshot)
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
        """In key order, as edges are (``_insert_edges``): most of a cold build's
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


def _write_edges(
    conn: sqlite3.Connection, runtime_id: str, seal: bytes, snapshot: SnapshotDelta
) -> bytes:
    """Give every memo the delta writes exactly the edges of its ``reads`` and every
    memo it deletes none (all of them replaced for a ``full`` delta); return the
    new edge seal.

    Only the difference is written: a memo that re-executed and read what it
    read before keeps its stored edges, and one that read one node more gains
    one edge. The old edges are read through the ``(runtime_id, reader)``
    index, in proportion to the delta; rewriting them all cost a wide memo
    (a root reading 10,000 pages) 10,000 deletes and inserts per commit, about
    75% of that commit (docs/persistence.md, "Reverse edges"). A memo the
    delta marks ``unchanged`` is not even read back: after a template edit,
    reading the edges of 10,000 renders to find them all the same was a
    fifth of the commit."""
    if snapshot.full:
        conn.execute("DELETE FROM edges WHERE runtime_id = ?", (runtime_id,))
        every: _Readers = {}
        for memo_id in snapshot.upserts:
            for dep in snapshot.edges_of(memo_id):
                _add_reader(every, dep, memo_id)
        return _insert_edges(conn, runtime_id, EMPTY_SEAL, every)
    kept = snapshot.unchanged  # their stored edges are their reads already
    written = [memo_id for memo_id in snapshot.upserts if memo_id not in kept]
    memo_ids = [*written, *snapshot.deletes]  # a deleted memo has no edges
    gone: list[tuple[str, bytes, bytes]] = []
    added: _Readers = {}
    for start in range(0, len(memo_ids), _CHUNK):  # a chunk's edge sets at a time
        ids = memo_ids[start : start + _CHUNK]
        readers = [reader_node(memo_id) for memo_id in ids]
        stored = _stored_edges(conn, runtime_id, readers)
        for memo_id, reader in zip(ids, readers, strict=True):
            deps = snapshot.edges_of(memo_id)
            old = stored.get(reader, {})
            for dep, stored_sum in old.items():
                if dep not in deps:
                    gone.append((runtime_id, dep, reader))
                    seal = fold(seal, (stored_sum,))
            for dep in deps:
                if dep not in old:
                    _add_reader(added, dep, memo_id)
    conn.executemany("DELETE FROM edges WHERE runtime_id = ? AND dep = ? AND reader = ?", gone)
    # OR REPLACE: an old edge a damaged index hid from the lookup above is the
    # same row; its checksum, not folded out, leaves the seal for a full load to catch.
    return _insert_edges(conn, runtime_id, seal, added)


_Readers = dict[bytes, list[bytes]]
"""Edges to write: dependency node id -> the memo ids of its new readers.

Grouped by dependency and naming each reader by the memo id the delta
already holds, not by a new node id per edge: a 10,000-page first commit
adds 255,000 edges from 50,000 dependencies, and a pair and a reader id per
edge held until written were 23 MB of its peak (10 MB this way)."""


def _add_reader(readers: _Readers, dep: bytes, memo_id: bytes) -> None:
    known = readers.get(dep)
    if known is None:
        readers[dep] = [memo_id]
    else:
        known.append(memo_id)


def _insert_edges(
    conn: sqlite3.Connection, runtime_id: str, seal: bytes, readers: _Readers
) -> bytes:
    """Insert the edges ``readers`` lists with their checksums; return ``seal``
    with the checksums folded in.

    In primary-key order ``(runtime_id, dep, reader)``: inserted in the order a
    commit builds them (per reader, in read order), every row lands on a
    random page of the b-tree, and at 10,000 pages (255,000 edges, 70,000 memo
    rows) the pages the cache cannot hold are written out and read back again
    and again, about 6 s of CPU and 15 s of a loaded disk's time. Sorted, each
    page is filled once: 2.4 s of CPU and 4 s (measured on the example site's
    first commit; a bigger page cache, ``PRAGMA cache_size``, did not help).
    The rows are made as SQLite takes them, not held (``_Readers`` is what a
    first commit holds); every reader's node id starts with the same byte, so
    its memo ids sort as its node ids do."""
    checksum = edge_checksummer(runtime_id)
    folded = int.from_bytes(seal, "big")

    def rows() -> Iterator[tuple[str, bytes, bytes, bytes]]:
        nonlocal folded
        for dep in sorted(readers):
            for memo_id in sorted(readers[dep]):
                reader = reader_node(memo_id)
                stored = checksum(reader, dep)
                folded ^= int.from_bytes(stored, "big")
                yield runtime_id, dep, reader, stored

    conn.executemany("INSERT OR REPLACE INTO edges VALUES (?, ?, ?, ?)", rows())
    return folded.to_bytes(SUM_SIZE, "big")


def _stored_edges(
    conn: sqlite3.Connection, runtime_id: str, readers: list[bytes]
) -> dict[bytes, dict[bytes, bytes]]:
    """Reader node id -> {dep node id: stored checksum}, for ``readers``."""
    found: dict[bytes, dict[bytes, bytes]] = {}
    for start in range(0, len(readers), _CHUNK):
        chunk = readers[start : start + _CHUNK]
        # INDEXED BY: without statistics SQLite would rather scan the runtime's
        # edges by primary key (it needs ``sum``): 20x slower at 100,000 edges.
        rows = conn.execute(
            "SELECT reader, dep, sum FROM edges INDEXED BY edges_by_reader "
            f"WHERE runtime_id = ? AND reader IN ({', '.join('?' * len(chunk))})",
            (runtime_id, *chunk),
        )
        for reader, dep, stored in rows:
            if type(reader) is not bytes or type(dep) is not bytes:
                raise Malformed(_edge_name(reader), "holds a value of the wrong type (damaged)")
            found.setdefault(reader, {})[dep] = a_sum(stored, "a stored edge")
    return found


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


def check_edges(conn: sqlite3.Connection, runtime_id: str, seal: bytes) -> None:
    """Every edge of the runtime checked, all together against the seal: what a
    full load adds, since a vanished edge is a reader a write would not mark."""
    checksum = edge_checksummer(runtime_id)
    folded = 0
    query = "SELECT reader, dep, sum FROM edges WHERE runtime_id = ?"
    for reader, dep, stored in conn.execute(query, (runtime_id,)):
        _check_edge(checksum, reader, dep, stored)
        folded ^= int.from_bytes(stored, "big")
    if folded != int.from_bytes(seal, "big"):
        raise Malformed("the reverse edges", SEAL_BROKEN)


def _check_edge(checksum: EdgeSums, reader: object, dep: object, stored: object) -> None:
    """An edge row is two node ids, the reader's starting with ``QUERY_NODE``
    (one byte: the closure strips it). The checksum covers both ids, so a
    reader whose first byte changed fails it even where only the sum is compared."""
    if (
        type(reader) is not bytes
        or type(dep) is not bytes
        or type(stored) is not bytes
        or not reader.startswith(QUERY_NODE)
    ):
        raise Malformed(_edge_name(reader), "holds a value of the wrong type (damaged)")
    if checksum(reader, dep) != stored:
        raise Malformed(_edge_name(reader))


def _edge_name(reader: object) -> str:
    if isinstance(reader, bytes) and reader.startswith(QUERY_NODE):
        return f"an edge of memo row {reader[1:].hex()}"
    return f"an edge of reader {reader!r:.80}"


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


def read_deps_by_prefix(
    conn: sqlite3.Connection, runtime_id: str, prefixes: list[bytes]
) -> list[bytes]:
    """The distinct dep node ids of stored edges that start with one of ``prefixes``:
    a range scan of the edges' primary key per prefix. (The closure then
    checks every edge out of them.)"""
    found: dict[bytes, None] = {}
    query = "SELECT DISTINCT dep FROM edges WHERE runtime_id = ? AND dep >= ? AND dep < ?"
    for prefix in prefixes:
        upper = after_prefix(prefix)
        if upper is None:
            rows = conn.execute(
                "SELECT DISTINCT dep FROM edges WHERE runtime_id = ? AND dep >= ?",
                (runtime_id, prefix),
            )
        else:
            rows = conn.execute(query, (runtime_id, prefix, upper))
        for (dep,) in rows:
            if type(dep) is bytes and dep.startswith(prefix):
                found[dep] = None
    return list(found)


def after_prefix(prefix: bytes) -> bytes | None:
    """The least byte string above every string that starts with ``prefix``
    (None: there is none, the prefix is all 0xff bytes)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


_CLOSURE = """
WITH RECURSIVE reached(node) AS (
    SELECT column1 FROM (VALUES {seeds})
    UNION
    SELECT edges.reader FROM reached JOIN edges
        ON edges.runtime_id = :runtime AND edges.dep = reached.node
)
SELECT edges.dep, edges.reader, edges.sum FROM reached JOIN edges
    ON edges.runtime_id = :runtime AND edges.dep = reached.node
"""
"""Every edge out of every node reached from the seeds. ``UNION`` (not ``UNION
ALL``) keeps each node once, so each edge comes back once, and a cycle (which
a damaged store could hold) ends the walk instead of looping. Both joins
look edges up by the primary key ``(runtime_id, dep, reader)``."""


def read_reader_closure(
    conn: sqlite3.Connection, runtime_id: str, node_ids: list[bytes]
) -> list[tuple[bytes, bytes]]:
    """The edges reachable from ``node_ids``, as ``(dep, reader memo id)``, each
    checked. More than ``_CHUNK`` seeds take one walk per chunk, merged so that
    each edge still comes once: a write rarely has more. A write to a widely
    read cell walks much of the graph, so the checks are inline."""
    checksum = edge_checksummer(runtime_id)
    found: dict[tuple[bytes, bytes], None] = {}
    for start in range(0, len(node_ids), _CHUNK):
        chunk = node_ids[start : start + _CHUNK]
        params: dict[str, object] = {"runtime": runtime_id}
        params.update((f"s{n}", node) for n, node in enumerate(chunk))
        seeds = ", ".join(f"(:s{n})" for n in range(len(chunk)))
        _keep_checked(checksum, conn.execute(_CLOSURE.format(seeds=seeds), params), found)
    return list(found)


_READERS = "SELECT dep, reader, sum FROM edges WHERE runtime_id = ? AND dep IN ({marks})"
"""The edges out of some nodes, through the primary key ``(runtime_id, dep, reader)``
as the closure's walk (never ``edges_by_reader``)."""


def read_readers(
    conn: sqlite3.Connection, runtime_id: str, node_ids: list[bytes]
) -> list[tuple[bytes, bytes]]:
    """The edges out of ``node_ids``, as ``(dep, reader memo id)``, each checked:
    one level of ``read_reader_closure``, ``_CHUNK`` nodes per lookup."""
    checksum = edge_checksummer(runtime_id)
    found: dict[tuple[bytes, bytes], None] = {}
    for start in range(0, len(node_ids), _CHUNK):
        chunk = node_ids[start : start + _CHUNK]
        query = _READERS.format(marks=", ".join("?" * len(chunk)))
        _keep_checked(checksum, conn.execute(query, (runtime_id, *chunk)), found)
    return list(found)


def _keep_checked(
    checksum: EdgeSums,
    rows: Iterable[Any],
    found: dict[tuple[bytes, bytes], None],
) -> None:
    """Each ``(dep, reader, sum)`` edge row of ``rows`` checked (a damaged one raises,
    naming the damage) and kept in ``found`` as ``(dep, reader memo id)``."""
    for dep, reader, stored in rows:
        if type(reader) is not bytes or type(dep) is not bytes or checksum(reader, dep) != stored:
            _check_edge(checksum, reader, dep, stored)
        found[dep, reader[1:]] = None


def _memo_name(memo_id: object) -> str:
    shown = memo_id.hex() if isinstance(memo_id, bytes) else repr(memo_id)
    return f"memo row {shown}"


def has_rows(conn: sqlite3.Connection, table: str, runtime_id: str) -> bool:
    query = f"SELECT 1 FROM {table} WHERE runtime_id = ? LIMIT 1"
    return conn.execute(query, (runtime_id,)).fetchone() is not None
