"""A runtime's lifecycle: open (restore, or start cold), retire, stop, reset, destroy.

Each transition is one ``atomic_lifecycle_commit`` on the store, together with
the input states written since the last commit, so a crash never leaves a
runtime half-retired. Without a store the same transitions happen in memory
only. A retired, stopped or destroyed runtime refuses writes with an error
that names it.

This module decides and stores the transitions; the engine's records change
only through its own calls (``write.set_lifecycle``, ``restore.forget_everything``,
``restore.set_durability_revisions``).
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from sofrito._engine import fetch, restore, write
from sofrito.stores import CorruptSnapshot, Drop, RuntimeState

if TYPE_CHECKING:
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.state import Engine
    from sofrito._persistence import Persistence
    from sofrito._runtime import Runtime

__all__ = [
    "defer_open",
    "open_deferred",
    "open_runtime",
    "reset",
    "transition",
]

log = logging.getLogger("sofrito.persistence")


def defer_open(rt: Runtime) -> None:
    """``load=False``: the runtime waits, ``initializing``, for ``rt.load()``.

    Until then every read and write is refused, so nothing computed from an
    empty runtime is mixed with what the store holds. A query's miss goes
    through ``rt._fetch_cold``, so refusing there costs the hit path nothing.
    """
    write.set_lifecycle(rt._engine, RuntimeState.INITIALIZING)
    rt._fetch_cold = functools.partial(_refuse_query, rt._engine)


def open_deferred(rt: Runtime, persistence: Persistence, *, cold: bool) -> None:
    engine = rt._engine
    if engine.lifecycle is not RuntimeState.INITIALIZING:
        raise RuntimeError(f"runtime {engine.runtime_id!r} is already loaded")
    write.set_lifecycle(engine, RuntimeState.IDLE)
    rt._fetch_cold = functools.partial(fetch.fetch_top, engine, rt)
    try:
        open_runtime(rt, persistence, cold=cold)
    except BaseException:
        defer_open(rt)  # nothing was restored: the runtime can be loaded again
        raise


def _refuse_query(engine: Engine, spec: QuerySpec[Any], key: tuple[Any, ...], *_: Any) -> Any:
    write.refuse_until_loaded(engine, f"compute {spec.describe(key)} on")


def open_runtime(rt: Runtime, persistence: Persistence, *, cold: bool) -> None:
    """Restore, or start cold. The head is read first: whatever another process
    commits while this one restores makes this one's first write a ``Conflict``."""
    engine = rt._engine
    store = persistence.store
    try:
        stored_state, revision = persistence.open(cold=cold)
    except CorruptSnapshot as exc:
        if not cold:
            raise
        _start_cold(rt, persistence, exc)
        stored_state, revision = RuntimeState.IDLE, None
    if stored_state in (RuntimeState.RETIRED, RuntimeState.STOPPED):
        write.set_lifecycle(engine, stored_state)
    elif stored_state is None or stored_state is RuntimeState.DESTROYED:
        store.persist_runtime_state(persistence.runtime_id, RuntimeState.IDLE)
    if revision:
        write.set_current_revision(engine, revision, force=True)


def _start_cold(rt: Runtime, persistence: Persistence, damage: CorruptSnapshot) -> None:
    """``on_corrupt="cold"``: drop the runtime's stored state, moving a file that
    is not a store aside, and say where it went."""
    engine = rt._engine
    store = persistence.store
    runtime_id = persistence.runtime_id
    restore.forget_everything(engine)
    # The damage may be found after the snapshot header was restored.
    restore.set_durability_revisions(engine, [0] * len(engine.revisions.last_changed))
    _move_aside_if_damaged(store, runtime_id, damage)
    try:
        _drop_stored_state(persistence)
    except CorruptSnapshot as found:
        # The drop met damage the restore did not reach (a malformed page under
        # the rows it deletes): the file itself is damaged, so it goes aside too.
        if _move_aside_if_damaged(store, runtime_id, found) is None:
            raise
        _drop_stored_state(persistence)


def _move_aside_if_damaged(store: object, runtime_id: str, damage: CorruptSnapshot) -> object:
    """Move a file that is not a usable store aside (``SqliteStore.recover``), say so,
    and return where it went (None: the file is fine, only rows were damaged)."""
    recover = getattr(store, "recover", None)
    moved = recover() if callable(recover) else None
    if moved is not None:
        log.warning(
            "%s; moved the damaged file aside to %s; starting runtime %r cold in a new store",
            damage,
            moved,
            runtime_id,
        )
    else:
        log.warning("%s; starting runtime %r cold", damage, runtime_id)
    return moved


def _drop_stored_state(persistence: Persistence) -> None:
    """Drop the runtime's cached state, based on the head like any write, unless
    the header holding it is the damage: then on nothing, and the head is read after."""
    store = persistence.store
    runtime_id = persistence.runtime_id
    try:
        base: int | None = store.load_head(runtime_id)
    except CorruptSnapshot:
        base = None
    store.atomic_lifecycle_commit(runtime_id, RuntimeState.IDLE, [], "cache", base_head=base)
    persistence.head = store.load_head(runtime_id) if base is None else base + 1


_VERBS = {
    RuntimeState.RETIRED: "retire",
    RuntimeState.STOPPED: "stop",
    RuntimeState.DESTROYED: "destroy",
}

_LIVE = frozenset({RuntimeState.IDLE, RuntimeState.RUNNING})
_FROM: dict[str, frozenset[RuntimeState]] = {
    "retire": _LIVE,
    "stop": _LIVE | {RuntimeState.RETIRED},
    "reset": _LIVE | {RuntimeState.RETIRED, RuntimeState.STOPPED},
    "destroy": _LIVE | {RuntimeState.RETIRED, RuntimeState.STOPPED},
}
"""Which states each operation leaves from. The lifecycle only goes forward
(idle, retired, stopped, destroyed) except through ``reset``, which starts
over; cleanup (``reset``, ``destroy``) works on a runtime that takes no
writes, so that it never needs a second runtime object."""


def _refuse_unless_allowed(rt: Runtime, verb: str) -> None:
    engine = rt._engine
    write.refuse_until_loaded(engine, verb)
    if engine.lifecycle not in _FROM[verb]:
        raise RuntimeError(f"cannot {verb} runtime {engine.runtime_id!r}: it is {engine.lifecycle}")


def transition(rt: Runtime, state: RuntimeState) -> None:
    engine = rt._engine
    _refuse_unless_allowed(rt, _VERBS[state])
    with engine.gate.write():
        if rt._persistence is not None:
            drop: Drop = "everything" if state is RuntimeState.DESTROYED else "nothing"
            rt._persistence.lifecycle(state, drop)
        if state is RuntimeState.DESTROYED:
            restore.forget_everything(engine)
        write.set_lifecycle(engine, state)


def reset(rt: Runtime) -> None:
    """Drop every memo and input and start over, idle, under the same identity."""
    engine = rt._engine
    _refuse_unless_allowed(rt, "reset")
    with engine.gate.write():
        if rt._persistence is not None:
            rt._persistence.lifecycle(RuntimeState.IDLE, "cache")
        restore.forget_everything(engine)
        write.set_lifecycle(engine, RuntimeState.IDLE)
    rt.bump_revision()
