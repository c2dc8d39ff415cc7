"""Run a query body and keep what it read.

The body runs with a new ``Frame`` as its ``db``; every read through it
lands in ``frame.deps``. How the body ended decides what is
kept:

- a value or a user exception: stored on the memo (``backdate.store``), which
  keeps the old value when the new one is equal (early cutoff);
- a system error that reached the body (``Suspend``, ``Cancelled``,
  ``CycleError``, ``MissingDependency``), even one the body caught: nothing is
  stored, the memo keeps its old value (not served), and the error goes to the
  caller and to every thread waiting on this memo.

A body that is deep in a chain of queries runs on a fresh thread stack
(``stack.py``), so chains of any depth neither overflow the C stack nor hit
the recursion limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from sofrito._engine import backdate, report, stack, trace
from sofrito._engine.frames import Frame
from sofrito._engine.memo import Encoded
from sofrito._engine.sync import release, wait_for
from sofrito._errors import Cancelled, QueryError, Suspend

if TYPE_CHECKING:
    from sofrito._engine.frames import Task
    from sofrito._engine.local import Reader
    from sofrito._engine.memo import Memo
    from sofrito._engine.state import Engine

__all__ = ["execute", "settle_changed"]


def settle_changed(engine: Engine, memo: Memo, frame: Frame | None, task: Task) -> None:
    """Re-execute ``memo``, known to be out of date, unless another thread does."""
    revision = engine.revisions.current
    while memo.verified_at != revision:
        existing = memo.claim
        if existing is not None:
            wait_for(engine, memo, existing, frame, task)
        elif execute(engine, memo, frame, task, restoring=False):
            return


def execute(  # noqa: PLR0912, PLR0915 (every execution: a helper per step costs a call)
    engine: Engine, memo: Memo, parent: Frame | None, task: Task, *, restoring: bool
) -> bool:
    """Execute ``memo``'s body and store the result; False if another thread claimed it first.

    ``restoring``: the memo's dependencies are known unchanged and only its
    evicted value is missing, so the result counts as unchanged.

    Every query execution passes here, so claiming, running the body and
    releasing are written out in this one function (``sync.py``'s claim and
    ``release`` inlined) rather than in a call each.
    """
    # This thread's record (every execution runs inside a read, cancel.py):
    # the parent's, whose body is running on this thread, or the top-level call's.
    if parent is not None:
        reader, depth = parent.reader, parent.depth + 1
    else:
        reader, depth = task.reader, 0
    frame = Frame(engine, memo, parent, task, depth, reader)
    announced = report.executing(engine, memo) if engine.listening else None
    claims = engine.claims
    if claims.setdefault(memo, frame) is not frame:  # a claim (sync.py): someone else has it
        return False
    if (
        not restoring
        and memo.verified_at == engine.revisions.current
        and memo.has_value
        and type(memo.value) is not Encoded
    ):
        # Another thread executed it between this thread's decision and its claim
        # (a slow walk, a load on demand): its result is this revision's.
        del claims[memo]
        return True
    memo.claim = frame
    engine.executions += 1
    if announced is not None:
        engine.events.publish(announced)
    outer = reader.frame
    reader.frame = frame  # for top-level calls nested in this one (a locator's rt.query)
    error: BaseException | None = None
    try:
        if depth and depth % stack.FRAMES_PER_STACK == 0:
            value = stack.run_on_fresh_stack(engine, _call_body, engine, frame)
        elif engine.traces is not None:  # a trace may stand in for the body (trace.py)
            value = trace.run(engine, frame)
        else:
            key = memo.key  # _call written out: in pure Python, a call costs a frame
            size = len(key)
            if size == 1:
                value = memo.spec.run(frame, key[0])
            elif size == 2:
                value = memo.spec.run(frame, key[0], key[1])
            else:
                value = memo.spec.run(frame, *key)
    except QueryError as exc:
        _abandon(engine, frame, reader, outer, exc)
    except Exception as exc:
        value, error = None, exc
    except BaseException:
        frame.finished = True
        reader.frame = outer
        release(engine, memo, Cancelled())
        raise
    frame.finished = True
    reader.frame = outer
    if frame.cycle is not None or frame.failure is not None:
        _abandon(engine, frame, reader, outer, None)
    changed = backdate.store(engine, memo, value, error, frame.deps, restoring=restoring)
    memo.claim = None  # sync.release with no failure to hand on
    del claims[memo]
    frame.released = True
    done = frame.done
    if done is not None:
        done.set()
    if engine.listening:
        report.executed(engine, memo, changed)  # last: a key that cannot be encoded raises here
    return True


def _abandon(
    engine: Engine, frame: Frame, reader: Reader, outer: Frame | None, raised: QueryError | None
) -> NoReturn:
    """End an execution that a system error reached: keep nothing, tell the waiters."""
    frame.finished = True
    reader.frame = outer
    failure = _failure_of(frame, raised)
    release(engine, frame.memo, failure)
    raise failure from None


def _call(fn: Callable[..., Any], frame: Frame, key: tuple[Any, ...]) -> Any:
    """``fn(frame, *key)``; keys of one or two parts are passed without building
    the argument tuple, which the compiled engine builds through a list."""
    size = len(key)
    if size == 1:
        return fn(frame, key[0])
    if size == 2:
        return fn(frame, key[0], key[1])
    return fn(frame, *key)


def _call_body(engine: Engine, frame: Frame) -> Any:
    """The body, on a fresh thread (``stack.py``), recorded as that thread's execution."""
    reader: Reader = engine.local.reader
    outer, caller = reader.frame, frame.reader
    reader.frame = frame
    frame.reader = reader  # the body's reads run on this thread
    try:
        if engine.traces is not None:
            return trace.run(engine, frame)
        memo = frame.memo
        return _call(memo.spec.run, frame, memo.key)
    finally:
        reader.frame = outer
        frame.reader = caller


def _failure_of(frame: Frame, raised: QueryError | None) -> QueryError:
    """The one system error a failed frame reports; a cycle wins over the rest."""
    if frame.cycle is not None:
        return frame.cycle
    failure = frame.failure or raised
    assert failure is not None
    if isinstance(failure, Suspend):
        return Suspend(list(frame.task.pending) or failure.pending)
    return failure
