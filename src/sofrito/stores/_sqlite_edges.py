"""The SQLite store's reverse edges, kept in groups: a row per dependency, a row per reader.

What it keeps: for every stored memo, the nodes it read (``SnapshotDelta.reads``)
as edges ``dep -> reader``. What it answers: the readers of some nodes
(``read_readers``), their transitive readers (``read_reader_closure``), the
dependencies under a prefix (``read_deps_by_prefix``), and a full check of
every edge against the header's edge seal (``check_edges``).

**Two tables, a group per row** (schema 6, ``_sqlite_schema``):

- ``readers(runtime_id, dep, readers, sum)``: a dependency's node id and the
  sorted memo ids of its readers, packed (``pack_ids``). The closure walks it
  by primary key, one level of readers per round of lookups.
- ``deps(runtime_id, memo_id, deps, sum)``: a reader and the sorted node ids
  it read, packed. A commit reads it by primary key for each memo whose
  reads it replaces or that it deletes, to know which groups of ``readers``
  to change.

Each row carries a checksum over its id and its list (``_integrity``, a tag
per table), and both tables fold into the header's one edge seal: a full load
checks every row and the seal, so a group that vanished or was left over
breaks it, as an edge row did.

**Why groups.** A first build of 10,000 pages of the example site commits
235,000 edges from 60,000 readers to 60,000 dependencies. A row per edge,
keyed by ``(dep, reader)``, with an index by reader for a commit's lookups
(schema 4 and 5), was 235,000 rows and as many index entries, each edge with
its checksum: 1.8-2.3 s of that commit's CPU, 67 MB of the file. In groups
it is 120,000 rows and no index: 1.1-1.3 s, 25 MB less file
(docs/benchmarks.md, "The cold build's commit: the edges in groups").

**What it costs.** A commit that changes one reader of a dependency read by
every page rewrites that dependency's row (10,000 memo ids, 400 KB), where
one edge row went before, and reads it first. Readers change rarely: a memo
that executes again mostly reads what it read (after a template edit, every
render: the runtime says so, ``SnapshotDelta.unchanged``, and its groups are
not even looked at), and a dependency read by every page gains or loses a
reader when a page comes or goes.

Rejected, measured on the real edges of that first commit, written alone
(where the groups took 0.4 s for the reader lists and 0.3 s for the
dependency lists):

- a row per edge without the reader index, a reader's dependencies kept
  beside its memo row (a column of ``memos``): the edges 1.0 s, and the
  memo rows 0.3 s more, with a memo row's checksum then covering its
  dependencies, read by every on-demand load of a row;
- grouped readers with the dependencies as that column of ``memos``: the
  same 0.3 s as a table of their own, and the same cost to every load;
- (not measured) the closure in SQL, as a recursive CTE over a JSON list
  of readers (``json_each``), as schema 5's walked the edge rows: a JSON
  list of hex ids is more than twice the bytes, and every group must be
  checked in Python all the same.

**Damage.** A group's checksum is checked wherever it is read: a commit's
lookups, a closure, a full load. A ``deps`` row a commit should have found
and did not (its key damaged) leaves its reader in groups it no longer
reads (marked for nothing), and the damaged row fails its checksum at the
next full load. A ``readers`` row whose key is damaged is hidden from a
closure, its readers not marked, as a damaged edge row was, a whole group
at once: only a full load sees it (docs/persistence.md, "What an on-demand
read can detect").
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Callable, Iterator, Sequence

from sofrito._interpreted import without_context
from sofrito.stores._integrity import EMPTY_SEAL, SUM_SIZE, EdgeSums, group_checksummers
from sofrito.stores._sqlite_rows import ASTRAY, SEAL_BROKEN, Malformed, a_sum
from sofrito.stores.protocol import SnapshotDelta
from sofrito.stores.snapshot import QUERY_NODE

__all__ = [
    "after_prefix",
    "check_edges",
    "drop_edges",
    "has_edges",
    "pack_ids",
    "read_deps_by_prefix",
    "read_reader_closure",
    "read_readers",
    "unpack_ids",
    "write_edges",
]

_CHUNK = 500  # ids per "IN (...)" lookup, well under SQLite's parameter limit
_COUNT = struct.Struct(">I")

_Group = tuple[list[bytes], bytes]
"""A stored group: its ids, and its stored checksum."""


# -- the packed lists -------------------------------------------------------------------------


def pack_ids(ids: Sequence[bytes]) -> bytes:
    """``ids`` (sorted by the caller) packed: their count, their lengths, then the
    ids end to end (4-byte big-endian numbers). The lengths go first, all in one
    ``struct`` call, not one call per id: a first commit packs 470,000 ids."""
    count = len(ids)
    return b"".join((struct.pack(f">I{count}I", count, *map(len, ids)), *ids))


def unpack_ids(packed: bytes, what: str) -> list[bytes]:
    """The ids ``pack_ids`` packed. Called on a group whose checksum holds, so a
    list that does not add up is a store that wrote it wrong or a checksum
    that collided: ``Malformed`` naming ``what`` all the same."""
    try:
        (count,) = _COUNT.unpack_from(packed)
        sizes = struct.unpack_from(f">{count}I", packed, 4)
    except struct.error:
        raise without_context(Malformed(what, "holds a list of ids cut short (damaged)")) from None
    at = 4 + 4 * count
    if at + sum(sizes) != len(packed):
        raise Malformed(what, "holds a list of ids of the wrong length (damaged)")
    ids: list[bytes] = []
    for size in sizes:
        ids.append(packed[at : at + size])
        at += size
    return ids


# -- writes -----------------------------------------------------------------------------------


def write_edges(
    conn: sqlite3.Connection, runtime_id: str, seal: bytes, snapshot: SnapshotDelta
) -> bytes:
    """Give every memo the delta writes exactly the edges of its ``reads`` and every
    memo it deletes none (all of them replaced for a ``full`` delta); return the
    new edge seal.

    A memo marked ``unchanged`` is not looked at; one whose stored reads are its
    new reads changes nothing. Otherwise its ``deps`` row is replaced, and each
    dependency it gained or lost has its ``readers`` row read, changed and
    written back, in key order (inserted out of order, every row lands on a
    random page of the b-tree: the first commit's pages are then written out
    and read back again and again)."""
    readers_sum, deps_sum = group_checksummers(runtime_id)
    if snapshot.full:
        drop_edges(conn, runtime_id)
        seal = EMPTY_SEAL
    kept = snapshot.unchanged
    changed = sorted(memo_id for memo_id in snapshot.upserts if memo_id not in kept)
    gone = sorted(snapshot.deletes)
    stored = not snapshot.full and has_edges(conn, runtime_id)  # none: a first commit
    old = _stored_deps(conn, runtime_id, [*changed, *gone], deps_sum) if stored else {}
    changes = _Changes(int.from_bytes(seal, "big"))
    conn.executemany(
        "INSERT OR REPLACE INTO deps VALUES (?, ?, ?, ?)",
        changes.deps_rows(runtime_id, changed, snapshot, old, deps_sum),
    )
    for memo_id in gone:
        changes.forget(memo_id, old.get(memo_id))
    conn.executemany(
        "DELETE FROM deps WHERE runtime_id = ? AND memo_id = ?",
        [(runtime_id, memo_id) for memo_id in changes.dropped],
    )
    touched = sorted(changes.added.keys() | changes.removed.keys())
    groups = _stored_groups(conn, runtime_id, touched, readers_sum) if stored else {}
    conn.executemany(
        "INSERT OR REPLACE INTO readers VALUES (?, ?, ?, ?)",
        changes.readers_rows(runtime_id, touched, groups, readers_sum),
    )
    conn.executemany(
        "DELETE FROM readers WHERE runtime_id = ? AND dep = ?",
        [(runtime_id, dep) for dep in changes.emptied],
    )
    return changes.folded.to_bytes(SUM_SIZE, "big")


class _Changes:
    """One commit's changes to the groups, and the seal as they are made.

    The rows are made as SQLite takes them (``deps_rows``, ``readers_rows``),
    not held: a first commit's lists are 25 MB, which would sit on its peak."""

    __slots__ = ("added", "dropped", "emptied", "folded", "removed")

    def __init__(self, folded: int) -> None:
        self.folded = folded
        self.added: dict[bytes, list[bytes]] = {}
        """Dependency -> the memo ids that read it now and did not."""
        self.removed: dict[bytes, set[bytes]] = {}
        """Dependency -> the memo ids that read it and no longer do."""
        self.dropped: list[bytes] = []
        """Memo ids whose ``deps`` row goes."""
        self.emptied: list[bytes] = []
        """Dependencies whose ``readers`` row goes."""

    def deps_rows(
        self,
        runtime_id: str,
        changed: list[bytes],
        snapshot: SnapshotDelta,
        old: dict[bytes, _Group],
        sums: EdgeSums,
    ) -> Iterator[tuple[str, bytes, bytes, bytes]]:
        """The new ``deps`` rows of ``changed``, noting what each gained and lost."""
        for memo_id in changed:
            new = sorted(set(snapshot.reads.get(memo_id, ())))
            before = old.get(memo_id)
            if before is None:
                self._gained(memo_id, new)
            elif before[0] == new:
                continue  # read what its row says: nothing changes
            else:
                self._replaced(memo_id, before, new)
            if not new:
                if before is not None:
                    self.dropped.append(memo_id)
                continue
            packed = pack_ids(new)
            stored = sums(memo_id, packed)
            self.folded ^= int.from_bytes(stored, "big")
            yield runtime_id, memo_id, packed, stored

    def _gained(self, memo_id: bytes, deps: list[bytes]) -> None:
        """``memo_id`` had no edges and reads ``deps`` (a first commit: every edge,
        the common cases written out; a call per edge cost 0.1 s)."""
        added = self.added
        for dep in deps:
            known = added.get(dep)
            if known is None:
                added[dep] = [memo_id]
            else:
                known.append(memo_id)

    def _replaced(self, memo_id: bytes, before: _Group, deps: list[bytes]) -> None:
        """``memo_id`` read ``before`` and reads ``deps`` now: its old group's checksum
        out, the dependencies it lost and gained noted."""
        self.folded ^= int.from_bytes(before[1], "big")
        had, has = set(before[0]), set(deps)
        for dep in before[0]:
            if dep not in has:
                self.removed.setdefault(dep, set()).add(memo_id)
        for dep in deps:
            if dep not in had:
                self.added.setdefault(dep, []).append(memo_id)

    def forget(self, memo_id: bytes, before: _Group | None) -> None:
        """``memo_id`` is deleted: it reads nothing any more."""
        if before is None:
            return
        self.folded ^= int.from_bytes(before[1], "big")
        for dep in before[0]:
            self.removed.setdefault(dep, set()).add(memo_id)
        self.dropped.append(memo_id)

    def readers_rows(
        self,
        runtime_id: str,
        touched: list[bytes],
        groups: dict[bytes, _Group],
        sums: EdgeSums,
    ) -> Iterator[tuple[str, bytes, bytes, bytes]]:
        """The new ``readers`` rows of the dependencies ``touched``, in key order."""
        for dep in touched:
            gained = self.added.get(dep, [])
            before = groups.get(dep)
            if before is None:
                readers = gained  # sorted, each once: ``changed`` is, and each reads a dep once
            else:
                self.folded ^= int.from_bytes(before[1], "big")
                lost = self.removed.get(dep, set())
                readers = sorted({*(one for one in before[0] if one not in lost), *gained})
            if not readers:
                self.emptied.append(dep)
                continue
            packed = pack_ids(readers)
            stored = sums(dep, packed)
            self.folded ^= int.from_bytes(stored, "big")
            yield runtime_id, dep, packed, stored


