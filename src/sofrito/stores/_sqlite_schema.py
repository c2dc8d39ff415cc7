"""The SQLite store's schema, its version, and the upgrade from older versions.

``sofrito_schema(version)`` holds one row. Opening a file:

- with the current version: nothing to do, and no write lock taken, so
  opening never waits behind a writer;
- empty (a new file): create the tables;
- with an older version: upgrade it in one transaction;
- with a newer version: refuse (``SchemaMismatch`` naming the file and both
  versions), never half-understand it;
- with tables but no ``sofrito_schema``: someone else's database; refuse and
  leave it alone. Unless the tables are sofrito's own (all four of them): then
  the version table's name was damaged, and the file is reported as damaged;
- with a version that is not a known number: the file is damaged.

Version history: 1 had no receipt checksums and no seals; 2 adds both (the
header row anchors every row of its runtime, see ``_sqlite_rows``); 3 adds the
header's ``head``, the write count that compare-and-swap checks (a column
added in place: a version 2 header reads as head 0 and its checksum holds);
4 adds the reverse edges (``edges``, keyed by dependency for the reader
closure, sealed by the header's ``edge_seal``) and an index of input states by
family. The edges' primary key starts with the dependency, not the reader,
although a commit finds them by reader: a full load checks the table's own
b-tree, never an index, so the closure must walk that b-tree. Then a damaged
index can only make a commit miss an old edge, which leaves one edge too many
(a reader marked for nothing, and a seal that no longer matches), never one
too few. 5 adds ``traces`` (sharing by content, docs/persistence.md): rows
of no runtime, keyed by lookup and trace id, each sealed by the runtime that
published it (a MAC under the team's trace secret), so the store keeps no
checksum of its own; the upgrade creates the table and changes nothing else.
6 stores the edges in groups (``_sqlite_tables``): ``readers``, a row per
dependency listing its readers, keyed by dependency for the closure, and
``deps``, a row per reader listing its dependencies, keyed by memo id for a
commit; the ``edges`` table and its ``edges_by_reader`` index go. A first
build of 10,000 pages wrote 235,000 edge rows and as many index entries;
it writes 60,000 and 60,000 rows now (docs/persistence.md, "Schema").
7 makes ``memos`` and ``traces`` rowid tables (their primary key an index
beside them), rows copied as they are. A ``WITHOUT ROWID`` table keeps a
row in its b-tree's leaf only up to about a quarter of a page (about 1 KB
of a 4 KiB page); the rest spills to an overflow page of its own, mostly
empty. A memo row holds a value: a first build of the example site's
10,000 pages wrote 98 MB of memo rows into 159 MB of pages (32,000 overflow
pages, 52 MB of them unused), where a rowid table keeps a row of up to 4
KB in its leaf: 126 MB (docs/persistence.md, "Schema"). Kept ``WITHOUT
ROWID``: the tables whose rows are small (headers, edge groups, receipts),
and ``inputs`` (file contents too, but a family is read as a range of its
primary key, and through an index a damaged entry would drop a cell from
a family without a trace: ``read_family``). A damaged index entry of
``memos`` can only hide a row, which is then computed again (or, in a full
load, breaks the seal), or point at another memo's row, which fails its
checksum (it covers the memo id) or is refused as astray.
An older file is upgraded one step after another in one transaction.

**The upgrade to 4 drops the memo rows** and the snapshot that describes
them (``meta``, the revision; inputs, receipts and lifecycle states stay,
``_drop_memos``). Their edges cannot be derived here: a row is opaque to
the store (its layout is the runtime's, and with ``secret=`` it is
MAC-sealed), and a memo row without its edges is a reader that a write in a
fresh process would never mark. The memos are a cache, so recomputing them once is always
right; a new sofrito version usually changes their fingerprints anyway. The
upgrade advances the head of each runtime it empties, so a process of an
older sofrito that still has the file open gets ``Conflict`` at its next
write instead of adding rows without edges.

**The upgrade to 6 drops the memo rows too**, and their edges, for the
same reason and in the same way: regrouping the old edges would mean
trusting each of them to rebuild its group's checksum, and one damaged
edge would come out sealed as sound; recomputing a cache once is always
right.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

from sofrito.stores import _encoding
from sofrito.stores._integrity import EMPTY_SEAL, checksum, fold
from sofrito.stores._sqlite_rows import (
    Header,
    Malformed,
    a_sum,
    blob,
    integer,
    lifecycle_state,
    read_header,
    receipt_params,
    text,
    write_header,
)
from sofrito.stores.errors import SchemaMismatch, StoreError
from sofrito.stores.protocol import Receipt

__all__ = ["SCHEMA_VERSION", "prepare"]

SCHEMA_VERSION = 7

_TABLES = """
CREATE TABLE IF NOT EXISTS sofrito_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runtimes (
    runtime_id TEXT PRIMARY KEY,
    state TEXT,
    revision INTEGER NOT NULL,
    meta BLOB,
    sequence INTEGER NOT NULL,
    memo_seal BLOB NOT NULL,
    input_seal BLOB NOT NULL,
    sum BLOB NOT NULL,
    head INTEGER NOT NULL DEFAULT 0,
    edge_seal BLOB NOT NULL DEFAULT x'00000000000000000000000000000000'
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS memos (
    runtime_id TEXT NOT NULL,
    memo_id BLOB NOT NULL,
    row BLOB NOT NULL,
    sum BLOB NOT NULL,
    PRIMARY KEY (runtime_id, memo_id)
);
CREATE TABLE IF NOT EXISTS inputs (
    runtime_id TEXT NOT NULL,
    input_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    durability INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    sum BLOB NOT NULL,
    PRIMARY KEY (runtime_id, input_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inputs_by_kind ON inputs (runtime_id, kind);
CREATE INDEX IF NOT EXISTS inputs_by_changed ON inputs (runtime_id, changed_at);
CREATE TABLE IF NOT EXISTS readers (
    runtime_id TEXT NOT NULL,
    dep BLOB NOT NULL,
    readers BLOB NOT NULL,
    sum BLOB NOT NULL,
    PRIMARY KEY (runtime_id, dep)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deps (
    runtime_id TEXT NOT NULL,
    memo_id BLOB NOT NULL,
    deps BLOB NOT NULL,
    sum BLOB NOT NULL,
    PRIMARY KEY (runtime_id, memo_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS traces (
    lookup BLOB NOT NULL,
    trace_id BLOB NOT NULL,
    row BLOB NOT NULL,
    PRIMARY KEY (lookup, trace_id)
);
CREATE TABLE IF NOT EXISTS receipts (
    runtime_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    boundary TEXT NOT NULL,
    contributing BLOB NOT NULL,
    digest TEXT NOT NULL,
    sum BLOB NOT NULL,
    PRIMARY KEY (runtime_id, sequence)
) WITHOUT ROWID;
"""


def prepare(conn: sqlite3.Connection, path: Path) -> None:
    """Make the file a current store, or raise (see the module docstring)."""
    if _version(conn) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        _create_or_upgrade(conn, path)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # never hide the cause
                conn.execute("ROLLBACK")
        raise


def _create_or_upgrade(conn: sqlite3.Connection, path: Path) -> None:
    version = _version(conn)  # again: another process may have created it meanwhile
    if version is None:
        _refuse_foreign(conn, path)
        _create_tables(conn)
        conn.execute("INSERT INTO sofrito_schema VALUES (?)", (SCHEMA_VERSION,))
    elif version < SCHEMA_VERSION:
        if version == 1:
            _upgrade_from_1(conn)
        if version == 2:
            _upgrade_from_2(conn)
        if version <= 3:
            _upgrade_from_3(conn)
        _create_tables(conn)  # 4 -> 5: the traces table, nothing else changes
        _upgrade_from_5(conn)
        _upgrade_from_6(conn)
        conn.execute("UPDATE sofrito_schema SET version = ?", (SCHEMA_VERSION,))
    elif version > SCHEMA_VERSION:
        raise SchemaMismatch(
            f"{path} was written by a newer sofrito (store schema {version}; "
            f"this sofrito knows {SCHEMA_VERSION}); upgrade sofrito or use another file",
            str(path),
            version,
            SCHEMA_VERSION,
        )


def _create_tables(conn: sqlite3.Connection) -> None:
    for statement in _TABLES.split(";"):
        if statement.strip():
            conn.execute(statement)


def _version(conn: sqlite3.Connection) -> int | None:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sofrito_schema'"
    ).fetchone()
    if exists is None:
        return None
    rows = conn.execute("SELECT version FROM sofrito_schema").fetchall()
    if len(rows) != 1 or type(rows[0][0]) is not int or rows[0][0] < 1:
        raise Malformed("the schema version", f"is {rows!r}, not one known version (damaged)")
    return int(rows[0][0])


_OWN_TABLES = frozenset({"runtimes", "memos", "inputs", "receipts"})


def _refuse_foreign(conn: sqlite3.Connection, path: Path) -> None:
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    if _OWN_TABLES.issubset(names):
        # Every table of a sofrito store but the version: a damaged store (a flipped
        # bit in a table name), not someone else's database; recover() may move it.
        raise Malformed(
            "the schema version table", "is missing beside the store's tables (damaged)"
        )
    if names:
        raise StoreError(
            f"{path} is an SQLite database of something else (tables: {', '.join(names[:5])}), "
            "not a sofrito store; it was left untouched: use another path"
        )


def _upgrade_from_1(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2: checksum the receipts, seal each runtime's rows.

    Stored row checksums are folded into the seals as found, not recomputed,
    so a row that was already damaged stays detectably damaged. A version 1
    header whose checksum fails stops the upgrade (``Malformed``). Receipts had
    no checksum in version 1: they are checksummed as found.
    """
    heads = {
        str(row[0]): _v1_header(row)
        for row in conn.execute(
            "SELECT runtime_id, state, revision, meta, meta_sum, sequence FROM runtimes"
        ).fetchall()
    }
    receipts = [
        _v1_receipt(row)
        for row in conn.execute(
            "SELECT runtime_id, sequence, run_id, boundary, contributing, digest FROM receipts"
        ).fetchall()
    ]
    conn.execute("DROP TABLE runtimes")
    conn.execute("DROP TABLE receipts")
    _create_tables(conn)
    conn.executemany(
        "INSERT INTO receipts VALUES (?, ?, ?, ?, ?, ?, ?)",
        [receipt_params(receipt) for receipt in receipts],
    )
    owners = conn.execute(
        "SELECT runtime_id FROM memos UNION SELECT runtime_id FROM inputs "
        "UNION SELECT runtime_id FROM receipts"
    ).fetchall()
    for (runtime_id,) in owners:
        heads.setdefault(str(runtime_id), Header())
    for runtime_id, header in heads.items():
        write_header(conn, runtime_id, _sealed(conn, runtime_id, header))


def _upgrade_from_2(conn: sqlite3.Connection) -> None:
    """Version 2 -> 3: the header's head, 0 for every runtime (its checksum holds)."""
    conn.execute("ALTER TABLE runtimes ADD COLUMN head INTEGER NOT NULL DEFAULT 0")


def _upgrade_from_3(conn: sqlite3.Connection) -> None:
    """Version 3 -> 4: the edges table, the family index, the header's edge seal
    (empty: its checksum holds), and no memo rows (the module docstring says why).

    A header that fails its checksum is left as it is, still failing (a reset
    repairs it); its memo rows go all the same."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(runtimes)")}
    if "edge_seal" not in columns:  # a version 1 file got its tables created whole
        conn.execute(
            f"ALTER TABLE runtimes ADD COLUMN edge_seal BLOB NOT NULL DEFAULT x'{EMPTY_SEAL.hex()}'"
        )
    _create_tables(conn)
    _drop_memos(conn, "SELECT DISTINCT runtime_id FROM memos")


def _upgrade_from_5(conn: sqlite3.Connection) -> None:
    """Version 4 or 5 -> 6: the edges in groups (``readers`` and ``deps``, made by
    ``_create_tables``), and no memo rows or edges (the module docstring says why)."""
    old = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'edges'"
    ).fetchone()
    if old is None:  # from 3 or older: no edges, and the memo rows are gone already
        return
    _drop_memos(conn, "SELECT runtime_id FROM memos UNION SELECT runtime_id FROM edges")
    conn.execute("DROP TABLE edges")  # and its index


_ROWID_TABLES = {"memos": "runtime_id, memo_id, row, sum", "traces": "lookup, trace_id, row"}
"""The tables whose rows hold values, rowid tables from schema 7: their columns."""


def _upgrade_from_6(conn: sqlite3.Connection) -> None:
    """Version 6 or older -> 7: ``memos`` and ``traces`` become rowid tables
    (the module docstring says why), their rows copied byte for byte: the
    checksums, the seals and the traces' MACs hold as they did, so a row that
    was damaged stays detectably damaged, and nothing is recomputed."""
    for table in _ROWID_TABLES:
        conn.execute(f"ALTER TABLE {table} RENAME TO {table}_v6")
    _create_tables(conn)
    for table, columns in _ROWID_TABLES.items():
        # The old table is scanned in its primary key's order, so the new rows
        # go in in that order too: each appended, none on a random page.
        conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_v6")
        conn.execute(f"DROP TABLE {table}_v6")


def _drop_memos(conn: sqlite3.Connection, owners_query: str) -> None:
    """Delete every memo row; each runtime that had some (``owners_query``) loses
    its snapshot (``meta``, which describes those rows: which queries have
    rows, which are marked; and the revision), its memo and edge seals are
    emptied and its head advanced, so that a process of an older sofrito with
    the file open gets ``Conflict`` at its next write. Inputs, receipts and the
    lifecycle state stay: the runtime opens as one holding only inputs. A
    header that fails its checksum is left as it is, still failing.

    Why the meta goes too: kept, it told the runtime that rows it describes
    exist, and what trusts that without loading them (``sofrito run`` keeps an
    output whose render's row is clean, ``_on_demand.untouched``) kept every
    page as it was, and no edge was left to mark them when a template then
    changed: a stale site."""
    owners = [row[0] for row in conn.execute(owners_query)]
    conn.execute("DELETE FROM memos")
    for runtime_id in owners:
        if type(runtime_id) is not str:
            continue  # a damaged id: its rows are gone, and no header names it
        try:
            header = read_header(conn, runtime_id)
        except Malformed:
            continue
        if header is not None:
            emptied = replace(
                header.advanced(),
                revision=0,
                meta=None,
                memo_seal=EMPTY_SEAL,
                edge_seal=EMPTY_SEAL,
            )
            write_header(conn, runtime_id, emptied)


def _v1_header(row: Any) -> Header:
    runtime_id, state, revision, meta, meta_sum, sequence = row
    what = f"the version 1 header of runtime {runtime_id!r}"
    revision, sequence = integer(revision, what), integer(sequence, what)
    meta = None if meta is None else blob(meta, what)
    if meta is not None and checksum(text(runtime_id, what), revision, meta) != meta_sum:
        raise Malformed(what)
    return Header(lifecycle_state(state, what), revision, meta, sequence)


def _v1_receipt(row: Any) -> Receipt:
    runtime_id, sequence, run_id, boundary, contributing, digest = row
    what = f"version 1 receipt {sequence!r} of runtime {runtime_id!r}"
    try:
        inputs = _encoding.decode_str_tuple(blob(contributing, what))
    except ValueError:
        raise Malformed(what, "has undecodable input ids") from None
    return Receipt(
        text(runtime_id, what),
        text(run_id, what),
        integer(sequence, what),
        text(boundary, what),
        inputs,
        text(digest, what),
    )


def _sealed(conn: sqlite3.Connection, runtime_id: str, header: Header) -> Header:
    what = f"a version 1 row of runtime {runtime_id!r}"
    memo_sums = conn.execute("SELECT sum FROM memos WHERE runtime_id = ?", (runtime_id,))
    input_sums = conn.execute("SELECT sum FROM inputs WHERE runtime_id = ?", (runtime_id,))
    return replace(
        header,
        memo_seal=fold(header.memo_seal, (a_sum(row[0], what) for row in memo_sums)),
        input_seal=fold(header.input_seal, (a_sum(row[0], what) for row in input_sums)),
    )
