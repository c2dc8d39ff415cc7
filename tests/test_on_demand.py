"""A runtime on a store loads on demand: what each step loads, and that it is right.

Each test builds a small graph on a real SQLite file, commits, and opens a
fresh runtime on the same file through ``Counting``, a wrapper that records
every on-demand load and what it returned. A runtime object opened anew
holds nothing in memory, as a new process would (the queries are defined
once per test, with names of their own).
"""

from __future__ import annotations

import gc
import itertools
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

import sofrito as sf
from sofrito._keys import decode_key, encode_key
from sofrito._on_demand import prefetch
from sofrito._snapshot import memo_id, split_memo_id
from sofrito.stores import RuntimeStore, SqliteStore, StaleRead

_names = itertools.count()


class Counting:
    """A store that forwards everything, recording each ``load_*`` call and what it
    returned: memo rows and readers as ``name(key)``, input rows by input id."""

    def __init__(self, inner: RuntimeStore) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.memos: list[str] = []
        self.inputs: list[str] = []
        self.readers: list[str] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if not name.startswith("load_") or not callable(found):
            return found

        def load(*args: Any, **kwargs: Any) -> Any:
            result = found(*args, **kwargs)
            self.calls.append(name)
            if name == "load_memo_rows":
                self.memos += [_shown(mid) for mid in result]
            elif name == "load_input_rows":
                self.inputs += list(result)
            elif name in ("load_family", "load_inputs_changed_after"):
                self.inputs += [state.input_id for state in result]
            elif name == "load_reader_closure":
                self.readers += sorted({_shown(reader) for _, reader in result})
            return result

        return load

    def clear(self) -> None:
        self.calls, self.memos, self.inputs, self.readers = [], [], [], []


def _shown(mid: bytes) -> str:
    name, key = split_memo_id(mid)
    return f"{name.rsplit('.', 1)[-1]}{decode_key(key)!r}".replace(",)", ")")


@dataclass
class Graph:
    """root() reads mid(k) for a, b, c; mid(k) reads leaf(k); leaf(k) reads src[k]."""

    prefix: str
    src: sf.Input
    leaf: Any
    mid: Any
    root: Any
    runs: Counter[str] = field(default_factory=Counter)


def graph(
    *,
    leaf_version: str | None = None,
    mid_persist: bool = True,
    leaf_lru: int | None = None,
    prefix: str | None = None,
    lower: bool = False,
) -> Graph:
    prefix = prefix or f"ondemand{next(_names)}"
    runs: Counter[str] = Counter()
    src = sf.Input(f"{prefix}.src")

    @sf.query(name=f"{prefix}.leaf", version=leaf_version, lru=leaf_lru)
    def leaf(db: Any, key: str) -> str:
        runs[f"leaf {key}"] += 1
        value: str = src(db, key)
        if value == "bad":
            raise ValueError(f"bad {key}")
        return value.lower() if lower else value.upper()

    @sf.query(name=f"{prefix}.mid", persist=mid_persist)
    def mid(db: Any, key: str) -> str:
        runs[f"mid {key}"] += 1
        try:
            return str(leaf(db, key)) + "!"
        except ValueError:
            return "?"

    @sf.query(name=f"{prefix}.root")
    def root(db: Any) -> str:
        runs["root"] += 1
        return "+".join(mid(db, key) for key in ("a", "b", "c"))

    return Graph(prefix, src, leaf, mid, root, runs)


def built(db: Path, g: Graph, **values: str) -> None:
    rt = sf.Runtime(store=SqliteStore(db), runtime_id="t")
    for key in "abc":
        rt.set(g.src[key], values.get(key, key * 2))
    g.root(rt)
    # A later revision than anything computed, as a real cache's last commit
    # usually is (readers pushed back at opening verify against it), and every
    # memo verified in it, as after a build that reads everything it made.
    rt.set(g.src["unrelated"], "-")
    for key in "abc":
        g.mid(rt, key)
        if values.get(key) != "bad":
            g.leaf(rt, key)
    g.root(rt)
    rt.commit()
    g.runs.clear()


def reopen(db: Path) -> tuple[sf.Runtime, Counting]:
    store = Counting(SqliteStore(db))
    return sf.Runtime(store=cast(RuntimeStore, store), runtime_id="t"), store


def test_opening_loads_the_header_and_nothing_else(tmp_path: Path) -> None:
    g = graph()
    built(tmp_path / "c.db", g)
    _, store = reopen(tmp_path / "c.db")
    assert store.calls == ["load_header"]


