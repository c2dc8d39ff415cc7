"""What a memo read, named: the edges behind the execution events, for tools.

The execution events (``QueryExecuting``, ``QueryVerified``, ``QueryChanged``,
docs/events.md) name each query a computation touched, but not what each one
read. An event per read would put work on every read, the path that must stay
a few dict lookups; so a tool that wants the edges (``sofrito inspect --why``)
asks afterwards, once, for the memos the events named: ``reads(rt, refs)``.

A memo is found by the ref its events carried, which the engine cached on it
(``Memo.ref_cache``): no key is decoded, so keys of enum or dataclass types
need no class lookup. A memo that was verified from its stored row without
walking its reads (loaded on demand, and valid by a shallow check) still has
them as stored ids: they are named from those, without loading anything, and
their ``changed_at`` is unknown (None), which is fine for the question asked:
such a memo read nothing that changed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from sofrito._engine.listing import is_listing
from sofrito._engine.memo import NEVER, Cell, Memo
from sofrito._engine.refs import cell_ref, memo_ref
from sofrito._events.kinds import QueryRef
from sofrito._keys import key_hash
from sofrito._snapshot import INPUT, LISTING, QUERY

if TYPE_CHECKING:
    from sofrito._engine.memo import Node
    from sofrito._runtime import Runtime

__all__ = ["Read", "listing_ref", "reads"]

What = Literal["query", "input", "listing"]

_ANY: Final = NEVER - (1 << 62)
"""Lower than any dirty mark: every memo passes."""

_STORED: Final[dict[bytes, What]] = {QUERY: "query", INPUT: "input", LISTING: "listing"}


@dataclass(frozen=True, slots=True)
class Read:
    """One thing a memo read: a query, an input cell, or an input's key listing.

    ``changed_at`` is the revision its value last changed, None when the memo's
    reads were not loaded (see the module docstring).
    """

    what: What
    ref: QueryRef
    changed_at: int | None


def listing_ref(kind: str) -> QueryRef:
    """The name of input ``kind``'s key listing (what ``kind.keys(db)`` and
    ``sf.fs.glob`` read), shown as ``kind.keys()``; its key has no bytes."""
    return QueryRef(kind, key_hash(b""), b"", display=f"{kind}.keys()")


def reads(
    rt: Runtime, refs: Collection[QueryRef], *, reached_after: int | None = None
) -> dict[QueryRef, list[Read]]:
    """What each memo named in ``refs`` read, in read order, for those in memory.

    ``reached_after``: only the memos that a write reached after that revision
    (their dirty mark is later): the others read nothing that changed since,
    directly or not, so a question about changes need not name their reads.
    A read whose key has no canonical encoding cannot be named and is left out.
    """
    wanted = set(refs)
    found: dict[QueryRef, list[Read]] = {}
    if not wanted:
        return found
    after = _ANY if reached_after is None else reached_after
    for table in list(rt._engine.tables.values()):
        for memo in list(table.values()):
            ref = memo.ref_cache
            # the mark first: an int, where a ref hashes in Python (a dataclass)
            if ref is not None and memo.dirty_at > after and ref in wanted:
                found[ref] = _reads_of(memo)
    return found


def _reads_of(memo: Memo) -> list[Read]:
    stored = memo.stored_deps
    if stored is not None:
        return [
            Read(_STORED[kind], _stored_ref(kind, name, key), None)
            for kind, name, key in stored
            if kind in _STORED
        ]
    named = []
    for dep in memo.deps:
        read = _read(dep)
        if read is not None:
            named.append(read)
    return named


def _stored_ref(kind: bytes, name: str, key: bytes) -> QueryRef:
    if kind == LISTING:
        return listing_ref(name)
    return QueryRef(name, key_hash(key), key)


def _read(dep: Node) -> Read | None:
    try:
        if type(dep) is Cell:
            if is_listing(dep):
                return Read("listing", listing_ref(dep.input.name), dep.changed_at)
            return Read("input", cell_ref(dep), dep.changed_at)
        assert type(dep) is Memo
        return Read("query", memo_ref(dep), dep.changed_at)
    except TypeError:  # a key with no canonical encoding: it has no name to give
        return None
