"""Canonical key bytes and the deterministic key hash (``sofrito._keys``)."""

from __future__ import annotations

import collections
import dataclasses
import enum
import os
import pathlib
import struct
import subprocess
import sys
import textwrap

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sofrito import _canonical
from sofrito._keys import KeyEncodingError, decode_key, encode_key, key_hash


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: str


@dataclasses.dataclass(frozen=True)
class Box:
    inner: object


@dataclasses.dataclass
class Mutable:
    x: int


class Name(str):
    pass


Pair = collections.namedtuple("Pair", "a b")

TYPES: dict[str, type] = {
    f"{cls.__module__}:{cls.__qualname__}": cls for cls in (Color, Level, Point, Box)
}

# -- strategies -------------------------------------------------------------------

floats = st.floats(allow_nan=False)  # NaN != NaN: it has its own tests below
scalars = st.none() | st.booleans() | st.integers() | st.text() | st.binary() | floats
objects = st.sampled_from([*Color, *Level]) | st.builds(Point, st.integers(), st.text())
parts = st.recursive(
    scalars | objects,
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple)
        | st.frozensets(inner, max_size=3)
        | st.builds(Box, inner)
    ),
    max_leaves=10,
)
keys = st.lists(parts, max_size=4).map(tuple)
flat_keys = st.lists(scalars | st.floats(), max_size=5).map(tuple)


def _tagged(value: object) -> object:
    """A structural form in which equal means "the same key": types and float bits count."""
    if type(value) is tuple:
        return ("tuple", tuple(_tagged(item) for item in value))
    if type(value) is frozenset:
        return ("frozenset", frozenset(_tagged(item) for item in value))
    if type(value) is float:
        return ("float", struct.pack(">d", value))
    if isinstance(value, enum.Enum):
        return ("enum", type(value).__qualname__, value.name)
    if isinstance(value, Point | Box):
        fields = tuple(_tagged(getattr(value, f.name)) for f in dataclasses.fields(value))
        return ("dataclass", type(value).__qualname__, fields)
    return (type(value).__name__, value)


# -- round trips and distinctness ------------------------------------------------------


@given(keys)
def test_every_key_decodes_to_itself(key: tuple[object, ...]) -> None:
    assert _tagged(decode_key(encode_key(key), TYPES)) == _tagged(key)


@given(keys, keys)
@example((1,), (1.0,))
@example((1,), (True,))
@example((0.0,), (-0.0,))
@example(("a",), (("a",),))
@example((b"a",), ("a",))
@example((Level.LOW,), (1,))
@example((frozenset({1}),), ((1,),))
def test_same_bytes_exactly_when_same_key(
    left: tuple[object, ...], right: tuple[object, ...]
) -> None:
    assert (encode_key(left) == encode_key(right)) == (_tagged(left) == _tagged(right))


def test_values_python_calls_equal_are_different_keys_when_their_types_differ() -> None:
    same_in_python = [(1,), (1.0,), (True,), (Level.LOW,)]
    assert len({encode_key(key) for key in same_in_python}) == 4
    assert len({encode_key(key) for key in [(0,), (0.0,), (-0.0,), (False,)]}) == 4
    text_like = [("a",), (b"a",), (("a",),), (frozenset({"a"}),), (Name("a").upper().lower(),)]
    assert len({encode_key(key) for key in text_like}) == 4  # the last is a plain "a"
    assert len({encode_key(key) for key in [(), ((),), (None,), ((None,),)]}) == 4


@given(flat_keys)
def test_the_fast_paths_agree_with_the_general_encoding(key: tuple[object, ...]) -> None:
    general = _canonical.encode(key, _canonical.Policy(mutable_containers=False, objects=True))
    assert encode_key(key) == general
    assert _tagged(decode_key(general)) == _tagged(_canonical.decode(general))