def test_reading_an_unchanged_root_loads_exactly_its_row(tmp_path: Path) -> None:
    g = graph()
    built(tmp_path / "c.db", g)
    rt, store = reopen(tmp_path / "c.db")
    store.clear()
    assert g.root(rt) == "AA!+BB!+CC!"
    assert store.memos == ["root()"]
    assert store.calls == ["load_memo_rows"]
    assert g.runs == {}


def test_a_write_loads_its_stored_closure_and_nothing_else(tmp_path: Path) -> None:
    g = graph()
    built(tmp_path / "c.db", g)
    rt, store = reopen(tmp_path / "c.db")
    store.clear()
    rt.set(g.src["a"], "xx")
    assert sorted(store.readers) == ["leaf('a')", "mid('a')", "root()"]
    assert sorted(store.memos) == ["leaf('a')", "mid('a')", "root()"]
    assert store.inputs == [f"{g.prefix}.src:" + _key_hex("a")]


def test_a_read_after_a_write_loads_the_cone_and_the_direct_deps_of_what_re_executes(
    tmp_path: Path,
) -> None:
    g = graph()
    built(tmp_path / "c.db", g)
    rt, store = reopen(tmp_path / "c.db")
    rt.set(g.src["a"], "xx")
    store.clear()
    assert g.root(rt) == "XX!+BB!+CC!"
    assert g.runs == {"leaf a": 1, "mid a": 1, "root": 1}
    assert sorted(store.memos) == ["mid('b')", "mid('c')"]  # what root read besides
    assert store.calls == ["load_memo_rows"]  # one round trip for all of root's reads
    receipt = rt.commit()
    assert receipt.sequence == 2
    again, _ = reopen(tmp_path / "c.db")
    assert g.root(again) == "XX!+BB!+CC!"


def test_a_later_process_loads_only_the_cone_again(tmp_path: Path) -> None:
    """Rows a commit did not rewrite are valid as of their own verification (the
    snapshot's dirty set says which are not), so the second edit in a new process
    loads what the first did: the cone, and the direct reads of what re-executes."""
    g = graph()
    built(tmp_path / "c.db", g)
    first, _ = reopen(tmp_path / "c.db")
    first.set(g.src["a"], "xx")
    assert g.root(first) == "XX!+BB!+CC!"
    first.commit()
    second, store = reopen(tmp_path / "c.db")
    second.set(g.src["b"], "yy")
    store.clear()
    assert g.root(second) == "XX!+YY!+CC!"
    assert sorted(store.memos) == ["mid('a')", "mid('c')"]


def test_a_write_committed_before_its_readers_verified_is_not_forgotten(
    tmp_path: Path,
) -> None:
    """A memo marked by a write and committed unverified stays dirty in the store
    (the dirty set): the next process verifies it, never serves its old row."""
    g = graph()
    built(tmp_path / "c.db", g)
    first, _ = reopen(tmp_path / "c.db")
    first.set(g.src["a"], "xx")
    first.commit()  # nothing read: leaf('a'), mid('a') and root() still as before
    second, _ = reopen(tmp_path / "c.db")
    assert g.root(second) == "XX!+BB!+CC!"
    assert g.mid(second, "a") == "XX!"
    second.commit()
    third, _ = reopen(tmp_path / "c.db")
    g.runs.clear()
    assert g.root(third) == "XX!+BB!+CC!"
    assert g.runs == {}


def test_a_query_defined_after_open_finds_its_stored_memos(tmp_path: Path) -> None:
    prefix = f"ondemand{next(_names)}"
    g = graph(prefix=prefix)
    built(tmp_path / "c.db", g)
    del g
    gc.collect()  # the registry holds queries weakly: none of them is defined now
    rt, _ = reopen(tmp_path / "c.db")
    late = graph(prefix=prefix)  # the same code, defined after the runtime opened
    assert late.root(rt) == "AA!+BB!+CC!"
    assert late.runs == {}
    assert late.mid(rt, "b") == "BB!"
    assert late.runs == {}
    rt.set(late.src["b"], "yy")
    assert late.root(rt) == "AA!+YY!+CC!"
    assert late.runs == {"leaf b": 1, "mid b": 1, "root": 1}


