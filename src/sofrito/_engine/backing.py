"""``Backing``: where the engine's records come from when they are not in memory.

Declared here, implemented outside the engine (by the persistence layer,
over a store), so that the engine can ask for a record at the moment it needs
one without knowing what a store, a row or a seal is. ``Engine.backing`` is
None while every record the engine has is in memory, which is how a runtime
opens today: the whole snapshot is installed at open (``restore.py``).

Loading on demand (docs/persistence.md, "On demand") plugs in here, one
call per place the engine meets a record it does not hold:

- ``memo``: a memo table has no entry for a key (``Engine.memo_for``,
  ``MemoTables``): the stored row, if any, installed, else None.
- ``cell``: a cell table has no entry for a key (``inputs.cell_for``).
- ``family``: a family's key listing is read (``listing.listing_for``): every
  stored cell of the family installed first.
- ``deps``: the dependencies of memos about to be walked or relinked
  (``verify.walk``, ``backdate.store``), resolved from stored ids in one
  round trip for all of them.
- ``readers``: a cell is written (``write._apply``): the stored transitive
  readers installed, so the dirty marks reach them.

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

__all__ = ["Backing"]


class Backing(Protocol):
    """The engine's questions to whatever holds the records it has not loaded."""

    def memo(self, spec: QuerySpec[Any], key: tuple[Any, ...]) -> Memo | None:
        """The stored memo of ``spec(*key)``, installed, or None if there is none."""
        ...

    def cell(self, input: Input, key: tuple[Any, ...]) -> Cell | None:
        """The stored cell ``input[key]``, installed, or None if there is none."""
        ...

    def family(self, input: Input) -> None:
        """Install every stored cell of ``input`` (its listing is about to be read)."""
        ...

    def deps(self, memos: Sequence[Memo]) -> None:
        """Resolve the stored dependencies of ``memos``, all in one load."""
        ...

    def readers(self, cell: Cell) -> None:
        """Install the stored transitive readers of ``cell`` (it is being written)."""
        ...
