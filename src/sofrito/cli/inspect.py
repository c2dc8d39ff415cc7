"""``sofrito inspect FLOW [--why OUTPUT] [--json]``: the graph, and why an output re-rendered.

- Without ``--why``: the graph's size in the flow's store, read from the store
  itself (``load_snapshot``, ``load_input_states``), no runtime opened: the
  memos stored per query name and the input cells per kind. Everything a run
  committed counts, sofrito's own queries and inputs too (``sofrito.fs.*``,
  ``sofrito.run.*``).
- With ``--why OUTPUT``: the last run's record (``lastrun.py``, the input
  cell ``sofrito.run.last`` committed with the run), read through a runtime
  opened on the store. If OUTPUT's render executed in that run: the input
  changes that reached it, the *chains* from each to the render (every step
  a query whose value changed, which is what made the next one execute), and
  every query on the way with its outcome: executed, new, cut off early
  (executed to an equal value, so its readers were verified, not re-run) or
  verified. Otherwise, that it did not re-render. An output whose render
  failed in the last run says so first, with the error (``LastRun.failed``):
  one never written is in no other record.

Each answer is built as one plain dict (``graph_size``, ``why``), which
``--json`` prints as it is and the text form lays out: the two forms say the
same thing by construction.

Nothing here writes: the store is only read (a runtime opened on a store that
was never opened could record its lifecycle state, so a runtime is opened
only once the store's header shows the flow has run).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterator
from typing import Any, Final

import sofrito as sf
from sofrito._snapshot import split_memo_id
from sofrito.cli.errors import NotRun, UnknownOutput
from sofrito.cli.flow import Flow
from sofrito.cli.lastrun import (
    CHANGED,
    CUT_OFF,
    EXECUTED,
    LAST_RUN,
    NEW,
    VERIFIED,
    LastRun,
    reach,
)
from sofrito.cli.runner import recorded_outputs
from sofrito.stores import InputStatus, RuntimeStore

__all__ = ["graph_size", "graph_size_lines", "why", "why_lines"]

MAX_CHAINS: Final = 20
"""Chains shown for one output; a count says how many more there are."""

_SHOWN: Final = {
    EXECUTED: "executed",
    NEW: "executed (new)",
    CUT_OFF: "cut off early",
    VERIFIED: "verified",
    CHANGED: "changed",
}


def _never_run(flow: Flow, where: str) -> NotRun:
    return NotRun(
        f"{flow.path.name} has not been run with the cache {where}: run "
        f"`sofrito run {flow.path.name}` first (or pass the --store it used)"
    )


# -- graph size ----------------------------------------------------------------------


def graph_size(flow: Flow, store: RuntimeStore, where: str) -> dict[str, Any]:
    """The memos stored per query name and the input cells per kind, as committed."""
    runtime_id = flow.name
    if store.load_header(runtime_id) is None:
        raise _never_run(flow, where)
    snapshot = store.load_snapshot(runtime_id)
    memos = Counter(split_memo_id(memo_id)[0] for memo_id in (snapshot.rows if snapshot else ()))
    inputs = Counter(
        state.kind
        for state in store.load_input_states(runtime_id)
        if state.status != InputStatus.REMOVED
    )
    return {
        "flow": flow.path.name,
        "runtime": runtime_id,
        "store": where,
        "revision": snapshot.revision if snapshot else 0,
        "memos": dict(sorted(memos.items(), key=_biggest_first)),
        "memos_total": sum(memos.values()),
        "inputs": dict(sorted(inputs.items(), key=_biggest_first)),
        "inputs_total": sum(inputs.values()),
    }


def _biggest_first(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def graph_size_lines(size: dict[str, Any]) -> Iterator[str]:
    yield f"{size['flow']}: the graph in {size['store']} at revision {size['revision']}"
    for title, counts, total in (
        ("memos stored, per query", size["memos"], size["memos_total"]),
        ("input cells, per kind", size["inputs"], size["inputs_total"]),
    ):
        yield f"{title}:"
        for name, count in counts.items():
            yield f"  {count:>8,}  {name}"
        yield f"  {total:>8,}  in all"


# -- why ---------------------------------------------------------------------------


def why(flow: Flow, store: RuntimeStore, where: str, output: str) -> dict[str, Any]:
    """Why ``output`` re-rendered in the last run, or that it did not."""
    if store.load_header(flow.name) is None:
        raise _never_run(flow, where)
    rt = sf.Runtime(store=store, runtime_id=flow.name)
    if not LAST_RUN.keys(rt):
        raise NotRun(
            f"the cache {where} holds no record of {flow.path.name}'s last run for --why "
            f"(it was made before sofrito recorded runs): run `sofrito run {flow.path.name}` again"
        )
    record = LastRun.from_value(rt.get(LAST_RUN))
    if record is None:
        raise NotRun(
            f"the record of {flow.path.name}'s last run in {where} was written by another "
            f"version of sofrito: run `sofrito run {flow.path.name}` again"
        )
    path = output.strip().removeprefix("./")
    answer: dict[str, Any] = {"flow": flow.path.name, "output": path}
    answer["failed"] = record.failed.get(path)
    at = record.outputs.get(path)
    if at is None:
        known = set(recorded_outputs(rt)) | set(record.outputs) | set(record.failed)
        if path not in known:
            raise _unknown(flow, path, known)
        answer.update(re_rendered=False, revisions=[record.start, record.end])
        return answer
    answer.update(re_rendered=True, revisions=[record.start, record.end])
    answer.update(_explain(record, at))
    # Every execution new: a first build (from revision 0), or a run after a code
    # edit (changed fingerprints match no memo), or one that only re-ran renders
    # that failed before (a failure is not stored); only the first is "first".
    answer["first_build"] = record.first_build and record.start == 0
    answer["all_new"] = record.first_build
    return answer


def _unknown(flow: Flow, path: str, known: set[str]) -> UnknownOutput:
    close = difflib.get_close_matches(path, sorted(known), n=3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return UnknownOutput(
        f"{flow.path.name} has no output {path!r} (give the path as `sofrito run` writes "
        f"it, relative to the output folder){hint}"
    )


def _explain(record: LastRun, target: int) -> dict[str, Any]:
    """The changed inputs, chains and queries between them and node ``target``."""
    reads: dict[int, list[int]] = {}
    readers: dict[int, list[int]] = {}
    for a, b in record.edges:
        reads.setdefault(b, []).append(a)
        readers.setdefault(a, []).append(b)
    changed = [n for n in record.changed_inputs if n in reach([target], reads)]
    between = reach(changed, readers) & reach([target], reads)
    chains = list(_chains(record, target, reads, set(changed)))
    order = _topological([n for n in range(len(record.nodes)) if n in between], reads)
    return {
        "render": _node(record, target),
        "changed_inputs": [_node(record, n) for n in changed],
        "chains": [[_node(record, n) for n in chain] for chain in chains[:MAX_CHAINS]],
        "more_chains": max(0, len(chains) - MAX_CHAINS),
        "queries": [
            {**_node(record, n), "reads": [str(record.nodes[r].ref) for r in reads.get(n, ())]}
            for n in order
            if record.nodes[n].what == "query"
        ],
        "dropped": record.dropped,
        "lost_events": record.lost,
    }


def _node(record: LastRun, n: int) -> dict[str, Any]:
    node = record.nodes[n]
    return {
        "name": str(node.ref),
        "what": node.what,
        "kind": node.ref.kind,
        "key_hash": node.ref.key_hash,
        "outcome": node.outcome,
    }


def _chains(
    record: LastRun, target: int, reads: dict[int, list[int]], changed: set[int]
) -> Iterator[list[int]]:
    """Paths from a changed input to ``target`` whose every query's value changed
    (executed or new): each made the next one execute. Depth first, read order."""
    limit = MAX_CHAINS + 1000  # enough to count "more", bounded on a dense graph
    found = 0
    stack: list[tuple[int, list[int]]] = [(target, [target])]
    while stack and found < limit:
        node, path = stack.pop()
        for read in reversed(reads.get(node, ())):
            if read in path:
                continue
            if read in changed:
                found += 1
                yield [read, *reversed(path)]
            elif record.nodes[read].outcome in (EXECUTED, NEW):
                stack.append((read, [*path, read]))


def _topological(nodes: list[int], reads: dict[int, list[int]]) -> list[int]:
    """``nodes`` with every read before its readers; otherwise in record order."""
    inside = set(nodes)
    done: set[int] = set()
    order: list[int] = []
    for start in nodes:
        stack = [(start, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in done:
                continue
            done.add(node)
            stack.append((node, True))
            for read in reversed(reads.get(node, ())):
                if read in inside and read not in done:
                    stack.append((read, False))
    return order


def why_lines(answer: dict[str, Any]) -> Iterator[str]:
    output = answer["output"]
    if answer["failed"] is not None:
        yield (
            f"{output}: its render failed in the last run: {answer['failed']}; it was not "
            "written (its file, if any, holds the last good render)"
        )
        if not answer["re_rendered"]:
            return  # (the session kept the error: nothing executed to explain)
    if not answer["re_rendered"]:
        yield (
            f"{output} did not re-render in the last run: its render was not executed "
            "(nothing it reads changed, or the change stopped early)"
        )
        return
    render = answer["render"]
    yield f"{output} re-rendered in the last run: {render['name']} {_SHOWN[render['outcome']]}"
    changed = answer["changed_inputs"]
    if answer["first_build"]:
        yield "  the last run was a first build: every query it executed was new"
        return
    if answer["all_new"]:
        yield (
            "  every query the last run executed had no stored memo, though the cache held "
            "earlier runs: the flow's code (or the code of a query it reads) changed, or "
            "its execution before failed (a failure is not stored)"
        )
        return
    if not changed:
        yield (
            "  no input change of the run leads to it: it executed for the first time, "
            "or its code (or the code of a query it reads) changed"
        )
        return
    yield "input changes that reached it:"
    for node in changed:
        yield f"  {node['name']}"
    yield "chains (each query's value changed, so the next one executed):"
    for chain in answer["chains"]:
        yield "  " + " -> ".join(node["name"] for node in chain)
    if answer["more_chains"]:
        yield f"  ... and {answer['more_chains']} more"
    yield "queries on the way:"
    width = max(len(text) for text in _SHOWN.values())
    for query in answer["queries"]:
        yield f"  {_SHOWN[query['outcome']]:<{width}}  {query['name']}"
    if answer["dropped"]:
        yield f"  ({answer['dropped']} more queries were on the way; the record keeps fewer)"
    if answer["lost_events"]:
        yield f"  (the run lost {answer['lost_events']} events: this record is incomplete)"
