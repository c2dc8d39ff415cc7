"""The engine's two kinds of node: ``Memo`` for a query call, ``Cell`` for an input.

A node is created the first time its (query or input, key) is used and lives
as long as the runtime's cache: re-execution updates it in place, so
dependency lists can hold the node objects themselves and verification never
looks anything up in a dict. Eviction (``lru=``) drops only a memo's value and
keeps the rest, because dependents verify against ``changed_at``, not against
the value.

Both records are plain ``__slots__`` classes: they are allocated by the
thousand and read on every verification step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from sofrito._engine.frames import Frame
    from sofrito._engine.spec import QuerySpec
    from sofrito._events.kinds import QueryRef
    from sofrito._inputs import Input

__all__ = [
    "ALWAYS_DIRTY",
    "DROPPED",
    "NEVER",
    "NOT_HITTABLE",
    "Cell",
    "CellStatus",
    "Encoded",
    "Memo",
    "Node",
    "Readers",
    "value_of",
]

NEVER: Final = -1
"""``verified_at`` of a memo that has never completed."""

DROPPED: Final = -3
"""``verified_at`` of a memo dropped with its table (``rt.clear_cache()``, a
reset): a top-level call that found it just before looks its key up again."""

NOT_HITTABLE: Final = -1
"""``hit_at`` of a memo whose value cannot be served by the hot path."""

ALWAYS_DIRTY: Final = 1 << 61
"""``dirty_at`` of a memo that read a pending cell: verified in every revision,
so that the cell's locator is asked again. Above any revision, and inside the
compiled engine's unboxed integers (below 2**62), so comparing with it stays a
word compare."""


class Encoded:
    """A persisted value not decoded yet: decoding waits until someone reads it.

    ``data`` is the codec's bytes, or a view of them inside the row a commit
    wrote (``restore.hold_encoded``), so that a committed value is held once,
    not once in its row and again beside it. ``decode`` takes what ``data`` is.
    """

    __slots__ = ("data", "decode")

    def __init__(self, data: bytes | memoryview, decode: Callable[[Any], Any]) -> None:
        self.data = data
        self.decode = decode


class Memo:
    """What the runtime knows about one call ``query(db, *key)``.

    ``hit_at`` is the one field the hot path reads: it equals ``verified_at``
    when the memo holds a plain value (not an error, not evicted), and
    ``NOT_HITTABLE`` otherwise, so that a hit is a single comparison.
    """

    __slots__ = (
        "args",
        "changed_at",
        "claim",
        "deps",
        "dirty_at",
        "durability",
        "error",
        "has_value",
        "hit_at",
        "key",
        "lowered_at",
        "rdeps",
        "ref_cache",
        "spec",
        "stored_deps",
        "traceback",
        "value",
        "verified_at",
    )

    def __init__(self, spec: QuerySpec[Any], key: tuple[Any, ...]) -> None:
        # In this order: a compiled class lays its fields out in the order they
        # are first assigned, and a verification reads the first six of every
        # memo it passes, so they share a cache line or two (issue 27).
        self.verified_at = NEVER
        self.dirty_at = NEVER
        self.durability = 0
        self.changed_at = NEVER
        self.hit_at = NOT_HITTABLE
        self.claim: Frame | None = None
        self.deps: tuple[Node, ...] = ()
        """What the last execution read, in read order: a tuple, one allocation
        holding the nodes themselves, made from the frame's list when the
        execution is stored (``backdate.store``)."""
        self.has_value = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.spec = spec
        self.key = key
        self.rdeps: Readers | None = None
        """Who read this memo: a tuple, or a dict used as an ordered set past
        ``rdeps.SMALL`` readers (``rdeps.py``)."""
        self.lowered_at = NEVER
        """The last revision in which an execution lowered ``durability`` (``frontier.py``)."""
        self.stored_deps: list[tuple[bytes, str, bytes]] | None = None
        """A memo loaded on demand: the ids its stored row lists, not resolved to
        nodes yet (``deps`` is empty until ``Backing.deps`` resolves them, before
        anything walks or relinks them). None once resolved, or re-executed."""
        self.traceback: Any = None
        self.ref_cache: QueryRef | None = None
        self.args: dict[str, Any] | None = None
        """A ``keys=`` query's other arguments, from the first call of its key."""

    @property
    def computed(self) -> bool:
        """Whether this memo has ever completed (its metadata can be verified)."""
        return self.verified_at != NEVER

    def __repr__(self) -> str:
        return self.spec.describe(self.key)


class CellStatus:
    """Plain int constants: compared on every input read."""

    READY: Final = 0
    PENDING: Final = 1
    FAILED: Final = 2


class Cell:
    """One input cell ``input[key]``: its value or error, and who read it."""

    __slots__ = (
        "changed_at",
        "durability",
        "error",
        "input",
        "key",
        "locator_asked_at",
        "rdeps",
        "ref_cache",
        "seen_loading",
        "status",
        "value",
    )

    def __init__(self, input: Input, key: tuple[Any, ...], durability: int) -> None:
        self.input = input
        self.key = key
        self.value: Any = None
        self.error: BaseException | None = None
        self.status = CellStatus.PENDING
        self.durability = durability
        self.changed_at = 0
        self.rdeps: Readers | None = None
        """Who read this cell: as ``Memo.rdeps``."""
        self.locator_asked_at = NEVER
        self.seen_loading = False
        self.ref_cache: QueryRef | None = None

    def __repr__(self) -> str:
        return self.input.describe(self.key)


Node = Memo | Cell

Readers = tuple[Memo, ...] | dict[Memo, None]
"""Who read a node, in the order they started reading (``rdeps.py`` says why two shapes)."""


def value_of(memo: Memo) -> Any:
    """The memo's value, decoding a persisted one on first use.

    A value that no longer decodes (a class that moved, say) is dropped as if
    evicted: the memo re-executes, its dependents keep verifying against it.
    """
    value = memo.value
    if type(value) is not Encoded:
        return value
    try:
        decoded = value.decode(value.data)
    except Exception:
        memo.has_value = False
        memo.value = None
        return None
    memo.value = decoded
    return decoded
