"""What the last run did, kept in the store for ``sofrito inspect --why``.

A run listens to its runtime while it computes (``RunListener``: after the
scan's writes, before the commit's, so that the writes report nothing), and
reads the engine's execution events: ``QueryExecuting``, ``QueryChanged``,
``QueryTraced`` (docs/events.md). They give the summary's ``executed`` (the
queries whose bodies ran, each once: an execution a shared trace answered is
not one) and each executed query's outcome: executed (its value changed), new
(a first computation) or cut off early (executed to an equal value). A query
the run touched without executing it was verified.

``build`` turns them into a ``LastRun`` record: the input changes of the run
(a cell or a key listing whose ``changed_at`` is in the run), the queries that
lie on a dependency path from one of them to the render of an output that
executed, their outcomes, and the edges among them (asked from the runtime
once, ``sofrito._introspect.run_graph``, since events carry no edges). Nothing
else: a query that no change reached, or that leads to no output re-rendered,
cannot answer "why did this output re-render". The record is bounded
(``MAX_NODES``); past the bound it keeps the changed inputs and the outputs,
and says how many queries it left out.

**Where it is kept.** In the runtime's own input cell ``sofrito.run.last``
(``LAST_RUN``), set in the batch that ends the run, so it is committed with
the boundary it describes, in the same transaction, on every store, with no
change to the store protocol. A cell no query reads invalidates nothing, and
a run whose record equals the previous one (two no-op runs) writes nothing.
The record is plain data (tuples, str, int, bytes), which both value codecs
store. The engine keeps no such record itself: only a run that listens does.

**Its cost.** The ``QueryVerified`` events are not wanted: on a template edit
of 10,000 pages they name 30,000 memos loaded and verified clean, none on a
chain, and the record hashed each ref three or four times to drop them. The
verified memos on a chain are found by their marks instead (``run_graph``),
the graph is numbered by node object, and the renders that executed are
found through their memos in it (``_Renders.in_graph``: no key decoded or
encoded), once for the record and the summary. The run's receiver leaves
``QueryVerified`` out (``subscribe_events(verified=False)``), so unless
``--events`` also listens, none is built: naming 30,000 memos, publishing
and draining them was 3-4% of that edit in a profile (docs/benchmarks.md).

**A first build listens to nothing** (``FirstBuild``). When the runtime holds no
memo and its store none (``sofrito._introspect.first_build``), every query the
run executes does so for the first time, the record keeps only the outputs
(all of them new), and the summary needs a count: the engine's own
(``Engine.executions``, less what traces answered). Listening cost the first
build of the example's 10,000 pages about 0.4 s: 60,000 executions, each
named by its encoded key and published twice (``QueryExecuting``,
``QueryChanged``), then read back. A count is what the summary printed
anyway; it counts an execution each time it begins, where the events count a
query once, so the two differ only for a query executed twice in one build
(an ``lru`` query evicted and asked again).

**Failed outputs.** The record also keeps each output whose render failed in
the run, with its error's line (``LastRun.failed``): a failure is not an
event the record could find, and a failed render that was not executed again
(a watch's session keeps the error) left an output that was never written
and is in no record, which ``inspect --why`` took for a name the flow does
not have.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import sofrito as sf
from sofrito._engine.spec import QuerySpec
from sofrito._introspect import (
    RunGraph,
    computed,
    executions,
    first_build,
    listing_ref,
    node_at,
    run_graph,
)
from sofrito._keys import decode_key, encode_key, key_hash
from sofrito._queries import spec_of
from sofrito.fs import Output

__all__ = [
    "LAST_RUN",
    "MAX_NODES",
    "FirstBuild",
    "LastRun",
    "Node",
    "RunFacts",
    "RunListener",
    "build",
    "listen",
    "reach",
    "renders_of",
]

LAST_RUN = sf.Input("sofrito.run.last")
"""The record of the last run that listened (``LastRun.to_value``)."""

MAX_NODES: Final = 50_000
"""The most queries and inputs a record keeps (a template edit on 10,000 pages
keeps about 10,000: the template, its closure and each render)."""

CAPACITY: Final = 1 << 21
"""Events a run's receiver holds unread; a run that outgrows it is recorded as
incomplete (``LastRun.lost``), never stalled."""

EXECUTED, NEW, CUT_OFF, VERIFIED, CHANGED = "executed", "new", "cut off", "verified", "changed"
"""A node's outcome in the run: the first four for queries, ``changed`` for inputs."""

