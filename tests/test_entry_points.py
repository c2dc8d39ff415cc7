"""The entry points ``@sf.query`` generates: one per shape of key."""

from __future__ import annotations

import traceback
from collections import Counter
from typing import Any

import pytest

import sofrito as sf

source = sf.Input("tests.entry_points.source")
runs: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    runs.clear()


@sf.query
def length(db: Any, path: str) -> int:
    runs[f"length:{path!r}"] += 1
    return len(source(db, path))


@sf.query
def joined(db: Any, first: str, second: str) -> str:
    runs["joined"] += 1
    return f"{source(db, first)}+{source(db, second)}"


@sf.query
def everything(db: Any) -> int:
    runs["everything"] += 1
    return int(length(db, "a")) + int(length(db, "b"))


@sf.query
def settings(db: Any) -> dict[str, str]:
    runs["settings"] += 1
    return {"a": source(db, "a")}


@sf.query
def scaled(db: Any, path: str, factor: int = 10) -> int:
    runs[f"scaled:{factor}"] += 1
    return factor * int(length(db, path))


@sf.query
def clashing(db: Any, value: int, index: int, spec: int, hits: int) -> tuple[int, ...]:
    return (value, index, spec, hits)


@sf.query
def shadowing(db: Any, TypeError: object) -> object:  # named like a builtin on purpose
    return TypeError


@sf.query
def described(db: Any, part: object) -> str:
    runs["described"] += 1
    return f"{type(part).__name__} {part!r}"


@sf.query
def broken(db: Any, path: str) -> int:
    raise ValueError(f"no {path}")


def _runtime() -> sf.Runtime:
    rt = sf.Runtime()
    rt.set(source["a"], "abc")
    rt.set(source["b"], "de")
    return rt


def test_keys_of_each_shape_are_memoized_and_follow_writes() -> None:
    rt = _runtime()
    for _ in range(3):
        assert everything(rt) == 5
        assert joined(rt, "a", "b") == "abc+de"
        assert length(rt, "b") == 2
    assert runs == {"everything": 1, "joined": 1, "length:'a'": 1, "length:'b'": 1}
    rt.set(source["b"], "xyz")
    assert (everything(rt), joined(rt, "a", "b"), length(rt, "b")) == (6, "abc+xyz", 3)
    assert runs["length:'b'"] == 2


def test_a_query_without_key_parts_is_served_its_own_value() -> None:
    # Its hit-table slot holds the value itself; a dict value must not be
    # taken for a table of values.
    rt = _runtime()
    first = settings(rt)
    assert settings(rt) is first
    assert settings(rt) is first
    rt.set(source["a"], "new")
    second = settings(rt)
    assert second == {"a": "new"}
    assert settings(rt) is second
    assert settings(rt) is second
    assert runs["settings"] == 2


def test_a_tuple_key_part_is_not_confused_with_its_contents() -> None:
    # A one-part key is looked up as the part itself: (1,) and 1 stay apart.
    rt = _runtime()
    for _ in range(2):
        assert described(rt, 1) == "int 1"
        assert described(rt, (1,)) == "tuple (1,)"
    assert runs == {"described": 2}


def test_a_call_with_the_wrong_number_of_key_parts_is_refused_before_any_work() -> None:
    rt = _runtime()
    with pytest.raises(TypeError, match=r"length\(\) missing 1 required positional"):
        length(rt)
    with pytest.raises(TypeError, match=r"length\(\) takes 2 positional arguments but 3"):
        length(rt, "a", "b")
    with pytest.raises(TypeError, match=r"length\(\) got some positional-only"):
        length(rt, path="a")
    with pytest.raises(TypeError, match=r"length\(\) takes a key of 1 part\(s\), 2 were given"):
        rt.query(length, "a", "b", retry=False)
    assert runs == {}
    assert rt.query(length, "a", retry=False) == length(rt, "a") == 3


def test_a_body_with_defaults_keeps_a_key_per_call_shape() -> None:
    rt = _runtime()
    for _ in range(2):
        assert scaled(rt, "a") == 30
        assert scaled(rt, "a", 2) == 6
    assert runs["scaled:10"] == 1
    assert runs["scaled:2"] == 1


def test_key_parts_named_like_the_entry_points_own_variables_work() -> None:
    rt = _runtime()
    for _ in range(2):
        assert clashing(rt, 1, 2, 3, 4) == (1, 2, 3, 4)
        assert shadowing(rt, 1) == 1
    assert clashing(rt, 4, 3, 2, 1) == (4, 3, 2, 1)
    with pytest.raises(TypeError, match=r"key part 0 .* not hashable"):  # caught, explained
        shadowing(rt, [1])