def test_frozenset_bytes_do_not_depend_on_insertion_order() -> None:
    words = [f"w{n}" for n in range(50)]
    forward: frozenset[object] = frozenset(words)
    backward: frozenset[object] = frozenset(reversed(words))
    assert encode_key((forward, 3)) == encode_key((backward, 3))
    mixed = frozenset({"b", 2, b"c", (1, "a"), Color.RED})
    assert decode_key(encode_key((mixed,)), TYPES) == (mixed,)


def test_floats_are_bit_exact_and_nan_is_one_key() -> None:
    quiet_nan = float("nan")
    other_nan = struct.unpack(">d", bytes.fromhex("7ff8000000000001"))[0]
    assert encode_key((quiet_nan,)) == encode_key((float("nan"),))
    assert encode_key((quiet_nan,)) != encode_key((other_nan,))
    for value in (quiet_nan, other_nan, -0.0, 5e-324, float("inf"), -float("inf")):
        (back,) = decode_key(encode_key((value,)))
        assert struct.pack(">d", back) == struct.pack(">d", value)


def test_large_and_negative_ints_round_trip() -> None:
    for number in (0, -1, 127, 128, -128, -129, 2**64, -(2**64), 10**100, -(10**100)):
        assert decode_key(encode_key((number,))) == (number,)


def test_text_with_lone_surrogates_round_trips() -> None:
    key = ("\ud800", "é", "")
    assert decode_key(encode_key(key)) == key


# -- enums and dataclasses decode only through the types given -------------------------


def test_enums_and_frozen_dataclasses_need_their_class_to_decode() -> None:
    key = (Color.RED, Point(1, "y"), Box(Level.LOW))
    data = encode_key(key)
    assert data != encode_key((Color.BLUE, Point(1, "y"), Box(Level.LOW)))
    assert decode_key(data, TYPES) == key
    with pytest.raises(ValueError, match=r"tests\.test_keys:Color.*not in the types given"):
        decode_key(data)


def test_a_class_registered_under_another_name_is_refused() -> None:
    data = encode_key((Color.RED,))
    renamed = data.replace(b"tests.test_keys:Color", b"tests.test_keys:Colur")
    assert renamed != data
    with pytest.raises(ValueError, match="canonical bytes differ"):
        decode_key(renamed, {"tests.test_keys:Colur": Color})


def test_an_unknown_enum_member_is_a_value_error() -> None:
    data = encode_key((Color.RED,)).replace(b"RED", b"TAN")
    with pytest.raises(ValueError, match="not a canonical key"):
        decode_key(data, TYPES)


# -- bytes that are not a key -------------------------------------------------------


@given(st.binary(max_size=40))
def test_any_bytes_decode_to_their_key_or_raise_value_error(data: bytes) -> None:
    try:
        key = decode_key(data, TYPES)
    except ValueError:
        return
    assert encode_key(key) == data


@given(keys, st.data())
def test_truncated_keys_are_refused(key: tuple[object, ...], data: st.DataObject) -> None:
    encoded = encode_key(key)
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    with pytest.raises(ValueError, match=r"canonical key|not in the types given"):
        decode_key(encoded[:cut], TYPES)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (bytes.fromhex("0700000001 03 00000002 0001"), "a long form of the int 1"),
        (bytes.fromhex("0700000001 0b 00000000"), "a list"),
        (bytes.fromhex("0500000001 61"), "a str, not a tuple"),
        (
            bytes.fromhex("0700000001 08 00000002 0500000001 62 0500000001 61"),
            "frozenset members out of order",
        ),
        (bytes.fromhex("0700000001 ff"), "an unknown tag"),
        (encode_key(("a",)) + b"\x00", "trailing bytes"),
    ],
)
def test_non_canonical_bytes_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(ValueError, match="canonical"):
        decode_key(data)


# -- keys with no encoding say where and what -----------------------------------------


