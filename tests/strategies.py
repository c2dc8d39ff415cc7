"""Hypothesis strategies: random DAGs of inputs and queries, random edits and reads.

A graph has a few input cells (each in one of ``FAMILIES`` input families,
which differ in default durability and key shape) and up to ~20 derived
nodes, each reading a random subset of inputs and earlier nodes in a random
order. The ops lean towards the ones that lose information (mod, div, min,
max, const, cond), so recomputed values often come out equal and early cutoff
happens a lot.

A step is a tuple:

- ``("set", cell, value, durability)``: set a cell; ``durability`` is a
  level, ``None`` (the family's default) or ``"keep"`` (the cell's current
  durability, passed explicitly);
- ``("same", cell, durability)``: set a cell to the value it holds now
  (a no-op unless the durability differs, or the cell has no value, in which
  case it is set to 0);
- ``("remove", cell)``;
- ``("fail", cell)``: ``rt.resolve_error`` with a new error, and
  ``("invalidate", cell)``: back to pending (only with ``suspense``);
- ``("batch", [set | same | remove, ...])``: several writes in one
  ``rt.batch()``;
- ``("read", [node, ...])``: read these nodes, in this order;
- ``("clear",)``: ``rt.clear_cache()``;
- with ``suspense``, what the locator of family ``LOCATED`` finds, which is
  not a write: ``("publish", cell, value)`` (it finds ``value``),
  ``("withdraw", cell)`` (it finds nothing: ``PENDING``), and
  ``("get", cell)``: ``rt.get``, an untracked read that may ask it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.oracle import Graph, Node, Ref

FAMILIES = 4
"""Input families: 0 volatile (key (k,)), 1 stable (key (k, "s")), 2 static (key
(str(k),)), 3 volatile with a locator (key (k,); only with ``suspense``)."""
LOCATED = 3

CUTOFF_OPS = ("mod", "mod", "div", "div", "cond", "cond", "const", "min", "max", "keys")
"""Ops that often compute an equal value from changed inputs ("keys" reads only
a family's listing, which a value edit does not change)."""
WEIGHTED_OPS = (*CUTOFF_OPS, "sum", "fail", "catch")
STATE_OPS = (*WEIGHTED_OPS, *("state",) * 8)
"""With nodes that read their cells through ``sf.state``: pending and failed cells are values."""
GATHER_OPS = (*WEIGHTED_OPS, *("gather",) * 6)
"""With nodes that read earlier nodes through ``sf.gather`` (a node with none to
read is a "mod" instead)."""

Step = tuple[Any, ...]


@st.composite
def values(draw: st.DrawFn) -> int | float:
    """Small numbers; sometimes a float equal to an int, so that ``==`` matters."""
    value = draw(st.integers(0, 9))
    return float(value) if draw(st.sampled_from((False, False, False, True))) else value


@st.composite
def nodes(draw: st.DrawFn, index: int, inputs: int, ops: tuple[str, ...] = WEIGHTED_OPS) -> Node:
    """Node ``index``: reads some of the inputs and earlier nodes, in a random order."""
    available: list[Ref] = [("i", k) for k in range(inputs)]
    available += [("q", k) for k in range(index)]
    op = draw(st.sampled_from(ops))
    if op == "keys":  # reads the listing of one family, nothing else
        return Node(op, (), draw(st.integers(0, FAMILIES - 1)))
    if op == "gather" and index:  # earlier nodes only, as keys of one query
        size = draw(st.integers(1, min(4, index)))
        order = draw(st.permutations(range(index)))
        return Node(op, tuple(("q", k) for k in order[:size]), draw(st.integers(2, 5)))
    if op == "gather":
        op = "mod"
    lowest = 0 if op == "const" else 1
    if op == "cond":
        lowest = min(3, len(available))
        if lowest < 2:
            op = "mod"
            lowest = 1
    size = draw(st.integers(lowest, max(lowest, min(3, len(available)))))
    order = draw(st.permutations(available))
    deps = tuple(order[:size])
    param = draw(st.integers(0, 8) if op == "cond" else st.integers(2, 3 if op == "fail" else 5))
    return Node(op, deps, param)


@st.composite
def graphs(
    draw: st.DrawFn,
    max_inputs: int = 6,
    max_nodes: int = 18,
    *,
    durable: bool = False,
    located: bool = False,
    ops: tuple[str, ...] | None = None,
) -> Graph:
    """A random DAG: 1..max_inputs input cells and 1..max_nodes derived nodes.

    ``durable``: only stable and static cells, and only cutoff ops, so that
    durability levels (and their shortcuts) decide what is re-verified.
    ``located``: half of the cells or so have a locator, and at least one.
    """
    n_inputs = draw(st.integers(1, max_inputs))
    n_nodes = draw(st.integers(1, max_nodes))
    kinds = (1, 2) if durable else (0, 1, 2, LOCATED, LOCATED, LOCATED) if located else (0, 1, 1, 2)
    family = st.sampled_from(kinds)
    families = tuple(draw(st.lists(family, min_size=n_inputs, max_size=n_inputs)))
    if located and LOCATED not in families:
        families = (LOCATED, *families[1:])
    ops = ops or (CUTOFF_OPS if durable else WEIGHTED_OPS)
    built = tuple(draw(nodes(index, n_inputs, ops)) for index in range(n_nodes))
    return Graph(families, built)


def initial_values(graph: Graph) -> st.SearchStrategy[list[int | float | None]]:
    """The first value of each cell; ``None`` (rarely): left unset, readers suspend."""
    unset = st.integers(0, 19).map(lambda n: n == 7)  # not 0: hypothesis favours it
    first = st.tuples(values(), unset).map(lambda pair: None if pair[1] else pair[0])
    return st.lists(first, min_size=graph.inputs, max_size=graph.inputs)


def durabilities() -> st.SearchStrategy[int | str | None]:
    """The durability of a write: None for the family's default, "keep" for the
    cell's current durability (so a lowered durability stays low), or a level."""
    return st.sampled_from((None, "keep", "keep", "keep", 0, 0, 1, 2, 3))


@st.composite
def writes(draw: st.DrawFn, graph: Graph, removals: bool = True, suspense: bool = False) -> Step:
    """One write: mostly a new value, sometimes the same value, or a removal
    (``suspense``: or an error, or back to pending)."""
    kinds = ("set",) * 6 + ("same",) * 2 + ("remove",) * removals
    kinds += ("fail", "fail", "invalidate", "invalidate") * suspense
    kind = draw(st.sampled_from(kinds))
    cell = draw(st.integers(0, graph.inputs - 1))
    if kind == "set":
        return (kind, cell, draw(values()), draw(durabilities()))
    if kind == "same":
        return (kind, cell, draw(durabilities()))
    return (kind, cell)


@st.composite
def reads(draw: st.DrawFn, graph: Graph) -> Step:
    """Read a few nodes in a random order (the last ones, the roots, more often)."""
    n = len(graph.nodes)
    node = st.one_of(st.integers(0, n - 1), st.integers(max(0, n - 3), n - 1))
    return ("read", draw(st.lists(node, min_size=1, max_size=4)))


@st.composite
def locator_steps(draw: st.DrawFn, graph: Graph) -> Step:
    """What a locator finds changes, or an untracked read asks it."""
    kind = draw(st.sampled_from(("publish", "publish", "publish", "withdraw", "get")))
    located = [cell for cell, family in enumerate(graph.families) if family == LOCATED]
    cell = draw(st.sampled_from(located))
    return (kind, cell, draw(values())) if kind == "publish" else (kind, cell)


@st.composite
def step(draw: st.DrawFn, graph: Graph, *, clear: bool, removals: bool, suspense: bool) -> Step:
    kinds = ("read",) * 4 + ("write",) * 3 + ("batch",) + ("clear",) * clear
    kinds += ("locator",) * 3 * (suspense and LOCATED in graph.families)
    kind = draw(st.sampled_from(kinds))
    if kind == "read":
        return draw(reads(graph))
    if kind == "locator":
        return draw(locator_steps(graph))
    write = writes(graph, removals, suspense)
    if kind == "write":
        return draw(write)
    if kind == "batch":
        return ("batch", draw(st.lists(write, min_size=1, max_size=4)))
    return ("clear",)


def steps(
    graph: Graph,
    *,
    max_steps: int = 30,
    clear: bool = True,
    removals: bool = True,
    suspense: bool = False,
) -> st.SearchStrategy[list[Step]]:
    """A random sequence of writes, batches, reads (and ``clear_cache`` calls)."""
    one = step(graph, clear=clear, removals=removals, suspense=suspense)
    return st.lists(one, min_size=max_steps // 3, max_size=max_steps)


Scenario = tuple[Graph, list[int | float | None], list[Step]]


@st.composite
def scenarios(
    draw: st.DrawFn,
    *,
    max_inputs: int = 6,
    max_nodes: int = 18,
    max_steps: int = 30,
    durable: bool = False,
    suspense: bool = False,
    ops: tuple[str, ...] | None = None,
) -> Scenario:
    """A graph, the first value of each cell, and the steps to run on it.

    ``durable``: a graph of ``graphs(durable=True)``, all cells set at first,
    no removals and no ``clear_cache``: only values and durabilities change.
    ``suspense``: ``STATE_OPS`` (unless ``ops`` says otherwise), cells with
    a locator, writes that resolve cells to errors or put them back to
    pending, and the locator steps.
    """
    if suspense and ops is None:
        ops = STATE_OPS
    graph = draw(graphs(max_inputs, max_nodes, durable=durable, located=suspense, ops=ops))
    first = draw(initial_values(graph))
    if suspense:  # a located cell is often left to its locator
        unset = draw(st.lists(st.booleans(), min_size=graph.inputs, max_size=graph.inputs))
        first = [
            None if family == LOCATED and leave else value
            for family, leave, value in zip(graph.families, unset, first, strict=True)
        ]
    if durable:
        first = [0 if value is None else value for value in first]
    plan = draw(
        steps(
            graph,
            max_steps=max_steps,
            clear=not durable,
            removals=not durable,
            suspense=suspense,
        )
    )
    return graph, first, plan


def cell_edits(cells: int, sets: int = 1) -> st.SearchStrategy[list[Step]]:
    """One to three edits of cells numbered below ``cells`` (taken modulo the graph's
    inputs by ``apply_cell_edits``): ``("set", cell, value)``, ``sets`` times as
    often as ``("remove", cell)``."""
    cell = st.integers(0, cells - 1)
    return st.lists(
        st.one_of(
            *(st.tuples(st.just("set"), cell, values()),) * sets,
            st.tuples(st.just("remove"), cell),
        ),
        min_size=1,
        max_size=3,
    )


def apply_cell_edits(
    rt: Any, family: Any, graph: Graph, edits: list[Step], current: dict[int, Any]
) -> None:
    """Make ``edits`` (``cell_edits``) to the cells ``family[k]`` of ``rt``, and to
    ``current``, the oracle's inputs."""
    for edit in edits:
        cell = edit[1] % graph.inputs
        if edit[0] == "set":
            rt.set(family[cell], edit[2])
            current[cell] = edit[2]
        else:
            rt.remove(family[cell])
            current.pop(cell, None)
