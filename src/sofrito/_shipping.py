"""Keys out to other processes, memos back: what the process and Dask executors share.

An executor whose workers run in other processes (``sofrito.executors.Processes``,
``sofrito.executors.Dask``) cannot compute in the caller's runtime. Each
worker holds a runtime of its own, opened on the same store, and the
coordinator (the process that gathers) installs what the workers computed
as if it had computed it. The steps, each a function here:

1. ``prepare`` (coordinator): commit the runtime's input changes as a
   boundary, so that the store holds exactly the inputs the coordinator
   reads, at its revision. Nothing else is shipped about the state: a
   worker reads the same inputs from the store.
2. ``run_task`` (worker): open the runtime on the store, pinned to that
   boundary (the head and revision the task names; a store that moved on
   since is refused, and the coordinator computes the keys itself), compute
   the task's keys, reusing every stored memo that verifies, and return the
   sealed rows of what executed on the way to them: the memos of the keys
   and of the queries below them, each row as a commit would write it (its
   value, ``changed_at``, durability and its reads as node ids, in read
   order: ``_snapshot.py``).
3. ``install`` (coordinator): check each row (seal, fingerprint of the code
   this process runs) and install it (``restore.install_shipped_memo``);
   then resolve their reads in one load (``Backing.deps``), so that a write
   marks them as it marks a computed memo. A row whose reads cannot be
   resolved here (an input cell the store does not hold, a query this
   process does not define) is discarded: the gatherer computes that key
   itself.

**Why ship rows, not values.** A value alone would leave the coordinator a
memo it cannot verify after the next edit. The row carries the reads, and
it is the form the coordinator's store keeps anyway: the coordinator's next
commit writes the installed memos as it writes executed ones, and stays the
only writer of boundaries (workers never commit).

**Why everything that executed below a key, not only the key.** A memo
whose reads are missing from the coordinator is read from the store (a row
of an older boundary) or counted as never computed: the installed memo
would then re-execute after the next edit of anything, however unrelated.
Rows of what a worker only verified are not shipped: the store holds them.

**A worker stays open across its coordinator's boundaries** (``Opened``,
``_follow``). A run commits before each dispatch; when it wrote no input in
between (its revision is the same), a worker's runtime moves to the new
boundary instead of opening again: every memo it holds is still valid, and
the renders of a site find the pages this worker parsed in memory. Opening
again was a tenth of a worker's time: its imports aside, it loaded row by
row what it had just computed. And a task ships what executed for it only
(``run_task`` acknowledges the journal first): what an earlier task shipped,
such as the index every render reads, is not sent, sealed and checked again
with each batch.

**What makes a task safe to run twice, or to lose.** A worker writes
nothing. Installing skips a memo the coordinator already holds at this
revision. A task lost with its worker (a killed process) is computed by the
gatherer itself, from the same inputs: the result is the same, only later.

Only memos the store can hold travel: a cached error, a ``persist=False``
query or a value the codec cannot encode is computed again by the
gatherer, which then reports it as a serial run would.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import sys
import threading
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from sofrito import _registry
from sofrito._codec import CodecError, IntegrityError
from sofrito._engine import restore, verify
from sofrito._engine.listing import listing_for
from sofrito._engine.memo import CellStatus, Memo, Node
from sofrito._events.kinds import QueryChanged, QueryExecuting, QueryRef, QueryTraced
from sofrito._keys import decode_key, key_hash
from sofrito._on_demand import StoreBacking
from sofrito._snapshot import LISTING, QUERY, memo_id, split_memo_id

if TYPE_CHECKING:
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.state import Engine
    from sofrito._persistence import Persistence
    from sofrito._queries import Query
    from sofrito._runtime import Runtime

__all__ = [
    "Boundary",
    "Opened",
    "Recipe",
    "Shipped",
    "Task",
    "install",
    "needs_work",
    "prepare",
    "recipe_for",
    "run_task",
]

log = logging.getLogger("sofrito.executors")
Key = tuple[Any, ...]

BOUNDARY = '{"command":"dispatch"}'
"""The label of the boundary committed before a dispatch (``sofrito receipts``
shows it as ``dispatch``)."""


class Recipe(NamedTuple):
    """How a worker opens the coordinator's runtime: plain values, picklable.

    This and the other records here are named tuples, not frozen dataclasses:
    a ``sofrito run`` with workers imports this module even when it sends
    nothing, and a dataclass costs 0.5 ms to create, a named tuple 0.07."""

    store_url: str
    """``sqlite:/abs/path`` or a ``postgresql://`` DSN (``sofrito.cli.urls``)."""
    runtime_id: str
    codec: str
    secret: bytes | str | None
    modules: tuple[tuple[str, str | None], ...]
    """Modules to import before the query is looked up by name, each with its
    file when it was loaded by path (a flow file): a worker loads it the same way."""


