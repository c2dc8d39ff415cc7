"""``Backing``: where the engine's records come from when they are not in memory.

Declared here, implemented outside the engine (by the persistence layer,
over a store), so that the engine can ask for a record at the moment it needs
one without knowing what a store, a row or a seal is. ``Engine.backing`` is
None while every record the engine has is in memory (a runtime without a
store, or one whose store was reset); a runtime opened on a store installs
one (``sofrito._on_demand.StoreBacking``) and loads on demand
(docs/persistence.md, "On demand"), one call per place the engine meets a
record it does not hold:

- ``memo``: a memo table has no entry for a key (``Engine.memo_for``,
  ``MemoTables``): the stored row, if any, installed, else None.
- ``cell``: a cell table has no entry for a key (``inputs.cell_for``).
- ``family``: a family's key listing is read (``listing.listing_for``): every
  stored cell of the family installed first; the listing's stored revision,
  if the cells list what it listed.
- ``deps``: the dependencies of a memo about to be walked (``verify.walk``:
  the one place that reads the ``deps`` of a memo it did not execute),
  resolved from its ``stored_deps`` in one round trip. A memo that executes
  first simply drops them (``backdate.store``).
- ``readers``: a cell is about to be written (``write._apply``): its stored
  transitive readers installed and linked, so the dirty marks reach them.
- ``prefetch``: never asked by the engine. A caller that knows it is about
  to read many memos (``sofrito._on_demand.prefetch``; ``sofrito run`` before it polls
  every output) has them loaded in bulk, with what verifying them will read.

**A failed load inside a computation.** A store error met while a query body
runs (``StaleRead``, ``CorruptSnapshot``) is not the body's result and must
not be cached as its error: the backing raises it wrapped in ``LoadFailed``,
a ``BaseException``, which executions let through like a cancellation, and
the top-level call unwraps it (``fetch.fetch_top``), so the caller sees the
store's error itself.

Each hook installs what it loads through ``restore.py`` (``install_memo``,
``install_cell``, ``discard``), the same calls an eager open makes, so a
record loaded late is checked and linked exactly as one loaded at open.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sofrito._engine.family import Input
    from sofrito._engine.memo import Cell, Memo
    from sofrito._engine.spec import QuerySpec

__all__ = ["Backing", "LoadFailed"]


class LoadFailed(BaseException):
    """A store error met by a load on demand inside a computation (module docstring)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class Backing(Protocol):
    """The engine's questions to whatever holds the records it has not loaded."""

    def memo(self, spec: QuerySpec[Any], key: tuple[Any, ...]) -> Memo | None:
        """The stored memo of ``spec(*key)``, installed, or None if there is none."""
        ...

    def cell(self, input: Input, key: tuple[Any, ...]) -> Cell | None:
        """The stored cell ``input[key]``, installed, or None if there is none."""
        ...

    def family(self, input: Input) -> int | None:
        """Install every stored cell of ``input`` (its listing is about to be made);
        the revision a snapshot recorded for the listing, if the cells now
        list the same keys, else None (it counts as changed now)."""
        ...

    def deps(self, memos: Sequence[Memo]) -> None:
        """Resolve the stored dependencies of ``memos``, all in one load."""
        ...

    def readers(self, cell: Cell) -> None:
        """Install the stored transitive readers of ``cell`` (it is being written)."""
        ...

    def prefetch(self, calls: Sequence[tuple[QuerySpec[Any], tuple[Any, ...]]]) -> None:
        """Install the stored memos of ``calls`` in one load, and the stored reads of
        those a write marked, a level of the graph per load."""
        ...

    def memos_cleared(self) -> None:
        """``rt.clear_cache()``: stored memos are not to be loaded any more."""
        ...
