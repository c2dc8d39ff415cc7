"""Executors: what computes the independent keys of ``sf.gather`` and
``rt.query_many`` away from the gathering thread.

An executor runs *ahead* of the gatherer. The gatherer (``sofrito._gather``)
still reads every key itself, in key order, through the ordinary read path:
that read records the dependency, raises the key's error or suspension, and
waits, through the engine's single-flight, for a key that another thread is
computing. So an executor never decides what the caller sees; it only makes
the memos of the keys current sooner. Whatever an executor does or fails to
do, values, recorded dependencies and errors are the serial loop's.

The protocol (two small ``typing.Protocol`` classes):

- ``Executor.dispatch(rt, q, keys) -> Dispatch``: start bringing the memos
  of ``q(*key)``, for each key (tuples, in key order; only keys that are not
  already current are sent), up to date in ``rt``.
- ``Dispatch.take(index)``: the gatherer is about to read ``keys[index]``.
  From now on the executor must not start that key; if it has not started
  it, the gatherer computes it itself. A key in flight must be readable by
  the gatherer: under a claim of the engine (threads, on the same runtime:
  the gatherer waits on it), or, for an executor whose workers run elsewhere,
  installed before ``take`` returns.
- ``Dispatch.close(wait)``: the gatherer is done (or ended early on an
  error): start nothing more. With ``wait`` (a top-level call, which holds no
  read of the runtime) return only once nothing dispatched is running. A
  gather inside a query closes without waiting: a thread of the executor may
  be waiting for a write that waits for the gatherer's computation to end.

Executors whose workers run in other processes or machines (local processes,
Dask) fit the same protocol, with one more step inside ``take``: a worker
computes its keys in a runtime of its own, opened on the same store at the
boundary the coordinator committed before dispatching, and returns, per key,
its value or error and its dependency records (each dependency's query or
input name and canonical key, in read order, with the revision at which it
last changed); the coordinator installs them as memos and stays the only
writer of the store. (The installation is not built yet: DESIGN §8.)

``Threads`` is the executor for bodies that wait on I/O: the engine is
thread-safe, and the threads compute in the caller's runtime directly.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from types import TracebackType

    from sofrito._runtime import Runtime

__all__ = ["Dispatch", "Executor", "Threads"]

Key = tuple[Any, ...]


class Dispatch(Protocol):
    """Keys an executor is bringing up to date, ahead of the gatherer."""

    def take(self, index: int, /) -> None:
        """The gatherer reads ``keys[index]`` next: do not start it from now on."""
        ...

    def close(self, wait: bool, /) -> None:
        """Start nothing more; with ``wait``, return once nothing dispatched runs."""
        ...


class Executor(Protocol):
    """Computes independent keys of one query ahead of the thread that gathers them."""

    def dispatch(self, rt: Runtime, q: Any, keys: Sequence[Key], /) -> Dispatch:
        """Start bringing the memos of ``q(*key)`` for ``keys`` up to date in ``rt``."""
        ...


class Threads:
    """Compute keys on ``workers`` threads of this process, in the caller's runtime.

    For query bodies that wait on I/O (files, network, subprocesses); pure
    Python computation does not run faster on threads. One pool serves every
    gather that uses this executor, so nested gathers share its threads; a
    gather whose keys find every thread busy computes them on its own thread.
    ``shutdown()`` (or leaving ``with Threads(...)``) stops the pool.
    """

    def __init__(self, workers: int = 4) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"Threads(workers=...) takes a positive int, got {workers!r}")
        self.workers = workers
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    def dispatch(self, rt: Runtime, q: Any, keys: Sequence[Key], /) -> Dispatch:
        return _ThreadDispatch(self._threads(), rt, q, list(keys), self.workers)

    def _threads(self) -> ThreadPoolExecutor:
        """The pool, started on first use (an unused executor costs no thread)."""
        with self._lock:
            if self._closed:
                raise RuntimeError(
                    "this sofrito.executors.Threads was shut down; make a new one "
                    "for the runtime (sf.Runtime(executor=Threads(...)))"
                )
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sofrito-threads")
            return self._pool

    def shutdown(self, wait: bool = True) -> None:
        """Stop the threads (after the keys they are computing, with ``wait``)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> Threads:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"Threads(workers={self.workers})"


class _ThreadDispatch:
    """One gather's keys on the pool: each thread takes the next key not yet
    taken, by it, by another thread or by the gatherer (``take`` moves the
    front past the gatherer's key), so no key starts twice on this side."""

    def __init__(
        self, pool: ThreadPoolExecutor, rt: Runtime, q: Any, keys: list[Key], workers: int
    ) -> None:
        self._rt = rt
        self._q = q
        self._keys = keys
        self._lock = threading.Lock()
        self._next = 0
        self._stopped = False
        self._futures: list[Future[None]] = [
            pool.submit(self._work) for _ in range(min(workers, len(keys)))
        ]

    def _work(self) -> None:
        while True:
            with self._lock:
                index = self._next
                if self._stopped or index >= len(self._keys):
                    return
                self._next = index + 1
            _compute(self._rt, self._q, self._keys[index])

    def take(self, index: int, /) -> None:
        with self._lock:
            if self._next <= index:
                self._next = index + 1

    def close(self, wait: bool, /) -> None:
        with self._lock:
            self._stopped = True
        if wait:
            for future in self._futures:
                future.cancel()
            wait_all(self._futures)


def _compute(rt: Runtime, q: Any, key: Key) -> None:
    """Bring ``q(*key)`` up to date in ``rt``, as a top-level call of this thread.

    Its outcome is dropped: the gatherer reads the key itself and meets the
    same value, the cached error, or (for a key whose computation suspended,
    was cancelled or met a cycle, none of which is stored) the same outcome
    again. ``retry=False``: a computation cancelled by a write is the
    gatherer's to retry, at the new revision.
    """
    with contextlib.suppress(Exception):  # the gatherer meets it (see the docstring)
        rt.query(q, *key, retry=False)