class Boundary(NamedTuple):
    """Where a dispatch's workers open the runtime: the coordinator's run (its
    ``Persistence.run_id``), the store's head and the revision it committed."""

    run: str
    head: int
    revision: int


class Task(NamedTuple):
    """One batch of keys of one query, at one boundary."""

    recipe: Recipe
    boundary: Boundary
    query: str
    keys: tuple[Key, ...]


class Shipped(NamedTuple):
    """What a task sends back: the sealed rows of what executed, by memo id."""

    head: int
    revision: int
    rows: list[tuple[bytes, bytes]]
    executed: int
    """How many queries executed in the worker for this task."""
    refused: str | None = None
    """Why nothing was computed (the store is at another boundary), if so."""
    first: frozenset[bytes] = frozenset()
    """The memo ids among ``rows`` that had no earlier value (``QueryExecuting.first``)."""
    traced: frozenset[bytes] = frozenset()
    """The memo ids among ``rows`` that a shared trace answered, their body not run."""


# -- the coordinator ---------------------------------------------------------------


def recipe_for(rt: Runtime, spec: QuerySpec[Any], store_url: str | None) -> Recipe | None:
    """How a worker opens ``rt``; None if it cannot (no store, or a store other
    processes cannot open: a ``MemoryStore``)."""
    persistence = rt._persistence
    if persistence is None:
        return None
    url = store_url or _url_of(persistence.store)
    if url is None:
        return None
    module = sys.modules.get(spec.fn.__module__)
    if module is None:
        return None
    loaded_by_path = getattr(module, "__spec__", None) is None
    file = getattr(module, "__file__", None) if loaded_by_path else None
    return Recipe(
        url,
        persistence.runtime_id,
        persistence.codec.name,
        persistence.sealer.secret,
        ((module.__name__, file),),
    )


def _url_of(store: object) -> str | None:
    from sofrito.stores import SqliteStore  # noqa: PLC0415

    if isinstance(store, SqliteStore):
        return f"sqlite:{store.path.absolute()}"
    dsn = getattr(store, "dsn", None)  # PostgresStore
    return dsn if isinstance(dsn, str) else None


def prepare(rt: Runtime) -> Boundary | None:
    """Commit what the workers must find in the store; the boundary they must
    open at. None inside a computation with input changes to commit (a
    write cannot wait there): the gatherer then computes its keys itself.

    Input changes must be committed: a worker reads the inputs from the store.
    Memos computed or installed since the last commit are committed too when
    the caller holds no read (a top-level call): a worker that needs them
    (a render reading every page's summary) then loads them instead of
    computing them again, once per worker. They would be written by the
    run's own commit anyway: this writes them sooner, not twice. Inside a
    computation they are left out, and a worker that needs one computes it.
    """
    persistence = rt._persistence
    if persistence is None:
        return None
    journal = persistence.journal
    if journal.cells or journal.memos or journal.full:
        if not rt._engine.gate.reader().depth:
            rt.commit(BOUNDARY)
        elif journal.cells or journal.full:
            return None
    return Boundary(persistence.run_id, persistence.head, rt.revision)


def needs_work(rt: Runtime, spec: QuerySpec[Any], key: Key) -> bool:
    """Whether ``spec(*key)`` may need computing: False for a memo that is valid
    now without looking at its reads (``verify.shallow_valid``), which a
    worker could only confirm: a hit ships nothing."""
    engine = rt._engine
    memo = engine.tables[spec].get(key)
    if memo is None or not memo.has_value or memo.error is not None:
        return True
    if memo.verified_at == engine.revisions.current:
        return False
    return memo.claim is not None or not memo.computed or not verify.shallow_valid(engine, memo)


NodeId = tuple[bytes, str, bytes]


