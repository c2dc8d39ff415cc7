"""Property tests: the runtime agrees with a from-scratch oracle and does no needless work.

Random graphs (``tests/strategies.py``) of input cells in three families
(volatile, stable, static; plain and multi-part keys; a fourth with a
locator) and derived nodes that
read inputs and earlier nodes in a random order, with bodies that lose
information (mod, div, min, max, const), read conditionally (the dependency
set changes between executions), fail (cached user errors) or catch failures.
Random edits: set to a new value, set to an equal value (an equal object of
another type, so ``==`` is what counts), change the durability only, remove
and set again, several writes in one batch; interleaved with reads of random
nodes in random order and ``clear_cache()``.

Every node is one query, ``node(db, index)``, whose body looks up its
description in the graph held by a static input cell and logs each
execution: its revision, what it read in order, and how it ended.

After every read (DESIGN §1, "Validation" and "Errors"):

1. the value, the user error or the suspension (naming the missing cell)
   equals the oracle's;
2. the read executed only nodes that the oracle's evaluation of the target
   enters (deep verify walks dependencies in read order and stops at the
   first change, so nothing off the current path runs);
3. every node that executed and had executed before had a reason to: one of
   the things its previous completed execution read changed after that
   execution, *before* this one started. An input changed when an effective
   write hit it; a derived node changed when one of its executions produced a
   value different from its previous one, or an error (errors never compare
   equal). In particular (W4): an input changes, a query reading it
   recomputes an equal value, and its dependents execute zero times;
4. no node completes two executions in one revision;
5. a node the evaluation enters that has no memo (first read, or after
   ``clear_cache()``) executes; every node the oracle finished has, as its
   last result in the runtime, the oracle's value;
6. a cached error is re-raised on later reads, with the same type, without
   executing anything and without its traceback growing;
7. ``rt.poll`` reports as ``changed_at`` the revision of the last execution
   whose value differed from the one before (backdating keeps it).

After every edit: ``rt.revision`` moved by exactly one per effective write or
batch and not at all for a no-op, and every cell reads back (``rt.get``) as
the model says, keeping the old value object when the write was a no-op.

With ``suspense`` (DESIGN §2), some nodes read their cells through
``sf.state`` (a pending or failed cell is a value to them, not a
suspension), writes also resolve cells to errors (``rt.resolve_error``) or
put them back to pending (``rt.invalidate``), and some cells have a locator
that finds what the example has "published" for them. The model predicts
every call of that locator: a read (tracked, untracked, or a verification
that walks past the cell) that finds the cell pending asks it, at most once
per revision; a value resolves the cell on the spot, unless a query saw it
loading, and then it is one write when the top-level call ends. The calls
made must be exactly the calls predicted, and the read's result is the
oracle's as of before that write; ``rt.pending()`` lists every cell read
while pending that is still pending. A query that read a pending cell, or read
a memo that did, must be verified in every revision, whatever cut revisions
say (``_engine/frontier.py``); a stale one shows as a locator not asked.

With ``lru=2`` on every node, checks 1, 2, 5 and 6 still hold; 3, 4 and 7 do
not apply (an evicted value is recomputed on demand, and compared with
nothing). For check 5, a re-execution that read exactly what the one before
it read restores an evicted memo, and is no change even when it raises a new
error object, as ``_engine/lru.py`` promises.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings

import sofrito as sf
from sofrito._engine.memo import CellStatus
from tests.oracle import Evaluation, Failure, Graph, Missing, Node, Ref, Value, apply
from tests.strategies import GATHER_OPS, LOCATED, Scenario, Step, scenarios

ERROR_OPS = ("fail", "fail", "catch", "catch", "mod", "cond", "sum")

volatile_cells = sf.Input("prop.volatile")
stable_cells = sf.Input("prop.stable", durability=sf.Durability.STABLE)
static_cells = sf.Input("prop.static", durability=sf.Durability.STATIC)


def _locate(cell: int) -> Any:
    """The locator of ``located_cells``: what the example's "remote" holds for the cell."""
    world.asks.append((cell, world.runtime.revision))
    return world.remote.get(cell, sf.PENDING)


located_cells = sf.Input("prop.located", locator=_locate)
graph_cell = sf.Input("prop.graph", durability=sf.Durability.STATIC)
"""The current example's graph: every body reads it (it never changes)."""


