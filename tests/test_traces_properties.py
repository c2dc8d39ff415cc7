"""Traces against the oracle: a runtime built from another's traces computes what
plain Python computes (``tests/oracle.py``), for random graphs and edits.

Runtime A publishes: it sets the initial values, reads every node and commits,
then does the same after each batch of edits. Runtime B, on the same SQLite
file, only reads traces: it takes one of A's states (or that state with one more
edit) and reads every node. Every value and error it gives must be the
oracle's (equal, as the runtime's own are: early cutoff keeps an equal old
value, ``3.0`` for ``3``). And when B's inputs are exactly a state A
committed, the values A's cells held, types included (setting ``3`` over
``3.0`` is no write), and no node of that state failed or suspended (so A
published a trace of every node), B executes nothing.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import sofrito as sf
from sofrito.stores import SqliteStore, Traces
from tests.oracle import Evaluation, Failure, Graph, Missing, Node, Ref, Value, apply
from tests.strategies import graphs, initial_values, values

SECRET = "property tests' trace secret"
FAMILY_INPUTS = (
    sf.Input("tp.volatile"),
    sf.Input("tp.stable", durability=sf.Durability.STABLE),
    sf.Input("tp.static", durability=sf.Durability.STATIC),
    sf.Input("tp.unlisted"),
)
graph_cell = sf.Input("tp.graph", durability=sf.Durability.STATIC)
"""The example's graph: every body reads it, so no trace of one example fits another."""
EXECUTED: list[int] = []


def cell_ref(graph: Graph, cell: int) -> sf.InputRef:
    family = graph.families[cell]
    key = (cell, "s") if family == 1 else (str(cell),) if family == 2 else (cell,)
    return FAMILY_INPUTS[family][key]


@sf.query(name="tp.node")
def node(db: Any, index: int) -> Value:
    EXECUTED.append(index)
    graph: Graph = graph_cell(db)

    def read(ref: Ref) -> Value:
        kind, position = ref
        if kind == "i":
            cell = cell_ref(graph, position)
            return cell.input(db, *cell.key)  # type: ignore[no-any-return]
        return node(db, position)

    def keys(family: int) -> tuple[int, ...]:
        return tuple(sorted(int(key[0]) for key in FAMILY_INPUTS[family].keys(db)))

    return apply(graph.nodes[index], read, None, keys)


State = dict[int, Value]
"""The cells that are set, and their values (a cell not in it was never set or removed)."""


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Graph, list[State], State, bool]:
    """A graph, A's states in order, B's state, and whether B's is one of A's."""
    graph = draw(graphs(max_inputs=5, max_nodes=12))
    first = {
        cell: value for cell, value in enumerate(draw(initial_values(graph))) if value is not None
    }
    states = [first]
    edit = st.tuples(st.integers(0, graph.inputs - 1), st.one_of(values(), values(), st.none()))
    for batch in draw(st.lists(st.lists(edit, min_size=1, max_size=3), max_size=3)):
        state = dict(states[-1])
        for cell, value in batch:
            if value is None:
                state.pop(cell, None)
            else:
                state[cell] = value
        states.append(state)
    chosen = dict(states[draw(st.integers(0, len(states) - 1))])
    same = draw(st.booleans())
    if not same:
        cell, value = draw(edit)
        if value is None:
            chosen.pop(cell, None)
        else:
            chosen[cell] = value
    return graph, states, chosen, same


def move_to(rt: sf.Runtime, graph: Graph, state: State) -> None:
    with rt.batch():
        for cell in range(graph.inputs):
            ref = cell_ref(graph, cell)
            if cell in state:
                rt.set(ref, state[cell])
            else:
                rt.remove(ref)


def failed(error: Failure) -> tuple[Any, ...]:
    """A "fail" node's outcome, the sum it names as a number: early cutoff keeps an
    equal old value (``0.0`` for ``0``), so an error made from it may say "fail at
    0.0" where plain Python, from scratch, says "fail at 0" (``CUT_OFF_SUM``)."""
    head, _, number = str(error).rpartition(" ")
    try:
        return ("error", head, Fraction(number))
    except ValueError:  # not a finite number: compared as written
        return ("error", str(error))


def outcome(rt: sf.Runtime, index: int) -> Any:
    try:
        value = node(rt, index)
    except Failure as exc:
        return failed(exc)
    except sf.Suspend:
        return ("missing",)
    return (type(value), value)


def expected(graph: Graph, state: State) -> tuple[list[Any], bool]:
    """The oracle's outcome of every node, and whether every one is a value."""
    evaluation = Evaluation(graph, state, listed=set(state))
    outcomes: list[Any] = []
    for index in range(len(graph.nodes)):
        result = evaluation.result(index)
        if isinstance(result, Failure):
            outcomes.append(failed(result))
        elif isinstance(result, Missing):
            outcomes.append(("missing",))
        else:
            outcomes.append((type(result), result))
    return outcomes, all(o[0] not in ("error", "missing") for o in outcomes)


CUT_OFF_SUM = (
    Graph(
        families=(0,),
        nodes=(
            Node(op="mod", deps=(("i", 0),), param=2),
            Node(op="fail", deps=(("q", 0),), param=2),
        ),
    ),
    [{0: 0.0}, {0: 2}],
    {},
    False,
)
"""Found by a random run in CI: node 0 is ``0.0`` then ``0`` (equal: cut off, it
keeps ``0.0``), so node 1's cached error still says "fail at 0.0"."""


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scenarios())
@example(CUT_OFF_SUM)
def test_a_runtime_built_from_traces_agrees_with_the_oracle(
    scenario: tuple[Graph, list[State], State, bool],
) -> None:
    graph, states, chosen, same = scenario
    nodes = range(len(graph.nodes))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cache.db"
        a = sf.Runtime(store=SqliteStore(path), runtime_id="a", traces=Traces(SECRET, read=False))
        a.set(graph_cell, graph)
        held = []
        for state in states:
            move_to(a, graph, state)
            # As A's cells hold it: setting 0.0 over 0 is no write, so a "fail"
            # node still says "fail at 0" (tests/engine/test_properties.py models
            # the same no-op writes).
            effective = {cell: a.get(cell_ref(graph, cell)) for cell in state}
            assert [outcome(a, index)[1:] for index in nodes] == [
                result[1:] for result in expected(graph, effective)[0]
            ]
            a.commit()
            held.append(effective)
        if same:  # A's state as its cells held it: setting 0 over 0.0 is no write
            chosen = next(h for h, s in zip(held, states, strict=True) if s == chosen)
        b = sf.Runtime(
            store=SqliteStore(path), runtime_id="b", traces=Traces(SECRET, publish=False)
        )
        b.set(graph_cell, graph)
        move_to(b, graph, chosen)
        EXECUTED.clear()
        got = [outcome(b, index)[1:] for index in nodes]
        executed = list(EXECUTED)
        oracle, all_values = expected(graph, chosen)
        assert got == [result[1:] for result in oracle]
        event(f"same state, all values: {same and all_values}; executed: {bool(executed)}")
        if same and all_values:
            assert executed == [], f"executed {executed} with every trace published"
