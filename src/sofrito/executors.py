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
writer of the store (``sofrito._shipping`` says how, and why rows).

``Threads`` is the executor for bodies that wait on I/O: the engine is
thread-safe, and the threads compute in the caller's runtime directly.
``Processes(jobs)`` runs pure-Python bodies on more cores: worker processes
of this machine, each with its own runtime on the same store.
``Dask(client_or_address)`` runs them on a Dask cluster. Both send keys in
batches (a task per batch, a few per worker, to spread the load and absorb
the cost per task) and are the executors of ``sofrito run --jobs N`` and
``--executor dask://HOST:PORT``. Where their workers cannot help (a runtime
without a store, or on a ``MemoryStore``; a query with ``keys=``; a gather
inside a query when the runtime has changes it cannot commit there), they
dispatch nothing and the gatherer computes every key itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor as FuturesExecutor
from concurrent.futures import wait as wait_all
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, Self, TypeVar

from sofrito._on_demand import prefetch
from sofrito._queries import spec_of

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
    from types import TracebackType

    from sofrito import _shipping
    from sofrito._runtime import Runtime

__all__ = ["Dask", "Dispatch", "Executor", "Processes", "Threads"]

log = logging.getLogger("sofrito.executors")

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


_Pool = TypeVar("_Pool", bound=FuturesExecutor)


