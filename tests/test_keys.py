"""Canonical key bytes and the deterministic key hash."""

from __future__ import annotations

import dataclasses
import enum
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sofrito._keys import KeyEncodingError, decode_key, encode_key, key_hash


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: str


@dataclasses.dataclass
class Mutable:
    x: int


scalars = (
    st.none() | st.booleans() | st.integers() | st.text() | st.binary() | st.floats(allow_nan=False)
)
parts = st.recursive(
    scalars,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=8,
)
keys = st.lists(parts, max_size=4).map(tuple)


@given(keys)
def test_round_trip(key: tuple[object, ...]) -> None:
    decoded = decode_key(encode_key(key))
    assert decoded == key
    assert [type(part) for part in decoded] == [type(part) for part in key]


def _tagged(value: object) -> object:
    """A structural form where equal means "the same key", types included."""
    if isinstance(value, tuple):
        return ("tuple", tuple(_tagged(item) for item in value))
    if isinstance(value, frozenset):
        return ("frozenset", frozenset(_tagged(item) for item in value))
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, value)


@given(keys, keys)
def test_same_bytes_exactly_when_same_key(
    left: tuple[object, ...], right: tuple[object, ...]
) -> None:
    assert (encode_key(left) == encode_key(right)) == (_tagged(left) == _tagged(right))


@given(keys)
def test_same_key_built_twice_has_the_same_bytes(key: tuple[object, ...]) -> None:
    rebuilt = decode_key(encode_key(key))
    assert encode_key(rebuilt) == encode_key(key)


def test_equal_python_values_of_other_types_are_other_keys() -> None:
    encodings = {encode_key(key) for key in [(1,), (1.0,), (True,), ("1",), (b"1",)]}
    assert len(encodings) == 5
    assert encode_key(("a",)) != encode_key((("a",),))
    assert encode_key((0.0,)) != encode_key((-0.0,))


def test_frozenset_order_does_not_matter() -> None:
    assert encode_key((frozenset({"b", "a", 3}),)) == encode_key((frozenset({3, "a", "b"}),))


def test_enums_and_frozen_dataclasses() -> None:
    key = (Color.RED, Point(1, "y"))
    data = encode_key(key)
    assert data != encode_key((Color.BLUE, Point(1, "y")))
    types = {"tests.test_keys:Color": Color, "tests.test_keys:Point": Point}
    assert decode_key(data, types) == key
    with pytest.raises(ValueError, match="not in the types given"):
        decode_key(data)


@pytest.mark.parametrize(
    ("key", "where", "hint"),
    [
        (("a", [1]), "1", "use a tuple"),
        (({"a": 1},), "0", "tuple of"),
        (((1, {2}),), "0, 1", "frozenset"),
        ((Mutable(1),), "0", ""),
        ((object(),), "0", ""),
    ],
)
def test_keys_without_an_encoding_say_where_and_what(
    key: tuple[object, ...], where: str, hint: str
) -> None:
    with pytest.raises(KeyEncodingError) as info:
        encode_key(key)
    assert info.value.path == where
    assert f"key part {where} has type" in str(info.value)
    assert hint in str(info.value)


def test_key_hash_is_64_bit_and_stable_across_processes() -> None:
    script = (
        "from sofrito._keys import encode_key, key_hash;"
        "print(key_hash(encode_key(('index.md', 3, frozenset({'a', 'b'}), None))))"
    )
    hashes = set()
    for seed in ("0", "1", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        hashes.add(int(out.stdout))
    assert len(hashes) == 1
    (value,) = hashes
    assert 0 <= value < 2**64
    assert value == key_hash(encode_key(("index.md", 3, frozenset({"a", "b"}), None)))
