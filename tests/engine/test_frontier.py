"""Cut revisions: a change that stopped at the memos reading the written cell.

The marks of a cut revision are moot, so the memos they reached are valid as
they stand, without a walk. These tests check when a revision is cut and
when it must not be: the values every read returns, the executions it
causes, and (through ``frontier.covers``) whether the engine would skip the
walk. ``test_properties.py`` checks the same against an oracle on random
graphs and edits.
"""

from __future__ import annotations

import gc
import weakref
from collections import Counter
from typing import Any

import sofrito as sf
from sofrito._engine import frontier
from sofrito._events.kinds import QueryRef, QueryVerified
from tests.boxes import Box

leaf = sf.Input("tests.frontier.leaf")
other = sf.Input("tests.frontier.other")
runs: Counter[str] = Counter()


@sf.query
def bucket(db: Any, name: str) -> int:
    """Changes only when the leaf crosses a multiple of ten: the cutoff."""
    runs[f"bucket:{name}"] += 1
    return int(leaf(db, name)) // 10


@sf.query
def parity(db: Any, name: str) -> int:
    """Reads the same leaf as ``bucket``, and changes with every odd step."""
    runs[f"parity:{name}"] += 1
    return int(leaf(db, name)) % 2


@sf.query
def above(db: Any, name: str, level: int) -> int:
    """A chain on top of ``bucket``: level ``n`` reads level ``n - 1``."""
    runs[f"above:{name}:{level}"] += 1
    below = bucket(db, name) if level == 0 else above(db, name, level - 1)
    return int(below) + 1


@sf.query
def top(db: Any, name: str) -> int:
    runs[f"top:{name}"] += 1
    return int(above(db, name, 3)) + int(above(db, name, 1))


@sf.query
def side(db: Any, name: str) -> int:
    """Reads the chain, and is read by nobody: the write marks it, ``top`` never walks it."""
    runs[f"side:{name}"] += 1
    return 2 * int(above(db, name, 0))


@sf.query
def with_parity(db: Any, name: str) -> int:
    runs[f"with_parity:{name}"] += 1
    return int(parity(db, name)) + 10


@sf.query
def boxed(db: Any, name: str) -> Box[int]:
    return Box(int(leaf(db, name)))


def _runtime(value: int = 11) -> sf.Runtime:
    runs.clear()
    rt = sf.Runtime()
    rt.set(leaf["a"], value)
    return rt


def _skips_walk(rt: sf.Runtime, query: Any, *key: Any) -> bool:
    """Whether the engine takes this dirty memo as valid without walking its reads."""
    memo = rt._engine.tables[query.spec][key]
    assert memo.dirty_at > memo.verified_at, f"{memo!r} is not dirty: there is nothing to skip"
    return frontier.covers(rt._engine, memo.verified_at, memo.dirty_at)


def test_an_equal_recomputation_cuts_the_revision() -> None:
    rt = _runtime()
    assert top(rt, "a") == 5 + 3
    assert side(rt, "a") == 4
    rt.set(leaf["a"], 12)  # the same bucket
    assert not _skips_walk(rt, side, "a")  # nobody has looked at the bucket yet
    runs.clear()
    assert top(rt, "a") == 8
    assert runs == {"bucket:a": 1}  # early cutoff: nothing above it executes
    # The bucket settled unchanged: what the write marked but nobody read since
    # is valid as it stands, and its next read executes nothing.
    assert _skips_walk(rt, side, "a")
    assert side(rt, "a") == 4
    assert runs == {"bucket:a": 1}


def test_a_change_that_goes_on_leaves_the_revision_uncut() -> None:
    rt = _runtime()
    assert top(rt, "a") == 8
    assert side(rt, "a") == 4
    rt.set(leaf["a"], 21)  # the next bucket
    runs.clear()
    assert top(rt, "a") == 10
    assert not _skips_walk(rt, side, "a")
    assert side(rt, "a") == 6
    assert runs["side:a"] == 1


def test_a_revision_known_uncut_blocks_the_check_before_it_is_made() -> None:
    rt = _runtime()
    assert top(rt, "a") == 8
    rt.set(leaf["a"], 21)
    changed_in = rt.revision
    assert top(rt, "a") == 10
    rt.set(other["x"], 1)  # the next write settles the record of the last
    # The engine compares with this before it calls covers, for every dirty memo.
    assert rt._engine.frontiers.blocked == changed_in


def test_a_revision_is_cut_only_once_every_reader_of_the_cell_settled() -> None:
    rt = _runtime()
    assert top(rt, "a") == 8
    assert with_parity(rt, "a") == 11
    rt.set(leaf["a"], 12)  # same bucket, other parity
    runs.clear()
    assert top(rt, "a") == 8
    # parity read the cell too, and nobody has brought it up to date: the
    # revision may still have changed what reads parity.
    assert not _skips_walk(rt, with_parity, "a")
    assert with_parity(rt, "a") == 10
    assert runs == {"bucket:a": 1, "parity:a": 1, "with_parity:a": 1}


def test_every_revision_since_the_memo_was_verified_must_be_cut() -> None:
    rt = _runtime()
    assert top(rt, "a") == 8
    assert with_parity(rt, "a") == 11
    rt.set(leaf["a"], 12)  # revision r: parity changes, and nobody reads it now
    rt.set(leaf["a"], 14)  # revision r + 1: same bucket, same parity as 12
    runs.clear()
    assert top(rt, "a") == 8
    assert runs == {"bucket:a": 1}
    # with_parity was marked by both; the second revision alone would be cut.
    assert not _skips_walk(rt, with_parity, "a")
    assert with_parity(rt, "a") == 10
    assert runs["with_parity:a"] == 1


