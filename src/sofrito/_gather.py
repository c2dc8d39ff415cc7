"""``sf.gather`` and ``rt.query_many``: many keys of one query, declared independent.

``sf.gather(db, q, keys)`` means ``[q(db, *key) for key in keys]`` and keeps
that loop's meaning exactly: the same values, the same dependencies recorded
in key order, the same user error raised by the same key. What it adds is
that the keys do not depend on each other, which buys two things:

- **One suspension for all of them.** The loop stops at the first key that
  suspends, so ``rt.aquery`` learns of one pending cell per round: a hundred
  cells behind async locators take a hundred rounds. ``gather`` goes on past
  a suspended key, collects the pending refs of every key that suspends and
  raises them in one ``Suspend``: one round.
- **Concurrency.** With an executor (``sofrito.executors``) on the runtime,
  or given to ``rt.query_many``, other threads compute keys ahead of the
  gathering thread.

How an outcome is decided, key by key in key order (the loop's order):

1. A key that gives a value: kept.
2. The first key that raises a user error, or ``MissingDependency``, or
   ``CycleError``, while nothing suspended before it: raised at once, as the
   loop raises it. Keys after it are not read, so the dependencies recorded
   are the loop's (up to and including that key).
3. A key that suspends: its pending refs are collected and the next keys
   are still read, only to collect theirs; once the loop would have
   suspended, nothing a later key does changes the outcome (a later user
   error is ignored: the loop would never have met it). At the end, one
   ``Suspend`` with every ref collected, in the order met.
4. ``Cancelled`` always ends the gather at once: a write is waiting, and
   whatever the keys would give belongs to a revision that is going away.

A cycle through the gathering query is reported by the engine to every
query on it, the gatherer included, as soon as a key meets it (so a gather
that suspended on an earlier key reports the cycle rather than the
suspension: the loop would report it one round later).

**Why the executor only runs ahead, and the gatherer still reads every key.**
The executor's work is to bring the memos of the keys up to date in the
runtime; the gathering thread then reads each key itself, in key order, as
the loop would. A key an executor thread is computing is a memo under a
claim, so the gatherer waits on it through the engine's single-flight
(``_engine/sync.py``), which also sees a cycle that runs through the
gathering query and a thread of the executor. Reading every key through the
ordinary path is what makes values, recorded dependencies, errors and
suspensions equal to the loop's by construction, whatever the executor did.
The rejected alternative, having the executor hand back values and the
gatherer record dependencies from them, would duplicate the engine's rules
for errors, suspension and cycles in a second place.

This module is not compiled with the engine: it costs one call per key on
top of the loop's, and it reaches the engine only through the same calls a
query body makes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from sofrito._engine import gathering
from sofrito._engine.family import Input
from sofrito._errors import Cancelled, Suspend
from sofrito._queries import spec_of

if TYPE_CHECKING:
    from sofrito._engine.frames import Frame
    from sofrito._engine.handle import Db
    from sofrito._engine.spec import QuerySpec
    from sofrito._inputs import InputRef
    from sofrito._runtime import Runtime
    from sofrito.executors import Dispatch, Executor

__all__ = ["gather", "gather_top"]

Key = tuple[Any, ...]


def gather(db: Db, q: Any, keys: Iterable[Key]) -> list[Any]:
    """``[q(db, *key) for key in keys]``, with the keys declared independent.

    Inside a query it records the same dependencies as that loop, in key
    order; at the top level (``db`` is the runtime) it is
    ``rt.query_many(q, keys)``. When keys suspend, one ``sf.Suspend`` lists
    the pending refs of all of them, so ``rt.aquery`` resolves them in one
    round. ``q`` is a query (or an input: ``sf.gather(db, source, keys)``
    reads cells). The runtime's executor, if any (``sf.Runtime(executor=...)``),
    computes keys ahead on its threads. See docs/concepts.md, "Gathering
    independent keys".
    """
    from sofrito._runtime import Runtime  # noqa: PLC0415 (the runtime imports this module)

    if isinstance(db, Runtime):
        return gather_top(db, q, keys, None)
    checked = _checked_keys(q, keys)
    runtime = getattr(db, "runtime", None)
    executor = getattr(runtime, "executor", None)
    dispatch = _dispatch(executor, runtime, q, checked)
    frame = cast("Frame", db)
    start = len(frame.deps)
    try:
        return _read_in_order(db, q, checked, dispatch)
    finally:
        spec = None if isinstance(q, Input) else spec_of(q)
        if spec is not None and spec.keys is None:  # a deep walk that finds one of
            # these reads suspended goes on to the later keys, so that the call
            # names the pending refs of every key, as this gather does
            # (_engine/gathering.py)
            gathering.record(frame._engine, frame.memo, frame.deps, start, spec, checked)
        if dispatch is not None:
            dispatch.close(False)  # inside a computation: never wait on threads here


def gather_top(rt: Runtime, q: Any, keys: Iterable[Key], executor: Executor | None) -> list[Any]:
    """``rt.query_many(q, keys, executor=...)``: each key a top-level call, as in
    ``[q(rt, *key) for key in keys]``, with the suspensions of all keys in one
    ``Suspend``. ``executor`` None means the runtime's own (``rt.executor``)."""
    checked = _checked_keys(q, keys)
    dispatch = _dispatch(executor or rt.executor, rt, q, checked)
    try:
        return _read_in_order(rt, q, checked, dispatch)
    finally:
        if dispatch is not None:
            dispatch.close(True)  # between top-level calls: no read held, safe to wait