def test_an_edited_query_re_executes_exactly_what_it_reaches(tmp_path: Path) -> None:
    prefix = f"ondemand{next(_names)}"
    g = graph(prefix=prefix)
    built(tmp_path / "c.db", g)
    edited = graph(prefix=prefix, leaf_version="2")  # leaf's code changed: the same values
    rt, _ = reopen(tmp_path / "c.db")
    assert edited.root(rt) == "AA!+BB!+CC!"
    # Every leaf re-executes: a discarded memo counts as changed, so its readers
    # execute too; they come out equal, and root verifies.
    assert edited.runs == {
        "leaf a": 1,
        "leaf b": 1,
        "leaf c": 1,
        "mid a": 1,
        "mid b": 1,
        "mid c": 1,
    }
    rt.commit()
    settled, _ = reopen(tmp_path / "c.db")
    edited.runs.clear()
    assert edited.root(settled) == "AA!+BB!+CC!"
    assert edited.runs == {}


def test_an_edited_query_loads_the_closure_of_its_memos_once(tmp_path: Path) -> None:
    """Opening finds the readers of every memo of an edited query in one closure
    (by name prefix); discarding each memo as verification meets it loads no
    closure again. One each was N closure loads of the whole cone: a flow
    edit on a 10,000-page site took minutes."""
    prefix = f"ondemand{next(_names)}"
    g = graph(prefix=prefix)
    built(tmp_path / "c.db", g)
    edited = graph(prefix=prefix, leaf_version="2")
    rt, store = reopen(tmp_path / "c.db")
    assert edited.root(rt) == "AA!+BB!+CC!"
    assert store.calls.count("load_reader_closure") == 1
    assert sorted(edited.runs) == ["leaf a", "leaf b", "leaf c", "mid a", "mid b", "mid c"]


def test_an_edited_query_whose_value_changes_re_executes_its_readers(tmp_path: Path) -> None:
    prefix = f"ondemand{next(_names)}"
    g = graph(prefix=prefix)
    built(tmp_path / "c.db", g)
    edited = graph(prefix=prefix, leaf_version="2", lower=True)  # a real edit
    rt, _ = reopen(tmp_path / "c.db")
    assert edited.root(rt) == "aa!+bb!+cc!"


@pytest.mark.parametrize("written", ["a", "b"])
def test_a_write_reaching_a_row_of_old_code_under_new_code_s_meta_is_not_cut(
    tmp_path: Path, written: str
) -> None:
    """A process with edited code commits having re-executed only some of the
    query's memos: the meta names the new code, the other rows still carry the
    old. A later write that reaches one of those rows installs it empty (it
    executes when read), so it is linked to nothing and the write's frontier
    does not list it; the write then counted as cut, and root was served from
    its old row with nothing executed (the stale value found at 7c33015)."""
    prefix = f"ondemand{next(_names)}"
    g = graph(prefix=prefix)
    built(tmp_path / "c.db", g)
    edited = graph(prefix=prefix, leaf_version="2")
    partial, _ = reopen(tmp_path / "c.db")
    assert edited.mid(partial, "a") == "AA!"  # leaf('a') re-executes; b and c do not
    partial.commit()
    rt, _ = reopen(tmp_path / "c.db")
    rt.set(edited.src[written], "new")
    edited.runs.clear()
    expected = {key: "NEW!" if key == written else key.upper() * 2 + "!" for key in "abc"}
    assert edited.root(rt) == "+".join(expected.values())
    # What the write reached, and every leaf whose row is still of the old code
    # (b and c: the partial process re-executed only a), with its reader.
    ran = {written, "b", "c"}
    assert edited.runs == {"root": 1} | {f"{q} {key}": 1 for key in ran for q in ("leaf", "mid")}
    rt.commit()
    again, _ = reopen(tmp_path / "c.db")
    assert edited.root(again) == "+".join(expected.values())