def install(rt: Runtime, shipped: Shipped, known: dict[NodeId, Node] | None = None) -> int:
    """Install the rows of ``shipped`` (module docstring, step 3); how many.

    ``known``: nodes by stored id, found by earlier installs of the same
    dispatch (one revision), filled here: most rows read what another row
    of the dispatch is, or read too, and a key decoded once is enough."""
    known = {} if known is None else known
    engine = rt._engine
    persistence = rt._persistence
    backing = engine.backing
    if persistence is None or not _current(rt, persistence, shipped):
        return 0
    installed: list[Memo] = []
    with backing.lock if isinstance(backing, StoreBacking) else _no_lock:
        for mid, sealed in shipped.rows:
            memo = _install_row(engine, persistence, shipped, mid, sealed, known)
            if memo is not None:
                installed.append(memo)
        if isinstance(backing, StoreBacking):
            backing.deps(installed)  # linked both ways; one that cannot be is discarded
        else:
            _resolve_in_memory(rt, installed, known)
    return len(installed)


def _current(rt: Runtime, persistence: Persistence, shipped: Shipped) -> bool:
    """Whether ``shipped`` answers this runtime as it is: the worker took the
    task, at the runtime's revision and from its committed head."""
    return (
        shipped.refused is None
        and shipped.revision == rt.revision
        and shipped.head == persistence.head
    )


def _install_row(
    engine: Engine,
    persistence: Persistence,
    shipped: Shipped,
    mid: bytes,
    sealed: bytes,
    known: dict[NodeId, Node],
) -> Memo | None:
    """One shipped row installed as its memo (and in ``known``), its execution
    reported as the worker's; None for a row left to compute here (another
    query's, damaged, of other code, without a value)."""
    name, key_bytes = split_memo_id(mid)
    found = _registry.query_and_key(name, key_bytes)
    if found is None:
        return None
    spec, key = found
    try:
        row = persistence.shipped_row(mid, sealed)
    except (IntegrityError, CodecError) as exc:
        log.warning(
            "a worker sent a damaged row of %s%r (%s): computing it here", spec.name, key, exc
        )
        return None
    if row.fingerprint != spec.fingerprint or row.value is None:
        return None  # the worker ran other code, or sent no value: computed here
    traced = mid in shipped.traced
    memo = restore.install_shipped_memo(
        engine,
        spec,
        key,
        row.value,
        persistence.codec.decode,
        changed_at=row.changed_at,
        durability=row.durability,
        stored_deps=row.deps,
        traced=traced,
    )
    if memo is not None:
        known[(QUERY, name, key_bytes)] = memo
        persistence.keep_shipped(memo, mid, sealed, row)
        if engine.listening:
            ref = QueryRef(name, key_hash(key_bytes), key_bytes)
            _report(engine, ref, memo, mid in shipped.first, traced)
    return memo


def _report(engine: Engine, ref: QueryRef, memo: Memo, first: bool, traced: bool) -> None:
    """The events of ``memo``'s execution in a worker, as if it had executed here:
    ``QueryExecuting``, ``QueryTraced`` if a trace answered it, ``QueryChanged``
    if its value moved (it started from the row this runtime holds, so the
    worker's ``changed_at`` is this runtime's answer). ``ref`` is made from the
    row's id, which holds the key's canonical bytes: not encoded again."""
    revision = engine.revisions.current
    engine.events.publish(QueryExecuting(ref, revision, first))
    if traced:
        engine.events.publish(QueryTraced(ref, revision))
    if not first and memo.changed_at == revision:
        engine.events.publish(QueryChanged(ref, revision))


_no_lock = contextlib.nullcontext()


def _resolve_in_memory(rt: Runtime, memos: list[Memo], known: dict[NodeId, Node]) -> None:
    """``Backing.deps`` for a runtime that holds every record in memory (one
    whose store held nothing when it opened): each stored id is the node this
    runtime has; a memo that read a node it does not have is discarded."""
    engine = rt._engine
    unresolved: list[Memo] = []
    for memo in memos:
        deps: list[Node] = []
        for stored in memo.stored_deps or ():
            node = known.get(stored)
            if node is None:
                node = _node_named(engine, *stored)
                if node is None:
                    unresolved.append(memo)
                    break
                known[stored] = node
            deps.append(node)
        else:
            restore.resolve_deps(memo, deps)
    if unresolved:
        restore.discard(engine, unresolved, engine.revisions.current)


