"""Key listings: ``source.keys(db)``, the keys of a family's set cells, as a read.

A report over "all files" must re-run when a file is added or removed, not
when one is edited. Reading every cell would make it depend on every value;
so each input family has one more node, its *listing*, whose ``changed_at``
moves only when a key joins or leaves the set.

The listing is a ``Cell`` of its family under a key no program can write
(``LISTING_KEY``), kept in the family's table beside the cells it lists. So
it is read, verified, marked dirty, cut at a frontier, weighed for
durability and dropped by a cache clear or a reset exactly as a cell is: no
step of the algorithm needed a third kind of node. Its ``value`` is the
``KeySet`` record, never handed out; readers get ``KeySet.listed()``.

What is listed: every cell that a write gave a value or an error (``set``,
``resolve``, ``resolve_error``), until ``remove`` or ``invalidate``. A cell
a locator resolved on demand is not listed: it appears when someone reads
it, so listing it would make the listing depend on read order (a reader of
the listing that ran before the locator would be stale). A restart lists
every cell it restores (a store keeps values, not who gave them).

A listing change counts at the family's default durability as well as the
cell's own, so the durability shortcut never hides it from a reader that
read only the listing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from sofrito._engine.memo import Cell, CellStatus
from sofrito._keys import encode_key, key_hash

if TYPE_CHECKING:
    from sofrito._engine.state import Engine
    from sofrito._inputs import Input

__all__ = ["LISTING_KEY", "KeySet", "changed", "is_listing", "listing_for", "new_table"]


class _Listing:
    """The one part of ``LISTING_KEY``: equal only to itself, never encoded."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "*"


LISTING_KEY: Final[tuple[Any, ...]] = (_Listing(),)
"""The key of a family's listing node in its table: no program can write it."""


def is_listing(cell: Cell) -> bool:
    """Whether ``cell`` is a family's listing node. By the type of its key's part,
    not ``cell.key is LISTING_KEY``: compiled, a ``Final`` tuple may be a copy."""
    key = cell.key
    return len(key) == 1 and type(key[0]) is _Listing


class KeySet:
    """The keys a family lists, and what is derived from them on demand."""

    __slots__ = ("_digest", "_listed", "keys")

    def __init__(self, keys: dict[tuple[Any, ...], None]) -> None:
        self.keys = keys
        """Listed keys, as an ordered set (a dict with None values)."""
        self._listed: tuple[tuple[Any, ...], ...] | None = None
        self._digest: tuple[int, int] | None = None

    def listed(self) -> tuple[tuple[Any, ...], ...]:
        """The keys in a deterministic order, cached until the set changes:
        sorted, or by canonical key bytes when the keys do not compare."""
        listed = self._listed
        if listed is None:
            try:
                listed = tuple(sorted(self.keys))
            except TypeError:
                listed = tuple(sorted(self.keys, key=_bytes_or_repr))
            self._listed = listed
        return listed

    def digest(self) -> tuple[int, int]:
        """(count, xor of key hashes): what a snapshot records, so that a restore
        can tell whether the cells it restored are the ones listed at commit."""
        digest = self._digest
        if digest is None:
            digest = self._digest = digest_of(encode_key(key) for key in self.keys)
        return digest

    def add(self, key: tuple[Any, ...]) -> None:
        self.keys[key] = None
        self._moved(key)

    def discard(self, key: tuple[Any, ...]) -> None:
        del self.keys[key]
        self._moved(key)

    def _moved(self, key: tuple[Any, ...]) -> None:
        self._listed = None
        digest = self._digest
        if digest is not None:
            try:
                self._digest = (len(self.keys), digest[1] ^ key_hash(encode_key(key)))
            except TypeError:  # a key with no canonical encoding: not persistable anyway
                self._digest = None


def digest_of(encoded_keys: Any) -> tuple[int, int]:
    """(count, xor of ``key_hash``) over canonical key bytes."""
    count = mixed = 0
    for data in encoded_keys:
        count += 1
        mixed ^= key_hash(data)
    return count, mixed


def _bytes_or_repr(key: tuple[Any, ...]) -> bytes:
    try:
        return encode_key(key)
    except TypeError:
        return repr(key).encode()


def new_table(input: Input) -> dict[tuple[Any, ...], Cell]:
    """A family's cell table, holding its (empty) listing from the start, so
    that every later write maintains it (``write.py``)."""
    return {LISTING_KEY: _node(input, {})}


def _node(input: Input, keys: dict[tuple[Any, ...], None]) -> Cell:
    node = Cell(input, LISTING_KEY, int(input.durability))
    node.status = CellStatus.READY
    node.value = KeySet(keys)
    return node


def listing_for(engine: Engine, input: Input) -> Cell:
    """The listing node of ``input`` in ``engine``.

    A table filled by a restore has none yet: it lists the cells restored,
    and counts as changed now (``_persistence`` sets the recorded revision
    when a stored memo read it and the restored cells match).
    """
    table = engine.cells.get(input)
    if table is None:
        engine.register_name(input.name, input)
        # With a backing the listing is made below, from the stored cells.
        table = engine.cells.setdefault(input, new_table(input) if engine.backing is None else {})
    node = table.get(LISTING_KEY)
    if node is None:
        backing = engine.backing
        # Loading on demand: the family's stored cells first, and the revision
        # its stored listing took, if they list what it listed.
        dated = backing.family(input) if backing is not None else None
        keys = {key: None for key, cell in list(table.items()) if cell.status != CellStatus.PENDING}
        node = table.setdefault(LISTING_KEY, _node(input, keys))
        node.changed_at = engine.revisions.current if dated is None else dated
    return node


def key_set(node: Cell) -> KeySet:
    value: KeySet = node.value
    return value


def changed(engine: Engine, cell: Cell, listed: bool, was_listed: bool) -> Cell | None:
    """Note that ``cell`` (just written) is now ``listed`` or not (``was_listed``:
    whether it had a value or an error before); the family's listing node if
    that changed the listing, else None.

    Every write passes here, so the common case (a value edit: the key is
    listed and stays so) costs no call: subscripts, not ``listing_for``.
    A table filled by a restore or on demand has no listing until one is
    read: a write that neither adds nor removes a key leaves it so (making
    it would load the family's every stored cell); one that does makes it,
    from the cells as they are now, so the key is already in or out.
    """
    try:
        node = engine.cells[cell.input][LISTING_KEY]
    except KeyError:
        if listed == was_listed:
            return None
        node = listing_for(engine, cell.input)
        node.changed_at = engine.revisions.current
        if node.durability > cell.durability:
            engine.revisions.record_change(node.durability)
        return node
    keys: KeySet = node.value
    if (cell.key in keys.keys) == listed:
        return None
    if listed:
        keys.add(cell.key)
    else:
        keys.discard(cell.key)
    node.changed_at = engine.revisions.current
    if node.durability > cell.durability:  # else the write recorded it already
        engine.revisions.record_change(node.durability)
    return node