def drop_edges(conn: sqlite3.Connection, runtime_id: str) -> None:
    """Every edge of the runtime gone (the caller empties the edge seal)."""
    conn.execute("DELETE FROM readers WHERE runtime_id = ?", (runtime_id,))
    conn.execute("DELETE FROM deps WHERE runtime_id = ?", (runtime_id,))


def has_edges(conn: sqlite3.Connection, runtime_id: str) -> bool:
    """Whether the runtime has any edge row (a first commit has none to look up)."""
    for table in ("deps", "readers"):
        query = f"SELECT 1 FROM {table} WHERE runtime_id = ? LIMIT 1"
        if conn.execute(query, (runtime_id,)).fetchone() is not None:
            return True
    return False


# -- lookups, each group checked ---------------------------------------------------------------


def _stored_deps(
    conn: sqlite3.Connection, runtime_id: str, memo_ids: list[bytes], sums: EdgeSums
) -> dict[bytes, _Group]:
    """Memo id -> its stored dependencies and their group's checksum, for ``memo_ids``."""
    query = "SELECT memo_id, deps, sum FROM deps WHERE runtime_id = ? AND memo_id IN ({marks})"
    return dict(_lookup(conn, runtime_id, query, memo_ids, sums, _deps_name))


def _stored_groups(
    conn: sqlite3.Connection, runtime_id: str, deps: list[bytes], sums: EdgeSums
) -> dict[bytes, _Group]:
    """Dependency -> its stored readers and their group's checksum, for ``deps``."""
    return dict(_lookup(conn, runtime_id, _READERS, deps, sums, _readers_name))