def test_rows_of_old_code_met_one_by_one_load_their_query_s_closure_once(
    tmp_path: Path,
) -> None:
    """Rows of old code under a meta naming the new, each met by its own walk:
    a few load their own closure of stored readers, then the closure of all of
    the query's memos loads once (``_SEEDS_PER_QUERY``), not one per row (a
    body edit on a 10,000-page site ran for over ten minutes that way)."""
    prefix = f"ondemand{next(_names)}"
    keys = [f"k{i:02}" for i in range(30)]

    def define(version: str) -> tuple[sf.Input, Any, Any]:
        src = sf.Input(f"{prefix}.src")

        @sf.query(name=f"{prefix}.leaf", version=version)
        def leaf(db: Any, key: str) -> str:
            return str(src(db, key)).upper()

        @sf.query(name=f"{prefix}.mid")
        def mid(db: Any, key: str) -> str:
            return str(leaf(db, key)) + "!"

        @sf.query(name=f"{prefix}.root")
        def root(db: Any) -> str:
            return "".join(mid(db, key) for key in keys)

        return src, leaf, root

    src, _, root = define("1")
    first = sf.Runtime(store=SqliteStore(tmp_path / "c.db"), runtime_id="t")
    for key in keys:
        first.set(src[key], key)
    root(first)
    first.commit()
    src, leaf, root = define("2")
    partial, _ = reopen(tmp_path / "c.db")
    leaf(partial, "k00")
    partial.commit()
    rt, store = reopen(tmp_path / "c.db")
    assert root(rt) == "".join(f"{key.upper()}!" for key in keys)
    assert 1 < store.calls.count("load_reader_closure") <= 10


