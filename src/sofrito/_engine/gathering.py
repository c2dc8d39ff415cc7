"""Which reads of a memo one ``sf.gather`` made: when a deep walk goes on past a suspension.

A deep walk (``verify.walk``) that meets a dependency that suspends lets the
suspension through: executing the memo again would read the same
dependencies up to that one (they were just found unchanged) and suspend on
it again, so the walk's answer is the execution's, without running a body.
The exception is a dependency read through ``sf.gather`` with more keys of
the same gather after it: a gather goes on past a suspended key and lists
the pending refs of every key in one ``Suspend`` (docs/suspense.md, "Many
cells in one round"). Executing the memo again would give that answer, but
it is not needed: the walk brings the gather's later keys up to date itself,
as that execution would (their pending refs join the call's), and then lets
the suspension through. No body of the gathering query runs, and no
execution without a changed read (the property tests check both).

What is recorded, per memo: the dependency list of an execution (the list
its frame fills, whose tuple ``backdate.store`` makes ``memo.deps``, and
then the record moves to that tuple: ``stored``), the positions in it that
each of its gathers read, and the keys each was given (a gather that raised
a key's user error did not read the keys after it, and an execution after
the suspension would). A record is looked up by that sequence's identity,
so it is true exactly while ``memo.deps is`` the tuple: an execution that
did not gather, or a memo restored from a store, has another tuple, and an
old record never applies. Records of a sequence that is neither the memo's
nor the one being filled are dropped when the memo gathers again.

Rejected alternatives: a flag on the query (``QuerySpec``), as first built,
under which the walk executed the memo instead: every memo of a query that
gathers for any key, or once, executed again on any suspension, and a
gathering memo executed with nothing it read changed (the property tests,
tests/engine/test_properties.py, found both); and a field on every memo,
memory paid by every memo for a rare case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sofrito._engine.memo import Memo

if TYPE_CHECKING:
    from sofrito._engine.memo import Node
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.state import Engine

__all__ = ["later_keys", "record", "stored"]


class Gathered:
    """One gather of an execution: the reads it made (``deps[start:stop]`` of
    the execution's list) and every key it was given, read or not (a gather
    that raised a key's user error read none after it)."""

    __slots__ = ("keys", "spec", "start", "stop")

    def __init__(
        self, start: int, stop: int, spec: QuerySpec[Any], keys: list[tuple[Any, ...]]
    ) -> None:
        self.start = start
        self.stop = stop
        self.spec = spec
        self.keys = keys


Record = tuple[Sequence["Node"], list[Gathered]]
"""An execution's dependency list (its tuple once stored), and the gathers that read into it."""


def record(
    engine: Engine,
    memo: Memo,
    deps: list[Node],
    start: int,
    spec: QuerySpec[Any],
    keys: list[tuple[Any, ...]],
) -> None:
    """A gather of ``keys`` of ``spec`` in ``memo``'s execution, whose reads fill
    ``deps``, has read ``deps[start:]``. A gather of one key has none after it."""
    if len(keys) < 2:
        return
    current = memo.deps
    kept = [r for r in engine.gathered.get(memo, ()) if r[0] is deps or r[0] is current]
    gathered = Gathered(start, len(deps), spec, keys)
    for listed, gathers in kept:
        if listed is deps:
            gathers.append(gathered)
            break
    else:
        kept.append((deps, [gathered]))
    engine.gathered[memo] = kept


def stored(engine: Engine, memo: Memo, filled: list[Node], reads: tuple[Node, ...]) -> None:
    """``memo``'s execution that filled ``filled`` is stored as ``reads``: its
    gathers' record, if any, follows it there."""
    records = engine.gathered.get(memo)
    if records:
        engine.gathered[memo] = [
            (reads if listed is filled else listed, gathers) for listed, gathers in records
        ]


def later_keys(engine: Engine, memo: Memo, dep: Node) -> list[Memo]:
    """The keys a gather of ``memo``'s last execution was given after ``dep``, if
    ``dep`` is one it read: what a walk that found ``dep`` suspended brings up
    to date before it lets the suspension through (the module docstring).
    Keys the gather did not read (after a user error) get a memo here: the
    execution the walk stands for would read them."""
    if type(dep) is not Memo:
        return []
    records = engine.gathered.get(memo)
    if not records:
        return []
    deps = memo.deps
    for listed, gathers in records:
        if listed is not deps:
            continue
        at = deps.index(dep)  # the first read of it is the one the walk met
        for gathered in gathers:
            if gathered.start <= at < gathered.stop and dep.spec is gathered.spec:
                keys = gathered.keys
                after = keys[keys.index(dep.key) + 1 :]
                return [engine.memo_for(gathered.spec, key) for key in after]
    return []