_VERSION: Final = 2
"""2: ``failed`` added. A record of another version is not read (``inspect`` says
to run again)."""


@dataclass
class RunFacts:
    """What the events of one run said, query by query."""

    start: int
    """The revision before the run's scan: a change after it is the run's."""
    executed: dict[sf.QueryRef, bool] = field(default_factory=dict)
    """Each query that executed (once, however often), and whether it was its first."""
    changed: set[sf.QueryRef] = field(default_factory=set)
    traced: set[sf.QueryRef] = field(default_factory=set)
    """Executions a shared trace answered (``QueryTraced``): their bodies did not run."""
    lost: int = 0
    """Events the receiver dropped (``sf.Lagged``): the facts are incomplete."""
    first_build: bool = False
    """Every execution was a first one, counted, not listened to (``FirstBuild``):
    ``executed``, ``changed`` and ``traced`` stay empty."""
    counted: int = 0
    """In a first build, the bodies run (executions less those a trace answered)."""

    @property
    def bodies_run(self) -> int:
        """The queries whose bodies ran: executed, less those a trace answered."""
        if self.first_build:
            return self.counted
        return len(self.executed.keys() - self.traced)

    def outcome(self, ref: sf.QueryRef) -> str:
        """The outcome of a query the run touched: it executed, or was verified."""
        if self.first_build:
            return NEW
        first = self.executed.get(ref)
        if first is not None:
            return NEW if first else EXECUTED if ref in self.changed else CUT_OFF
        return VERIFIED


class RunListener:
    """Receives a runtime's events from now until ``close``, into ``RunFacts``."""

    def __init__(self, rt: sf.Runtime, start: int) -> None:
        """``start``: the revision before the run's writes (its input changes come after)."""
        self.facts = RunFacts(start)
        self.receiver = rt.subscribe_events(capacity=CAPACITY, verified=False)

    def drain(self) -> None:
        """Take in every event held so far."""
        facts, receiver = self.facts, self.receiver
        while True:
            try:
                event = receiver.try_recv()
            except sf.Lagged as lagged:
                facts.lost += lagged.missed
                continue
            if event is None:
                return
            if isinstance(event, sf.QueryExecuting):
                facts.executed.setdefault(event.ref, event.first)
            elif isinstance(event, sf.QueryChanged):
                facts.changed.add(event.ref)
            elif isinstance(event, sf.QueryTraced):
                facts.traced.add(event.ref)

    def close(self) -> RunFacts:
        """Stop listening (the commit's writes are not the run's) and return the facts."""
        self.drain()
        self.receiver.close()
        return self.facts


class FirstBuild:
    """``RunListener``'s stand-in for a first build (module docstring): the
    executions counted from now until ``close``."""

    def __init__(self, rt: sf.Runtime, start: int) -> None:
        self._rt = rt
        self._start = start
        self._before = executions(rt)

    def close(self) -> RunFacts:
        executed, traced = executions(self._rt)
        ran = executed - self._before[0] - (traced - self._before[1])
        return RunFacts(self._start, first_build=True, counted=ran)


def listen(rt: sf.Runtime, start: int) -> RunListener | FirstBuild:
    """What records a run from now on: a count for a first build, else the events."""
    if first_build(rt):
        return FirstBuild(rt, start)
    return RunListener(rt, start)


# -- the record --------------------------------------------------------------------


class Node(NamedTuple):
    """A query or an input in the record: how it is named, and its outcome."""

    what: str  # "query", "input" or "listing"
    ref: sf.QueryRef
    outcome: str