@pytest.mark.parametrize(
    ("key", "path", "type_name", "message"),
    [
        (
            ("a", [1]),
            "[1]",
            "list",
            "key part 1 has type 'list', which has no canonical encoding; use a tuple",
        ),
        (
            ("a", ([1],)),
            "[1][0]",
            "list",
            "key part 1 (in a tuple, item 0) has type 'list', "
            "which has no canonical encoding; use a tuple",
        ),
        (({"a": 1},), "[0]", "dict", "tuple of (key, value) pairs"),
        (({1},), "[0]", "set", "use a frozenset"),
        ((bytearray(b"x"),), "[0]", "bytearray", "use bytes"),
        ((Mutable(1),), "[0]", "Mutable", "declare it @dataclass(frozen=True)"),
        ((object(),), "[0]", "object", "key part 0 has type 'object'"),
        ((Name("a"),), "[0]", "Name", "convert it to a plain str"),
        ((Pair(1, 2),), "[0]", "Pair", "use a plain tuple"),
        ((pathlib.PurePosixPath("a.md"),), "[0]", "PurePosixPath", "use str(path)"),
        (
            (1, Box((2, ["x"]))),
            "[1].inner[1]",
            "list",
            "key part 1 (in a Box, field 'inner'; in a tuple, item 1) has type 'list'",
        ),
        (
            (frozenset({Box(object())}),),
            "[0]<member>.inner",
            "object",
            "key part 0 (in a frozenset, a member; in a Box, field 'inner')",
        ),
        (["a"], "", "list", "a key is a tuple of parts, got 'list'"),
    ],
)
def test_keys_with_no_encoding_name_the_part_its_type_and_the_fix(
    key: tuple[object, ...], path: str, type_name: str, message: str
) -> None:
    with pytest.raises(KeyEncodingError) as info:
        encode_key(key)
    assert isinstance(info.value, TypeError)
    assert info.value.path == path
    assert info.value.type_name == type_name
    assert message in str(info.value)


# -- the hash ------------------------------------------------------------------------


def test_encoding_and_hash_are_pinned() -> None:
    """Changing these invalidates every stored snapshot and event log: do it on purpose."""
    assert encode_key(("index.md", 3)).hex() == "07000000020500000008696e6465782e6d64030000000103"
    assert key_hash(encode_key(("index.md",))) == 11256240682926813095
    assert key_hash(encode_key(())) == 16487445487603638608
    assert (
        key_hash(encode_key((frozenset({"b", "a"}), -1, 1.5, None, True, b"x")))
        == 6848174879049095531
    )


@given(keys)
def test_key_hash_is_an_unsigned_64_bit_int(key: tuple[object, ...]) -> None:
    value = key_hash(encode_key(key))
    assert 0 <= value < 2**64
    assert value == key_hash(encode_key(key))


_HASH_SCRIPT = textwrap.dedent(
    """
    import dataclasses, enum
    from sofrito._keys import encode_key, key_hash

    class Color(enum.Enum):
        RED = 1

    @dataclasses.dataclass(frozen=True)
    class Point:
        x: int
        tags: frozenset

    words = frozenset(f"word{n}" for n in range(100))
    keys = [
        ("index.md",),
        ("index.md", 3, None, 1.5, b"raw"),
        (words,),
        (frozenset({b"x", b"y", "x", 1, (2, "z")}),),
        (Color.RED, Point(1, words)),
    ]
    for key in keys:
        print(key_hash(encode_key(key)))
    """
)


def test_key_hash_is_the_same_in_processes_with_different_hash_seeds() -> None:
    outputs = set()
    for seed in ("0", "1", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _HASH_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    hashes = [int(line) for line in outputs.pop().split()]
    assert len(hashes) == len(set(hashes)) == 5
    words = frozenset(f"word{n}" for n in range(100))
    assert hashes[:3] == [
        key_hash(encode_key(("index.md",))),
        key_hash(encode_key(("index.md", 3, None, 1.5, b"raw"))),
        key_hash(encode_key((words,))),
    ]
