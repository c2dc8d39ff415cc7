"""Code edits between processes, property-tested against recomputing from scratch.

A program's queries change between runs (a flow edited, a version bumped);
the stored memos of the old code must then never be served as the new
code's. Each example drives a small graph on a real SQLite file through
random steps: writes (set, remove), reads of any node, commits, and
restarts, each restart a fresh ``sf.Runtime`` on the same file, often with
other code for ``leaf`` or ``mid`` (a new ``version``, with the same output
or another), and half of them writing as ``sofrito run`` does (marks by id,
then a settle before the first read: ``sofrito._settle``). After every
read the value must be what the code now defined computes from the inputs
now held: the last commit's, after a restart, plus the writes made since.

The graph: ``leaf(k)`` reads ``src[k]``; ``mid(k)`` reads ``leaf(k)``;
``root()`` reads ``src``'s key listing and ``mid(k)`` for each key. An edit
that changes nothing in the output, then a process that re-executes only
part of the edited query, left rows of old code under a meta naming the
new; a write reaching one of them was served stale (``restore.py``,
``unmarked_change``), which this test finds in its first examples.
"""

from __future__ import annotations

import itertools
import tempfile
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import sofrito as sf
from sofrito._settle import marks_by_id, settle
from sofrito.stores import RuntimeStore, SqliteStore
from tests.postgres import need_postgres

KEYS = "abcd"
VALUES = ("x", "y", "xy")
LEAF_CODE: dict[str, Callable[[str], str]] = {
    "1": str.upper,
    "2": str.upper,  # new code, the same output: its readers cut off early
    "3": lambda value: value[::-1],
}
MID_CODE: dict[str, Callable[[str], str]] = {
    "1": lambda value: value + "!",
    "2": lambda value: value + "!",
    "3": lambda value: f"<{value}>",
}

_prefixes = itertools.count()

Step = tuple[Any, ...]


@dataclass
class Code:
    """One process's definitions of the queries (the same names each time)."""

    src: sf.Input
    leaf: Any
    mid: Any
    root: Any


def define(prefix: str, leaf_version: str, mid_version: str) -> Code:
    src = sf.Input(f"{prefix}.src")
    leaf_code, mid_code = LEAF_CODE[leaf_version], MID_CODE[mid_version]

    @sf.query(name=f"{prefix}.leaf", version=leaf_version)
    def leaf(db: Any, key: str) -> str:
        return leaf_code(src(db, key))

    @sf.query(name=f"{prefix}.mid", version=mid_version)
    def mid(db: Any, key: str) -> str:
        return mid_code(leaf(db, key))

    @sf.query(name=f"{prefix}.root")
    def root(db: Any) -> str:
        return "+".join(f"{key}={mid(db, key)}" for (key,) in sorted(src.keys(db)))

    return Code(src, leaf, mid, root)


@dataclass
class Model:
    """What each read must return: the inputs held and the code defined."""

    values: dict[str, str]
    committed: dict[str, str]
    leaf_version: str = "1"
    mid_version: str = "1"

    def leaf(self, key: str) -> str:
        return LEAF_CODE[self.leaf_version](self.values[key])

    def mid(self, key: str) -> str:
        return MID_CODE[self.mid_version](self.leaf(key))

    def root(self) -> str:
        return "+".join(f"{key}={self.mid(key)}" for key in sorted(self.values))


versions = st.sampled_from(["same", "same", *sorted(LEAF_CODE)])
operations = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(KEYS), st.sampled_from(VALUES)),
    st.tuples(st.just("remove"), st.sampled_from(KEYS)),
    st.tuples(st.just("read"), st.sampled_from(["root", "mid", "leaf"]), st.sampled_from(KEYS)),
    st.tuples(st.just("read"), st.just("root"), st.just("a")),
)


