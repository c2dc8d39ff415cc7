"""The store's errors. Each message names the store (file or server) and the runtime.

::

    StoreError
    ├── WriteFailed       a write did not happen (locked, disk full, read-only); nothing was written
    ├── ReadFailed        a read did not complete (locked, unreachable)
    ├── NotFound          the runtime, receipt or row asked for does not exist
    └── CorruptSnapshot   stored bytes fail their checksum or MAC, or the file is not a store
"""

from __future__ import annotations

__all__ = ["CorruptSnapshot", "NotFound", "ReadFailed", "StoreError", "WriteFailed"]


class StoreError(Exception):
    """Base of every store failure. Nothing half-written is ever left behind."""


class WriteFailed(StoreError):
    """A write did not happen; the store is as it was before the call. Retry, or
    free whatever held it (another process's lock, a full disk)."""


class ReadFailed(StoreError):
    """A read could not complete; nothing was changed."""


class NotFound(StoreError):
    """What was asked for is not in the store."""


class CorruptSnapshot(StoreError):
    """Stored bytes do not verify (checksum or MAC), or the file is not a store at all.

    Never served as values. Open the runtime with ``on_corrupt="cold"`` to drop
    the damaged state and start fresh instead of failing.
    """


for _cls in (StoreError, WriteFailed, ReadFailed, NotFound, CorruptSnapshot):
    _cls.__module__ = "sofrito.stores"
