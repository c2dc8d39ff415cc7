"""The async driver: run a query, await what it is waiting for, try again.

Sync query code cannot await, so an input that arrives asynchronously
(a file read, a network fetch, an editor buffer) has an ``async def``
locator, and reads of its cells suspend until someone resolves them.
``rt.aquery`` is that someone: it runs the query on a worker thread (the
event loop stays free), collects the pending refs from the ``Suspend``, runs
their locators concurrently under a bound, resolves the results in one batch
(one revision), and tries again.

Cancelling the awaiting task is safe: locators still running are cancelled,
nothing is resolved from an unfinished round, and the runtime is left as it
was after the last complete round.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sofrito._errors import MissingDependency, NotFound, Suspend
from sofrito._inputs import PENDING, InputRef

if TYPE_CHECKING:
    import asyncio

    from sofrito._queries import Query
    from sofrito._runtime import Runtime

__all__ = ["drive"]

T = TypeVar("T")


async def drive(rt: Runtime, q: Query[..., T], key: tuple[Any, ...], concurrency: int) -> T:
    import asyncio  # noqa: PLC0415 (imported on use: a sync program never pays for it)

    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    limit = asyncio.Semaphore(concurrency)
    while True:
        try:
            return await asyncio.to_thread(rt.query, q, *key)
        except Suspend as suspended:
            awaitable = [ref for ref in suspended.pending if ref.input.is_async]
            if not awaitable:
                raise
            outcomes = await asyncio.gather(*(_locate(ref, limit) for ref in awaitable))
            if not _resolve(rt, awaitable, outcomes):
                raise


async def _locate(ref: InputRef, limit: asyncio.Semaphore) -> tuple[str, Any]:
    locator: Callable[..., Awaitable[Any]] | None = ref.input.locator
    assert locator is not None
    async with limit:
        try:
            return "value", await locator(*ref.key)
        except NotFound as exc:
            return "missing", exc
        except Exception as exc:
            exc.add_note(f"raised by the locator of {ref!r}")
            return "error", exc


def _resolve(rt: Runtime, refs: list[InputRef], outcomes: list[tuple[str, Any]]) -> bool:
    """Write the outcomes in one batch; False if nothing could be resolved.

    A locator that said ``NotFound`` ends the drive with ``MissingDependency``,
    after the other results of the round are resolved.
    """
    progressed = False
    missing: MissingDependency | None = None
    with rt.batch():
        for ref, (kind, result) in zip(refs, outcomes, strict=True):
            if kind == "missing":
                missing = missing or MissingDependency(ref, result)
            elif kind == "error":
                rt.resolve_error(ref, result)
                progressed = True
            elif result is not PENDING:
                rt.resolve(ref, result)
                progressed = True
    if missing is not None:
        raise missing
    return progressed
