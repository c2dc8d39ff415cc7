"""The store's errors. Each message names the store (file or server) and the runtime.

::

    StoreError            the store cannot do what was asked; never a half-done write
    ├── WriteFailed       a write did not happen (locked too long, disk full, read-only,
    │                     a receipt that does not fit); the store is as it was
    ├── ReadFailed        a read did not complete (locked too long, I/O error)
    ├── NotFound          the runtime, receipt or row asked for does not exist
    └── CorruptSnapshot   stored bytes fail their checksum or seal, or the file is
                          not a (readable) store at all

``StoreError`` itself is raised for what fits none of them: a closed store, a
file written by a newer sofrito, a database that belongs to something else.
"""

from __future__ import annotations

__all__ = ["CorruptSnapshot", "NotFound", "ReadFailed", "StoreError", "WriteFailed"]


class StoreError(Exception):
    """Base of every store failure. Nothing half-written is ever left behind.

    Raised as such for a closed store, a store file written by a newer sofrito
    (upgrade sofrito or use another file), or a path that holds some other
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


class NotFound(StoreError):
    """What was asked for is not in the store. (The ``load_*`` methods return
    ``None`` for a missing item instead; this is for operations that need it.)"""


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


for _cls in (StoreError, WriteFailed, ReadFailed, NotFound, CorruptSnapshot):
    _cls.__module__ = "sofrito.stores"
