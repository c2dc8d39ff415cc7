"""Readers of a node (``_engine/rdeps.py``): exact as queries start and stop reading it.

A node keeps its readers in a short list and switches to a dict past
``rdeps.SMALL`` of them; both shapes must hold each reader once, drop one
that stopped reading, and keep the order in which they started. Each
scenario runs with fewer readers than ``SMALL`` and with more, and checks
which queries a write reports as invalidated and which run again.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

import sofrito as sf
from sofrito._engine.rdeps import SMALL
from sofrito._events.kinds import QueryInvalidated, QueryRef

shared = sf.Input("rdeps.shared")
other = sf.Input("rdeps.other")
switch = sf.Input("rdeps.switch")
runs: Counter[int] = Counter()


@sf.query(name="rdeps.pick")
def pick(db: Any, i: int) -> str:
    runs[i] += 1
    if switch(db, i):
        return f"{shared(db)}{other(db)}{shared(db)}"  # shared read twice, apart
    return str(other(db))


def _invalidated(receiver: Any) -> list[QueryRef]:
    found = []
    while (event := receiver.try_recv()) is not None:
        if isinstance(event, QueryInvalidated):
            found.append(event.ref)
    return found


def _ref(i: int) -> QueryRef:
    return QueryRef.of("rdeps.pick", (i,))


@pytest.mark.parametrize("readers", [3, SMALL + 9])
def test_a_reader_that_stopped_reading_a_node_is_not_invalidated_by_it(readers: int) -> None:
    rt = sf.Runtime()
    order = [(i * 7) % readers for i in range(readers)]  # not the order of the keys
    with rt.batch():
        rt.set(shared, "s")
        rt.set(other, "o")
        for i in order:
            rt.set(switch[i], True)
    for i in order:
        pick(rt, i)
    stopped = set(order[::3])
    with rt.batch():
        for i in stopped:
            rt.set(switch[i], False)
    for i in order:
        pick(rt, i)
    runs.clear()
    events = rt.subscribe_events()
    rt.set(shared, "t")
    still = [i for i in order if i not in stopped]
    assert _invalidated(events) == [_ref(i) for i in still]  # each once, in reading order
    assert [pick(rt, i) for i in order] == ["tot" if i in still else "o" for i in order]
    assert set(runs) == set(still)
    assert all(count == 1 for count in runs.values())


@pytest.mark.parametrize("readers", [3, SMALL + 9])
def test_a_reader_that_starts_reading_again_is_listed_once(readers: int) -> None:
    rt = sf.Runtime()
    with rt.batch():
        rt.set(shared, "s")
        rt.set(other, "o")
        for i in range(readers):
            rt.set(switch[i], True)
    for i in range(readers):
        pick(rt, i)
    for value in (False, True, False, True):  # leave and join the readers of shared
        rt.set(switch[0], value)
        pick(rt, 0)
    events = rt.subscribe_events()
    rt.set(shared, "t")
    assert _invalidated(events) == [_ref(i) for i in [*range(1, readers), 0]]


@sf.query(name="rdeps.echo")
def echo(db: Any, i: int) -> str:
    return f"{shared(db)}{i}"


@pytest.mark.parametrize("per_thread", [2, SMALL])
def test_readers_linked_from_many_threads_at_once_all_see_the_next_write(per_thread: int) -> None:
    # Each thread executes its own queries, all of which read ``shared``: their
    # links to it land at the same moment, through the compare-and-swap of
    # rdeps.add_reader, in both shapes (a tuple, then a dict past SMALL).
    rt = sf.Runtime()
    rt.set(shared, "a")
    threads = 8
    start = threading.Barrier(threads)

    def run(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            echo(rt, t * per_thread + i)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    events = rt.subscribe_events()
    rt.set(shared, "b")
    everyone = threads * per_thread
    assert sorted(_invalidated(events), key=lambda r: r.key) == [
        QueryRef.of("rdeps.echo", (i,)) for i in range(everyone)
    ]
    assert [echo(rt, i) for i in range(everyone)] == [f"b{i}" for i in range(everyone)]
