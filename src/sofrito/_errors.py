"""Every exception the core raises, in one place.

The tree::

    Exception
    ├── QueryError              system errors: never cached, never a query's value
    │   ├── Suspend             a pending input was read
    │   ├── CycleError          a query (transitively) asked for itself
    │   ├── Cancelled           a write happened while the computation ran
    │   └── MissingDependency   a locator said the input does not exist
    ├── Lagged                  an event receiver fell behind and lost events
    ├── ReceiverClosed          ``recv`` on an event receiver you closed, once drained
    └── NotFound                raised *by a locator* to say "no such input"
    RuntimeError
    └── WriteInsideComputation  a query body or a locator tried to write (a bug
                                in the program, not a condition to handle)

An exception raised by a query body is a *user error*: the runtime caches it
like a value and re-raises it on every hit. The system errors above are the
runtime's own signals; they say something about this attempt, not about the
query's value, so caching them would be wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sofrito._events.kinds import QueryRef
    from sofrito._inputs import InputRef

__all__ = [
    "Cancelled",
    "CycleError",
    "Lagged",
    "MissingDependency",
    "NotFound",
    "QueryError",
    "ReceiverClosed",
    "Suspend",
]


class QueryError(Exception):
    """Base of the runtime's system errors, which are never cached.

    Catch it to handle "this attempt could not produce a value" in one place.
    """


class Suspend(QueryError):
    """A computation read an input that has no value yet.

    ``pending`` lists every unresolved input ref this attempt ran into, without
    duplicates, in the order they were met. Resolve them (``rt.resolve(ref,
    value)``) and call again; ``await rt.aquery(...)`` does that loop for you
    when the inputs have async locators.
    """

    def __init__(self, pending: Sequence[InputRef] = ()) -> None:
        self.pending: list[InputRef] = list(dict.fromkeys(pending))
        super().__init__(self.pending)

    def __str__(self) -> str:
        if not self.pending:
            return "the computation suspended"
        names = ", ".join(repr(ref) for ref in self.pending)
        return f"waiting for {names}; resolve them (rt.resolve(ref, value)) and call again"


class CycleError(QueryError):
    """A query depends on itself, directly or through others.

    ``cycle`` lists the query calls in call order, starting at the query that
    was re-entered and not repeating it at the end: ``a -> b -> a`` gives
    ``[a, b]``. Every query on the cycle sees this error. Break the cycle by
    reading something else in one of them.
    """

    def __init__(self, cycle: Sequence[QueryRef]) -> None:
        self.cycle: list[QueryRef] = list(cycle)
        super().__init__(self.cycle)

    def __str__(self) -> str:
        if not self.cycle:
            return "dependency cycle"
        steps = [*self.cycle, self.cycle[0]]
        return "dependency cycle: " + " -> ".join(str(step) for step in steps)


class Cancelled(QueryError):
    """A write happened while this computation was running.

    The write waited for the computation to unwind so that no result mixes two
    revisions. Top-level calls retry by themselves; you see this only with
    ``retry=False`` or when the retries ran out under a storm of writes.
    """

    def __str__(self) -> str:
        return "cancelled by a write to the runtime; call again to compute at the new revision"


class MissingDependency(QueryError):
    """An input's locator said the input does not exist or is not allowed.

    Never cached: the next read asks the locator again.
    """

    def __init__(self, ref: InputRef, reason: BaseException | None = None) -> None:
        self.ref = ref
        self.reason = reason
        super().__init__(ref, reason)

    def __str__(self) -> str:
        detail = f": {self.reason}" if self.reason is not None and str(self.reason) else ""
        return f"{self.ref!r} does not exist{detail}"


class NotFound(Exception):
    """Raise this from a locator to say that the requested input does not exist.

    Readers of the cell get :class:`MissingDependency`.
    """


class Lagged(Exception):
    """An event receiver fell behind and lost its ``missed`` oldest events.

    The next ``recv`` continues with the oldest event still held. Subscribe
    with a larger ``capacity`` if your consumer is bursty.
    """

    def __init__(self, missed: int) -> None:
        self.missed = missed
        super().__init__(missed)

    def __str__(self) -> str:
        return f"receiver lagged behind and missed {self.missed} events"


class ReceiverClosed(Exception):
    """``recv`` on an event receiver that was closed, once the events it held are read.

    You closed it (``close()`` or leaving its ``with`` block); subscribe again
    for new events. ``async for`` ends quietly instead of raising this.
    """


class WriteInsideComputation(RuntimeError):
    """A write was attempted from inside a query body or a locator.

    Queries must be pure: a write from a computation would also wait for
    itself forever (the write gate waits for computations in flight).
    """


for _name in __all__:
    globals()[_name].__module__ = "sofrito"