class _OwnsPool(Generic[_Pool]):
    """What ``Threads`` and ``Processes`` share: one pool, started on first use
    (an unused executor costs no thread or process), started afresh when it
    broke, refused after ``shutdown()``."""

    def __init__(self, start: Callable[[], _Pool]) -> None:
        self._start = start
        """Makes the pool: a ``ThreadPoolExecutor`` or a ``ProcessPoolExecutor``."""
        self._lock = threading.Lock()
        self._pool: _Pool | None = None
        self._closed = False

    def _live_pool(self) -> _Pool:
        with self._lock:
            if self._closed:
                raise RuntimeError(
                    f"this sofrito.executors.{type(self).__name__} was shut down; make a new one"
                )
            pool = self._pool
            if pool is not None and getattr(pool, "_broken", False):
                pool.shutdown(wait=False, cancel_futures=True)  # a worker died: start afresh
                pool = None
            if pool is None:
                pool = self._pool = self._start()
            return pool

    def shutdown(self, wait: bool = True) -> None:
        """Stop the pool (after the keys it is computing, with ``wait``)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()


class Threads(_OwnsPool["ThreadPoolExecutor"]):
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
        super().__init__(self._new_threads)
        self.workers = workers

    def dispatch(self, rt: Runtime, q: Any, keys: Sequence[Key], /) -> Dispatch:
        return _ThreadDispatch(self._live_pool(), rt, q, list(keys), self.workers)

    def _new_threads(self) -> ThreadPoolExecutor:
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 (see _new_processes)

        return ThreadPoolExecutor(self.workers, thread_name_prefix="sofrito-threads")

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


# -- executors whose workers run in other processes ----------------------------------


class Processes(_OwnsPool["ProcessPoolExecutor"]):
    """Compute keys in ``jobs`` worker processes of this machine.

    For pure-Python bodies, which threads cannot run in parallel. Each worker
    (started with ``spawn``: a fresh interpreter) imports the module that
    defines the query (a flow file by its path), opens the runtime on the
    same store, pinned to the boundary the gatherer committed before it
    dispatched, and sends back the memos it computed; the gatherer installs
    them (``sofrito._shipping``). The runtime must be on a store other
    processes can open: a ``SqliteStore`` (or a ``PostgresStore``);
    ``store_url`` names it when it cannot be derived from the store.

    **The gatherer works too** (``caller_share``, on by default): it keeps
    the first of every ``jobs + 1`` keys to compute itself, as the workers
    start, and when it reaches a batch that no worker has started yet, it
    takes the batch back and computes it too (``_Shipping``). So the keys
    are spread over ``jobs + 1`` processes, and the keys the gatherer
    computes cost it no installing; ``sofrito run --jobs N`` is this
    process and ``N - 1`` workers. With ``caller_share=False`` every key
    that needs work is sent and waited for, and the gatherer only installs.

    One pool serves every dispatch and is started on first use;
    ``shutdown()`` (or leaving ``with Processes(...)``) stops it. A worker
    that dies takes its tasks with it: the gatherer computes those keys
    itself, and the next dispatch starts a new pool.
    """

    def __init__(
        self,
        jobs: int,
        *,
        store_url: str | None = None,
        tasks_per_job: int = 4,
        caller_share: bool = True,
    ) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"Processes(jobs=...) takes a positive int, got {jobs!r}")
        self.jobs = jobs
        self.store_url = store_url
        self.tasks_per_job = tasks_per_job
        self.caller_share = caller_share
        super().__init__(self._new_processes)

    def dispatch(self, rt: Runtime, q: Any, keys: Sequence[Key], /) -> Dispatch:
        plan = _Plan(self.store_url, self.caller_share, take_back=self.caller_share)
        return _ship(rt, q, keys, plan, self._capacity, self._submit)

    def _capacity(self) -> _Capacity:
        return _Capacity(self.jobs, self.jobs * self.tasks_per_job)

    def _submit(self, task: _shipping.Task) -> Future[_shipping.Shipped]:
        from sofrito._shipping import run_task  # noqa: PLC0415 (see _ship)

        return self._live_pool().submit(run_task, task)

    def _new_processes(self) -> ProcessPoolExecutor:
        # Imported here, as the thread pool and ``_shipping`` are where they are
        # used: multiprocessing and the process pool are 20-40 ms of imports,
        # the rest about 8 ms, that a run whose renders are all hits (a no-op)
        # never needs.
        import multiprocessing  # noqa: PLC0415
        from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

        return ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("spawn"))

    def __repr__(self) -> str:
        return f"Processes(jobs={self.jobs})"


class Dask:
    """Compute keys on a Dask cluster (``distributed``: ``pip install 'sofrito[dask]'``).

    ``client_or_address``: a ``distributed.Client``, or a scheduler's address
    (``"HOST:PORT"``, ``"tcp://HOST:PORT"``), to which this executor connects
    and which it closes on ``shutdown()``. Every worker gets the sofrito plugin
    (``sofrito._dask``), which holds its runtime on the store; tasks name the
    query and carry keys (never functions), a few per worker (``tasks_per_worker``).
    The workers must reach the store (the same SQLite file on a shared disk,
    or a PostgreSQL server: ``store_url``) and import the module that defines
    the query (a flow file by the path it has here). Dask reschedules the
    task of a lost worker; a task that fails is computed by the gatherer.
    The gatherer keeps its share of the keys (``caller_share``, as
    ``Processes`` does) but takes no batch back.

    **Connected on the first dispatch that sends something**, not when made:
    a run whose keys are all hits (a no-op, most edits) neither imports
    ``distributed`` nor talks to the scheduler (about 0.4 s of import, then
    the connection and the plugin's registration). A scheduler that cannot
    be reached within ``connect_timeout`` seconds (given an address) is said
    once, as a warning, and every key is computed by the gatherer: a query
    cannot fail for it (the error would be cached as the query's own), and
    the run stays correct.
    """

    def __init__(
        self,
        client_or_address: Any,
        *,
        store_url: str | None = None,
        tasks_per_worker: int = 4,
        caller_share: bool = True,
        connect_timeout: float = 10.0,
    ) -> None:
        if importlib.util.find_spec("distributed") is None:
            raise ImportError(
                "sofrito.executors.Dask needs the distributed package: pip install 'sofrito[dask]'"
            )
        if not isinstance(client_or_address, str) and not hasattr(
            client_or_address, "register_plugin"
        ):
            raise TypeError(
                "sofrito.executors.Dask takes a distributed.Client or a scheduler's address "
                f"('HOST:PORT'), got {client_or_address!r}"
            )
        self._given: Any = client_or_address
        """A client (used as given) or an address (connected to on first use)."""
        self._owned = isinstance(client_or_address, str)
        self._client: Any = None
        self._run: Any = None
        """``sofrito._dask.run_on_worker``, once connected (its module imports ``distributed``)."""
        self._unreachable: str | None = None
        """Why the first connection failed, if it did: no dispatch tries again."""
        self._lock = threading.Lock()
        self.store_url = store_url
        self.tasks_per_worker = tasks_per_worker
        self.caller_share = caller_share
        self.connect_timeout = connect_timeout

    @property
    def client(self) -> Any:
        """The ``distributed.Client``, connected (and the plugin registered) on first use."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> Any:
        import distributed  # noqa: PLC0415 (an optional extra)

        from sofrito import _dask  # noqa: PLC0415

        if self._owned:
            client = distributed.Client(  # type: ignore[no-untyped-call]
                str(self._given), set_as_default=False, timeout=self.connect_timeout
            )
        else:
            client = self._given
        client.register_plugin(_dask.SofritoPlugin(), name=_dask.PLUGIN)
        self._run = _dask.run_on_worker
        return client

    def dispatch(self, rt: Runtime, q: Any, keys: Sequence[Key], /) -> Dispatch:
        # A Dask future's cancel() does not say whether the task had started:
        # the gatherer keeps its share but takes no batch back.
        plan = _Plan(self.store_url, self.caller_share, take_back=False)
        return _ship(rt, q, keys, plan, self._capacity, self._submit)

    def _capacity(self) -> _Capacity | None:
        """The workers and the tasks for one dispatch (``tasks_per_worker`` per
        worker); None, with a warning the first time, when the scheduler cannot
        be reached."""
        if self._unreachable is not None:
            return None
        try:
            info = self.client.scheduler_info(n_workers=-1)
        except Exception as exc:  # any failure to reach it: a query must not fail for it
            self._unreachable = f"{type(exc).__name__}: {exc}"
            log.warning(
                "the Dask scheduler at %s cannot be reached (%s); computing every key here",
                self._given,
                self._unreachable,
            )
            return None
        workers = max(1, len(info.get("workers", {})))
        return _Capacity(workers, workers * self.tasks_per_worker)

    def _submit(self, task: _shipping.Task) -> Any:
        return self.client.submit(self._run, task, pure=False)

    def shutdown(self) -> None:
        """Close the client if this executor opened it."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._owned:
            client.close()

    def __enter__(self) -> Dask:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"Dask({self._given!r})"


class _Nothing:
    """A dispatch that sent nothing: the gatherer computes every key."""

    def take(self, index: int, /) -> None:
        pass

    def close(self, wait: bool, /) -> None:
        pass


Submit = Callable[["_shipping.Task"], Any]
"""Starts one task and returns its future (``.result()``, ``.cancel()``)."""


class _Capacity(NamedTuple):
    """What one dispatch may use: ``workers`` computing at once, ``tasks`` batches."""

    workers: int
    tasks: int


class _Plan(NamedTuple):
    """How an executor ships: the store's URL for its workers (None: derived
    from the store), whether the gatherer keeps a share, and whether it may
    take back a batch no worker has started (futures whose ``cancel()`` says so)."""

    store_url: str | None
    caller_share: bool
    take_back: bool


def _ship(
    rt: Runtime,
    q: Any,
    keys: Sequence[Key],
    plan: _Plan,
    capacity: Callable[[], _Capacity | None],
    submit: Submit,
) -> Dispatch:
    """Commit, cut the keys to send into about ``capacity().tasks`` batches and
    submit one task each; ``_Nothing`` where workers cannot help (the module
    docstring). ``capacity`` is asked only once there are keys to send (a
    Dask executor connects then)."""
    from sofrito import _shipping  # noqa: PLC0415 (a run that sends nothing never imports it)

    spec = spec_of(q)
    if spec.keys is not None or not spec.persist or len(keys) < 2:
        return _Nothing()
    recipe = _shipping.recipe_for(rt, spec, plan.store_url)
    if recipe is None:
        return _Nothing()
    prefetch(rt, [(q, key) for key in keys])  # one load for the rows of all of them
    needed = [index for index, key in enumerate(keys) if _shipping.needs_work(rt, spec, key)]
    if len(needed) < 2:
        return _Nothing()  # hits ship nothing; one key costs less here than a hand-off
    room = capacity()
    if room is None:
        return _Nothing()  # no workers to send to
    kept = len(needed) // (room.workers + 1) if plan.caller_share else 0
    sent = needed[kept:]
    boundary = _shipping.prepare(rt)  # only now: a dispatch that sends nothing commits nothing
    if boundary is None:
        return _Nothing()
    size = max(1, math.ceil(len(sent) / max(1, room.tasks)))
    batches = [sent[at : at + size] for at in range(0, len(sent), size)]
    batch_of = {index: number for number, batch in enumerate(batches) for index in batch}
    futures = [
        submit(_shipping.Task(recipe, boundary, spec.name, tuple(keys[i] for i in batch)))
        for batch in batches
    ]
    firsts = [batch[0] for batch in batches]
    return _Shipping(rt, spec.label, batch_of, firsts, futures, take_back=plan.take_back)


class _Shipping:
    """One gather's batches on remote workers. ``take(i)`` waits for the batch of
    key ``i`` and installs it (batches are taken in order, so a batch is
    installed before any key of it is read); a batch that failed is left to
    the gatherer, with a warning. With ``take_back``, a batch that no worker
    has started when the gatherer reaches it is cancelled and left to the
    gatherer, which would otherwise wait for a worker to get to it: so the
    gatherer and the workers finish about together, whatever their speeds."""

    def __init__(
        self,
        rt: Runtime,
        label: str,
        batch_of: dict[int, int],
        firsts: list[int],
        futures: list[Any],
        *,
        take_back: bool,
    ) -> None:
        self._rt = rt
        self._label = label
        self._batch_of = batch_of
        """Each sent key's batch, by its index among the keys dispatched."""
        self._firsts = firsts
        """Each batch's first key, by index (for messages)."""
        self._futures = futures
        self._next = 0
        """The first batch not collected yet."""
        self._take_back = take_back
        self.installed = 0
        self.executed = 0
        self.taken_back = 0
        """Batches cancelled before a worker started them, computed by the gatherer."""
        self._known: dict[_shipping.NodeId, Any] = {}
        """Nodes by stored id, shared by this dispatch's installs (``_shipping.install``)."""

    def take(self, index: int, /) -> None:
        batch = self._batch_of.get(index)
        if batch is None:
            return  # a hit: not sent
        while self._next <= batch:
            self._collect(self._next)
            self._next += 1

    def _collect(self, batch: int) -> None:
        future = self._futures[batch]
        if self._take_back and future.cancel():  # not started: the gatherer's now
            self.taken_back += 1
            return
        try:
            shipped = future.result()
        except Exception as exc:  # a lost worker: its keys are computed here
            log.warning(
                "%s: a worker failed on the batch of keys from index %d (%s: %s); "
                "computing them here",
                self._label,
                self._firsts[batch],
                type(exc).__name__,
                exc,
            )
            return
        if shipped.refused is not None:
            log.warning(
                "%s: a worker refused its task (%s); computing it here",
                self._label,
                shipped.refused,
            )
            return
        from sofrito._shipping import install  # noqa: PLC0415 (see _ship)

        self.executed += shipped.executed
        self.installed += install(self._rt, shipped, self._known)

    def close(self, wait: bool, /) -> None:
        """Cancel what has not started. Running tasks are not waited for: a worker
        writes nothing, so one still running cannot change what the caller sees."""
        for future in self._futures[self._next :]:
            future.cancel()
        self._next = len(self._futures)