def test_a_damaged_row_dropped_by_a_write_leaves_the_write_uncut(tmp_path: Path) -> None:
    """With ``on_corrupt="cold"``, a write whose stored readers include a damaged
    row drops that row: the memo is installed empty, linked to nothing, so the
    write's frontier does not list it. The write must still not count as cut
    (``restore.unmarked_change``), or root, clean from its row, is served as it
    was: the old value, with nothing executed."""
    g = graph()
    built(tmp_path / "c.db", g)
    leaf_b = memo_id(f"{g.prefix}.leaf", encode_key(("b",)))
    with closing(sqlite3.connect(tmp_path / "c.db")) as conn, conn:
        (row,) = conn.execute("SELECT row FROM memos WHERE memo_id = ?", (leaf_b,)).fetchone()
        damaged = bytearray(row)
        damaged[len(damaged) // 2] ^= 0x5A
        conn.execute("UPDATE memos SET row = ? WHERE memo_id = ?", (bytes(damaged), leaf_b))
    rt = sf.Runtime(store=SqliteStore(tmp_path / "c.db"), runtime_id="t", on_corrupt="cold")
    rt.set(g.src["b"], "new")
    assert g.root(rt) == "AA!+NEW!+CC!"
    assert g.runs == {"leaf b": 1, "mid b": 1, "root": 1}


def test_inputs_persisted_after_the_last_commit_are_caught_up(tmp_path: Path) -> None:
    g = graph()
    built(tmp_path / "c.db", g)
    writer, _ = reopen(tmp_path / "c.db")
    writer.set(g.src["b"], "late", durable=True)  # in the store; never committed
    opened_at = writer.revision
    rt, store = reopen(tmp_path / "c.db")
    assert rt.revision == opened_at
    assert "load_inputs_changed_after" in store.calls
    assert g.root(rt) == "AA!+LATE!+CC!"
    assert g.runs == {"leaf b": 1, "mid b": 1, "root": 1}


def _listing_reader(label: str) -> tuple[sf.Input, Any, Counter[str]]:
    """A fresh input family, a query that counts its keys, and its executions."""
    src = sf.Input(f"ondemand{next(_names)}.{label}")
    runs: Counter[str] = Counter()

    @sf.query(name=f"{src.name}.count")
    def count(db: Any) -> int:
        runs["count"] += 1
        return len(src.keys(db))

    return src, count, runs


def test_input_keys_after_a_restart(tmp_path: Path) -> None:
    src, count, runs = _listing_reader("keys")

    rt = sf.Runtime(store=SqliteStore(tmp_path / "c.db"), runtime_id="t")
    for key in "abc":
        rt.set(src[key], key)
    assert count(rt) == 3
    rt.commit()
    rt, _ = reopen(tmp_path / "c.db")
    assert sorted(src.keys(rt)) == [("a",), ("b",), ("c",)]
    assert count(rt) == 3
    assert runs == {"count": 1}
    rt.set(src["a"], "edited")  # a value edit: the listing is the same
    assert count(rt) == 3
    assert runs == {"count": 1}
    rt.set(src["d"], "d")  # a key joins
    assert count(rt) == 4
    rt.remove(src["b"])  # a key leaves
    assert count(rt) == 3
    assert runs == {"count": 3}
    rt.commit()
    again, _ = reopen(tmp_path / "c.db")
    assert sorted(src.keys(again)) == [("a",), ("c",), ("d",)]


@pytest.mark.parametrize("settled", [False, True])
def test_a_listing_read_while_its_family_was_empty_sees_the_first_key(
    tmp_path: Path, settled: bool
) -> None:
    """A stored memo that listed a family with no key yet: the family has no
    stored cell, only the listing's record. The first key a later process
    writes must reach that memo, by the eager walk or by the settle."""
    from sofrito._settle import settle

    src, count, runs = _listing_reader("empty")

    rt = sf.Runtime(store=SqliteStore(tmp_path / "c.db"), runtime_id="t")
    assert count(rt) == 0
    rt.commit()
    rt, _ = reopen(tmp_path / "c.db")
    with rt.batch():
        rt.set(src["a"], "first")
    if settled:
        settle(rt)
    assert count(rt) == 1
    assert runs == {"count": 2}
    rt.commit()
    again, _ = reopen(tmp_path / "c.db")
    assert count(again) == 1
    assert runs == {"count": 2}


@pytest.mark.parametrize("between", ["read", "remove", "nothing"])
def test_a_listing_s_record_outlives_a_process_that_did_not_link_it(
    tmp_path: Path, between: str
) -> None:
    """A process in between loads the listing's reader and verifies it (its
    reads not linked), writes to the family without adding a key, or only
    commits: its commit keeps the stored record of the empty listing, so the
    next process's first key still reaches the stored reader."""
    src, count, _ = _listing_reader("between")

    rt = sf.Runtime(store=SqliteStore(tmp_path / "c.db"), runtime_id="t")
    assert count(rt) == 0
    rt.commit()
    middle, _ = reopen(tmp_path / "c.db")
    if between == "read":
        assert count(middle) == 0
    elif between == "remove":
        middle.remove(src["never set"])
    middle.commit()
    last, _ = reopen(tmp_path / "c.db")
    last.set(src["a"], "first")
    assert count(last) == 1


def test_a_load_after_another_runtime_committed_is_a_stale_read(tmp_path: Path) -> None:
    g = graph()
    built(tmp_path / "c.db", g)
    first, _ = reopen(tmp_path / "c.db")
    second, _ = reopen(tmp_path / "c.db")
    first.set(g.src["a"], "won")
    first.commit()
    with pytest.raises(StaleRead) as caught:
        g.root(second)
    message = str(caught.value)
    assert "runtime 't'" in message
    assert "Open the runtime again" in message

    @sf.query(name=f"{g.prefix}.outer", persist=False)
    def outer(db: Any) -> str:
        return str(g.mid(db, "b"))

    # Met inside a computation: the caller gets the StaleRead itself, not cached as
    # outer's error (a cached one would be the same exception object again).
    with pytest.raises(StaleRead) as inside:
        outer(second)
    with pytest.raises(StaleRead) as again:
        outer(second)
    assert inside.value is not again.value
    reopened, _ = reopen(tmp_path / "c.db")
    assert g.root(reopened) == "WON!+BB!+CC!"


def test_events_after_a_write_in_a_fresh_runtime_name_every_transitive_dependent(
    tmp_path: Path,
) -> None:
    g = graph()
    built(tmp_path / "c.db", g)
    rt, _ = reopen(tmp_path / "c.db")
    events = rt.subscribe_events()
    rt.set(g.src["c"], "new")
    invalidated = set()
    while (event := events.try_recv()) is not None:
        if isinstance(event, sf.QueryInvalidated):
            invalidated.add(str(event.ref))
    assert invalidated == {
        str(sf.QueryRef.of(f"{g.prefix}.leaf", ("c",))),
        str(sf.QueryRef.of(f"{g.prefix}.mid", ("c",))),
        str(sf.QueryRef.of(f"{g.prefix}.root", ())),
    }


def test_the_events_of_memos_loaded_while_listening_name_them_as_query_ref_of_does(
    tmp_path: Path,
) -> None:
    """A memo loaded while someone listens is named from its row id's key bytes
    (``restore.install_stored_memo``): the same ref, equal and hashing alike,
    as ``QueryRef.of`` encoding its key, whichever way it was loaded."""
    g = graph()
    built(tmp_path / "c.db", g)
    rt, _ = reopen(tmp_path / "c.db")
    events = rt.subscribe_events()
    prefetch(rt, [(g.mid, ("a",)), (g.mid, ("b",))])  # in bulk
    rt.set(g.src["c"], "new")
    assert g.root(rt) == "AA!+BB!+NEW!"  # root and mid('c') one by one
    named: dict[sf.QueryRef, set[str]] = {}
    while (event := events.try_recv()) is not None:
        if isinstance(event, (sf.QueryVerified, sf.QueryExecuting, sf.QueryChanged)):
            named.setdefault(event.ref, set()).add(type(event).__name__)
    expected = {
        sf.QueryRef.of(f"{g.prefix}.root", ()): {"QueryExecuting", "QueryChanged"},
        sf.QueryRef.of(f"{g.prefix}.mid", ("a",)): {"QueryVerified"},
        sf.QueryRef.of(f"{g.prefix}.mid", ("b",)): {"QueryVerified"},
        sf.QueryRef.of(f"{g.prefix}.mid", ("c",)): {"QueryExecuting", "QueryChanged"},
        sf.QueryRef.of(f"{g.prefix}.leaf", ("c",)): {"QueryExecuting", "QueryChanged"},
    }
    assert named == expected


def test_a_persist_false_dependency_is_verified_after_a_write(tmp_path: Path) -> None:
    g = graph(mid_persist=False)  # root's row reads mids that have no rows
    built(tmp_path / "c.db", g)
    rt, _ = reopen(tmp_path / "c.db")
    rt.set(g.src["a"], "zz")
    assert g.root(rt) == "ZZ!+BB!+CC!"


def test_a_cached_error_is_recomputed_and_its_readers_follow(tmp_path: Path) -> None:
    g = graph()
    built(tmp_path / "c.db", g, a="bad")
    rt, _ = reopen(tmp_path / "c.db")
    assert g.root(rt) == "?+BB!+CC!"
    rt.set(g.src["a"], "good")
    assert g.root(rt) == "GOOD!+BB!+CC!"


def test_lru_queries_load_on_demand(tmp_path: Path) -> None:
    g = graph(leaf_lru=2)
    built(tmp_path / "c.db", g)
    rt, _ = reopen(tmp_path / "c.db")
    # leaf('a') was evicted before the commit: it has no row, and re-executes
    assert [g.leaf(rt, key) for key in "abc"] == ["AA", "BB", "CC"]
    assert g.runs == {"leaf a": 1}
    rt.set(g.src["b"], "q")
    assert g.root(rt) == "AA!+Q!+CC!"
    assert g.runs["leaf b"] == 1


def test_clear_cache_stops_loading_stored_memos(tmp_path: Path) -> None:
    g = graph()
    built(tmp_path / "c.db", g)
    rt, store = reopen(tmp_path / "c.db")
    rt.clear_cache()
    store.clear()
    assert g.root(rt) == "AA!+BB!+CC!"
    assert store.memos == []
    assert g.runs == {
        "leaf a": 1,
        "leaf b": 1,
        "leaf c": 1,
        "mid a": 1,
        "mid b": 1,
        "mid c": 1,
        "root": 1,
    }


def _key_hex(*key: str) -> str:
    from sofrito._keys import encode_key

    return encode_key(key).hex()


def test_a_snapshot_meta_from_before_loading_on_demand_opens_whole(tmp_path: Path) -> None:
    """A cache whose header was written before opening on demand (a schema 3
    file upgraded in place: its memo rows dropped, its old meta kept) has no
    maps to open on demand with: it is restored whole, inputs and revision,
    and its queries compute from those inputs."""
    from sofrito._codec import SafeCodec, Sealer
    from sofrito.stores import SnapshotDelta

    path = tmp_path / "old.db"
    text = sf.Input("test_on_demand.old_text")

    @sf.query(name="test_on_demand.old_length")
    def length(db: Any) -> int:
        return len(text(db))

    rt = sf.Runtime(store=SqliteStore(path), runtime_id="old")
    rt.set(text, "hello")
    assert length(rt) == 5
    rt.commit()
    store = SqliteStore(path)
    revision = store.load_header("old").revision  # type: ignore[union-attr]
    old_meta = Sealer(None).seal(SafeCodec().encode((1, "pickle", [revision] * 4, [])), b"")
    store.commit_boundary(
        "old",
        SnapshotDelta(revision, old_meta, {}, frozenset(), True),
        "upgrade",
        "upgrade",
        [],
        [],
    )
    reopened = sf.Runtime(store=SqliteStore(path), runtime_id="old")
    assert reopened.revision == revision
    assert reopened.get(text) == "hello"
    assert length(reopened) == 5
    reopened.set(text, "hi")
    assert length(reopened) == 2