def _read_in_order(db: Db, q: Any, keys: list[Key], dispatch: _Ahead | None) -> list[Any]:
    """The loop, going on past suspended keys (the module docstring's rules)."""
    values: list[Any] = []
    pending: dict[InputRef, None] = {}
    for index, key in enumerate(keys):
        if dispatch is not None:
            dispatch.take(index)
        try:
            value = q(db, *key)
        except Suspend as suspended:
            pending.update(dict.fromkeys(suspended.pending))
            continue
        except Cancelled:
            raise
        except Exception:
            if not pending:
                raise  # the loop would raise it here
            continue  # the loop would have suspended on an earlier key
        if not pending:
            values.append(value)
    if pending:
        raise Suspend(list(pending))
    return values


class _Ahead:
    """The keys an executor runs ahead, and the executor's ``Dispatch`` of them:
    ``take`` translates a position in all the keys to one among those sent."""

    __slots__ = ("dispatch", "positions")

    def __init__(self, dispatch: Dispatch, positions: dict[int, int]) -> None:
        self.dispatch = dispatch
        self.positions = positions

    def take(self, index: int) -> None:
        position = self.positions.get(index)
        if position is not None:
            self.dispatch.take(position)

    def close(self, wait: bool) -> None:
        self.dispatch.close(wait)


def _dispatch(
    executor: Executor | None, rt: Runtime | None, q: Any, keys: list[Key]
) -> _Ahead | None:
    """Send the keys that need work to ``executor``; None when there is nothing
    to run ahead (no executor, an input, fewer than two such keys).

    A key whose memo is verified in this revision is a hit: the gatherer's own
    read of it costs less than a hand-off, so it is not sent (a no-op run
    ships nothing).
    """
    if executor is None or rt is None or isinstance(q, Input):
        return None
    spec = spec_of(q)
    positions: dict[int, int] = {}
    for index, key in enumerate(keys):
        if not _is_current(rt, spec, key):
            positions[index] = len(positions)
    if len(positions) < 2:
        return None
    sent = [keys[index] for index in positions]
    return _Ahead(executor.dispatch(rt, q, sent), positions)


def _is_current(rt: Runtime, spec: QuerySpec[Any], key: Key) -> bool:
    """Whether ``spec(*key)`` has a value verified in this revision (read as
    the entry point of an ``lru`` query reads a memo, without a call).
    A ``keys=`` query's call passes more than its key: never known current."""
    if spec.keys is not None:
        return False
    try:
        memo = rt._tables[spec.index].get(key)
    except (TypeError, IndexError):  # an unhashable key (the read will say), a new query
        return False
    return memo is not None and memo.verified_at == rt._revisions.current and memo.has_value


def _checked_keys(q: Any, keys: Iterable[Key]) -> list[Key]:
    """``keys`` as a list, each a tuple of the right length for ``q``; a
    ``TypeError`` naming the query and the key otherwise, before any is read."""
    if isinstance(q, Input):
        label, arity = f"input {q.name!r}", None
    else:
        spec = spec_of(q)
        label = spec.label
        arity = spec.arity if spec.keys is None else None
    given: object = keys  # typed as keys, but a str is iterable too
    if isinstance(given, (str, bytes)):
        raise TypeError(
            f"sf.gather({label}, keys): keys is {keys!r}, a string; pass a list of key "
            "tuples, such as [(p,) for p in paths]"
        )
    checked = list(keys)
    for index, key in enumerate(checked):
        if not isinstance(key, tuple):
            raise TypeError(
                f"sf.gather({label}, keys): keys[{index}] is {key!r}, not a tuple; each key "
                f"is the tuple of the arguments after db: [(p,) for p in paths], not paths"
            )
        if arity is not None and len(key) != arity:
            raise TypeError(
                f"sf.gather({label}, keys): keys[{index}] is {key!r}, {len(key)} part(s), "
                f"but {label}() takes a key of {arity} part(s)"
            )
    return checked
