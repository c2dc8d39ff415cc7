"""One execution in progress (``Frame``, which is also the ``db`` handle its
body receives) and the logical thread it belongs to (``Task``).

A ``Task`` is one top-level call and everything it computes. It is the unit of
single-flight ownership and of cycle detection: a task runs one chain of
frames at a time, even when deep chains continue on fresh threads
(``stack.py``), so "is this memo being computed by my own task?" means "is it
on my call chain?", a cycle.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from sofrito._engine.memo import ALWAYS_DIRTY, NOT_HITTABLE, CellStatus, Memo
from sofrito._engine.revision import Revisions

if TYPE_CHECKING:
    from sofrito._engine.handle import Db
    from sofrito._engine.local import Reader
    from sofrito._engine.memo import Cell, Node
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.state import Engine
    from sofrito._errors import CycleError, QueryError
    from sofrito._inputs import Input, InputRef

__all__ = ["Frame", "Handle", "Task"]


class Task:
    """A top-level call and all the computation it does."""

    __slots__ = ("db", "pending", "reader", "waiting_frame", "waiting_on")

    def __init__(self, reader: Reader, db: Db) -> None:
        self.reader = reader
        """The record of the thread that made the top-level call: an execution
        with no parent frame runs on that thread (``execute.py``)."""
        self.db = db
        """The ``db`` the top-level call came through (the runtime): what a body
        reaches as ``db.runtime``, for untracked reads. The engine itself
        holds no reference to the runtime; each top-level call hands it in."""
        self.waiting_on: Memo | None = None
        self.waiting_frame: Frame | None = None
        self.pending: dict[InputRef, None] = {}


class Frame:
    """The execution of one memo (what it read, how it ended), and the ``db`` its
    body receives.

    One object plays both parts because a query reads through its ``db``
    thousands of times and every read must land on the frame: a separate
    handle would cost an allocation per execution and a hop per read. Reads
    through the frame are recorded in read order. It has no hit table
    (``_hits`` is None) and its ``_revisions`` never holds a real revision,
    so the entry points that ``@sf.query`` generates always fall through to
    ``_fetch_cold``, which records the read (``handle.Db`` declares what a
    ``db`` offers). Keep it only while
    the body runs: after the query returns, it refuses further use.
    """

    __slots__ = (
        "_engine",
        "_tables",
        "cycle",
        "deps",
        "depth",
        "done",
        "failure",
        "finished",
        "memo",
        "outcome",
        "parent",
        "reader",
        "released",
        "task",
    )

    # Class attributes, not fields: Python reads a class attribute of a compiled
    # class at the speed of a plain one, a field through a descriptor.
    _hits: ClassVar[None] = None  # no hit table: a tracked read always reaches _fetch_cold
    _revisions: ClassVar[Revisions] = Revisions(current=-2)  # never a real revision: the
    # lru entry point falls through

    def __init__(
        self,
        engine: Engine,
        memo: Memo,
        parent: Frame | None,
        task: Task,
        depth: int,
        reader: Reader,
    ) -> None:
        self._engine = engine
        self._tables = engine.tables_by_index
        self.memo = memo
        self.parent = parent
        self.task = task
        self.depth = depth
        self.reader = reader
        """The record of the thread running the body (``execute.py``): what
        its reads' executions hand on, instead of looking up the thread-local."""
        self.deps: list[Node] = []
        self.cycle: CycleError | None = None
        self.failure: QueryError | None = None
        self.finished = False
        # As the claim on ``memo`` (sync.py): waiters block on ``done``.
        self.released = False
        self.done: threading.Event | None = None
        self.outcome: QueryError | None = None

    def record(self, node: Node) -> None:
        deps = self.deps
        if not deps or deps[-1] is not node:
            deps.append(node)

    def fail(self, error: QueryError) -> QueryError:
        """Remember that a system error reached this frame: its result will not be kept."""
        if self.failure is None:
            self.failure = error
        return error

    def kept(self) -> RuntimeError:
        """The error for a read through this handle after its query returned.

        Every read path checks ``finished`` and raises this, so a kept handle
        never adds a dependency to a memo that is already stored.
        """
        return RuntimeError(
            f"the db handle of {self.memo!r} was used after that query returned; "
            "a query must not keep its db: read what later code needs inside the "
            "body and return it, or read through the runtime (rt) outside queries"
        )

    def chain_from(self, ancestor: Frame) -> list[Frame]:
        """The frames from ``ancestor`` down to this one, in call order."""
        chain: list[Frame] = []
        frame: Frame | None = self
        while frame is not None:
            chain.append(frame)
            if frame is ancestor:
                break
            frame = frame.parent
        chain.reverse()
        return chain

    # -- the db handle -------------------------------------------------------

    def _fetch_cold(self, spec: QuerySpec[Any], key: tuple[Any, ...], memo: Memo | None) -> Any:
        # The common reads inlined, one call each instead of about ten: a
        # tracked hit; a memo that no write reached since its last verification
        # (verify.py's shallow check: clean, so valid now); a first read.
        # ``memo`` is unused: only an lru entry point passes one, and an lru
        # read goes to fetch_tracked (the signature is the runtime's too).
        engine = self._engine
        if engine.gate.cancel_requested or self.finished or spec.lru is not None:
            return _fetch.fetch_tracked(engine, self, spec, key)
        try:
            table = engine.tables_by_index[spec.index]
            memo = table.get(key)
        except (TypeError, IndexError):  # a bad key, or a query's first read:
            memo = table = None  # memo_for explains the first, registers the second
        if memo is None:
            if table is None or table is NOT_USED or engine.backing is not None:
                # (the shared hole, never written; or a memo that may be stored)
                return _fetch.read_tracked(engine, self, engine.memo_for(spec, key))
            # A first read of this key: memo_for's lookup inlined (W1: every node).
            return _fetch.read_tracked(engine, self, table.setdefault(key, Memo(spec, key)))
        revisions = engine.revisions
        hit_at = memo.hit_at
        if hit_at != revisions.current:
            if hit_at == NOT_HITTABLE or memo.claim is not None:
                return _fetch.read_tracked(engine, self, memo)
            # verify.shallow_valid's first two steps, written out (hit_at is
            # verified_at here); the rest is read_tracked's.
            dirty_at = memo.dirty_at
            if dirty_at > hit_at and (
                dirty_at == ALWAYS_DIRTY or revisions.last_changed[memo.durability] > hit_at
            ):
                return _fetch.read_tracked(engine, self, memo)
            memo.verified_at = memo.hit_at = revisions.current
            if engine.listening_verified:
                _report.verified(engine, memo)
        deps = self.deps
        if not deps or deps[-1] is not memo:
            deps.append(memo)
        return memo.value

    def _read_input(self, input: Input, key: tuple[Any, ...]) -> Any:
        # A ready cell, inlined: the common input read costs one call.
        # Subscripts, not dict.get: a cell that is missing (never set, or an
        # unhashable key) is the slow path anyway.
        engine = self._engine
        if not engine.gate.cancel_requested and not self.finished:
            try:
                cell = engine.cells[input][key]
            except (KeyError, TypeError):
                pass
            else:
                if cell.status == CellStatus.READY:
                    deps = self.deps
                    if not deps or deps[-1] is not cell:
                        deps.append(cell)
                    return cell.value
        return _inputs.read_tracked(engine, self, input, key)

    def _read_keys(self, input: Input) -> tuple[tuple[Any, ...], ...]:
        return _inputs.keys_tracked(self._engine, self, input)

    def _cell_for_state(self, input: Input, key: tuple[Any, ...]) -> Cell:
        return _inputs.state_tracked(self._engine, self, input, key)

    def _lru_touch(self, memo: Memo) -> None:
        # Never reached (an lru entry point compares with ``_revisions``, which
        # never matches), but declared by ``handle.Db``.
        _lru.touch(self._engine, memo)

    @property
    def runtime(self) -> Any:
        """The runtime behind this handle, for untracked reads."""
        return self.task.db

    def __repr__(self) -> str:
        return f"<sofrito db handle for {self.memo!r}>"


Handle = Frame
"""What a query body receives as ``db`` (for type annotations)."""

if TYPE_CHECKING:
    _a_frame_is_a_db: type[Db] = Frame  # what the entry points read (handle.py)

# At the bottom: these modules call back into this one (the algorithm is
# recursive), so they are bound once all of them exist.
from sofrito._engine import fetch as _fetch  # noqa: E402
from sofrito._engine import inputs as _inputs  # noqa: E402
from sofrito._engine import lru as _lru  # noqa: E402
from sofrito._engine import report as _report  # noqa: E402
from sofrito._engine.state import NOT_USED  # noqa: E402
