"""``QueryRef`` for nodes, built once per node and only when someone needs one.

Refs carry the canonical key bytes and the deterministic hash, so building
one encodes the key. That is work the hot path must never do; it happens
only for events, persistence and error reports, and the ref is cached on the
node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sofrito._engine.memo import Cell
from sofrito._events.kinds import QueryRef
from sofrito._keys import KeyEncodingError, key_hash

if TYPE_CHECKING:
    from sofrito._engine.memo import Memo, Node

__all__ = ["cell_ref", "cycle_ref", "memo_ref", "node_ref", "stored_ref"]


def node_ref(node: Node) -> QueryRef:
    if type(node) is Cell:
        return cell_ref(node)
    return memo_ref(node)  # type: ignore[arg-type]


def memo_ref(memo: Memo) -> QueryRef:
    ref = memo.ref_cache
    if ref is None:
        ref = memo.ref_cache = _make(memo.spec.name, memo.key, memo.spec.describe(memo.key))
    return ref


def stored_ref(name: str, key_bytes: bytes) -> QueryRef:
    """The ref of a memo loaded from its stored row, from the key bytes of the row's
    id: the canonical encoding of its key, which ``memo_ref`` would encode again
    (``restore.install_stored_memo``)."""
    return QueryRef(name, key_hash(key_bytes), key_bytes)


def cell_ref(cell: Cell) -> QueryRef:
    ref = cell.ref_cache
    if ref is None:
        ref = cell.ref_cache = _make(cell.input.name, cell.key, cell.input.describe(cell.key))
    return ref


def cycle_ref(memo: Memo) -> QueryRef:
    """A ref for an error report, shown as ``html('a.md')``; never fails, even
    for keys with no canonical encoding (their hash and bytes are then empty)."""
    display = memo.spec.describe(memo.key)
    try:
        ref = memo_ref(memo)
    except TypeError:
        return QueryRef(memo.spec.name, 0, b"", display=display)
    return QueryRef(ref.kind, ref.key_hash, ref.key, display=display)


def _make(kind: str, key: tuple[object, ...], what: str) -> QueryRef:
    try:
        return QueryRef.of(kind, key)
    except KeyEncodingError as exc:
        raise TypeError(
            f"{what}: {exc}; keys that are reported in events or persisted need a "
            "canonical encoding (None, bool, int, float, str, bytes, tuples and "
            "frozensets of those, enums, frozen dataclasses)"
        ) from None
