"""The cold path of a read: what happens when the hot path's one check fails.

``fetch_top`` serves top-level calls (``q(rt, ...)``): it registers the call
with the write gate, retries computations that a write cancelled, and turns a
suspension into one ``Suspend`` listing every pending input met on the way.

``fetch_tracked`` serves reads from inside a query body: it records the read
on the reading frame, in read order, whatever its outcome.

Both bring the memo up to date with ``ensure``. Its fast lane serves the
common case (a memo with a plain value, unclaimed, without ``lru``) in one
pass: shallow check, deep walk, execution. Everything else goes through
``settle``, which, in order: returns at once if the memo was verified in this
revision; waits for another thread that is computing it (single-flight);
verifies it (``verify.py``); or executes it (``execute.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from sofrito._engine import execute, frontier, hits, lru, report, verify, write
from sofrito._engine.backing import LoadFailed
from sofrito._engine.frames import Task
from sofrito._engine.memo import (
    ALWAYS_DIRTY,
    DROPPED,
    NEVER,
    NOT_HITTABLE,
    Cell,
    CellStatus,
    Encoded,
    value_of,
)
from sofrito._engine.sync import wait_for
from sofrito._errors import Cancelled, QueryError, Suspend

if TYPE_CHECKING:
    from sofrito._engine.frames import Frame
    from sofrito._engine.handle import Db
    from sofrito._engine.local import Reader
    from sofrito._engine.memo import Memo
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.state import Engine

__all__ = [
    "MAX_RETRIES",
    "ensure",
    "fetch_top",
    "fetch_tracked",
    "keep_arguments",
    "read_tracked",
    "settle",
]

MAX_RETRIES: Final = 64
"""How many times a top-level call retries a computation cancelled by writes."""


def fetch_top(
    engine: Engine,
    db: Db,
    spec: QuerySpec[Any],
    key: tuple[Any, ...],
    seen: Memo | None = None,
    retry: bool = True,
) -> Any:
    """A top-level call through ``db`` (the runtime): compute ``spec(*key)`` at
    the current revision. The runtime binds ``engine`` and itself
    (``Runtime._fetch_cold``, a partial); ``db`` goes on the call's task, for
    bodies that read untracked (``Frame.runtime``).

    Around the call, this function: it refuses a read that would wait for
    its own write, tries again when a write cancelled the computation (up to
    ``MAX_RETRIES``: a top-level caller asked for a value, not for the
    write's timing), gives a store's failure to load to the caller, and
    applies the writes that computations deferred, whatever the outcome.
    The call itself, one try, is ``_attempt``.

    ``seen`` is the memo an ``lru`` query's entry point found before this
    call entered the write gate, if any (``_memo_of_call``). ``retry`` is
    positional, with its common value as the default: the generated entry
    point's call then passes no keyword, which a compiled engine would have
    to parse on every top-level miss.
    """
    if engine.gate._writer is not None and engine.gate.holds_write():
        raise RuntimeError(
            f"cannot compute {spec.describe(key)} inside rt.batch() while it holds a write: "
            "finish the batch first, then read"
        )
    attempts = 0
    try:
        while True:
            try:
                return _attempt(engine, db, spec, key, seen)
            except Cancelled:
                attempts += 1
                if not retry or attempts > MAX_RETRIES:
                    raise
    except LoadFailed as failed:
        reader = engine.local.reader
        if reader.frame is None and not reader.depth:  # out of the engine: the caller's
            raise failed.error from None
        raise
    finally:
        if engine.deferred_writes:
            write.apply_deferred(engine)


def _attempt(
    engine: Engine, db: Db, spec: QuerySpec[Any], key: tuple[Any, ...], seen: Memo | None
) -> Any:
    """One try, counted as a read by the write gate (``cancel.py``) from before
    the memo is looked up until its value is known.

    A second call of a key in one revision, its memo already verified with a
    plain value, leaves the value where the generated entry point finds it
    (``hits.py``): the calls after it do not come here. A suspension becomes
    one ``Suspend`` listing every pending input the call met, unless the call
    is nested in a computation, whose own top level reports them."""
    gate = engine.gate
    reader = gate.enter_read()
    try:
        parent = reader.frame
        task = _task_of_call(reader, db)
        memo = _memo_of_call(engine, spec, key, seen)
        if memo.hit_at == engine.revisions.current and spec.lru is None:
            value = memo.value
            hits.remember(engine, spec, key, value)
            return value
        try:
            return ensure(engine, memo, parent, task)
        except Suspend as exc:
            if parent is not None:
                raise
            raise Suspend([*task.pending, *exc.pending]) from None
    finally:
        gate.leave(reader)


def _task_of_call(reader: Reader, db: Db) -> Task:
    """The task a top-level call runs in (``reader`` counts this call already).

    A call made while this thread runs a computation (a locator's
    ``rt.query``) joins that computation's task, so re-entering it is a
    cycle, not a deadlock. A call made inside another top-level call but
    outside any computation (a locator asked during a verification) is a
    task of its own. Otherwise the call reuses this thread's idle task, which
    saves an allocation per top-level computation (W5), its pending inputs
    forgotten."""
    parent = reader.frame
    if parent is not None:
        return parent.task
    if reader.depth > 1:
        return Task(reader, db)
    task = reader.task
    if task is None:
        task = reader.task = Task(reader, db)
    elif task.pending:
        task.pending = {}
    return task


def _memo_of_call(
    engine: Engine, spec: QuerySpec[Any], key: tuple[Any, ...], seen: Memo | None
) -> Memo:
    """The memo of ``spec(*key)``, made on the key's first call.

    ``seen`` is the memo an ``lru`` query's entry point found before the call
    entered the write gate. A write in between (``rt.clear_cache()``) may
    have dropped it with its table, and marked it so: then the key is looked
    up again. Otherwise it is still the memo of its key (memos leave their
    tables only all together), and the lookup is saved."""
    if seen is not None and seen.verified_at != DROPPED:
        return seen
    try:
        found = engine.tables_by_index[spec.index].get(key)
    except (TypeError, IndexError):  # a bad key, or a first call of the query:
        found = None  # memo_for explains the first
    return engine.memo_for(spec, key) if found is None else found


def fetch_tracked(engine: Engine, frame: Frame, spec: QuerySpec[Any], key: tuple[Any, ...]) -> Any:
    """A read of ``spec(*key)`` by the query executing in ``frame``."""
    if engine.gate.cancel_requested:
        raise frame.fail(Cancelled())
    if frame.finished:
        raise frame.kept()
    memo = engine.memo_for(spec, key)
    value = memo.value  # before the check: see the lru entry point in _queries
    if memo.hit_at == engine.revisions.current:
        frame.record(memo)
        if spec.lru is not None:
            lru.touch(engine, memo)
        return value
    return read_tracked(engine, frame, memo)


def read_tracked(engine: Engine, frame: Frame, memo: Memo) -> Any:
    """Bring ``memo`` up to date for ``frame`` and record the read, whatever its outcome."""
    error: BaseException | None = None
    try:
        if memo.verified_at == NEVER and memo.claim is None and memo.spec.lru is None:
            # Never computed: straight to execution, none of the checks can apply.
            if execute.execute(engine, memo, frame, frame.task, restoring=False):
                value, error = memo.value, memo.error
            else:
                value = ensure(engine, memo, frame, frame.task)
        else:
            value = ensure(engine, memo, frame, frame.task)
    except QueryError as exc:
        raise frame.fail(exc) from None
    except BaseException:
        frame.record(memo)  # a cached user error is a value this query read
        raise
    deps = frame.deps
    if not deps or deps[-1] is not memo:
        deps.append(memo)
    if error is not None:
        raise_cached(memo, error)
    return value


def ensure(  # noqa: PLR0912 (every read that misses: a helper per check costs a call)
    engine: Engine, memo: Memo, frame: Frame | None, task: Task
) -> Any:
    """Bring ``memo`` up to date and return its value (or raise its cached error).

    The common case first, written out: a memo that holds a plain value
    (``hit_at`` says so), that no other thread is computing and that has no
    ``lru``. It is valid if no write reached it, or only writes whose change
    stopped early (the shallow checks of ``verify.py``), or if the deep walk
    finds nothing changed; otherwise it executes, skipping the walk when the
    first thing it read is a cell that changed. That is three calls fewer
    per memo than ``settle``'s general loop, which handles everything else.
    """
    hit_at = memo.hit_at
    if hit_at != NOT_HITTABLE and memo.claim is None and memo.spec.lru is None:
        revisions = engine.revisions
        if hit_at == revisions.current:
            return memo.value
        # verify.shallow_valid, written out (hit_at is verified_at here): its
        # first two steps, then, unless the walk is sure to execute, the third.
        dirty_at = memo.dirty_at
        if dirty_at <= hit_at or (
            dirty_at != ALWAYS_DIRTY and revisions.last_changed[memo.durability] <= hit_at
        ):
            memo.verified_at = memo.hit_at = revisions.current
            if engine.listening_verified:
                report.verified(engine, memo)
            return memo.value
        first = memo.deps[0] if memo.deps else None
        stale = (
            type(first) is Cell and first.changed_at > hit_at and first.status == CellStatus.READY
        )
        if not stale:  # (a stale memo is on a frontier it has not settled: nothing is cut)
            if not hit_at < engine.frontiers.blocked <= dirty_at and frontier.covers(  # (its
                # first test, written out: saves the call)
                engine,
                hit_at,
                dirty_at,
            ):
                memo.verified_at = memo.hit_at = revisions.current
                if engine.listening_verified:
                    report.verified(engine, memo)
                return memo.value
            if verify.walk(engine, memo, frame, task, 1):
                return memo.value
        if execute.execute(engine, memo, frame, task, restoring=False):
            if memo.error is not None:
                raise_cached(memo, memo.error)
            return memo.value
    while True:
        settle(engine, memo, frame, task)
        value, error = memo.value, memo.error
        if type(value) is Encoded:
            value = value_of(memo)
        if memo.has_value:  # read last: eviction (or a value that fails to decode) clears it
            break
    if error is not None:
        raise_cached(memo, error)
    if memo.spec.lru is not None:
        lru.touch(engine, memo)
    elif memo.hit_at == NOT_HITTABLE and memo.verified_at == engine.revisions.current:
        verify.mark_verified(memo, memo.verified_at)  # a decoded value: hittable now
    return value


def settle(engine: Engine, memo: Memo, frame: Frame | None, task: Task) -> None:
    """Make ``memo`` verified at the current revision with a value; system errors raise."""
    revision = engine.revisions.current
    while True:
        if memo.verified_at == revision and memo.has_value:
            return
        existing = memo.claim
        if existing is not None:
            wait_for(engine, memo, existing, frame, task)
            continue
        restoring = memo.verified_at == revision  # evicted, but known valid
        if (
            not restoring
            and memo.verified_at != NEVER
            and verify.is_valid(engine, memo, frame, task)
        ):
            if memo.has_value:
                return
            restoring = True
        if execute.execute(engine, memo, frame, task, restoring=restoring):
            return


def keep_arguments(
    engine: Engine, spec: QuerySpec[Any], key: tuple[Any, ...], arguments: dict[str, Any]
) -> None:
    """A ``keys=`` query's call: its other ``arguments`` go on the memo of its key,
    unless an earlier call's are there already (the first call's are the ones
    its body always gets: ``_entry_points.keyed_runner``)."""
    memo = engine.memo_for(spec, key)
    if memo.args is None:
        memo.args = arguments


def raise_cached(memo: Memo, error: BaseException) -> None:
    """Re-raise a cached user error with its original traceback, not a longer one."""
    raise error.with_traceback(memo.traceback)