def examples(n: int) -> settings:
    """``n`` examples (times ``SOFRITO_PROP_SCALE``, for a longer hunt), no deadline."""
    scale = float(os.environ.get("SOFRITO_PROP_SCALE", "1"))
    return settings(
        max_examples=max(1, int(n * scale)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def cell_ref(graph: Graph, cell: int) -> sf.InputRef:
    family = graph.families[cell]
    if family == 0:
        return volatile_cells[cell]
    if family == 1:
        return stable_cells[cell, "s"]
    if family == LOCATED:
        return located_cells[cell]
    return static_cells[str(cell)]


FAMILY_INPUTS = (volatile_cells, stable_cells, static_cells, located_cells)
"""By family number (``tests.strategies.FAMILIES``)."""


def read_keys(db: Any, family: int) -> tuple[int, ...]:
    """``input.keys(db)`` of ``family``, as cell numbers (each family keys cells its own way)."""
    listed = FAMILY_INPUTS[family].keys(db)
    return tuple(sorted(int(key[0]) for key in listed))


def read_cell(db: Any, graph: Graph, cell: int) -> Value:
    family = graph.families[cell]
    if family == 0:
        return volatile_cells(db, cell)  # type: ignore[no-any-return]
    if family == 1:
        return stable_cells(db, cell, "s")  # type: ignore[no-any-return]
    if family == LOCATED:
        return located_cells(db, cell)  # type: ignore[no-any-return]
    return static_cells(db, str(cell))  # type: ignore[no-any-return]


# -- the execution log ---------------------------------------------------------


class Raised:
    """The outcome of an execution that raised ``Failure``: never equal to another."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"Raised({self.error!r})"


@dataclass
class Execution:
    node: int
    revision: int
    epoch: int
    """Bumped by ``clear_cache()``: executions of an older epoch have no memo."""
    start: int
    reads: list[tuple[Ref, object]] = field(default_factory=list)
    end: int | None = None
    """Sequence number at completion; None: it did not complete (suspended)."""
    outcome: object = None


class World:
    """The example being run: its graph, runtime, and every execution so far."""

    def __init__(self, reader: Callable[..., Any], *, restores: bool = False) -> None:
        self.graph = Graph((), ())
        self.runtime = sf.Runtime()
        self.reader = reader
        self.restores = restores
        """Queries have ``lru=``: a re-execution may restore an evicted memo."""
        self.log: list[Execution] = []
        self.epoch = 0
        self._seq = 0
        self.remote: dict[int, Value] = {}
        """What the locator of ``located_cells`` finds: a value, or PENDING if absent."""
        self.asks: list[tuple[int, int]] = []
        """Every call of that locator: the cell, and the revision it was asked in."""

    def reset(self, graph: Graph, reader: Callable[..., Any], *, restores: bool = False) -> None:
        self.__init__(reader, restores=restores)  # type: ignore[misc]
        self.graph = graph

    def tick(self) -> int:
        self._seq += 1
        return self._seq

    def completed(self, index: int, before: int | None = None) -> list[Execution]:
        """Completed executions of ``index`` in this epoch, ended before seq ``before``."""
        return [
            ex
            for ex in self.log
            if ex.node == index
            and ex.epoch == self.epoch
            and ex.end is not None
            and (before is None or ex.end < before)
        ]

    def changed_at(self, ref: Ref, model: Model, before: int) -> int:
        """The revision at which ``ref`` last changed, by DESIGN §1's rules, as
        known before sequence number ``before``."""
        kind, index = ref
        if kind == "i":
            return model.changed_at.get(index, 0)
        if kind == "k":  # a family's listing: only an add or a remove changes it
            return model.listing_changed_at.get(index, 0)
        runs = self.completed(index, before)
        for at in range(len(runs) - 1, -1, -1):
            if at == 0 or self._changed(runs[at - 1], runs[at]):
                return runs[at].revision
        return -1

    def _changed(self, before: Execution, after: Execution) -> bool:
        if _same(before.outcome, after.outcome):
            return False
        # With lru=, re-executing an evicted memo that read exactly what it read
        # before restores it: no change, even for an error that is a new object
        # (queries are pure; lru.py). A re-execution after a change that was
        # undone (A, B, A) reads the same too, and is a change for sofrito; the
        # model then expects less of the dependents, never more.
        return not (self.restores and _same_reads(before.reads, after.reads))


def _same(old: object, new: object) -> bool:
    return old is new or (not isinstance(old, Raised) and old == new)


def _same_reads(old: list[tuple[Ref, object]], new: list[tuple[Ref, object]]) -> bool:
    return len(old) == len(new) and all(
        ref_a == ref_b and _same_read(a, b) for (ref_a, a), (ref_b, b) in zip(old, new, strict=True)
    )


def _same_read(old: object, new: object) -> bool:
    if isinstance(old, Raised) and isinstance(new, Raised):
        return old.error is new.error  # the same cached error, re-raised
    return _same(old, new)


def _body(db: Any, index: int, reader: Callable[..., Any]) -> Value:
    graph: Graph = graph_cell(db)
    execution = Execution(index, db.runtime.revision, world.epoch, world.tick())
    world.log.append(execution)

    def read(ref: Ref) -> Value:
        kind, position = ref
        try:
            value = read_cell(db, graph, position) if kind == "i" else reader(db, position)
        except Failure as exc:
            execution.reads.append((ref, Raised(exc)))
            raise
        execution.reads.append((ref, value))
        return value  # type: ignore[no-any-return]

    def peek(cell: int) -> Value | Failure | None:
        state = sf.state(db, cell_ref(graph, cell))
        seen = (
            state.value
            if isinstance(state, sf.Ready)
            else state.error
            if isinstance(state, sf.Failed)
            else None
        )
        execution.reads.append((("i", cell), seen))
        return seen  # type: ignore[no-any-return]

    def keys(family: int) -> tuple[int, ...]:
        cells = read_keys(db, family)
        execution.reads.append((("k", family), cells))
        return cells

    def gather(refs: tuple[Ref, ...]) -> list[Value]:
        try:
            found: list[Value] = sf.gather(db, reader, [(position,) for _, position in refs])
        except Failure as exc:  # the loop's reads: up to the first key that failed
            for ref in refs:
                last = world.completed(ref[1])[-1].outcome
                execution.reads.append((ref, last))
                if isinstance(last, Raised):
                    break
            raise exc from None
        execution.reads.extend(zip(refs, found, strict=True))
        return found

    try:
        outcome = apply(graph.nodes[index], read, peek, keys, gather)
    except Failure as exc:
        execution.outcome, execution.end = Raised(exc), world.tick()
        raise
    execution.outcome, execution.end = outcome, world.tick()
    return outcome


@sf.query(name="prop.node")
def node(db: Any, index: int) -> Value:
    return _body(db, index, node)


@sf.query(name="prop.node_lru", lru=2)
def node_lru(db: Any, index: int) -> Value:
    return _body(db, index, node_lru)


world = World(node)


# -- the model of the inputs ---------------------------------------------------


@dataclass
class Model:
    values: dict[int, Value | Failure] = field(default_factory=dict)
    """A cell's value or error; a pending cell has no entry."""
    durability: dict[int, int] = field(default_factory=dict)
    changed_at: dict[int, int] = field(default_factory=dict)
    # What DESIGN §2 says a runtime does with a locator (see Harness.locate):
    asked_at: dict[int, int] = field(default_factory=dict)
    """A pending located cell whose locator was asked: the revision (once per revision)."""
    seen_loading: set[int] = field(default_factory=set)
    """Pending cells a query read through ``sf.state``: a locator's value for
    them must come as a write, or that query would stay stale."""
    deferred: dict[int, Value] = field(default_factory=dict)
    """Locator values for such cells, written when the top-level call ends."""
    asks: list[tuple[int, int]] = field(default_factory=list)
    """The locator calls the runtime must make, in order (``World.asks``)."""
    read_pending: set[int] = field(default_factory=set)
    """Cells read while pending since they last had a value: ``rt.pending()`` lists them."""
    listed: set[int] = field(default_factory=set)
    """Cells an effective write gave a value or error, not taken back since: the listing."""
    listing_changed_at: dict[int, int] = field(default_factory=dict)
    """By family: the revision of the last write that added a key to its listing or
    removed one. A value edit leaves it: a "keys" node must not re-execute for one."""

    def forget_locator(self, cell: int) -> None:
        """A write to ``cell`` starts its locator's story afresh."""
        self.asked_at.pop(cell, None)
        self.seen_loading.discard(cell)
        self.read_pending.discard(cell)


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (Failure, sf.Suspend) as exc:
        return exc


def _traceback_length(error: BaseException) -> int:
    length, tb = 0, error.__traceback__
    while tb is not None:
        length, tb = length + 1, tb.tb_next
    return length


class Harness:
    """Runs one scenario against a fresh runtime and checks every step."""

    def __init__(self, graph: Graph, *, lru: bool = False) -> None:
        world.reset(graph, node_lru if lru else node, restores=lru)
        self.graph = graph
        self.strict = not lru
        self.rt = world.runtime
        self.model = Model()
        self.completions: dict[tuple[int, int, int], int] = {}
        self.rt.set(graph_cell, graph)

    # -- edits ---------------------------------------------------------------

    def start(self, first: list[Value | None]) -> None:
        self.edit(("batch", [("set", k, v, None) for k, v in enumerate(first) if v is not None]))

    def edit(self, step: Step) -> None:
        rt = self.rt
        before = rt.revision
        if step[0] == "batch":
            effective = False
            with rt.batch():
                for write in step[1]:
                    effective = self._write(write, before + 1) or effective
        else:
            effective = self._write(step, before + 1)
        assert rt.revision == before + effective, (
            f"{step}: revision {before} -> {rt.revision}, expected +{int(effective)} "
            "(one per effective write or batch, none for a no-op)"
        )
        for cell in range(self.graph.inputs):
            if self.graph.families[cell] == LOCATED:
                self._check_located(cell)  # not rt.get: reads are what ask the locator
            else:
                self._check_cell(cell)
        self._check_suspense(f"{step}")

    def _write(self, write: Step, revision: int) -> bool:
        """Apply one write to the runtime and the model; True if it is effective."""
        model, ref = self.model, cell_ref(self.graph, write[1])
        cell = write[1]
        if write[0] in ("remove", "invalidate"):  # back to pending
            effective = cell in model.values
            model.values.pop(cell, None)
            if write[0] == "remove":
                self.rt.remove(ref)
            else:
                self.rt.invalidate(ref)
        elif write[0] == "fail":  # a new error object: never equal to the one before
            error = Failure(f"cell {cell} failed at revision {revision}")
            effective, model.values[cell] = True, error
            self.rt.resolve_error(ref, error)
        else:
            if write[0] == "same":
                durability = write[2]
                old = model.values.get(cell)
                # An equal value of another type: equality, not identity, decides.
                value: Value = (
                    0
                    if old is None or isinstance(old, Failure)
                    else float(old)
                    if type(old) is int
                    else int(old)
                )
            else:
                _, _, value, durability = write
            if durability == "keep":
                durability = model.durability.get(cell, ref.input.durability)
            level = ref.input.durability if durability is None else durability
            effective = (
                cell not in model.values
                or model.values[cell] != value
                or model.durability[cell] != level
            )
            if effective:
                model.values[cell], model.durability[cell] = value, int(level)
            self.rt.set(ref, value, durability=None if durability is None else sf.Durability(level))
        if effective:
            model.changed_at[cell] = revision
            model.forget_locator(cell)
            listed = write[0] not in ("remove", "invalidate")
            if listed != (cell in model.listed):
                (model.listed.add if listed else model.listed.discard)(cell)
                model.listing_changed_at[self.graph.families[cell]] = revision
        return effective

    def _check_cell(self, cell: int) -> None:
        """``rt.get``, which asks a pending cell's locator like any read, agrees with the model."""
        ref, before = cell_ref(self.graph, cell), self.rt.revision
        self.locate(cell, state=False)
        got = _outcome(lambda: self.rt.get(ref))
        self._check_value(cell, got)
        self._check_deferred(before, f"rt.get({ref})")

    def _check_value(self, cell: int, got: object) -> None:
        ref = cell_ref(self.graph, cell)
        if isinstance(got, sf.Suspend):
            assert cell not in self.model.values, (ref, got, self.model.values.get(cell))
            assert got.pending == [ref]
            return
        assert cell in self.model.values, f"{ref}: got {got!r}, expected a suspension"
        want = self.model.values[cell]
        if isinstance(want, Failure):
            assert got is want, f"{ref}: got {got!r}, expected the error {want!r}"
            return
        assert got == want, (ref, got, want)
        assert type(got) is type(want), f"{ref}: a no-op write replaced {want!r} by {got!r}"

    def _check_located(self, cell: int) -> None:
        """The runtime's cell agrees with the model, looked at without asking its
        locator (as ``rt.get`` would): white-box, through the engine's cell table."""
        ref = cell_ref(self.graph, cell)
        found = self.rt._engine.cells.get(located_cells, {}).get(ref.key)
        if found is None or found.status == CellStatus.PENDING:
            assert cell not in self.model.values, (ref, "pending", self.model.values[cell])
            return
        want = self.model.values.get(cell)
        got = found.error if found.status == CellStatus.FAILED else found.value
        assert cell in self.model.values, (ref, got, "expected pending")
        assert got is want or got == want, (ref, got, want)

    def _check_suspense(self, where: str) -> None:
        """The locator was asked exactly when the model says (on a read that
        found the cell pending, at most once per revision), and ``rt.pending()``
        lists every cell read while pending that is pending still (it may list
        more: a cell that went pending while queries read it)."""
        assert world.asks == self.model.asks, (
            f"{where}: the locator was asked {world.asks}, expected {self.model.asks} "
            "(cell, revision)"
        )
        listed = set(self.rt.pending())
        unlisted = [
            cell_ref(self.graph, cell)
            for cell in sorted(self.model.read_pending)
            if cell_ref(self.graph, cell) not in listed
        ]
        assert not unlisted, f"{where}: rt.pending() leaves out {unlisted}, read while pending"

    def clear(self) -> None:
        self.rt.clear_cache()
        world.epoch += 1

    # -- locators (DESIGN §2) ------------------------------------------------

    def locate(self, cell: int, *, state: bool) -> None:
        """What a read of ``cell`` does with its locator, if it has one (``inputs.locate``).

        A pending cell's locator is asked, at most once per revision. A value
        resolves the cell on the spot, as if it had always been there, unless a
        query has seen the cell loading (``state``): then the value is a write,
        made when the top-level call ends (``_check_deferred``).
        """
        model, revision = self.model, self.rt.revision
        if (
            self.graph.families[cell] == LOCATED
            and cell not in model.values
            and cell not in model.deferred
            and model.asked_at.get(cell) != revision
        ):
            model.asks.append((cell, revision))
            model.asked_at[cell] = revision
            if cell in world.remote:
                if cell in model.seen_loading:
                    model.deferred[cell] = world.remote[cell]
                else:
                    model.values[cell], model.changed_at[cell] = world.remote[cell], revision
                    model.durability.setdefault(cell, int(located_cells.durability))
                    model.asked_at.pop(cell)
        if cell not in model.values:
            model.read_pending.add(cell)
            if state:
                model.seen_loading.add(cell)
        else:
            model.read_pending.discard(cell)  # resolved quietly

    def _check_deferred(self, before: int, where: str) -> bool:
        """A top-level call ended: its deferred locator values are one write."""
        model = self.model
        if not model.deferred:
            assert self.rt.revision == before, f"{where}: a read moved the revision"
            return False
        assert self.rt.revision == before + 1, (
            f"{where}: locator values {model.deferred} for cells seen loading must be one "
            f"write: revision {before} -> {self.rt.revision}"
        )
        for cell, value in model.deferred.items():
            model.values[cell], model.changed_at[cell] = value, before + 1
            model.durability.setdefault(cell, int(located_cells.durability))
            model.forget_locator(cell)
        model.deferred.clear()
        return True

    def locator_step(self, step: Step) -> None:
        kind, cell = step[0], step[1]
        if kind == "publish":
            world.remote[cell] = step[2]
        elif kind == "withdraw":
            world.remote.pop(cell, None)
        else:
            self._check_cell(cell)
        self._check_suspense(f"{step}")

    # -- reads ---------------------------------------------------------------

    def read(self, target: int) -> None:
        rt, graph = self.rt, self.graph
        evaluation = Evaluation(
            graph,
            self.model.values,
            lambda k, state: self.locate(k, state=state),
            self.model.listed,
        )
        expected = evaluation.result(target)
        entered = set(evaluation.started)
        had_memo = {ex.node for ex in world.log if ex.epoch == world.epoch}
        revision, first = rt.revision, len(world.log)

        got = _outcome(lambda: world.reader(rt, target))

        where = f"read of node {target} at revision {revision}"
        if isinstance(expected, Missing):
            assert isinstance(got, sf.Suspend), f"{where}: got {got!r}, expected a suspension"
            want = [cell_ref(graph, cell) for cell in expected.cells]
            assert got.pending == want, (where, got.pending, want)
        elif isinstance(expected, Failure):
            assert isinstance(got, Failure), f"{where}: got {got!r}, expected {expected!r}"
        else:
            assert not isinstance(got, BaseException), f"{where}: got {got!r}, not {expected!r}"
            assert got == expected, f"{where}: got {got!r}, expected {expected!r}"
        deferred = dict(self.model.deferred)
        assert rt.revision == revision + bool(deferred), (
            f"{where}: revision {revision} -> {rt.revision}; deferred locator values: {deferred}"
        )

        ran = world.log[first:]
        for execution in ran:
            assert execution.node in entered, (
                f"{where}: node {execution.node} executed, but the evaluation of the target "
                f"does not reach it (it reaches {sorted(entered)})"
            )
        for index in entered - had_memo:
            assert any(ex.node == index for ex in ran), (
                f"{where}: node {index} has no memo, yet did not execute"
            )
        for index, want in evaluation.outcomes.items():
            self._check_up_to_date(index, want, where)
        if self.strict:
            for execution in ran:
                self._check_justified(execution, where)
        written = self._check_deferred(revision, where)
        self._check_suspense(where)
        if written:
            return  # a new revision: the checks below would read (and execute) again
        if self.strict and not isinstance(got, BaseException):
            self._check_changed_at(target, where)
        if isinstance(got, Failure):
            self._check_cached_error(target, where)

    def _check_up_to_date(self, index: int, want: Value | Failure, where: str) -> None:
        """Node ``index`` is on the path of the read: its last result is the oracle's,
        and nothing it read then has changed since (else it had to re-execute)."""
        runs = world.completed(index)
        assert runs, f"{where}: node {index} never completed"
        last = runs[-1]
        if isinstance(want, Failure):
            assert isinstance(last.outcome, Raised), (where, index, last.outcome, want)
        else:
            assert _same(last.outcome, want), (
                f"{where}: node {index} holds {last.outcome!r}, not {want!r}"
            )
        stale = [
            (ref, world.changed_at(ref, self.model, world.tick()))
            for ref, _ in last.reads
            if world.changed_at(ref, self.model, world.tick()) > last.revision
        ]
        assert not stale, (
            f"{where}: node {index} ({self.graph.nodes[index]}) last executed in revision "
            f"{last.revision} and was not re-executed, though what it read changed since "
            f"(ref, changed at): {stale}"
        )

    def _check_changed_at(self, target: int, where: str) -> None:
        """``rt.poll`` reports when the value last changed: backdating keeps it."""
        first = len(world.log)
        polled = self.rt.poll(node, target)
        assert len(world.log) == first, f"{where}: poll right after a read executed a body"
        want = world.changed_at(("q", target), self.model, world.tick())
        assert polled.changed_at == want, (
            f"{where}: changed_at is {polled.changed_at}, expected {want} (the revision of "
            "the last execution whose value differed from the one before)"
        )

    def _check_justified(self, execution: Execution, where: str) -> None:
        index = execution.node
        if execution.end is not None:
            key = (index, execution.revision, execution.epoch)
            self.completions[key] = self.completions.get(key, 0) + 1
            assert self.completions[key] == 1, (
                f"{where}: node {index} executed twice in revision {execution.revision}"
            )
        previous = world.completed(index, before=execution.start)
        if not previous:
            return  # its first execution (since the cache was cleared)
        last = previous[-1]
        reasons = [
            ref
            for ref, _ in last.reads
            if world.changed_at(ref, self.model, execution.start) > last.revision
        ]
        assert reasons, (
            f"{where}: node {index} ({self.graph.nodes[index]}) re-executed, but nothing it "
            f"read in its previous execution (revision {last.revision}: {last.reads}) "
            "changed since"
        )

    def _check_cached_error(self, target: int, where: str) -> None:
        first = len(world.log)
        again = [_outcome(lambda: world.reader(self.rt, target)) for _ in range(3)]
        assert all(isinstance(error, Failure) for error in again), (where, again)
        assert len(world.log) == first, f"{where}: re-reading a cached error executed a body"
        lengths = [_traceback_length(error) for error in again]
        assert len(set(lengths)) == 1, f"{where}: the traceback grows on re-raise: {lengths}"

    # -- a whole scenario ----------------------------------------------------

    def run(self, steps: list[Step]) -> None:
        for step in steps:
            if step[0] == "read":
                for target in step[1]:
                    self.read(target)
            elif step[0] == "clear":
                self.clear()
            elif step[0] in ("publish", "withdraw", "get"):
                self.locator_step(step)
            else:
                self.edit(step)


def run_scenario(scenario: Scenario, *, lru: bool = False) -> None:
    graph, first, steps = scenario
    harness = Harness(graph, lru=lru)
    harness.start(first)
    harness.run(steps)
    # Finally every node, in order: all of them must agree with the oracle.
    harness.run([("read", list(range(len(graph.nodes))))])


@examples(150)
@given(scenarios(max_inputs=4))
def test_runtime_agrees_with_the_oracle_and_does_no_needless_work(scenario: Scenario) -> None:
    run_scenario(scenario)


@examples(100)
@given(scenarios(max_inputs=3, durable=True))
def test_durability_shortcuts_never_hide_a_change(scenario: Scenario) -> None:
    """Stable and static cells whose writes lower, keep or raise their durability."""
    run_scenario(scenario)


@examples(100)
@given(scenarios(max_inputs=3, ops=ERROR_OPS))
def test_cached_errors_are_values_that_never_compare_equal(scenario: Scenario) -> None:
    """Nodes that fail for some inputs, and nodes that propagate or catch the error."""
    run_scenario(scenario)


@examples(100)
@given(scenarios(max_inputs=3, suspense=True))
def test_cells_read_through_state_follow_their_pending_ready_and_failed_states(
    scenario: Scenario,
) -> None:
    """Nodes that read cells through ``sf.state``, never suspending; cells that
    go pending (``remove``, ``invalidate``), resolve to errors and back, or
    are resolved by their locator, quietly or as a write."""
    run_scenario(scenario)


@examples(100)
@given(scenarios(max_inputs=4, durable=True, ops=GATHER_OPS))
def test_nodes_that_gather_agree_with_the_oracle(scenario: Scenario) -> None:
    """Nodes that read earlier nodes through ``sf.gather``: the loop's values,
    errors, dependencies and early cutoff, through edits.

    Every cell keeps a value (``durable``): a gather node that is re-verified
    after one of its keys went pending stops at that key, as the deep walk
    does, where the oracle's evaluation goes on to the later keys (the gap
    is described in docs/suspense.md, "Many cells in one round"). A fresh
    gather's one suspension is tested in tests/test_gather.py.
    """
    run_scenario(scenario)


@examples(100)
@given(scenarios(max_inputs=4, ops=GATHER_OPS))
def test_nodes_that_gather_past_removed_cells_agree_with_the_oracle(scenario: Scenario) -> None:
    """Gather nodes through removals (cells go pending) and ``clear_cache``: a
    gather node re-verified after keys went pending re-executes and names the
    pending cells of every key, as the oracle's evaluation does, and a node
    that does not gather re-executes only when something it read changed."""
    run_scenario(scenario)


@examples(100)
@given(scenarios(max_inputs=4, suspense=True, ops=(*GATHER_OPS, *("state",) * 4)))
def test_nodes_that_gather_with_located_and_failed_cells_agree_with_the_oracle(
    scenario: Scenario,
) -> None:
    """Gather nodes beside cells with a locator, cells resolved to errors and put
    back to pending: the locator calls, values and suspensions are the oracle's."""
    run_scenario(scenario)


@examples(100)
@given(scenarios(max_inputs=4, max_nodes=12, max_steps=20))
def test_tiny_lru_capacity_keeps_values_right(scenario: Scenario) -> None:
    run_scenario(scenario, lru=True)


# -- named scenarios: the same checks, on graphs chosen to hit one rule each --


def _i(k: int) -> Ref:
    return ("i", k)


def _q(k: int) -> Ref:
    return ("q", k)


def _runs_of(index: int) -> int:
    return sum(1 for ex in world.log if ex.node == index)


def test_an_equal_recomputed_value_stops_the_change_w4() -> None:
    graph = Graph(
        (0,),
        (
            Node("mod", (_i(0),), 2),  # 0: parity of the input
            Node("sum", (_q(0),), 0),  # 1
            Node("sum", (_q(1),), 0),  # 2
        ),
    )
    harness = Harness(graph)
    harness.start([1])
    harness.run([("read", [2])])
    harness.run([("set", 0, 3, None), ("read", [2])])  # parity unchanged
    assert (_runs_of(0), _runs_of(1), _runs_of(2)) == (2, 1, 1)
    harness.run([("set", 0, 4, None), ("read", [2])])
    assert (_runs_of(0), _runs_of(1), _runs_of(2)) == (3, 2, 2)


def test_equal_writes_are_no_ops_and_durability_changes_are_writes() -> None:
    graph = Graph((1,), (Node("sum", (_i(0),), 0),))
    harness = Harness(graph)
    harness.start([2])
    harness.run([("read", [0]), ("same", 0, None), ("read", [0])])
    assert _runs_of(0) == 1
    harness.run([("same", 0, 0), ("read", [0])])  # same value, now volatile: a write
    assert _runs_of(0) == 2
    harness.run([("remove", 0), ("remove", 0), ("read", [0]), ("same", 0, None), ("read", [0])])


def test_a_lowered_durability_is_not_hidden_by_an_equal_recomputation() -> None:
    graph = Graph(
        (1,),  # a stable cell
        (
            Node("div", (_i(0),), 5),  # 0
            Node("sum", (_q(0),), 0),  # 1: stable as long as node 0 is
        ),
    )
    harness = Harness(graph)
    harness.start([1])
    harness.run(
        [
            ("read", [1]),
            ("set", 0, 2, 0),  # now volatile; node 0 comes out equal (0)
            ("read", [1]),  # node 1 verified again, now (through node 0) volatile
            ("set", 0, 7, 0),  # a volatile change that changes node 0
            ("read", [1, 0]),
        ]
    )


def test_conditional_reads_switch_dependencies() -> None:
    graph = Graph(
        (0, 0, 0),
        (
            Node("sum", (_i(1),), 0),  # 0
            Node("sum", (_i(2),), 0),  # 1
            Node("cond", (_i(0), _q(0), _q(1)), 4),  # 2: node 0 if input 0 > 4, else node 1
        ),
    )
    harness = Harness(graph)
    harness.start([9, 1, 2])
    harness.run(
        [
            ("read", [2]),
            ("set", 0, 0, None),
            ("set", 1, 5, None),  # node 0 is no longer on the path: it must not run
            ("read", [2]),
        ]
    )
    assert _runs_of(0) == 1
    harness.run([("set", 1, 6, None), ("read", [2])])  # still off the path
    assert (_runs_of(0), _runs_of(2)) == (1, 2)


def test_cached_errors_propagate_and_are_caught_like_the_oracle_says() -> None:
    graph = Graph(
        (0,),
        (
            Node("fail", (_i(0),), 3),  # 0: fails on multiples of 3
            Node("sum", (_q(0),), 0),  # 1: propagates
            Node("catch", (_q(0),), 4),  # 2: 4 instead of the error
            Node("mod", (_q(2),), 2),  # 3
        ),
    )
    harness = Harness(graph)
    harness.start([3])
    harness.run([("read", [1, 2, 3]), ("set", 0, 6, None), ("read", [3, 2, 1])])
    assert _runs_of(3) == 1  # 4 both times: node 3 does not run again
    harness.run([("set", 0, 5, None), ("read", [1, 2, 3, 0])])


def test_clear_cache_recomputes_everything_once() -> None:
    graph = Graph(
        (0, 2),
        (
            Node("sum", (_i(0), _i(1)), 0),
            Node("mod", (_q(0), _i(1)), 3),
            Node("max", (_q(1), _q(0)), 0),
        ),
    )
    harness = Harness(graph)
    harness.start([1, 2])
    harness.run([("read", [2]), ("clear",), ("read", [2])])
    assert [_runs_of(index) for index in range(3)] == [2, 2, 2]


def test_readers_of_a_memo_that_now_reads_a_pending_cell_keep_asking_its_locator() -> None:
    graph = Graph(
        (LOCATED, 0),  # cell 0 has a locator; cell 1 is read by nobody
        (
            Node("state", (_i(0),), 3),  # 0: cell 0 modulo 3, or 3 (so 0) while it is pending
            Node("sum", (_q(0),), 0),  # 1
            Node("sum", (_q(0),), 0),  # 2
        ),
    )
    harness = Harness(graph)
    harness.start([0, 0])
    harness.run(
        [
            ("read", [1, 2]),
            ("invalidate", 0),  # node 0 comes out equal, and now reads a pending cell
            ("read", [1]),  # node 0 re-executes here, so node 2 finds the write's change stopped
            ("read", [2]),  # but it must still be verified in every revision
            ("publish", 0, 5),
            ("set", 1, 1, None),  # a new revision: the next read asks the locator again
            ("read", [2]),  # it finds 5: a write, made when this read ends
            ("read", [2, 1]),
        ]
    )
    assert world.asks == [(0, 3), (0, 4)]  # revisions: the graph, the start, invalidate, set
    assert (_runs_of(0), _runs_of(2)) == (3, 2)


def test_a_listing_reader_re_executes_on_an_added_or_removed_key_not_on_a_value_edit() -> None:
    graph = Graph(
        (0, 0, 1),
        (
            Node("keys", (), 0),  # 0: the volatile family's listing
            Node("sum", (_q(0), _i(2)), 0),  # 1
        ),
    )
    harness = Harness(graph)
    harness.start([1, None, 3])
    harness.run([("read", [1]), ("set", 0, 5, None), ("set", 0, 6, 1), ("read", [1])])
    assert _runs_of(0) == 1  # value and durability edits: the listing is the same
    harness.run([("set", 1, 2, None), ("read", [1])])  # cell 1 added
    harness.run([("remove", 0), ("read", [1]), ("set", 1, 9, None), ("read", [1])])
    assert _runs_of(0) == 3
