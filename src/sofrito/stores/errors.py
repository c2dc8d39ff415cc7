"""The store's errors. Each message names the store (file or server) and the runtime.

::

    StoreError            the store cannot do what was asked; never a half-done write
    ├── WriteFailed       a write did not happen (locked too long, disk full, read-only,
    │                     a receipt that does not fit); the store is as it was
    ├── ReadFailed        a read did not complete (locked too long, I/O error)
    ├── RecordNotFound    the runtime, receipt or row asked for does not exist
    ├── Conflict          a write lost the race for the runtime's head: another
    │   │                 process (or runtime object) wrote first; nothing written
    │   └── StaleRead     an on-demand load asked for the boundary this process
    │                     opened, and another has been committed since
    ├── SchemaMismatch    the store's schema version is not this sofrito's: older
    │                     (upgrade the store) or newer (upgrade sofrito)
    └── CorruptSnapshot   stored bytes fail their checksum or seal, or the file is
                          not a (readable) store at all

``StoreError`` itself is raised for what fits none of them: a closed store,
a database that belongs to something else.

Beside the tree, ``UnstoredValueWarning`` (a ``UserWarning``) says that a
commit left a memo out because its value cannot be encoded, and
``TraceRefused`` (a ``UserWarning``) that a runtime refused a shared trace
whose MAC does not verify, and computed instead.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "CorruptSnapshot",
    "ReadFailed",
    "RecordNotFound",
    "SchemaMismatch",
    "StaleRead",
    "StoreError",
    "TraceRefused",
    "UnstoredValueWarning",
    "WriteFailed",
]


class StoreError(Exception):
    """Base of every store failure. Nothing half-written is ever left behind.

    Raised as such for a closed store, or a path that holds some other
    program's database (use another path).
    """


class WriteFailed(StoreError):
    """A write did not happen; the store is exactly as it was before the call.

    Causes: another process held the write lock longer than ``busy_timeout``
    (retry, or find the process), the disk is full or read-only, or
    ``atomic_apply`` was given a receipt that is not the next in sequence or
    does not match its snapshot (fetch the missing boundaries first).
    """


class ReadFailed(StoreError):
    """A read could not complete (locked too long, an I/O error); nothing was changed.
    Retry once whatever held the store has finished."""


class RecordNotFound(StoreError):
    """What was asked for is not in the store. (The ``load_*`` methods return
    ``None`` for a missing item instead; this is for operations that need it.)

    Named apart from ``sofrito.NotFound``, a locator's answer that an input does
    not exist. ``sofrito.stores.NotFound`` still works, with a
    ``DeprecationWarning``."""


class Conflict(StoreError):
    """A write lost the race for the runtime's head; nothing was written.

    Every write to a runtime's state advances its *head* by one, and a runtime
    bases each write on the head it opened at (or last wrote): the store
    compares the two inside the write's transaction. A mismatch means another
    process, or another ``sf.Runtime`` on the same ``runtime_id``, wrote in
    between, and what this one would write was computed from a state that is
    no longer there. Mixing the two would serve wrong values after a restart.

    What to do: open the runtime again (``sf.Runtime(store=..., runtime_id=...)``),
    which restores what the winner wrote, and run again. ``base`` is the head
    this write was based on, ``head`` the one it lost to.
    """

    def __init__(self, message: str, runtime_id: str, base: int, head: int) -> None:
        super().__init__(message)
        self.runtime_id = runtime_id
        self.base = base
        self.head = head

    def __reduce__(self) -> tuple[type[Conflict], tuple[str, str, int, int]]:
        # Rebuilt whole on the other side of a process pool.
        return (type(self), (str(self), self.runtime_id, self.base, self.head))


class StaleRead(Conflict):
    """An on-demand load found that the runtime moved on since this process opened it.

    A process that opens a runtime reads only its header and loads memo rows,
    input cells and reverse edges later, when it first needs them. Each of
    those loads names the head it opened at (``head=``) and the store checks,
    in the load's own transaction, that the head is still that one: rows
    from a later boundary mixed into what this process holds from the earlier
    one could serve a value that neither boundary computed. Nothing is
    returned; nothing was written.

    A ``Conflict`` (``base`` is the head this process opened at, ``head`` the
    current one), since the way on is the same: open the runtime again
    (``sf.Runtime(store=..., runtime_id=...)``), which starts from the
    boundary the other process committed.
    """


class SchemaMismatch(StoreError):
    """The store's schema version is one this sofrito does not use; nothing was read
    or written.

    ``found`` is the version in the store, ``expected`` this sofrito's. What to do
    depends on which is newer (``older`` says):

    - the store is **older** (a PostgreSQL store created by an earlier sofrito):
      run ``sofrito store upgrade URL`` once every client that uses the store runs
      this sofrito, with a role that may alter tables. A shared store never
      upgrades itself as a side effect of opening (docs/persistence.md). A SQLite
      file does, so it never raises this for an older version;
    - the store is **newer** (written by a later sofrito): upgrade sofrito on this
      machine, or use another store. The store is fine; deleting it would throw
      away the team's work.

    ``location`` names the file or server (never a password).
    """

    def __init__(self, message: str, location: str, found: int, expected: int) -> None:
        super().__init__(message)
        self.location = location
        self.found = found
        self.expected = expected

    @property
    def older(self) -> bool:
        """Whether the store's schema is older than this sofrito's (upgrade the store)."""
        return self.found < self.expected

    def __reduce__(self) -> tuple[type[SchemaMismatch], tuple[str, str, int, int]]:
        return (type(self), (str(self), self.location, self.found, self.expected))


class CorruptSnapshot(StoreError):
    """Stored bytes do not verify, or the file is not a store at all.

    Raised when a row fails its checksum, a runtime's rows no longer match the
    seal in its header (a row vanished or reappeared), a value has the wrong
    type, SQLite reports the file malformed, or the file is not a database.
    The message names the file, the runtime and the row (memo ids in hex).
    Damaged bytes are never handed out as data.

    What to do: open the runtime with ``on_corrupt="cold"`` to drop the damaged
    state and start fresh. For a file that is not a usable database at all,
    ``SqliteStore.recover()`` moves it aside (``<name>.corrupt-<timestamp>``).
    """


class UnstoredValueWarning(UserWarning):
    """``rt.commit()`` left a memo out of the store: its value cannot be encoded.

    Issued once per query and key. The commit went on without that memo (any
    older row of it is deleted), so after a restart it is recomputed, and what
    read it is verified again, never served stale. To stop it: declare the
    query with ``persist=False`` if its values are not meant to be stored, or
    make them encodable. ``rt.commit(strict=True)`` raises ``StoreError``
    instead, writing nothing.
    """


class TraceRefused(UserWarning):
    """A runtime refused a trace (docs/persistence.md, "Traces"): its MAC does not
    verify under this runtime's trace secret, or it is not a trace at all.

    Issued once per query. Nothing of the trace was decoded or served: the query
    was computed instead, so the values stay right. A trace published with
    another secret (a team that rotated it, another team's store) is refused
    this way; so is one somebody altered or forged in the store, which is what
    the MAC is for: find out who can write the store.
    """


for _cls in (
    StoreError,
    WriteFailed,
    ReadFailed,
    RecordNotFound,
    Conflict,
    StaleRead,
    SchemaMismatch,
    CorruptSnapshot,
    UnstoredValueWarning,
    TraceRefused,
):
    _cls.__module__ = "sofrito.stores"