_READERS = "SELECT dep, readers, sum FROM readers WHERE runtime_id = ? AND dep IN ({marks})"


def _lookup(
    conn: sqlite3.Connection,
    runtime_id: str,
    query: str,
    ids: list[bytes],
    sums: EdgeSums,
    name: Callable[[object], str],
) -> Iterator[tuple[bytes, _Group]]:
    """The groups of ``ids`` that exist, ``_CHUNK`` ids per lookup, each checked."""
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        wanted = set(chunk)
        rows = conn.execute(query.format(marks=", ".join("?" * len(chunk))), (runtime_id, *chunk))
        for key, packed, stored in rows:
            group = _checked(sums, key, packed, stored, name)
            if key not in wanted:
                raise Malformed(name(key), ASTRAY)
            yield key, group


def _checked(
    sums: EdgeSums, key: object, packed: object, stored: object, name: Callable[[object], str]
) -> _Group:
    """A group row's ids, its checksum checked (``Malformed`` naming it if not)."""
    if type(key) is not bytes or type(packed) is not bytes:
        raise Malformed(name(key), "holds a value of the wrong type (damaged)")
    checksum = a_sum(stored, name(key))
    if sums(key, packed) != checksum:
        raise Malformed(name(key))
    return unpack_ids(packed, name(key)), checksum