def _node_named(engine: Engine, kind: bytes, name: str, key_bytes: bytes) -> Node | None:
    if kind == QUERY:
        found = _registry.query_and_key(name, key_bytes)
        return None if found is None else restore.fresh_memo(engine, *found)
    input = _registry.input_named(name)
    if input is None:
        return None
    if kind == LISTING:
        return listing_for(engine, input)
    try:
        key = decode_key(key_bytes)
    except ValueError:
        return None
    cell = engine.cells.get(input, {}).get(key)
    return cell if cell is not None and cell.status == CellStatus.READY else None


# -- the worker --------------------------------------------------------------------


class Opened:
    """A worker's runtimes, one per recipe, each at the last boundary a task
    named (a process pool's worker keeps one in this module; a Dask worker in
    its plugin, ``sofrito._dask``).

    A runtime stays open across its coordinator's boundaries (``_follow``): a
    run commits before each dispatch, and the renders of a site then find
    the pages this worker parsed for the dispatch before still in memory,
    instead of loading them row by row from a runtime opened afresh."""

    def __init__(self) -> None:
        self.runtimes: dict[Recipe, Runtime] = {}
        self.runs: dict[Recipe, str] = {}
        """The coordinator run each runtime last served (``Boundary.run``)."""
        self.lock = threading.Lock()
        """One task at a time per worker: Dask runs tasks on threads."""
        self.tasks = 0
        """Tasks run here: a test counts what a run shipped."""
        self.opens = 0
        """Runtimes opened here: a test tells a runtime kept open from one opened again."""

    def runtime(self, recipe: Recipe, boundary: Boundary) -> Runtime:
        """The runtime for ``recipe`` at ``boundary``: the one held, if it is there
        or can follow there (``_follow``), else one opened again."""
        rt = self.runtimes.get(recipe)
        if rt is not None:
            persistence = rt._persistence
            at = persistence.head if persistence is not None else None
            if at == boundary.head or (
                self.runs.get(recipe) == boundary.run and _follow(rt, boundary)
            ):
                self.runs[recipe] = boundary.run
                return rt
            del self.runtimes[recipe]
            _close(rt)
        rt = self.runtimes[recipe] = _open(recipe)
        self.runs[recipe] = boundary.run
        self.opens += 1
        return rt

    def close(self) -> None:
        with self.lock:
            for rt in self.runtimes.values():
                _close(rt)
            self.runtimes.clear()
            self.runs.clear()


_process = Opened()


def run_task(task: Task, opened: Opened | None = None) -> Shipped:
    """Compute ``task``'s keys in this worker's runtime on the store and return
    the rows of what executed (module docstring, step 2). Called by name in a
    worker process (a process pool's, or a Dask worker's with its ``opened``)."""
    opened = _process if opened is None else opened
    boundary = task.boundary
    with opened.lock:
        opened.tasks += 1
        rt = opened.runtime(task.recipe, boundary)
        persistence = rt._persistence
        assert persistence is not None
        if persistence.head != boundary.head or rt.revision != boundary.revision:
            return Shipped(
                persistence.head,
                rt.revision,
                [],
                0,
                f"the store {task.recipe.store_url} is at head {persistence.head}, "
                f"revision {rt.revision}; the task was sent for head {boundary.head}",
            )
        entry = _registry.entry_named(task.query)
        if entry is None:
            return Shipped(
                boundary.head, boundary.revision, [], 0, f"no query named {task.query!r} here"
            )
        journal = persistence.journal
        # What executed for earlier tasks was shipped with them: a task sends
        # what executed for its own keys (the site's link index once, not
        # with every batch of renders that reads it).
        journal.acknowledge()
        with _Executions(rt) as executions:
            for key in task.keys:
                try:
                    rt.query(cast("Query[..., Any]", entry), *key)
                except Exception:  # the gatherer meets it again and reports it
                    continue
        spec = entry.spec  # type: ignore[attr-defined]
        memos = _executed_below(rt, spec, task.keys, journal.memos)
        rows = _rows(rt, memos)
        shipped = {mid for mid, _ in rows}
        return Shipped(
            boundary.head,
            boundary.revision,
            rows,
            len(journal.memos),
            first=frozenset(executions.first & shipped),
            traced=frozenset(executions.traced & shipped),
        )


