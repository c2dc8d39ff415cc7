"""What a run touched and what each memo read, named: the edges behind the
execution events, for tools.

The execution events (``QueryExecuting``, ``QueryVerified``, ``QueryChanged``,
docs/events.md) name each query a computation touched, but not what each one
read. An event per read would put work on every read, the path that must stay
a few dict lookups; so a tool that wants the edges (``sofrito inspect --why``)
asks afterwards, once: ``run_graph(rt, start, executed)``.

**Found by the memos' own marks, not by refs.** A memo the run touched was
verified or executed after the revision the run began at (``verified_at >
start``); one that a write of the run reached carries a later dirty mark
(``dirty_at > start``); one whose value moved, a later ``changed_at``. Those
are int compares on the memo, where a ``QueryRef`` hashes in Python (a
dataclass). A template edit on the example site touches 40,000 memos, of
which 30,000 were loaded and verified clean, on no chain from a change:
picked by their refs (from the ``QueryVerified`` events, then looked for in
the tables), the record hashed 470,000 refs to drop them. Only an execution
that none of the marks shows (one that computed an equal value while no
write reached it: an evicted value computed again) has to be looked for by
its ref, and only when the marks did not find every execution.

The graph is numbered by node object (an identity hash, in C), and a node is
named once, when it is picked: by the ref its events cached on it
(``Memo.ref_cache``), so no key is encoded again. A memo verified from its
stored row without walking its reads (loaded on demand, valid by a shallow
check) still has them as stored ids: its query reads are matched by ref, and
its input reads are left out (their ``changed_at`` is unknown): such a memo
read nothing that changed.

Rejected: a record the engine keeps of each run's executions (the journal
holds persisted memos only, and is the commit's): the events already say what
executed, and an engine keeps no record that no one asked for. It keeps two
counts (``Engine.executions``, ``Engine.executions_traced``), which a first
build reads instead of listening (``first_build``, ``executions``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from sofrito._engine.listing import is_listing
from sofrito._engine.memo import NEVER, Cell, Memo
from sofrito._engine.refs import cell_ref, memo_ref
from sofrito._events.kinds import QueryRef
from sofrito._keys import encode_key, key_hash
from sofrito._on_demand import StoreBacking
from sofrito._snapshot import QUERY

if TYPE_CHECKING:
    from sofrito._engine.spec import QuerySpec
    from sofrito._runtime import Runtime

__all__ = [
    "Named",
    "RunGraph",
    "computed",
    "executions",
    "first_build",
    "listing_ref",
    "node_at",
    "run_graph",
]

What = Literal["query", "input", "listing"]


@dataclass(frozen=True, slots=True)
class Named:
    """A node of a run's graph: a query, an input cell, or an input's key listing."""

    what: What
    ref: QueryRef


class RunGraph(NamedTuple):
    """``run_graph``'s answer: the nodes, numbered by position, and the edges."""

    nodes: list[Named]
    executed: list[bool]
    """Per node: whether it is one of the ``executed`` asked about (inputs never)."""
    edges: set[tuple[int, int]]
    """(read, reader), indexes into ``nodes``."""
    numbered: dict[Memo | Cell, int]
    """Each node's index, by the memo or cell it is (``node_at``)."""


_NOT_PICKED: Final = (None, False)


def listing_ref(kind: str) -> QueryRef:
    """The name of input ``kind``'s key listing (what ``kind.keys(db)`` and
    ``sf.fs.glob`` read), shown as ``kind.keys()``; its key has no bytes."""
    return QueryRef(kind, key_hash(b""), b"", display=f"{kind}.keys()")


def run_graph(rt: Runtime, start: int, executed: Collection[QueryRef]) -> RunGraph:
    """The memos that executed after revision ``start`` (``executed``, named by the
    events) or that a write after it reached and the run verified, the inputs
    changed after it that they read, and each of those memos' reads among them.

    Numbered as readers in that order (the executed first, in table order), each
    followed by its reads not numbered yet. A node whose key has no canonical
    encoding cannot be named, and is left out.
    """
    memos_ran, memos_verified = _touched(rt, start, executed)
    picked: dict[Memo, tuple[QueryRef, bool]] = {memo: (ref, True) for memo, ref in memos_ran}
    picked.update((memo, (ref, False)) for memo, ref in memos_verified)
    graph = RunGraph([], [], set(), {})
    number = graph.numbered
    by_ref: dict[QueryRef, Memo] = {}  # for stored reads: made when one is met
    for memo, (ref, ran) in picked.items():
        at = _number(graph, number, memo, "query", ref, ran)
        if memo.stored_deps is not None:
            if not by_ref:
                by_ref = {ref: memo for memo, (ref, _) in picked.items()}
            reads: Iterator[Memo | Cell] = _stored_reads(memo, by_ref)
        else:
            reads = iter(memo.deps)
        for read in reads:
            if type(read) is Cell:
                if read.changed_at <= start:
                    continue  # an input the run did not change
                read_at = number.get(read)
                if read_at is None:
                    read_at = _number_cell(graph, number, read)
                    if read_at is None:
                        continue
            else:
                assert type(read) is Memo
                read_ref, read_ran = picked.get(read, _NOT_PICKED)
                if read_ref is None:
                    # not touched in the run, or verified clean: nothing changed
                    # below it, and it lies on no chain from a change (a template
                    # edit verifies four such reads per page)
                    continue
                read_at = _number(graph, number, read, "query", read_ref, read_ran)
            graph.edges.add((read_at, at))
    return graph


