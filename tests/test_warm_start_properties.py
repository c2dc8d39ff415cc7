"""Property tests of warm start on demand (issue 23): right values, only the rows needed.

Random graphs (``tests/strategies.py``, judged by ``tests/oracle.py``) are
persisted to a real ``SqliteStore`` file, then driven through random
sequences of steps:

- ``("read", [node, ...])``: read nodes; every value, user error or
  suspension must be the from-scratch oracle's;
- ``("set", cell, value, durable)`` and ``("remove", cell)``: writes; a
  durable one is in the store before ``set`` returns;
- ``("commit",)``: a boundary;
- ``("reopen",)``: drop the runtime and open a fresh ``sf.Runtime`` on the
  same file and runtime id. The inputs are then what the store holds: the
  last commit's plus the durable writes made since (the others are lost);
- ``("late", node)``: read ``ws.late``, a query the example defines only
  *after* the runtime opened (it is dropped, so unregistered, at every
  reopen): it must find its stored memos;
- ``("corrupt", memo)``: flip bytes of one stored memo row in the SQLite
  file, with ``sqlite3`` directly, leaving its checksum as it was.

**Values.** With ``on_corrupt="fail"``, every step either does what the
oracle says or raises ``CorruptSnapshot`` naming the damaged row (its memo
id in hex, or its query and key), never a wrong value; the test then puts
the row's bytes back and reopens. With ``on_corrupt="cold"``, a damaged row
is discarded when it is met and recomputed, so every step does what the
oracle says (docs/persistence.md, "On demand").

**Rows loaded** (a ``RecordingStore`` records the ids of every row each step
loads, and of every memo row asked for), per step:

- a *reopen* loads no memo row, input row or edge, except what catching up
  on the inputs persisted after the last commit needs: those cells, and the
  stored transitive readers of them; and the stored transitive readers of
  each memo that a stored row read but that has no row itself (a cached
  error: no edge leads to its readers from what it read, so they must be
  pushed back). Memo by memo: the readers of every memo of a query that has
  one such memo would grow with the cache;
- a *read* of a node loads memo rows only of the nodes the oracle's
  evaluation enters and of their direct dependencies (a verified memo loads
  its dependencies in one round trip, and those stay unverified until walked);
  input rows only of cells those nodes read (and the graph cell, and a whole
  family for a node that lists it); and no edges;
- the exact case: right after a reopen with nothing written since the last
  commit, a memo whose stored row was computed at the committed revision is
  clean: reading it loads exactly its own row (none if it is loaded already)
  and executes nothing. For ``ws.late`` that is "a query defined late finds
  its stored memos". Unless the open pushed it back: a stored reader of a
  cached error verifies, and the error, computed again with no row to compare
  with, counts as changed, so the readers that catch it execute once;
- a *write* loads memo rows only of the stored transitive readers of the
  written cell and of its family's listing (the closure of the edges in the
  file, as of the open and every commit since), and input rows only of that
  cell and its family;
- a *commit* loads no memo or input rows;
- with ``on_corrupt="cold"``, any step that meets the damaged row may also
  load the row's stored transitive readers: it is discarded, and they are
  pushed back to be verified.

Reproducible: ``derandomize=True`` and no example database, so a failure is
the same example on every run. Not shrunk unless ``SOFRITO_WARM_SHRINK=1``:
every step touches a file, and shrinking takes minutes.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import sofrito as sf
from sofrito._codec import Sealer
from sofrito._keys import encode_key
from sofrito._snapshot import decode_memo_row, encode_node_id, memo_id
from sofrito.stores import CorruptSnapshot, SqliteStore
from sofrito.stores._sqlite_edges import unpack_ids
from tests.counting_store import Loads, RecordingStore
from tests.oracle import Evaluation, Failure, Graph, Missing, Node, Ref, Value, apply
from tests.strategies import graphs, initial_values, values

RUNTIME = "warm"
NODE, LATE = "ws.node", "ws.late"

volatile = sf.Input("ws.volatile")
stable = sf.Input("ws.stable", durability=sf.Durability.STABLE)
static = sf.Input("ws.static", durability=sf.Durability.STATIC)
unlisted = sf.Input("ws.unlisted")
FAMILY_INPUTS = (volatile, stable, static, unlisted)
"""By family number (``tests.strategies``). No cell is in family 3 (it has a locator in
the strategies' suspense scenarios, not generated here), but a node may list it."""
graph_cell = sf.Input("ws.graph", durability=sf.Durability.STATIC)
"""The example's graph: every body reads it; committed once, never changed."""

Memo = tuple[str, int]
"""(query name, node index): a memo of ``ws.node`` or ``ws.late``."""
Step = tuple[Any, ...]
Mode = Literal["fail", "cold"]


def cell_key(graph: Graph, cell: int) -> tuple[Any, ...]:
    family = graph.families[cell]
    return (cell, "s") if family == 1 else (str(cell),) if family == 2 else (cell,)


def cell_ref(graph: Graph, cell: int) -> sf.InputRef:
    return FAMILY_INPUTS[graph.families[cell]][cell_key(graph, cell)]


# -- the queries ---------------------------------------------------------------


class Active:
    """The runtime the bodies run in, and every execution since the last look."""

    def __init__(self) -> None:
        self.rt: sf.Runtime | None = None
        self.log: list[list[Any]] = []
        """[query name, index, revision, "value" | "error" | "other"], in start order."""


ACTIVE = Active()


def _logged(name: str, index: int, body: Callable[[], Value]) -> Value:
    assert ACTIVE.rt is not None
    entry: list[Any] = [name, index, ACTIVE.rt.revision, "other"]
    ACTIVE.log.append(entry)
    try:
        value = body()
    except Failure:
        entry[3] = "error"
        raise
    entry[3] = "value"
    return value


def _node_body(db: Any, index: int) -> Value:
    graph: Graph = graph_cell(db)

    def read(ref: Ref) -> Value:
        kind, position = ref
        if kind == "i":
            input_ = FAMILY_INPUTS[graph.families[position]]
            return input_(db, *cell_key(graph, position))  # type: ignore[no-any-return]
        return node(db, position)

    def keys(family: int) -> tuple[int, ...]:
        return tuple(sorted(int(key[0]) for key in FAMILY_INPUTS[family].keys(db)))

    return apply(graph.nodes[index], read, None, keys)


@sf.query(name=NODE)
def node(db: Any, index: int) -> Value:
    return _logged(NODE, index, lambda: _node_body(db, index))


def define_late() -> Callable[..., Any]:
    """``ws.late``, defined anew: the same code, so the same fingerprint, each time."""

    @sf.query(name=LATE)
    def late(db: Any, index: int) -> Value:
        return _logged(LATE, index, lambda: node(db, index) * 2 + 1)

    return late


# -- ids, as the store keys them -----------------------------------------------


def memo_of(memo: Memo) -> bytes:
    return memo_id(memo[0], encode_key((memo[1],)))


def cell_node(graph: Graph, cell: int) -> bytes:
    input_ = FAMILY_INPUTS[graph.families[cell]]
    return b"i" + memo_id(input_.name, encode_key(cell_key(graph, cell)))


def listing_node(graph: Graph, cell: int) -> bytes:
    return b"k" + memo_id(FAMILY_INPUTS[graph.families[cell]].name, b"")


def cell_row(graph: Graph, cell: int) -> tuple[str, bytes]:
    """An input row as ``RecordingStore`` records it: (kind, key bytes)."""
    return FAMILY_INPUTS[graph.families[cell]].name, encode_key(cell_key(graph, cell))


GRAPH_ROW = (graph_cell.name, encode_key(()))


def closure(edges: Iterable[tuple[bytes, bytes]], seeds: Iterable[bytes]) -> set[bytes]:
    """The memo ids of every stored transitive reader of ``seeds`` (node ids)."""
    readers_of: dict[bytes, list[bytes]] = {}
    for dep, reader in edges:
        # The edges table keys a reader by its node id (b"q" + memo id); accept both.
        readers_of.setdefault(dep, []).append(reader[1:] if reader[:1] == b"q" else reader)
    found: set[bytes] = set()
    frontier = list(seeds)
    while frontier:
        for reader in readers_of.get(frontier.pop(), ()):
            if reader not in found:
                found.add(reader)
                frontier.append(b"q" + reader)
    return found


# -- the scenario ----------------------------------------------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Graph, list[Value | None], list[Step]]:
    graph = draw(graphs(max_inputs=4, max_nodes=10))
    first = draw(initial_values(graph))
    n, cells = len(graph.nodes), graph.inputs
    target = st.one_of(st.integers(0, n - 1), st.integers(max(0, n - 3), n - 1))
    memo = st.tuples(st.sampled_from((NODE, NODE, NODE, LATE)), st.integers(0, n - 1))
    read = st.tuples(st.just("read"), st.lists(target, min_size=1, max_size=3))
    one = st.one_of(
        *(read,) * 3,
        st.tuples(st.just("set"), st.integers(0, cells - 1), values(), st.booleans()),
        st.tuples(st.just("set"), st.integers(0, cells - 1), values(), st.just(False)),
        st.tuples(st.just("remove"), st.integers(0, cells - 1)),
        *(st.tuples(st.just("commit")),) * 2,
        *(st.tuples(st.just("reopen")),) * 2,
        st.tuples(st.just("late"), target),
        *(st.tuples(st.just("corrupt"), memo),) * 2,
    )
    return graph, first, draw(st.lists(one, min_size=10, max_size=30))


class Harness:
    """One example: a runtime on a SQLite file, the model of what it holds, the checks."""

    def __init__(self, graph: Graph, folder: Path, mode: Mode) -> None:
        self.graph, self.path, self.mode = graph, folder / "warm.db", mode
        self.values: dict[int, Value] = {}
        """The current input values (a removed or never-set cell has no entry)."""
        self.stored_values: dict[int, Value] = {}
        """What a reopen restores: the last commit's inputs and the durable writes since."""
        self.durable_since_commit: set[int] = set()
        self.committed_at = 0
        """The revision of the last commit."""
        self.since_commit: dict[Memo, int | None] = {}
        """Memos executed since the last commit: the revision of the last execution,
        or None if it did not end with a value (its row is then unknown)."""
        self.stored_at: dict[Memo, int | None] = {}
        """Memos with a stored row: the revision it was computed at (None: unknown)."""
        self.edges: set[tuple[bytes, bytes]] = set()
        """Every edge the file held at this runtime's open and at each commit since."""
        self.corrupted: tuple[Memo, bytes] | None = None
        """The damaged row's memo and its original bytes."""
        self.fresh = False
        """Opened with nothing written since the last commit, and no write since."""
        self.loaded: set[bytes] = set()
        """Memo ids loaded since this runtime opened."""
        self.executed: set[Memo] = set()
        """Memos executed since this runtime opened: in memory, as loaded ones are."""
        self.pushed_back: set[bytes] = set()
        """Memo ids this runtime's open pushed back: the stored transitive readers of
        memos with no row (a cached error is not stored, so its readers verify, and
        re-execute when the error, computed again, counts as changed)."""
        self.late: Callable[..., Any] | None = None
        self.rt: sf.Runtime
        self.store: RecordingStore
        self._open()

    # -- the runtime -----------------------------------------------------------

    def _open(self) -> None:
        self.store = RecordingStore(SqliteStore(self.path))
        self.rt = sf.Runtime(store=self.store, runtime_id=RUNTIME, on_corrupt=self.mode)
        ACTIVE.rt, ACTIVE.log = self.rt, []

    def _drop(self) -> None:
        """Forget the runtime and ``ws.late`` (the registry holds queries weakly)."""
        self.late = None
        self.__dict__.pop("rt", None)  # absent when the last open raised
        ACTIVE.rt = None
        self.store.close()
        gc.collect()

    def start(self, first: list[Value | None]) -> None:
        self.rt.set(graph_cell, self.graph)
        with self.rt.batch():
            for cell, value in enumerate(first):
                if value is not None:
                    self.rt.set(cell_ref(self.graph, cell), value)
                    self.values[cell] = value
        for index in range(len(self.graph.nodes)):
            self.read(index)
        self.commit()

    # -- steps -----------------------------------------------------------------

    def run(self, step: Step) -> None:
        try:
            getattr(self, f"_step_{step[0]}")(*step[1:])
        except CorruptSnapshot as exc:
            _forget_frames(exc)
            self._met_corruption(exc, step)
        self._note_executions()

    def _step_read(self, targets: list[int]) -> None:
        for target in targets:
            self.read(target)

    def _step_late(self, target: int) -> None:
        self.read(target, late=True)

    def _step_set(self, cell: int, value: Value, durable: bool) -> None:
        self._write(cell, lambda: self.rt.set(cell_ref(self.graph, cell), value, durable=durable))
        self.values[cell] = value
        if durable:
            self.stored_values[cell] = value
            self.durable_since_commit.add(cell)

    def _step_remove(self, cell: int) -> None:
        self._write(cell, lambda: self.rt.remove(cell_ref(self.graph, cell)))
        self.values.pop(cell, None)

    def _step_commit(self) -> None:
        self.commit()

    def _step_reopen(self) -> None:
        self._drop()
        self.values = dict(self.stored_values)
        self.edges = self._stored_edges()
        caught_up = self.durable_since_commit
        seeds = {cell_node(self.graph, c) for c in caught_up}
        seeds |= {listing_node(self.graph, c) for c in caught_up}
        unstored = self._unstored_deps()
        seeds |= unstored
        self.fresh, self.loaded, self.executed = not caught_up, set(), set()
        self.pushed_back = closure(self.edges, unstored)
        self.since_commit.clear()  # what executed since the last commit is lost
        self._open()
        self._check_loads(
            "opening",
            memos=closure(self.edges, seeds),
            cells={cell_row(self.graph, c) for c in caught_up},
            families={FAMILY_INPUTS[self.graph.families[c]].name for c in caught_up},
            edges=True,
        )

    def _step_corrupt(self, memo: Memo) -> None:
        if self.corrupted is not None:
            return
        row = self._stored_row(memo)
        if row is None:
            return
        damaged = bytearray(row)
        damaged[len(row) // 2] ^= 0x5A
        self._put_row(memo, bytes(damaged))
        self.corrupted = (memo, row)

    # -- reads -----------------------------------------------------------------

    def read(self, target: int, *, late: bool = False) -> None:
        graph = self.graph
        evaluation = Evaluation(graph, self.values, listed=set(self.values))
        expected: Value | Failure | Missing = evaluation.result(target)
        if late and not isinstance(expected, Failure | Missing):
            expected = expected * 2 + 1
        entered = set(evaluation.started)
        memo: Memo = (LATE if late else NODE, target)
        allowed_memos = {memo_of((NODE, index)) for index in entered}
        cells, families = {GRAPH_ROW}, set()
        for index in entered:
            spec = graph.nodes[index]
            for kind, position in spec.deps:
                if kind == "q":
                    allowed_memos.add(memo_of((NODE, position)))
                else:
                    cells.add(cell_row(graph, position))
            if spec.op == "keys":
                families.add(FAMILY_INPUTS[spec.param].name)
        if late:
            allowed_memos |= {memo_of(memo), memo_of((NODE, target))}
            if self.late is None:
                self.late = define_late()  # after the runtime opened
        clean = (
            self.fresh
            and self.stored_at.get(memo) == self.committed_at
            and memo_of(memo) not in self.pushed_back
            and (self.corrupted is None or self.corrupted[0] != memo)
        )
        self._note_executions()  # an earlier read of this step's: not lost, in memory
        already = memo_of(memo) in self.loaded or memo in self.executed
        self.store.take()
        call = self.late if late else node
        assert call is not None
        got = _outcome(lambda: call(self.rt, target))
        where = f"read of {memo[0]}({target}) at revision {self.rt.revision}"
        if isinstance(expected, Missing):
            assert isinstance(got, sf.Suspend), f"{where}: got {got!r}, expected a suspension"
        elif isinstance(expected, Failure):
            assert isinstance(got, Failure), f"{where}: got {got!r}, expected {expected!r}"
        else:
            assert not isinstance(got, BaseException), f"{where}: got {got!r}, not {expected!r}"
            assert got == expected, f"{where}: got {got!r}, expected {expected!r}"
        loads = self._check_loads(where, memos=allowed_memos, cells=cells, families=families)
        if clean:
            assert ACTIVE.log == [], (
                f"{where}: its stored row was computed at the committed revision "
                f"{self.committed_at} and nothing was written since, yet {ACTIVE.log} executed"
            )
            want = set() if already else {memo_of(memo)}
            assert loads.memo_ids | loads.asked == want, (
                f"{where}: a clean memo loads exactly its own row; loaded {loads}"
            )

    # -- writes and commits ------------------------------------------------------

    def _write(self, cell: int, call: Callable[[], None]) -> None:
        self.fresh = False
        self.store.take()
        call()
        family = FAMILY_INPUTS[self.graph.families[cell]].name
        self._check_loads(
            f"write of {cell_ref(self.graph, cell)}",
            memos=closure(
                self.edges, {cell_node(self.graph, cell), listing_node(self.graph, cell)}
            ),
            cells={cell_row(self.graph, cell)},
            families={family},
            edges=True,
        )

    def commit(self) -> None:
        self.store.take()
        self._note_executions()
        self.rt.commit()
        self._check_loads("commit", memos=set(), cells=set(), families=set())
        self.stored_values = dict(self.values)
        self.durable_since_commit.clear()
        self.committed_at = self.rt.revision
        self.stored_at.update(self.since_commit)
        self.since_commit.clear()
        self.edges |= self._stored_edges()
        if self.corrupted is not None and self._stored_row(self.corrupted[0]) in (
            None,
            self.corrupted[1],
        ):
            self.corrupted = None  # the memo re-executed here, and the commit rewrote its row
        self._check_edges_are_the_rows()

    def _note_executions(self) -> None:
        for name, index, revision, status in ACTIVE.log:
            self.since_commit[(name, index)] = revision if status == "value" else None
            self.executed.add((name, index))
        ACTIVE.log = []

    # -- checks ----------------------------------------------------------------

    def _check_loads(
        self,
        where: str,
        *,
        memos: set[bytes],
        cells: set[tuple[str, bytes]],
        families: set[str],
        edges: bool = False,
    ) -> Loads:
        loads = self.store.take()
        self.loaded |= loads.memo_ids
        if self.mode == "cold" and self.corrupted is not None:
            # A damaged row met under "cold" is discarded: its stored readers are pushed
            # back (docs/persistence.md), which loads them, wherever it is met.
            memos = memos | closure(self.edges, {b"q" + memo_of(self.corrupted[0])})
            edges = True
        assert not loads.unknown, (
            f"{where}: a load returned rows of no known shape: {loads.unknown}"
        )
        extra = (loads.memo_ids | loads.asked) - memos
        assert not extra, (
            f"{where}: loaded or asked for memo rows the rules do not need: "
            f"{sorted(_name(m) for m in extra)} (allowed {sorted(_name(m) for m in memos)})"
        )
        listed = {row for row in loads.cells if row[0] in families}  # load_family's rows
        assert loads.cells - listed <= cells, (
            f"{where}: loaded input rows the rules do not need: {sorted(loads.cells - cells)}"
        )
        assert loads.families <= families, (
            f"{where}: listed families the rules do not need: {loads.families - families}"
        )
        if edges:
            readers = {reader[1:] if reader[:1] == b"q" else reader for _, reader in loads.edges}
            assert readers <= memos, f"{where}: loaded edges to readers outside the closure"
        else:
            assert not loads.edges, f"{where}: loaded {len(loads.edges)} edges"
        return loads

    def _met_corruption(self, exc: CorruptSnapshot, step: Step) -> None:
        """``on_corrupt="fail"``: the damaged row is named; put it back and reopen."""
        message = str(exc)
        assert self.mode == "fail", f"{step}: on_corrupt='cold' raised {exc!r}"
        assert self.corrupted is not None, f"{step}: nothing is damaged, yet {exc!r}"
        memo, row = self.corrupted
        mid = memo_of(memo)
        named = mid.hex() in message or f"{memo[0]}({memo[1]})" in message
        assert named, f"{step}: {message!r} does not name the damaged row {memo}"
        assert RUNTIME in message, f"{step}: {message!r} does not name the runtime"
        self.store.take()
        self._put_row(memo, row)
        self.corrupted = None
        if step[0] == "set" and step[3]:  # a durable write met it: in the store, or not
            self.durable_since_commit.add(step[1])
        self._step_reopen()
        if step[0] == "set" and step[3]:
            cell, before = step[1], self.stored_values.get(step[1])
            got = _outcome(lambda: self.rt.get(cell_ref(self.graph, cell)))
            self.store.take()
            if isinstance(got, sf.Suspend):
                assert before is None, f"{step}: the cell lost its stored value {before!r}"
                return
            assert got == step[2] or got == before, f"{step}: the cell reads {got!r}"
            self.values[cell] = self.stored_values[cell] = got

    # -- the file, behind the runtime's back -------------------------------------

    def _stored_edges(self) -> set[tuple[bytes, bytes]]:
        """Every stored edge, as (dep, reader node id): each dependency's reader list."""
        with closing(sqlite3.connect(self.path)) as conn:
            query = "SELECT dep, readers FROM readers WHERE runtime_id = ?"
            groups = conn.execute(query, (RUNTIME,)).fetchall()
        return {
            (bytes(dep), b"q" + reader)
            for dep, packed in groups
            for reader in unpack_ids(bytes(packed), "a reader list")
        }

    def _check_edges_are_the_rows(self) -> None:
        """After a commit the file's edges are exactly the deps its rows list
        (``sofrito._snapshot``), however many memos kept theirs unread
        (``SnapshotDelta.unchanged``). The damaged row, if any, cannot be read."""
        damaged = None if self.corrupted is None else memo_of(self.corrupted[0])
        with closing(sqlite3.connect(self.path)) as conn:
            query = "SELECT memo_id, row FROM memos WHERE runtime_id = ?"
            rows = {bytes(mid): bytes(row) for mid, row in conn.execute(query, (RUNTIME,))}
        expected = {
            (encode_node_id(dep), b"q" + mid)
            for mid, row in rows.items()
            if mid != damaged
            for dep in decode_memo_row(row, Sealer(None), b"").deps
        }
        stored = {edge for edge in self._stored_edges() if edge[1] != b"q" + (damaged or b"")}
        assert stored == expected, (
            f"after a commit: edges not listed by their rows {sorted(stored - expected)}, "
            f"listed but not stored {sorted(expected - stored)}"
        )

    def _unstored_deps(self) -> set[bytes]:
        """Node ids of memos that stored rows read but that have no row (a cached
        error): no edge leads from a cell to their readers, so opening may push
        those readers back (their stored transitive readers, memo by memo)."""
        with closing(sqlite3.connect(self.path)) as conn:
            query = "SELECT memo_id FROM memos WHERE runtime_id = ?"
            stored = {bytes(mid) for (mid,) in conn.execute(query, (RUNTIME,))}
        return {dep for dep, _ in self.edges if dep[:1] == b"q" and dep[1:] not in stored}

    def _stored_row(self, memo: Memo) -> bytes | None:
        with closing(sqlite3.connect(self.path)) as conn:
            query = "SELECT row FROM memos WHERE runtime_id = ? AND memo_id = ?"
            found = conn.execute(query, (RUNTIME, memo_of(memo))).fetchone()
        return None if found is None else bytes(found[0])

    def _put_row(self, memo: Memo, row: bytes) -> None:
        with closing(sqlite3.connect(self.path)) as conn, conn:
            conn.execute(
                "UPDATE memos SET row = ? WHERE runtime_id = ? AND memo_id = ?",
                (row, RUNTIME, memo_of(memo)),
            )


def _name(mid: bytes) -> str:
    size = int.from_bytes(mid[:4], "big")
    return f"{mid[4 : 4 + size].decode()}:{mid[4 + size :].hex()}"


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (Failure, sf.Suspend) as exc:
        return exc


def _forget_frames(error: BaseException | None) -> None:
    """Drop the tracebacks of ``error`` and of the exceptions it chains: their
    frames hold the step's ``ws.late``, and alive through the reopen that
    follows, that definition is the one the new runtime finds when it loads a
    row of ``ws.late``, and the next "late" step's a second one."""
    while error is not None:
        error.__traceback__ = None
        error = error.__cause__ or error.__context__


def _run(scenario: tuple[Graph, list[Value | None], list[Step]], mode: Mode) -> None:
    graph, first, plan = scenario
    with tempfile.TemporaryDirectory() as folder:
        harness = Harness(graph, Path(folder), mode)
        try:
            harness.start(first)
            for step in plan:
                harness.run(step)
        finally:
            harness._drop()


SHRINK = bool(os.environ.get("SOFRITO_WARM_SHRINK"))
"""Shrink a failing example: minutes, since every step touches a file (off by default,
so a failure is reported in seconds, unshrunk; ``derandomize`` makes it reproducible)."""

REMOVED_THEN_SUSPENDED = (
    Graph(
        (2, 1),
        (
            Node("cond", (("i", 0), ("i", 1)), 0),
            Node("max", (("q", 0), ("i", 0), ("i", 1)), 2),
            Node("max", (("q", 0), ("q", 1), ("i", 0)), 2),
            Node("div", (("q", 2),), 2),
            Node("min", (("i", 0),), 3),
            Node("cond", (("i", 0), ("q", 0), ("q", 1)), 3),
            Node("cond", (("q", 4), ("q", 1), ("q", 5)), 2),
            Node("div", (("i", 0), ("q", 3), ("q", 0)), 5),
            Node("div", (("i", 0), ("q", 2)), 3),
        ),
    ),
    [8, 4],
    [("remove", 0), ("commit",), ("reopen",), ("set", 1, 3, False), ("late", 8), ("read", [4])],
)
"""Found by these tests: a removed cell, committed, then read in a fresh runtime by a
reader that suspends on it; a second reader of it must suspend too, not be served
the value it had before the removal."""

REMOVED_UNDER_A_LATE_READER = (
    Graph((1,), (Node("mod", (("i", 0),), 4),)),
    [2],
    [("late", 0), ("commit",), ("reopen",), ("remove", 0), ("commit",), ("reopen",), ("late", 0)],
)
"""Found by these tests, with random examples: ``ws.late`` reads a cell and is
committed; a process that does not define ``ws.late`` removes the cell and
commits; the next process defines it and reads it. It must suspend, not be
served its old row: the mark the removal made on a reader it could not
install must reach the store (``StoreBacking._mark_undefined``)."""

A_CAUGHT_ERROR_READ_AFTER_A_REOPEN = (
    Graph(
        (0,),
        (
            Node("div", (("i", 0),), 2),
            Node("catch", (("i", 0), ("q", 0)), 3),
            Node("fail", (("i", 0), ("q", 0)), 2),
            Node("div", (("q", 0), ("q", 1)), 2),
            Node("keys", (), 0),
            Node("catch", (("q", 1), ("q", 2), ("q", 3)), 2),
            Node("catch", (("q", 1), ("q", 5), ("q", 0)), 3),
            Node("mod", (("q", 5),), 3),
            Node("mod", (("q", 6), ("q", 5), ("i", 0)), 4),
        ),
    ),
    [7],
    [("reopen",), ("read", [8, 7])],
)
"""Found with random examples, a false alarm of the exact case: node 8 reads, through
nodes that catch it, node 2's cached error, which has no row. The open pushes
node 8 back (as the rules say), so it is not clean: the error computed again
counts as changed, and the catching readers execute once."""

A_LATE_QUERY_THROUGH_A_DAMAGED_ROW = (
    Graph(
        (1,),
        (
            Node("sum", (("i", 0),), 5),
            Node("keys", (), 3),
            Node("sum", (("q", 1), ("q", 0), ("i", 0)), 3),
            Node("catch", (("q", 0), ("i", 0), ("q", 2)), 2),
        ),
    ),
    [0],
    [
        ("late", 3),
        ("commit",),
        ("corrupt", ("ws.node", 1)),
        ("set", 0, 9, True),
        ("reopen",),
        ("late", 3),
        ("late", 2),
    ],
)
"""Found with random examples, a fault of this harness: a damaged row met by a
"late" step raises through frames that hold that step's ``ws.late``; kept
alive through the reopen, it was the definition the new runtime found, and
the next "late" step made a second one (``_forget_frames``)."""

A_LATE_KEY_COMMITTED_PAST = (
    Graph((1, 1), (Node("keys", (), 1),)),
    [7, 3],
    [
        ("remove", 0),
        ("commit",),
        ("set", 0, 9, True),
        ("reopen",),
        ("commit",),
        ("reopen",),
        ("read", [0]),
    ],
)
"""Found with random examples, once a commit kept the listing records it did
not touch: a key stored after the snapshot (durable) makes the open push the
listing's readers back, and its record no longer says what the family lists.
Kept, that record made the next process's read compare, differ and load the
listing's reader closure, which a read must not (``StoreBacking._forget_listings``)."""

DISCARDED_WHILE_OPENING = (
    Graph(
        (1, 2),
        (
            Node("div", (("i", 0), ("i", 1)), 4),
            Node("div", (("i", 1),), 4),
            Node("min", (("i", 0),), 5),
            Node("div", (("q", 0), ("q", 2), ("q", 1)), 4),
        ),
    ),
    [4, 8],
    [
        ("set", 0, 5, True),
        ("corrupt", ("ws.node", 2)),
        ("reopen",),
        ("remove", 1),
        ("commit",),
        ("reopen",),
        ("read", [3]),
    ],
)
"""Found with random examples, under ``on_corrupt="cold"``: opening catches up a
durable write, whose stored readers include a damaged row. Discarded while the
engine was not at the snapshot's revision yet, it pushed its reader (node 3)
back to "never computed", which the next commit's dirty set passes over; the
process after it served node 3's old row, though a removal in between had
reached it (``StoreBacking._now``)."""

RECOMPUTED_AFTER_ITS_DAMAGED_ROW = (
    Graph((0,), (Node("mod", (("i", 0),), 2),)),
    [0],
    [
        ("read", [0]),
        ("reopen",),
        ("corrupt", ("ws.node", 0)),
        ("read", [0]),
        ("commit",),
        ("read", [0]),
    ],
)
"""Found with random examples, a false alarm of the exact case under ``on_corrupt="cold"``:
the damaged row is discarded and the memo computed again, in memory, so reading it
after the commit loads nothing, as for a memo already loaded."""


@pytest.fixture(autouse=True)
def _the_suite_s_heap_frozen() -> Iterator[None]:
    """Each example collects garbage (``_drop``: the registry holds late queries
    weakly), and a collection looks at every object the whole suite left: in
    the full suite these tests took 29-36 s, 10 s alone. Frozen
    (``gc.freeze``), the collections look at this test's own objects only."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


A_CELL_SET_AND_REMOVED_BETWEEN_COMMITS = (
    Graph(
        (0, 1),
        (
            Node("sum", (("i", 0), ("i", 1)), 4),
            Node("min", (("q", 0), ("i", 0)), 3),
            Node("div", (("q", 0),), 2),
        ),
    ),
    [None, 3],
    [("set", 0, 6, False), ("read", [1]), ("remove", 0), ("commit",), ("reopen",), ("read", [2])],
)
"""Found with random examples: node 0's row lists a cell that has no row (set and
removed before the commit). A fresh process that reads node 2 must execute node
0 without loading node 1, node 0's other reader: the removal marked it, and the
commit recorded the mark (``StoreBacking._resolve``)."""


A_RECOMPUTED_ROW_READ_AGAIN_AFTER_A_COMMIT = (
    Graph((2, 2), (Node("fail", (("i", 1), ("i", 0)), 2),)),
    [4, 7],
    [
        ("reopen",),
        ("read", [0, 0]),
        ("corrupt", ("ws.node", 0)),
        ("reopen",),
        ("read", [0, 0, 0]),
        ("commit",),
        ("read", [0, 0]),
    ],
)
"""Found with random examples, a fault of this harness: the damaged row is recomputed
by the first read of a step, and the step's next read dropped that execution from
the harness's record; after the commit the memo counted as unloaded, so its read
was expected to load its row, which it (in memory) rightly did not."""


EXAMPLES = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate, *(Phase.shrink,) * SHRINK),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@EXAMPLES
@given(scenarios())
@example(REMOVED_THEN_SUSPENDED)
@example(REMOVED_UNDER_A_LATE_READER)
@example(A_CAUGHT_ERROR_READ_AFTER_A_REOPEN)
@example(A_LATE_KEY_COMMITTED_PAST)
@example(A_LATE_QUERY_THROUGH_A_DAMAGED_ROW)
@example(A_CELL_SET_AND_REMOVED_BETWEEN_COMMITS)
def test_a_warm_runtime_agrees_with_the_oracle_and_loads_only_what_it_needs(
    scenario: tuple[Graph, list[Value | None], list[Step]],
) -> None:
    _run(scenario, "fail")


@EXAMPLES
@given(scenarios())
@example(REMOVED_THEN_SUSPENDED)
@example(RECOMPUTED_AFTER_ITS_DAMAGED_ROW)
@example(DISCARDED_WHILE_OPENING)
@example(A_CELL_SET_AND_REMOVED_BETWEEN_COMMITS)
@example(A_RECOMPUTED_ROW_READ_AGAIN_AFTER_A_COMMIT)
def test_a_damaged_row_met_on_demand_is_recomputed_under_on_corrupt_cold(
    scenario: tuple[Graph, list[Value | None], list[Step]],
) -> None:
    _run(scenario, "cold")
