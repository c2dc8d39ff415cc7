"""Queries: memoization, dependency tracking, early cutoff, options, poll."""

from __future__ import annotations

import gc
import weakref
from collections import Counter
from typing import Any

import pytest

import sofrito as sf
from tests.boxes import Box

source = sf.Input("tests.queries.source")
runs: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    runs.clear()


@sf.query
def words(db: Any, path: str) -> int:
    runs[f"words:{path}"] += 1
    return len(source(db, path).split())


@sf.query
def total(db: Any, *paths: str) -> int:
    runs["total"] += 1
    return sum(words(db, path) for path in paths)


def _site() -> sf.Runtime:
    rt = sf.Runtime()
    rt.set(source["a"], "one two")
    rt.set(source["b"], "three")
    return rt


def test_second_call_is_served_from_memo() -> None:
    rt = _site()
    assert total(rt, "a", "b") == 3
    assert total(rt, "a", "b") == 3
    assert rt.query(total, "a", "b") == 3
    assert runs == {"total": 1, "words:a": 1, "words:b": 1}


def test_change_re_executes_only_dependents() -> None:
    rt = _site()
    total(rt, "a", "b")
    rt.set(source["b"], "three four")
    assert total(rt, "a", "b") == 4
    assert runs == {"total": 2, "words:a": 1, "words:b": 2}


def test_equal_result_stops_the_change_early_cutoff() -> None:
    rt = _site()
    total(rt, "a", "b")
    rt.set(source["a"], "uno dos")  # still two words
    assert total(rt, "a", "b") == 3
    assert runs == {"total": 1, "words:a": 2, "words:b": 1}


def test_backdated_value_keeps_the_old_object_and_changed_at() -> None:
    cell = sf.Input("cell")

    @sf.query
    def as_list(db: Any) -> list[int]:
        return list(cell(db))

    rt = sf.Runtime()
    rt.set(cell, (1, 2))
    first = rt.poll(as_list)
    rt.set(cell, [1, 2])
    second = rt.poll(as_list, since=first.changed_at)
    assert second.value is first.value
    assert second.changed_at == first.changed_at == 1
    assert not second.changed


def test_output_eq_decides_cutoff() -> None:
    cell = sf.Input("cell")
    seen: list[int] = []

    @sf.query(output_eq=lambda old, new: old % 10 == new % 10)
    def last_digit(db: Any) -> int:
        return cell(db)  # type: ignore[no-any-return]

    @sf.query
    def downstream(db: Any) -> int:
        value = last_digit(db)
        seen.append(value)
        return value

    rt = sf.Runtime()
    rt.set(cell, 13)
    assert downstream(rt) == 13
    rt.set(cell, 23)  # "equal" by output_eq: the old value is kept
    assert downstream(rt) == 13
    assert last_digit(rt) == 13
    rt.set(cell, 24)
    assert downstream(rt) == 24
    assert seen == [13, 24]


def test_output_eq_that_raises_counts_as_changed() -> None:
    cell = sf.Input("cell")

    class Unequal:
        def __init__(self, n: int) -> None:
            self.n = n

        def __eq__(self, other: object) -> bool:
            raise ValueError("no equality here")

        __hash__ = object.__hash__

    @sf.query
    def wrap(db: Any) -> Unequal:
        return Unequal(cell(db))

    @sf.query
    def unwrap(db: Any) -> int:
        runs["unwrap"] += 1
        return wrap(db).n

    rt = sf.Runtime()
    rt.set(cell, 1)
    assert unwrap(rt) == 1
    rt.set(cell, 2)
    assert unwrap(rt) == 2
    assert runs["unwrap"] == 2


def test_dependencies_follow_what_the_last_execution_read() -> None:
    flag, left, right = sf.Input("flag"), sf.Input("left"), sf.Input("right")

    @sf.query
    def pick(db: Any) -> int:
        runs["pick"] += 1
        return left(db) if flag(db) else right(db)  # type: ignore[no-any-return]

    rt = sf.Runtime()
    rt.set(flag, True)
    rt.set(left, 1)
    rt.set(right, 2)
    assert pick(rt) == 1
    rt.set(right, 20)  # not read by the last execution
    assert pick(rt) == 1
    assert runs["pick"] == 1
    rt.set(flag, False)
    assert pick(rt) == 20
    rt.set(left, 10)  # no longer read
    assert pick(rt) == 20
    assert runs["pick"] == 2