@dataclass(frozen=True)
class LastRun:
    """The record ``inspect --why`` reads (module docstring)."""

    start: int
    end: int
    nodes: tuple[Node, ...] = ()
    edges: tuple[tuple[int, int], ...] = ()
    """(read, reader): indexes into ``nodes``."""
    outputs: Mapping[str, int] = field(default_factory=dict)
    """Each output whose render executed -> its render's index in ``nodes``."""
    changed_inputs: tuple[int, ...] = ()
    dropped: int = 0
    """Queries on the way that the bound left out (``MAX_NODES``)."""
    lost: int = 0
    first_build: bool = False
    """Every query that executed did so for the first time (a cold cache): the
    answer for every output is "new", so no graph is kept (``build``)."""
    failed: Mapping[str, str] = field(default_factory=dict)
    """Each output whose render failed in the run -> the error, as the run printed
    it after the output's name (module docstring, "Failed outputs")."""

    def to_value(self) -> tuple[Any, ...]:
        """Plain data for the input cell: tuples of str, int and bytes."""
        kinds: dict[str, int] = {}
        nodes = tuple(
            (node.what, kinds.setdefault(node.ref.kind, len(kinds)), node.ref.key, node.outcome)
            for node in self.nodes
        )
        return (
            _VERSION,
            self.start,
            self.end,
            tuple(kinds),
            nodes,
            self.edges,
            tuple(sorted(self.outputs.items())),
            self.changed_inputs,
            self.dropped,
            self.lost,
            self.first_build,
            tuple(sorted(self.failed.items())),
        )

    @classmethod
    def from_value(cls, value: Any) -> LastRun | None:
        """The record ``to_value`` made; None for one this version cannot read."""
        if not isinstance(value, tuple) or not value or value[0] != _VERSION:
            return None
        _, start, end, kinds, nodes, edges, outputs, changed, dropped, lost, first, failed = value
        named = tuple(
            Node(what, _ref(what, kinds[kind], key), outcome) for what, kind, key, outcome in nodes
        )
        return cls(
            start, end, named, edges, dict(outputs), changed, dropped, lost, first, dict(failed)
        )


def _ref(what: str, kind: str, key: bytes) -> sf.QueryRef:
    return listing_ref(kind) if what == "listing" else sf.QueryRef(kind, key_hash(key), key)


def renders_of(mapping: Iterable[tuple[str, Any]], main: Any) -> Mapping[str, sf.QueryRef]:
    """Output path -> the query whose execution re-renders it: its ``sf.output``
    reference, or ``main`` for content given inline. Named when first read: a
    run that executed nothing (a no-op) never encodes its 10,000 render keys."""
    return _Renders(list(mapping), main)