def test_a_traceback_through_an_entry_point_shows_its_source() -> None:
    rt = _runtime()
    with pytest.raises(ValueError, match="no a") as raised:
        broken(rt, "a")
    text = "".join(traceback.format_exception(raised.value))
    assert "<sofrito entry point of tests.test_entry_points.broken>" in text
    assert "return db._fetch_cold(spec, (path,), None)" in text


# -- keys=: the key is some of the parameters -----------------------------------


@sf.query(keys=("path",))
def rendered(db: Any, path: str, style: str = "plain", *, loud: bool = False) -> str:
    runs[f"rendered:{path}:{style}:{loud}"] += 1
    text = source(db, path)
    return text.upper() if loud else f"{style}:{text}"


@sf.query(keys=("second", "first"))  # in any order: the key follows the signature
def ordered(db: Any, first: str, options: object, second: str) -> str:
    runs["ordered"] += 1
    return f"{source(db, first)}/{source(db, second)}"


def test_keys_makes_only_the_named_parameters_the_key_and_serves_the_first_call() -> None:
    rt = _runtime()
    assert rendered(rt, "a", "fancy") == "fancy:abc"
    # Other arguments, by position or keyword, do not make a new key: the
    # first call's value is served (the documented hazard).
    assert rendered(rt, "a", "plain") == "fancy:abc"
    assert rendered(rt, "a", style="other", loud=True) == "fancy:abc"
    assert rendered(rt, path="a") == "fancy:abc"
    assert runs == {"rendered:a:fancy:False": 1}
    # A re-execution after a write gives the body the first call's arguments.
    rt.set(source["a"], "xyz")
    assert rendered(rt, "a", "ignored", loud=True) == "fancy:xyz"
    assert runs == {"rendered:a:fancy:False": 2}
    assert rendered(rt, "b", loud=True) == "DE"  # another key: its own first call


def test_keys_parts_follow_the_declaration_order_and_others_may_be_unhashable() -> None:
    rt = _runtime()
    assert ordered.spec.keys == ("first", "second")
    assert ordered(rt, "a", ["not", "hashable"], "b") == "abc/de"
    assert ordered(rt, second="b", first="a", options={}) == "abc/de"
    assert runs["ordered"] == 1
    assert rt.poll(ordered, "a", None, "b").value == "abc/de"
    assert rt.query(ordered, "b", None, "a", retry=False) == "de/abc"
    assert runs["ordered"] == 2


def test_a_keys_query_read_inside_a_query_is_tracked() -> None:
    @sf.query
    def page(db: Any, path: str) -> str:
        runs["page"] += 1
        return str(rendered(db, path, "inner"))

    rt = _runtime()
    assert page(rt, "b") == "inner:de"
    rt.set(source["a"], "new")  # not read by page("b")
    assert page(rt, "b") == "inner:de"
    rt.set(source["b"], "fresh")
    assert page(rt, "b") == "inner:fresh"
    assert runs == {"page": 2, "rendered:b:inner:False": 2}


def test_a_keys_hit_is_served_from_the_hit_table_by_the_key_alone() -> None:
    rt = _runtime()
    rendered(rt, "a", "x")
    rendered(rt, "a", "y")  # the second call of the key in a revision: remembered
    assert rt._hits[rendered.spec.index] == {"a": "x:abc"}
    source_text = "".join(
        __import__("linecache").getlines(f"<sofrito entry point of {rendered.spec.name}>")
    )
    assert ".get(path, _sf_MISS)" in source_text


@pytest.mark.parametrize(
    ("keys", "error", "message"),
    [
        (("nope",), ValueError, r"keys=\('nope',\) must name distinct parameters"),
        (("path", "path"), ValueError, "must name distinct parameters"),
        (("db",), ValueError, "its parameters are \\('path', 'style'\\)"),
        ("path", TypeError, "keys= takes a tuple of parameter names"),
    ],
)
def test_keys_naming_no_parameter_is_refused_at_decoration_naming_the_query(
    keys: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:

        @sf.query(keys=keys, name="tests.entry_points.badly_keyed")
        def badly_keyed(db: Any, path: str, style: str) -> str:
            return path

    assert "tests.entry_points.badly_keyed" in str(info.value)


def test_keys_refuses_a_body_with_star_args() -> None:
    with pytest.raises(TypeError, match=r"variadic"):

        @sf.query(keys=("path",))
        def starry(db: Any, path: str, *rest: str) -> str:
            return path
