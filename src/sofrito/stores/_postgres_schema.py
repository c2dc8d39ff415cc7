"""The PostgreSQL store's schema, its version, and the explicit upgrade.

The tables mirror the SQLite store's (``_sqlite_schema``), one set per
PostgreSQL schema (``search_path``), so one database can hold several stores.
``sofrito_schema`` holds one row, the version. Opening a store:

- finds the current version: nothing to do (one read, no lock);
- finds no tables (a new database or schema): creates them, under a
  transaction-level advisory lock so that two processes opening a new
  database at once create them once;
- finds an **older** version: refuses, naming the command that upgrades
  (``sofrito store upgrade URL``). Unlike SQLite's file, a shared database is
  used by many machines at once, some of which may still run the older
  sofrito: an upgrade is a decision for whoever administers the database
  (and holds the role that may change tables), never a side effect of the
  first client that happens to be newer;
- finds a **newer** version: refuses, naming both versions (upgrade sofrito).
  Both refusals are ``SchemaMismatch``, so the command line can say which
  thing to upgrade instead of calling the store damaged;
- finds sofrito's table names without the version table, or a version that
  is not a number: refuses, and touches nothing.

``upgrade`` runs the steps in ``_UPGRADES`` from the stored version to
``SCHEMA_VERSION`` in one transaction, each step a function of the connection
that takes the layout of version n to that of n + 1; ``create`` writes the
current layout directly. A step must leave the tables usable by a client of
the version before it that is still running (it checked the version when it
opened, not at every statement): add columns with defaults, never rename or
drop what an older client writes.

Version history: 1 is the first PostgreSQL schema (traces included: rows of
no runtime, insert-only). 2 gives each trace the time it was first published
(``traces.published_at``, default ``now()``): traces are never updated or
deleted by sofrito, so a team store grows with every distinct value its
publishers computed, and an administrator prunes it by age
(docs/persistence.md, "Pruning traces"); a deleted trace only means the next
reader computes. Version 1 rows get the time of the upgrade. A version 1
client still running inserts traces without the column, which takes its
default.

Bytes are ``bytea``, counters ``bigint``; every row carries the same checksum
as in SQLite (``_integrity``), and the header row the same seals, so the same
damage is caught the same way. The receipts' primary key ``(runtime_id,
sequence)`` is the constraint that makes two receipts with one sequence
impossible even for a bug in the store: the second insert fails and its
transaction writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from sofrito.stores.errors import SchemaMismatch, StoreError

__all__ = ["SCHEMA_VERSION", "create", "prepare", "stored_version", "upgrade"]

SCHEMA_VERSION = 2

_LOCK = 0x736F667269746F  # "sofrito": the advisory lock that serializes creating and upgrading

_TABLES = (
    "CREATE TABLE sofrito_schema (version integer NOT NULL)",
    """CREATE TABLE runtimes (
        runtime_id text PRIMARY KEY,
        state text,
        revision bigint NOT NULL,
        meta bytea,
        sequence bigint NOT NULL,
        memo_seal bytea NOT NULL,
        input_seal bytea NOT NULL,
        head bigint NOT NULL,
        edge_seal bytea NOT NULL,
        sum bytea NOT NULL
    )""",
    """CREATE TABLE memos (
        runtime_id text NOT NULL,
        memo_id bytea NOT NULL,
        row bytea NOT NULL,
        sum bytea NOT NULL,
        PRIMARY KEY (runtime_id, memo_id)
    )""",
    """CREATE TABLE inputs (
        runtime_id text NOT NULL,
        input_id text NOT NULL,
        kind text NOT NULL,
        key bytea NOT NULL,
        value bytea NOT NULL,
        durability bigint NOT NULL,
        changed_at bigint NOT NULL,
        status text NOT NULL,
        sum bytea NOT NULL,
        PRIMARY KEY (runtime_id, input_id)
    )""",
    "CREATE INDEX inputs_by_kind ON inputs (runtime_id, kind)",
    "CREATE INDEX inputs_by_changed ON inputs (runtime_id, changed_at)",
    """CREATE TABLE edges (
        runtime_id text NOT NULL,
        dep bytea NOT NULL,
        reader bytea NOT NULL,
        sum bytea NOT NULL,
        PRIMARY KEY (runtime_id, dep, reader)
    )""",
    "CREATE INDEX edges_by_reader ON edges (runtime_id, reader)",
    """CREATE TABLE traces (
        lookup bytea NOT NULL,
        trace_id bytea NOT NULL,
        row bytea NOT NULL,
        published_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (lookup, trace_id)
    )""",
    """CREATE TABLE receipts (
        runtime_id text NOT NULL,
        sequence bigint NOT NULL,
        run_id text NOT NULL,
        boundary text NOT NULL,
        contributing bytea NOT NULL,
        digest text NOT NULL,
        sum bytea NOT NULL,
        PRIMARY KEY (runtime_id, sequence)
    )""",
)
_OWN_TABLES = ("runtimes", "memos", "inputs", "edges", "receipts")


def _to_2(conn: psycopg.Connection[Any]) -> None:
    """Version 1 -> 2: the time each trace was first published (the upgrade's, for old rows)."""
    conn.execute("ALTER TABLE traces ADD COLUMN published_at timestamptz NOT NULL DEFAULT now()")


_UPGRADES: dict[int, Callable[[psycopg.Connection[Any]], None]] = {1: _to_2}
"""Version n -> n + 1, by n: one step for every version before ``SCHEMA_VERSION``."""

UPGRADE_HINT = "run `sofrito store upgrade URL` (with a role that may alter the tables)"


def stored_version(conn: psycopg.Connection[Any]) -> int | None:
    """The version in ``sofrito_schema`` of the current schema; None if there is no table."""
    (exists,) = conn.execute("SELECT to_regclass('sofrito_schema') IS NOT NULL").fetchone() or (
        False,
    )
    if not exists:
        return None
    rows = conn.execute("SELECT version FROM sofrito_schema").fetchall()
    if len(rows) != 1 or type(rows[0][0]) is not int or rows[0][0] < 1:
        raise StoreError(
            f"the sofrito_schema table holds {rows!r}, not one schema version; the database "
            "was changed by hand or by something else: restore it, or use another schema"
        )
    return int(rows[0][0])


def prepare(conn: psycopg.Connection[Any], location: str) -> None:
    """Make sure the schema is the current one: create it if absent, refuse otherwise.
    Runs in its own transaction; leaves the connection idle."""
    with conn.transaction():
        version = stored_version(conn)
        if version is None:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            version = stored_version(conn)  # another process may have created it meanwhile
            if version is None:
                create(conn, location)
                return
    check_version(version, location)


def check_version(version: int, location: str) -> None:
    """Refuse a version other than ``SCHEMA_VERSION``, saying what to upgrade."""
    if version < SCHEMA_VERSION:
        raise SchemaMismatch(
            f"{location} holds store schema {version}, older than the {SCHEMA_VERSION} this "
            f"sofrito uses; {UPGRADE_HINT}, once every client that uses it runs this sofrito",
            location,
            version,
            SCHEMA_VERSION,
        )
    if version > SCHEMA_VERSION:
        raise SchemaMismatch(
            f"{location} holds store schema {version}, written by a newer sofrito (this "
            f"sofrito knows {SCHEMA_VERSION}); upgrade sofrito on this machine",
            location,
            version,
            SCHEMA_VERSION,
        )


def create(conn: psycopg.Connection[Any], location: str) -> None:
    """The tables and the version row, in the caller's transaction (which holds ``_LOCK``)."""
    found = [
        name
        for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
            (list(_OWN_TABLES),),
        )
    ]
    if found:
        raise StoreError(
            f"{location}: the schema already has tables named {', '.join(sorted(found))} but "
            "no sofrito_schema version table: it belongs to something else, or was damaged; "
            "it was left untouched: use another schema (search_path) or database"
        )
    for statement in _TABLES:
        conn.execute(statement)
    conn.execute("INSERT INTO sofrito_schema VALUES (%s)", (SCHEMA_VERSION,))


def upgrade(conn: psycopg.Connection[Any], location: str) -> tuple[int | None, int]:
    """Bring the schema to ``SCHEMA_VERSION`` in one transaction; return (found, now).

    ``found`` is None for a schema that had no store: then it is created. A
    newer version is refused (``SchemaMismatch``), as by ``check_version``."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        found = stored_version(conn)
        if found is None:
            create(conn, location)
            return None, SCHEMA_VERSION
        if found > SCHEMA_VERSION:
            check_version(found, location)
        for version in range(found, SCHEMA_VERSION):
            _UPGRADES[version](conn)
        conn.execute("UPDATE sofrito_schema SET version = %s", (SCHEMA_VERSION,))
        return found, SCHEMA_VERSION