class _Renders(Mapping[str, sf.QueryRef]):
    """``renders_of``'s answer, built on first use."""

    def __init__(self, mapping: list[tuple[str, Any]], main: Any) -> None:
        self._mapping = mapping
        self._main = main
        self._refs: dict[str, sf.QueryRef] | None = None
        self._found: tuple[Collection[sf.QueryRef], dict[str, sf.QueryRef]] | None = None
        """The last ``among``: what it was asked, and its answer."""

    def _built(self) -> dict[str, sf.QueryRef]:
        if self._refs is None:
            self._refs = _named(self._mapping, self._main)
        return self._refs

    def __getitem__(self, path: str) -> sf.QueryRef:
        return self._built()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())

    def among(self, executed: Collection[sf.QueryRef]) -> dict[str, sf.QueryRef]:
        """The outputs whose render is one of ``executed``, naming only those: an
        edit of one page executes a few renders of 10,000, and encoding every
        render's key to find them cost more than the rest of the record. An
        executed key is decoded and looked up by value, then confirmed by its
        ref (two keys can be equal values and encode apart: ``1`` and ``True``).

        Asked again for some of the refs asked before (the summary's changed
        renders, after the record's executed ones), the answer is the last one's,
        filtered: each render is found once."""
        last = self._found
        if last is not None and all(ref in last[0] for ref in executed):
            return {path: ref for path, ref in last[1].items() if ref in executed}
        found = self._among(executed)
        self._found = (executed, found)
        return found

    def in_graph(self, rt: sf.Runtime, graph: RunGraph) -> dict[str, int]:
        """Output path -> its render's node in ``graph``, for the renders that
        executed: each found by its memo (``node_at``: no key decoded or encoded
        when the memo holds the output's own key). Kept as the answer of
        ``among`` for the executed nodes' refs, for the summary's question."""
        at_path: dict[str, int] = {}
        specs: dict[Any, QuerySpec[Any] | None] = {}
        main_at = _UNNAMED
        for path, value in self._mapping:
            if not isinstance(value, Output):
                if main_at is _UNNAMED:
                    main_at = node_at(rt, graph, spec_of(self._main), ())
                at = main_at
            else:
                spec = specs.get(value.render, _UNNAMED)
                if spec is _UNNAMED:
                    spec = specs[value.render] = _spec(value.render)
                at = None if spec is None else node_at(rt, graph, spec, value.key)
            if at is not None and graph.executed[at]:
                at_path[path] = at
        executed = {
            named.ref for named, ran in zip(graph.nodes, graph.executed, strict=True) if ran
        }
        self._found = (executed, {path: graph.nodes[at].ref for path, at in at_path.items()})
        return at_path

    def computed(self, rt: sf.Runtime) -> dict[str, sf.QueryRef]:
        """The outputs whose render ``rt`` holds computed (``_introspect.computed``)."""
        named = self._built()
        specs: dict[Any, QuerySpec[Any] | None] = {}
        found: dict[str, sf.QueryRef] = {}
        for path, value in self._mapping:
            render, key = (
                (value.render, value.key) if isinstance(value, Output) else (self._main, ())
            )
            spec = specs.get(render, _UNNAMED)
            if spec is _UNNAMED:
                spec = specs[render] = _spec(render)
            if spec is not None and path in named and computed(rt, spec, key):
                found[path] = named[path]
        return found

    def _among(self, executed: Collection[sf.QueryRef]) -> dict[str, sf.QueryRef]:
        if self._refs is not None or len(executed) > len(self._mapping):  # a cold build
            return {path: ref for path, ref in self._built().items() if ref in executed}
        wanted: dict[tuple[str, tuple[Any, ...]], sf.QueryRef] = {}
        for ref in executed:
            try:
                wanted[ref.kind, decode_key(ref.key)] = ref
            except (ValueError, TypeError):  # a key only its classes decode
                return {path: ref for path, ref in self._built().items() if ref in executed}
        main_ref = sf.QueryRef.of(spec_of(self._main).name, ())
        names: dict[Any, str | None] = {}
        found: dict[str, sf.QueryRef] = {}
        for path, value in self._mapping:
            if not isinstance(value, Output):
                if main_ref in executed:
                    found[path] = main_ref
                continue
            name = names.get(value.render, _UNNAMED)
            if name is _UNNAMED:
                try:
                    name = names[value.render] = spec_of(value.render).name
                except TypeError:
                    name = names[value.render] = None
            try:
                hit = wanted.get((name, value.key)) if name is not None else None
            except TypeError:  # an unhashable key: not a memo's
                continue
            if hit is not None and _encoded(value.key) == hit.key:
                found[path] = hit
        return found


_UNNAMED: Final[Any] = object()


def _spec(render: Any) -> QuerySpec[Any] | None:
    try:
        return spec_of(render)
    except TypeError:  # not a query: no record of it
        return None


def _encoded(key: tuple[Any, ...]) -> bytes | None:
    try:
        return encode_key(key)
    except TypeError:
        return None


def _computed(rt: sf.Runtime, renders: Mapping[str, sf.QueryRef]) -> Mapping[str, sf.QueryRef]:
    """Output path -> render ref, for the outputs whose render ``rt`` computed: in a
    first build, the renders that ran (an interrupted one did not run them all)."""
    if isinstance(renders, _Renders):
        return renders.computed(rt)
    return renders


def rendered(
    renders: Mapping[str, sf.QueryRef], executed: Collection[sf.QueryRef]
) -> dict[str, sf.QueryRef]:
    """Output path -> render ref, for the outputs whose render executed."""
    if isinstance(renders, _Renders):
        return renders.among(executed)
    return {path: ref for path, ref in renders.items() if ref in executed}


def _named(mapping: list[tuple[str, Any]], main: Any) -> dict[str, sf.QueryRef]:
    main_ref = sf.QueryRef.of(spec_of(main).name, ())
    renders = {}
    for path, value in mapping:
        if isinstance(value, Output):
            try:
                renders[path] = sf.QueryRef.of(spec_of(value.render).name, value.key)
            except TypeError:  # not a query, or a key with no name: no record of it
                continue
        else:
            renders[path] = main_ref
    return renders


def build(
    rt: sf.Runtime,
    facts: RunFacts,
    renders: Mapping[str, sf.QueryRef],
    failed: Mapping[str, str] | None = None,
) -> LastRun:
    """The record of a run (``_graph``), with the outputs whose render failed in it."""
    record = _graph(rt, facts, renders)
    return dataclasses.replace(record, failed=dict(failed)) if failed else record