class _Executions:
    """What the worker's engine said of the executions of one task: which memos
    had no earlier value, and which a shared trace answered (their ids). The
    coordinator repeats these as its own events (``install``), so a run's
    summary and ``--events`` show what the workers executed."""

    def __init__(self, rt: Runtime) -> None:
        self._receiver = rt.subscribe_events(capacity=1 << 30, verified=False)
        self.first: set[bytes] = set()
        self.traced: set[bytes] = set()

    def __enter__(self) -> _Executions:
        return self

    def __exit__(self, *exc_info: object) -> None:
        while (event := self._receiver.try_recv()) is not None:
            if isinstance(event, QueryExecuting) and event.first:
                self.first.add(memo_id(event.ref.kind, event.ref.key))
            elif isinstance(event, QueryTraced):
                self.traced.add(memo_id(event.ref.kind, event.ref.key))
        self._receiver.close()


def _open(recipe: Recipe) -> Runtime:
    """A runtime on ``recipe``'s store, opened at its head now."""
    _import_modules(recipe.modules)
    from sofrito._runtime import Runtime  # noqa: PLC0415
    from sofrito.cli.urls import open_store  # noqa: PLC0415

    store = open_store(recipe.store_url, Path.cwd())
    return Runtime(
        store=store,
        runtime_id=recipe.runtime_id,
        codec=recipe.codec,  # type: ignore[arg-type]
        secret=recipe.secret,
    )


def _follow(rt: Runtime, boundary: Boundary) -> bool:
    """Move ``rt`` (a worker's, which writes nothing) to ``boundary``, a later one
    of the coordinator run it last served, without opening it again; False if
    that is not sound, and it must be opened again.

    Sound when the coordinator's revision has not moved: it then wrote no input
    since (its revisions only grow, and every write bumps one), so every memo
    this process holds is still valid, and the later boundary only added rows
    of that same revision (what the coordinator computed or installed). The
    run is part of the test: another coordinator process (a later ``sofrito
    run`` sending to the same Dask workers) may have reached the same revision
    number after other writes."""
    persistence = rt._persistence
    backing = rt._engine.backing
    if persistence is None or not isinstance(backing, StoreBacking):
        return False
    if rt.revision != boundary.revision or persistence.head > boundary.head:
        return False
    header = persistence.store.load_header(persistence.runtime_id)
    if (
        header is None
        or header.head != boundary.head
        or header.revision != boundary.revision
        or header.meta is None
    ):
        return False
    meta = persistence._read_meta(header.meta)
    if meta is None:
        return False
    backing.follow(meta)
    persistence.head = header.head
    return True


def _close(rt: Runtime) -> None:
    persistence = rt._persistence
    close = getattr(persistence.store, "close", None) if persistence is not None else None
    if close is not None:
        close()


def _import_modules(modules: Iterable[tuple[str, str | None]]) -> None:
    """Import the modules that define the queries, a file loaded by path (a flow)
    by path under the same name, so query names match the coordinator's."""
    for name, file in modules:
        if name in sys.modules:
            continue
        if file is None:
            importlib.import_module(name)
            continue
        folder = str(Path(file).parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {file} as module {name!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


def _executed_below(
    rt: Runtime, spec: QuerySpec[Any], keys: Sequence[Key], executed: set[Memo]
) -> list[Memo]:
    """The memos of ``keys`` and every memo below them that executed in this
    process's runtime (the journal since it opened), readers after their reads."""
    table = rt._engine.tables[spec]
    order: list[Memo] = []
    seen: set[Memo] = set()
    stack = [memo for key in keys if (memo := table.get(key)) is not None]
    while stack:  # depth-first; the order only groups reads before readers loosely
        memo = stack.pop()
        if memo in seen or memo not in executed:
            continue
        seen.add(memo)
        order.append(memo)
        stack.extend(dep for dep in memo.deps if type(dep) is Memo)
    order.reverse()
    return order


def _rows(rt: Runtime, memos: Iterable[Memo]) -> list[tuple[bytes, bytes]]:
    """Each memo's sealed row, as the runtime's commit would write it, by memo id;
    memos a commit would not store are left out (the coordinator computes them)."""
    persistence = rt._persistence
    assert persistence is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unstorable value: the coordinator warns at commit
        shipped = [persistence.row_to_ship(memo) for memo in memos]
    return [row for row in shipped if row is not None]