def test_deep_verify_walks_in_read_order_and_stops_at_first_change() -> None:
    gate, payload = sf.Input("gate"), sf.Input("payload")

    @sf.query
    def guard(db: Any) -> bool:
        runs["guard"] += 1
        return gate(db) > 0  # type: ignore[no-any-return]

    @sf.query
    def expensive(db: Any) -> int:
        runs["expensive"] += 1
        return payload(db) * 2  # type: ignore[no-any-return]

    @sf.query
    def root(db: Any) -> int:
        runs["root"] += 1
        return expensive(db) if guard(db) else 0

    rt = sf.Runtime()
    rt.set(gate, 1)
    rt.set(payload, 5)
    assert root(rt) == 10
    with rt.batch():
        rt.set(gate, -1)
        rt.set(payload, 6)
    # guard changed first, so root re-executes and never asks for expensive
    assert root(rt) == 0
    assert runs == {"guard": 2, "expensive": 1, "root": 2}


def test_default_name_is_module_qualified_and_name_option_overrides() -> None:
    @sf.query(name="custom.name")
    def named(db: Any) -> int:
        return 1

    assert words.spec.name == "tests.engine.test_queries.words"
    assert named.spec.name == "custom.name"
    assert words.__name__ == "words"


def test_unhashable_query_key_names_the_query() -> None:
    rt = _site()
    with pytest.raises(TypeError, match=r"total: key part 0 has type 'list'"):
        total(rt, ["a"])  # type: ignore[arg-type]


def test_db_handle_kept_after_return_is_refused() -> None:
    kept: list[Any] = []

    @sf.query
    def leaks(db: Any) -> int:
        kept.append(db)
        return 1

    rt = _site()
    leaks(rt)
    with pytest.raises(RuntimeError, match="used after that query returned"):
        words(kept[0], "a")


@pytest.mark.parametrize("read", ["ready input", "unset input", "state", "query"])
def test_a_kept_db_handle_refuses_every_read_naming_the_query_and_key(read: str) -> None:
    """Every path through a kept handle raises, and none adds to the finished
    memo's dependencies (which would make it re-execute on unrelated writes)."""
    kept: list[Any] = []
    other = sf.Input("tests.queries.kept_other")

    @sf.query
    def leaks(db: Any, path: str) -> int:
        kept.append(db)
        return 1

    rt = _site()
    leaks(rt, "x")
    reads = {
        "ready input": lambda db: source(db, "a"),
        "unset input": lambda db: other(db, "never"),
        "state": lambda db: sf.state(db, other["never"]),
        "query": lambda db: words(db, "a"),
    }
    with pytest.raises(RuntimeError) as info:
        reads[read](kept[0])
    message = str(info.value)
    assert "leaks('x')" in message
    assert "used after that query returned" in message
    assert info.value.__context__ is None
    rt.set(source["a"], "changed words here")
    rt.set(other["never"], 1)
    assert leaks(rt, "x") == 1
    assert len(kept) == 1  # it read nothing, so no write re-executed it


def test_query_without_dependencies_is_static_and_computed_once() -> None:
    cell = sf.Input("cell")

    @sf.query
    def constant(db: Any) -> int:
        runs["constant"] += 1
        return 42

    rt = sf.Runtime()
    assert constant(rt) == 42
    rt.set(cell, 1)
    assert constant(rt) == 42
    assert runs["constant"] == 1


def test_poll_reports_changes_since_a_revision() -> None:
    rt = _site()
    first = rt.poll(words, "a")
    assert first == sf.Polled(2, 2, None)
    assert first.changed
    rt.set(source["b"], "x y z")
    unchanged = rt.poll(words, "a", since=first.changed_at)
    assert not unchanged.changed
    rt.set(source["a"], "x")
    changed = rt.poll(words, "a", since=first.changed_at)
    assert changed.changed
    assert changed.value == 1
    assert changed.changed_at == rt.revision


def test_clear_cache_recomputes_and_keeps_inputs() -> None:
    rt = _site()
    total(rt, "a", "b")
    rt.clear_cache()
    assert total(rt, "a", "b") == 3
    assert runs == {"total": 2, "words:a": 2, "words:b": 2}
    rt.set(source["a"], "x")  # reverse deps were rebuilt by the recompute
    assert total(rt, "a", "b") == 2


@sf.query(name="tests.queries.boxed_words")
def boxed_words(db: Any, path: str) -> Box[int]:
    return Box(words(db, path))


@sf.query(name="tests.queries.boxed_pair")
def boxed_pair(db: Any, first: str, second: str) -> Box[tuple[Box[int], Box[int]]]:
    return Box((boxed_words(db, first), boxed_words(db, second)))


def test_clear_cache_frees_what_it_drops_without_the_cyclic_collector() -> None:
    # A memo points at what it read, and what it read points back at its
    # readers: a cycle, unless the clear breaks it. A program that clears a
    # big cache should get its memory back when the call returns.
    rt = _site()
    values = [boxed_pair(rt, "a", "b"), boxed_words(rt, "a"), boxed_words(rt, "b")]
    assert boxed_pair(rt, "a", "b") is values[0]  # (and into the hit table)
    refs = [weakref.ref(value) for value in values]
    del values
    gc.disable()
    try:
        rt.clear_cache()
        assert [ref() for ref in refs] == [None, None, None]
    finally:
        gc.enable()
    assert boxed_pair(rt, "a", "b").content[0].content == 2  # "one two"