def _readers_name(dep: object) -> str:
    if isinstance(dep, bytes) and dep.startswith(QUERY_NODE):
        return f"the reader list of memo row {dep[1:].hex()}"
    return f"the reader list of node {dep!r:.80}"


def _deps_name(memo_id: object) -> str:
    shown = memo_id.hex() if isinstance(memo_id, bytes) else repr(memo_id)
    return f"the dependency list of memo row {shown}"


# -- reads --------------------------------------------------------------------------------------


def read_readers(
    conn: sqlite3.Connection, runtime_id: str, node_ids: list[bytes]
) -> list[tuple[bytes, bytes]]:
    """The edges out of ``node_ids``, as ``(dep, reader memo id)``, each group checked."""
    readers_sum, _ = group_checksummers(runtime_id)
    return [
        (dep, memo_id)
        for dep, (readers, _) in _lookup(
            conn, runtime_id, _READERS, node_ids, readers_sum, _readers_name
        )
        for memo_id in readers
    ]


def read_reader_closure(
    conn: sqlite3.Connection, runtime_id: str, node_ids: list[bytes]
) -> list[tuple[bytes, bytes]]:
    """The edges reachable from ``node_ids``, as ``(dep, reader memo id)``: one level
    of readers at a time, each node's group read once, so each edge comes once
    and a cycle (which a damaged store could hold) ends the walk."""
    readers_sum, _ = group_checksummers(runtime_id)
    found: list[tuple[bytes, bytes]] = []
    seen = set(node_ids)
    level = list(dict.fromkeys(node_ids))
    while level:
        following: list[bytes] = []
        for dep, (readers, _) in _lookup(
            conn, runtime_id, _READERS, level, readers_sum, _readers_name
        ):
            for memo_id in readers:
                found.append((dep, memo_id))
                node = QUERY_NODE + memo_id
                if node not in seen:
                    seen.add(node)
                    following.append(node)
        level = following
    return found


def read_deps_by_prefix(
    conn: sqlite3.Connection, runtime_id: str, prefixes: list[bytes]
) -> list[bytes]:
    """The dependencies with stored readers whose node id starts with one of
    ``prefixes``: a range of the ``readers`` primary key per prefix."""
    found: dict[bytes, None] = {}
    for prefix in prefixes:
        upper = after_prefix(prefix)
        if upper is None:
            rows = conn.execute(
                "SELECT dep FROM readers WHERE runtime_id = ? AND dep >= ?", (runtime_id, prefix)
            )
        else:
            rows = conn.execute(
                "SELECT dep FROM readers WHERE runtime_id = ? AND dep >= ? AND dep < ?",
                (runtime_id, prefix, upper),
            )
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


def check_edges(conn: sqlite3.Connection, runtime_id: str, seal: bytes) -> None:
    """Every edge group of the runtime checked, both tables together against the
    seal: what a full load adds, since a vanished group is readers a write
    would not mark."""
    readers_sum, deps_sum = group_checksummers(runtime_id)
    folded = 0
    for query, sums, name in (
        ("SELECT dep, readers, sum FROM readers WHERE runtime_id = ?", readers_sum, _readers_name),
        ("SELECT memo_id, deps, sum FROM deps WHERE runtime_id = ?", deps_sum, _deps_name),
    ):
        for key, packed, stored in conn.execute(query, (runtime_id,)):
            folded ^= int.from_bytes(_checked(sums, key, packed, stored, name)[1], "big")
    if folded != int.from_bytes(seal, "big"):
        raise Malformed("the reverse edges", SEAL_BROKEN)