def node_at(rt: Runtime, graph: RunGraph, spec: QuerySpec[Any], key: tuple[Any, ...]) -> int | None:
    """The node of the call ``spec(*key)`` in ``graph``, if it is one: found by its
    memo (a dict lookup by key value, no key encoded), and confirmed by the key's
    bytes when the memo holds another key object (``1`` and ``True`` are one
    memo's keys, and two names)."""
    table = rt._engine.tables.get(spec)
    try:
        memo = None if table is None else table.get(key)
    except TypeError:  # an unhashable key: not a memo's
        return None
    at = None if memo is None else graph.numbered.get(memo)
    if at is None or memo is None or memo.key is key:
        return at
    try:
        return at if encode_key(key) == graph.nodes[at].ref.key else None
    except TypeError:
        return None


def _touched(
    rt: Runtime, start: int, executed: Collection[QueryRef]
) -> tuple[list[tuple[Memo, QueryRef]], list[tuple[Memo, QueryRef]]]:
    """The memos the run touched, named: those that executed, and those verified
    that a write reached (module docstring), each in table order."""
    ran: list[tuple[Memo, QueryRef]] = []
    verified: list[tuple[Memo, QueryRef]] = []
    tables = list(rt._engine.tables.values())
    for table in tables:
        for memo in list(table.values()):
            if memo.verified_at <= start:
                continue  # not touched by the run
            if memo.dirty_at <= start and memo.changed_at <= start:
                continue  # verified clean, or (rarely) executed to an equal value: below
            ref = _name(memo)
            if ref is not None:
                (ran if ref in executed else verified).append((memo, ref))
    if len(ran) < len(executed):  # an execution that no mark shows
        for table in tables:
            for memo in list(table.values()):
                if memo.verified_at > start and memo.dirty_at <= start and memo.changed_at <= start:
                    ref = _name(memo)
                    if ref is not None and ref in executed:
                        ran.append((memo, ref))
    return ran, verified


def _name(memo: Memo) -> QueryRef | None:
    try:
        return memo_ref(memo)  # the ref cached by its events, as a rule
    except TypeError:  # a key with no canonical encoding: it has no name to give
        return None


def _number(
    graph: RunGraph,
    number: dict[Memo | Cell, int],
    node: Memo | Cell,
    what: What,
    ref: QueryRef,
    ran: bool,
) -> int:
    at = number.get(node)
    if at is None:
        at = number[node] = len(graph.nodes)
        graph.nodes.append(Named(what, ref))
        graph.executed.append(ran)
    return at


def _number_cell(graph: RunGraph, number: dict[Memo | Cell, int], cell: Cell) -> int | None:
    try:
        if is_listing(cell):
            return _number(graph, number, cell, "listing", listing_ref(cell.input.name), False)
        return _number(graph, number, cell, "input", cell_ref(cell), False)
    except TypeError:  # a key with no canonical encoding
        return None


def _stored_reads(memo: Memo, by_ref: dict[QueryRef, Memo]) -> Iterator[Memo | Cell]:
    """A memo's query reads, from the ids of its stored row (module docstring)."""
    for kind, name, key in memo.stored_deps or ():
        if kind == QUERY:
            read = by_ref.get(QueryRef(name, key_hash(key), key))
            if read is not None:
                yield read


def first_build(rt: Runtime) -> bool:
    """Whether ``rt`` holds no memo and its store holds none either: every query it
    executes from here on does so for the first time (``QueryExecuting.first``),
    so a run need not be told which (``sofrito.cli.lastrun.FirstBuild``)."""
    engine = rt._engine
    if any(engine.tables_by_index):  # a table holding a memo (an unused one is empty)
        return False
    backing = engine.backing
    return not isinstance(backing, StoreBacking) or backing.memos_gone or not backing.queries


def executions(rt: Runtime) -> tuple[int, int]:
    """The executions ``rt`` began so far, and how many of them a trace answered."""
    engine = rt._engine
    return engine.executions, engine.executions_traced


def computed(rt: Runtime, spec: QuerySpec[Any], key: tuple[Any, ...]) -> bool:
    """Whether ``rt`` holds the memo of ``spec(*key)`` and computed it (a value or
    an error), in this process or before."""
    table = rt._engine.tables.get(spec)
    memo = table.get(key) if table is not None else None
    return memo is not None and memo.verified_at != NEVER
