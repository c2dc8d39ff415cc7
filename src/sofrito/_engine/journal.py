"""The journal: what changed in the engine since the last commit.

A commit writes a delta (``_persistence.py``): the memos that executed and
the cells that were written since the one before, not the whole cache. The
engine is the one that knows when a memo executes (``backdate.store``) or a
cell is written (``write._apply``, a locator's quiet result in
``inputs.py``), so it keeps that record, here, and the persistence layer
reads it and acknowledges a commit through ``acknowledge``: it never writes
the record itself (the boundary in ``restore.py``).

A runtime without a store keeps no journal (``Engine.journal`` is None), so
noting costs it one ``is not None`` test per execution and nothing else.

Rejected: two sets on the engine that persistence created, cleared and
marked (``unsaved_memos``, ``unsaved_cells`` and a ``full`` flag on the
persistence object): three owners for one record, and a cache clear had to
reach into the store layer to say that the next commit replaces every row.

**Reads before.** For a memo that executes for the first time since the last
commit, holding reads already (loaded from its row, or committed by this
process), the journal keeps those reads (``reads_before``): what the store's
edges of that memo were at the last commit, if it had a row then. A commit
compares them with the memo's reads now, and a memo that read exactly the
same nodes (every page's render after a template edit) has its stored edges
left as they are, not read back and compared (``SnapshotDelta.unchanged``).
Only reads that were there are kept (a first execution keeps nothing), so a
cold build's journal holds no more than before. Rejected: a flag on every
memo, set by a commit and a load and cleared by a change of reads: a field
for every memo for good, written by three owners; and comparing
``old_deps`` in ``backdate.store`` alone, which says nothing when a memo
executes twice between commits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sofrito._engine.memo import Cell, Memo, Node

__all__ = ["Journal"]


class Journal:
    """Executed memos, written cells, and whether the next commit replaces every row."""

    __slots__ = ("cells", "full", "memos", "reads_before")

    def __init__(self) -> None:
        self.memos: set[Memo] = set()
        """Memos of persisted queries that executed since the last commit
        (verification alone changes nothing that is stored)."""
        self.cells: set[Cell] = set()
        """Cells written (or resolved by a locator) since the last commit."""
        self.reads_before: dict[Memo, tuple[Node, ...]] = {}
        """For a memo of ``memos`` that held reads when it first executed since the
        last commit: those reads (``note_memo``)."""
        self.full = False
        """The memo tables were dropped since the last commit (``rt.clear_cache()``):
        the next commit replaces every stored memo row with ``memos``."""

    def note_memo(self, memo: Memo, reads_before: tuple[Node, ...]) -> None:
        """``memo`` executed; it held ``reads_before`` just before (empty: none)."""
        if reads_before and memo not in self.memos:
            self.reads_before[memo] = reads_before
        self.memos.add(memo)

    def memos_dropped(self) -> None:
        """Every memo is gone: what executed before is no longer there to store."""
        self.memos.clear()
        self.reads_before.clear()
        self.full = True

    def forget(self) -> None:
        """Nothing since the last commit is to be written (a reset, a destroy,
        or a cold start: the store dropped the runtime's rows itself)."""
        self.memos.clear()
        self.reads_before.clear()
        self.cells.clear()
        self.full = False

    def acknowledge(self) -> None:
        """The store holds everything noted: start the next delta empty."""
        self.forget()

    def cells_stored(self) -> None:
        """The store holds the noted cells (a lifecycle change wrote them); the
        memos wait for the next commit."""
        self.cells.clear()