def _graph(rt: sf.Runtime, facts: RunFacts, renders: Mapping[str, sf.QueryRef]) -> LastRun:
    """What lies between the run's input changes and the outputs it re-rendered.

    A first build (every execution a first computation: a cold cache) keeps its
    outputs only: every one of them is new, and the whole graph lies between
    the inputs and the renders, which is no answer worth its cost (a tenth of
    a cold run, measured on the example site).
    """
    if facts.first_build:
        return _first_build(rt, facts, _computed(rt, renders))
    if not facts.executed:  # nothing re-rendered: the renders need no names
        return LastRun(start=facts.start, end=rt.revision, lost=facts.lost)
    if all(facts.executed.values()):
        return _first_build(rt, facts, rendered(renders, facts.executed))
    graph = run_graph(rt, facts.start, facts.executed)
    nodes = [
        Node(
            named.what,
            named.ref,
            facts.outcome(named.ref) if ran else _INPUT_OR_VERIFIED[named.what],
        )
        for named, ran in zip(graph.nodes, graph.executed, strict=True)
    ]
    edges = graph.edges
    targets = _targets(rt, graph, renders, facts)
    changed = [n for n, node in enumerate(nodes) if node.outcome == CHANGED]
    between = _between(changed, set(targets.values()), edges)
    kept = sorted(between | set(targets.values()))
    dropped = 0
    if len(kept) > MAX_NODES:
        essential = sorted({*changed, *targets.values()})
        dropped = len(kept) - len(essential)
        kept = essential[:MAX_NODES]
    index = {n: at for at, n in enumerate(kept)}
    return LastRun(
        start=facts.start,
        end=rt.revision,
        nodes=tuple(nodes[n] for n in kept),
        edges=()
        if dropped
        else tuple(sorted((index[a], index[b]) for a, b in edges if a in index and b in index)),
        outputs={path: index[n] for path, n in targets.items() if n in index},
        changed_inputs=tuple(index[n] for n in changed if n in index),
        dropped=dropped,
        lost=facts.lost,
    )


def _targets(
    rt: sf.Runtime, graph: RunGraph, renders: Mapping[str, sf.QueryRef], facts: RunFacts
) -> dict[str, int]:
    """Output path -> its render's node, for the outputs whose render executed."""
    if isinstance(renders, _Renders):
        return renders.in_graph(rt, graph)
    # Refs hash in Python (a dataclass): only the executed are looked up by ref.
    executed_at = {named.ref: n for n, named in enumerate(graph.nodes) if graph.executed[n]}
    return {
        path: at
        for path, ref in rendered(renders, facts.executed).items()
        if (at := executed_at.get(ref)) is not None
    }


_INPUT_OR_VERIFIED: Final = {"query": VERIFIED, "input": CHANGED, "listing": CHANGED}
"""The outcome of a node that did not execute: an input in the graph changed in
the run (``run_graph``), a query was verified."""


def _first_build(rt: sf.Runtime, facts: RunFacts, named: Mapping[str, sf.QueryRef]) -> LastRun:
    """The record of a first build: the outputs whose render ran (``named``), each new."""
    kept = list(dict.fromkeys(named.values()))[:MAX_NODES]
    index = {ref: n for n, ref in enumerate(kept)}
    return LastRun(
        start=facts.start,
        end=rt.revision,
        nodes=tuple(Node("query", ref, NEW) for ref in kept),
        outputs={path: index[ref] for path, ref in named.items() if ref in index},
        lost=facts.lost,
        first_build=True,
    )


def _between(sources: Iterable[int], targets: set[int], edges: set[tuple[int, int]]) -> set[int]:
    """The nodes on some path from a source to a target (both included)."""
    readers: dict[int, list[int]] = {}
    read: dict[int, list[int]] = {}
    for a, b in edges:
        readers.setdefault(a, []).append(b)
        read.setdefault(b, []).append(a)
    return reach(sources, readers) & reach(targets, read)


def reach(start: Iterable[int], step: Mapping[int, list[int]]) -> set[int]:
    """Every node reachable from ``start`` by ``step`` (``start`` included): the
    record's chains are what lies between changed inputs and a render."""
    seen = set(start)
    todo = list(seen)
    while todo:
        for nxt in step.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
