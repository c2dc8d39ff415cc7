"""The values a top-level call can return without entering the engine.

The memo hit that ``@sf.query`` generates serves a call ``q(rt, *key)`` from
``Engine.hits``: a list, by ``QuerySpec.index``, of dicts from key to value
(for a query whose key has no parts, the value itself). The hit is then a
list index and one dict lookup; it reads no field of any record. That
matters most to the compiled engine: Python reads a compiled ``Memo``'s
fields through descriptors that the interpreter does not specialize, and
reading two of them (``hit_at`` and ``value``) made the compiled hit slower
than the pure-Python one.

What is in the table: the value of a memo that top-level calls read twice
in the current revision, verified in it, holding a plain value (not an
error), with no ``lru`` (its hit must move it in the ring). The second call
puts it there (``remember``): a key called twice is likely called again,
while most keys are read once per revision (W5 reads each of 10,000
queries once). So a revision that reads each key once pays nothing for the
table, and memos verified along the way never go in.

Why no lock: ``fetch_top`` adds an entry while its read holds the write gate
open, and the table is emptied (``forget_all``) only while a write holds the
gate (a revision move, a cache clear). So no entry outlives the revision it
was read in. The hit itself reads without the gate, like the memo hit
before it: it sees a value of the revision just ending, or a miss.

Within a revision one entry can go stale: a memo verified in it and then
pushed back (``restore.push_back``: ``sofrito._settle`` does it when it
finds a read that loaded clean before a write reached it). ``forget`` takes
that entry out, and the memo's next call goes through the cold path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from sofrito._engine.memo import Memo
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.state import Engine

__all__ = ["EMPTY", "forget", "forget_all", "make_room", "remember"]

EMPTY: Final[dict[Any, Any]] = {}
"""A slot with nothing held: empty and never written, so a lookup in it
misses. The slot of a query whose key has no parts holds its one value
itself, not a dict of one entry; its entry point compares the slot with this."""


def make_room(engine: Engine, spec: QuerySpec[Any]) -> None:
    """Give ``spec`` a slot, when the runtime first uses it (``MemoTables``).

    The list only grows, so the hit of a query this runtime uses never
    raises ``IndexError``: a raise and catch per call would cost 20 times a
    dict lookup, and the first call of every key in a revision would pay it.
    """
    hits = engine.hits
    if len(hits) <= spec.index:
        hits.extend([EMPTY] * (spec.index + 1 - len(hits)))


def remember(engine: Engine, spec: QuerySpec[Any], key: tuple[Any, ...], value: Any) -> None:
    """Serve ``spec(*key)`` from the hit path until the revision moves.

    Two threads racing on one slot can lose one's entry; a lost entry only
    sends the next call through the cold path, which puts it back.
    """
    hits = engine.hits
    if spec.arity == 0:
        hits[spec.index] = value
        return
    table = hits[spec.index]
    if table is EMPTY:
        table = {}
        hits[spec.index] = table
    if spec.arity == 1:
        table[key[0]] = value  # as the entry point looks it up (_entry_points.py)
    else:
        table[key] = value


def forget(engine: Engine, memo: Memo) -> None:
    """Stop serving ``memo``'s value from the hit path, within the revision.

    For a memo verified in the current revision that no longer counts as
    verified (``restore.push_back``, ``restore.discard``). Its ``hit_at`` stops
    the cold path from serving it, but the table is read before any record:
    left there, its value is served until the revision moves, and if the
    memo's next execution fails, nothing replaces it (an error never enters
    the table). The other entries stay: they are still valid.
    """
    spec = memo.spec
    hits = engine.hits
    slot = hits[spec.index] if spec.index < len(hits) else EMPTY
    if slot is EMPTY:
        return
    if spec.arity == 0:
        hits[spec.index] = EMPTY
    elif spec.arity == 1:
        slot.pop(memo.key[0], None)
    else:
        slot.pop(memo.key, None)


def forget_all(engine: Engine) -> None:
    """Empty every slot, in place: runtimes hold this list (``Runtime._hits``)."""
    hits = engine.hits
    hits[:] = [EMPTY] * len(hits)