def test_a_lowered_durability_is_not_hidden_by_a_cut_revision() -> None:
    cell = sf.Input("tests.frontier.transient", durability=sf.Durability.TRANSIENT)

    @sf.query
    def half(db: Any) -> int:
        return int(cell(db)) // 2

    @sf.query
    def reader(db: Any) -> int:
        runs["reader"] += 1
        return int(half(db)) + 1

    runs.clear()
    rt = sf.Runtime()
    rt.set(cell, 4)
    assert reader(rt) == 3
    rt.set(cell, 4, durability=sf.Durability.VOLATILE)  # same value, lower durability
    assert half(rt) == 2  # settled equal, but volatile now
    assert reader(rt) == 3  # is reader volatile now too?
    # A volatile change: the durability shortcut must not take reader as valid
    # because of the durability it had before the revision.
    rt.set(cell, 8, durability=sf.Durability.VOLATILE)
    assert reader(rt) == 5
    assert runs["reader"] == 2


def test_a_reader_of_a_pending_cell_leaves_the_revision_uncut() -> None:
    available: dict[str, str] = {}
    source = sf.Input("tests.frontier.source", locator=lambda key: available.get(key, sf.PENDING))
    switch = sf.Input("tests.frontier.switch")

    @sf.query
    def status(db: Any) -> str:
        if not switch(db):
            return "loading"
        return "ready" if isinstance(sf.state(db, source["a"]), sf.Ready) else "loading"

    @sf.query
    def page(db: Any) -> str:
        return str(status(db)).upper()

    rt = sf.Runtime()
    rt.set(switch, False)
    assert page(rt) == "LOADING"
    rt.set(switch, True)  # status reads the pending cell now, and returns the same
    assert status(rt) == "loading"
    assert page(rt) == "LOADING"  # page must be verified in every revision from now on
    available["a"] = "done"
    rt.set(other["x"], 1)  # a new revision: the locator may be asked again
    page(rt)  # asks it; the value is applied as the call ends
    assert page(rt) == "READY"


def test_a_revision_whose_record_was_replaced_is_not_cut() -> None:
    rt = _runtime()
    assert top(rt, "a") == 8
    assert with_parity(rt, "a") == 11
    rt.set(leaf["a"], 12)  # parity changes; nobody reads it for a while
    assert top(rt, "a") == 8
    for step in range(frontier.WINDOW):  # cut revisions, until the ring comes round
        rt.set(other["x"], step)
    assert with_parity(rt, "a") == 10


def test_a_revision_jumped_over_is_never_cut() -> None:
    rt = _runtime()
    assert top(rt, "a") == 8
    assert side(rt, "a") == 4
    rt.set_current_revision(rt.revision + 5)
    rt.set(leaf["a"], 12)
    assert top(rt, "a") == 8
    # The revisions jumped over had no writes anyone recorded: a memo verified
    # before them is walked.
    assert not _skips_walk(rt, side, "a")
    assert side(rt, "a") == 4


def test_revisions_past_the_window_count_as_uncut_and_values_stay_right() -> None:
    rt = _runtime()
    assert top(rt, "a") == 8
    assert with_parity(rt, "a") == 11
    value = 11
    for step in range(frontier.KEPT + 2 * frontier.WINDOW):
        rt.set(other["x"], step)  # nobody reads it: a frontier of none, cut
        value = 11 + (step % 8)  # stays in bucket 1
        rt.set(leaf["a"], value)
        assert top(rt, "a") == 8  # parity never read: these revisions stay uncut
    engine = rt._engine
    assert len(engine.frontiers.uncut) <= frontier.KEPT + 1
    assert engine.frontiers.floor > 0  # the oldest were forgotten
    assert with_parity(rt, "a") == 10 + value % 2
    runs.clear()
    rt.set(leaf["a"], 17)
    assert top(rt, "a") == 8
    assert with_parity(rt, "a") == 11
    assert runs == {"bucket:a": 1, "parity:a": 1, "with_parity:a": 1}


def test_clearing_the_cache_lets_the_frontier_go() -> None:
    rt = _runtime()
    value = boxed(rt, "a")
    ref = weakref.ref(value)
    del value
    rt.set(leaf["a"], 12)  # boxed is on this revision's frontier
    rt.clear_cache()
    gc.collect()
    assert ref() is None
    assert boxed(rt, "a").content == 12


@sf.query
def both(db: Any, name: str) -> int:
    """Reads two memos that one write marks: ``above(1)``, then ``side``."""
    runs[f"both:{name}"] += 1
    return int(above(db, name, 1)) + int(side(db, name))


def test_a_walk_stops_at_the_read_whose_settling_cut_the_revision() -> None:
    rt = _runtime()
    assert both(rt, "a") == 3 + 4
    rt.set(leaf["a"], 12)  # the same bucket
    events = rt.subscribe_events()
    runs.clear()
    assert both(rt, "a") == 7
    assert runs == {"bucket:a": 1}
    verified = []
    while (event := events.try_recv()) is not None:
        if isinstance(event, QueryVerified):
            verified.append(event.ref)
    # Settling its first read re-executed the bucket, equal: the revision is cut,
    # so ``both`` is valid as it stands and its walk does not go on to ``side``,
    # which is left as the write marked it, valid on its next read.
    assert QueryRef.of(both.spec.name, ("a",)) in verified
    assert QueryRef.of(side.spec.name, ("a",)) not in verified
    assert _skips_walk(rt, side, "a")
    assert side(rt, "a") == 4
    assert runs == {"bucket:a": 1}