@st.composite
def processes(draw: st.DrawFn) -> list[Step]:
    """A run of processes, each a restart (often with other code), a few writes
    and reads, and usually a commit (a process that ends without one loses
    its writes); now and then a commit in the middle."""
    scenario: list[Step] = []
    for _ in range(draw(st.integers(1, 5))):
        scenario.append(("restart", draw(versions), draw(versions), draw(st.booleans())))
        for _ in range(draw(st.integers(0, 5))):
            scenario.append(draw(st.one_of(operations, st.just(("commit",)))))
        if draw(st.integers(0, 3)):
            scenario.append(("commit",))
    return scenario


class Session:
    def __init__(self, open_store: Callable[[], RuntimeStore]) -> None:
        self.open_store = open_store
        self.prefix = f"edits{next(_prefixes)}"
        self.model = Model(values=dict.fromkeys(KEYS, "x"), committed={})
        self.code = define(self.prefix, "1", "1")
        self.settling, self.unsettled = False, False
        self.rt = self._open()
        for key, value in self.model.values.items():
            self.rt.set(self.code.src[key], value)
        self.read("root", "a")
        self.commit()

    def _open(self) -> sf.Runtime:
        self.store = self.open_store()
        return sf.Runtime(store=self.store, runtime_id="edits")

    def close(self) -> None:
        self.store.close()

    def run(self, step: Step) -> None:
        getattr(self, f"_step_{step[0]}")(*step[1:])

    def _step_set(self, key: str, value: str) -> None:
        with self._writing():
            self.rt.set(self.code.src[key], value)
        self.model.values[key] = value

    def _step_remove(self, key: str) -> None:
        if key in self.model.values and len(self.model.values) > 1:
            with self._writing():
                self.rt.remove(self.code.src[key])
            del self.model.values[key]

    def _writing(self) -> AbstractContextManager[None]:
        """As ``sofrito run`` writes in a settling process: marks by id."""
        if not self.settling:
            return nullcontext()
        self.unsettled = True
        return marks_by_id(self.rt)

    def _step_read(self, what: str, key: str) -> None:
        self.read(what, key)

    def _step_commit(self) -> None:
        self.commit()

    def _step_restart(self, leaf_version: str, mid_version: str, settling: bool) -> None:
        self.close()
        self.settling, self.unsettled = settling, False
        model = self.model
        model.values = dict(model.committed)
        if leaf_version != "same":
            model.leaf_version = leaf_version
        if mid_version != "same":
            model.mid_version = mid_version
        self.code = define(self.prefix, model.leaf_version, model.mid_version)
        self.rt = self._open()

    def read(self, what: str, key: str) -> None:
        if self.unsettled:
            settle(self.rt)  # as ``sofrito run`` does before it reads the outputs
            self.unsettled = False
        if what == "root":
            assert self.code.root(self.rt) == self.model.root(), self.model
        elif key in self.model.values:
            got = getattr(self.code, what)(self.rt, key)
            assert got == getattr(self.model, what)(key), (what, key, self.model)

    def commit(self) -> None:
        self.rt.commit()
        self.model.committed = dict(self.model.values)


def play(scenario: list[Step], open_store: Callable[[], RuntimeStore]) -> None:
    session = Session(open_store)
    try:
        for step in scenario:
            session.run(step)
        session.read("root", "a")
    finally:
        session.close()


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(processes())
def test_every_read_is_the_current_code_s_value_of_the_current_inputs(
    scenario: list[Step],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        play(scenario, lambda: SqliteStore(Path(folder) / "cache.db"))


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(processes())
def test_on_postgresql_too(scenario: list[Step]) -> None:
    """The marks live in the snapshot's meta, whatever the store; the closures
    by name prefix and the bulk loads are PostgreSQL's own queries."""
    dsn = need_postgres()
    import psycopg

    from sofrito.stores import PostgresStore

    schema = f"t_{uuid.uuid4().hex[:16]}"
    try:
        play(scenario, lambda: PostgresStore(dsn, schema=schema))
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
