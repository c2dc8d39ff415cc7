"""``Db``: what a ``db`` is, to the code that reads through one.

A query body's ``db`` is a ``Frame`` (``frames.py``); a top-level caller's is
the ``Runtime``. Everything that reads through a ``db`` (the entry points
``@sf.query`` generates, ``Input.__call__``, ``Input.keys``, ``sf.state``)
uses only the members declared here, so either object serves, and these are
the only members either must keep. Declared once, as a ``Protocol``, so a
type checker holds both to it.

The members are private: a program passes its ``db`` on, and never calls
them itself.

- ``_hits``: the hit table (``hits.py``), or None for a frame, whose every
  read must be recorded, so must reach ``_fetch_cold``.
- ``_tables`` and ``_revisions``: the memo tables by query index and the
  engine's revision record, which the entry point of an ``lru`` query reads
  (a frame's revision record never matches a memo: its reads are tracked).
- ``_fetch_cold(spec, key, memo)``: everything the entry point's hit did not
  serve (``fetch.py``).
- ``_read_input``, ``_read_keys``, ``_cell_for_state``: an input read, a key
  listing, ``sf.state``; tracked through a frame, untracked through the
  runtime.
- ``_lru_touch``: an ``lru`` hit moves its memo to the front of the ring.
- ``_engine``: for the cold path of a ``keys=`` query (``_entry_points``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sofrito._engine.family import Input
    from sofrito._engine.memo import Cell, Memo
    from sofrito._engine.revision import Revisions
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.state import Engine

__all__ = ["Db"]


class Db(Protocol):
    """A ``db`` handle: a runtime (untracked reads) or a query's frame (tracked)."""

    @property
    def _hits(self) -> list[Any] | None: ...

    @property
    def _tables(self) -> list[dict[tuple[Any, ...], Memo]]: ...

    @property
    def _revisions(self) -> Revisions: ...

    @property
    def _engine(self) -> Engine: ...

    def _fetch_cold(
        self, spec: QuerySpec[Any], key: tuple[Any, ...], memo: Memo | None, /
    ) -> Any: ...

    def _read_input(self, input: Input, key: tuple[Any, ...], /) -> Any: ...

    def _read_keys(self, input: Input, /) -> tuple[tuple[Any, ...], ...]: ...

    def _cell_for_state(self, input: Input, key: tuple[Any, ...], /) -> Cell: ...

    def _lru_touch(self, memo: Memo, /) -> None: ...