def test_bump_revision_keeps_memos_valid() -> None:
    rt = _site()
    total(rt, "a", "b")
    rt.bump_revision()
    assert rt.revision == 3
    assert total(rt, "a", "b") == 3
    assert runs["total"] == 1


def test_set_current_revision_moves_forward_only() -> None:
    rt = _site()
    total(rt, "a", "b")
    rt.set_current_revision(10)
    assert rt.revision == 10
    assert total(rt, "a", "b") == 3
    assert runs["total"] == 1
    with pytest.raises(ValueError, match="never go backwards"):
        rt.set_current_revision(3)


def test_fingerprint_covers_code_and_version() -> None:
    def body_one(db: Any) -> int:
        return 1

    def body_two(db: Any) -> int:
        return 2

    one = sf.query(name="fp")(body_one)
    one_again = sf.query(name="fp")(body_one)
    two = sf.query(name="fp")(body_two)
    versioned = sf.query(name="fp", version="2")(body_one)
    assert one.spec.fingerprint == one_again.spec.fingerprint
    assert one.spec.fingerprint != two.spec.fingerprint
    assert one.spec.fingerprint != versioned.spec.fingerprint


def test_runtimes_are_independent() -> None:
    first, second = sf.Runtime(), sf.Runtime()
    first.set(source["a"], "one")
    second.set(source["a"], "one two three")
    assert words(first, "a") == 1
    assert words(second, "a") == 3


def test_a_query_first_read_inside_another_keeps_its_memos_in_its_own_runtime() -> None:
    # ``inner`` is declared first and only ever read inside ``outer``: the
    # runtime's table for ``inner`` is a hole when that first read comes. Its
    # memo must land in this runtime's table, never in the hole, which every
    # runtime shares.
    @sf.query(name="tests.queries.inner")
    def inner(db: Any, path: str) -> str:
        return str(source(db, path))

    @sf.query(name="tests.queries.outer")
    def outer(db: Any, path: str) -> str:
        return str(inner(db, path)).upper()

    first, second = sf.Runtime(), sf.Runtime()
    first.set(source["a"], "one")
    second.set(source["a"], "two")
    assert outer(first, "a") == "ONE"
    assert outer(second, "a") == "TWO"
    assert inner(second, "a") == "two"
    assert inner(first, "a") == "one"


def test_queries_declared_after_the_runtime_or_skipped_by_it_are_memoized() -> None:
    # The memo hit indexes the runtime's lists of hit tables and memo tables
    # by QuerySpec.index: a query declared after a list was made lies past
    # its end, one the runtime skipped sits in a hole; both must fall to the
    # cold path, then hit.
    rt = _site()
    words(rt, "a")
    executions: Counter[int] = Counter()

    def declare(n: int) -> Any:
        @sf.query(name=f"tests.queries.late{n}")
        def late(db: Any, path: str) -> int:
            executions[n] += 1
            return int(words(db, path)) + n

        return late

    skipped, used = declare(0), declare(1)
    assert used(rt, "a") == used(rt, "a") == 3
    assert skipped(rt, "a") == skipped(rt, "a") == 2
    assert executions == {0: 1, 1: 1}
    for query in (skipped, used):
        assert list(rt._tables[query.spec.index]) == [("a",)]
        assert list(rt._hits[query.spec.index]) == ["a"], "the hit path sees it"

    rt.clear_cache()
    assert used(rt, "a") == used(rt, "a") == 3
    assert executions == {0: 1, 1: 2}
    assert not rt._tables[skipped.spec.index], "cleared: a hole again"


def test_a_memo_found_just_before_a_clear_is_not_computed_into() -> None:
    # An lru query's entry point looks the memo up before its call enters the
    # write gate, so rt.clear_cache() can drop it in between; the call must
    # then use the memo now in the table, or what it computes is lost to the
    # next reads.
    # The race, made deterministic: the cold path is handed the dropped memo.
    rt = _site()
    assert words(rt, "a") == 2
    spec = words.spec
    dropped = rt._tables[spec.index][("a",)]
    rt.clear_cache()
    rt.set(source["a"], "one two three")
    assert rt._fetch_cold(spec, ("a",), dropped) == 3
    assert words(rt, "a") == 3
    assert runs["words:a"] == 2, "the second read is a hit on what the first computed"
    assert dropped.value == 2, "the dropped memo is left alone"
