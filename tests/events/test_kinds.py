"""The event records and ``QueryRef`` (``sofrito._events.kinds``)."""

from __future__ import annotations

import dataclasses
import enum
import os
import pickle
import subprocess
import sys
import typing

import pytest

import sofrito as sf
from sofrito._events.kinds import (
    Event,
    InputRemoved,
    InputSet,
    QueryChanged,
    QueryExecuting,
    QueryInvalidated,
    QueryRef,
    QueryTraced,
    QueryVerified,
    RevisionBumped,
    RevisionSet,
)
from sofrito._keys import KeyEncodingError, encode_key, key_hash


class Lang(enum.Enum):
    EN = "en"


@dataclasses.dataclass(frozen=True)
class Page:
    path: str
    lang: Lang


EVENTS = (
    RevisionBumped,
    RevisionSet,
    InputSet,
    InputRemoved,
    QueryInvalidated,
    QueryChanged,
    QueryExecuting,
    QueryVerified,
    QueryTraced,
)


def test_a_ref_carries_the_canonical_key_and_its_hash() -> None:
    ref = QueryRef.of("html", ("index.md",))
    assert ref.kind == "html"
    assert ref.key == encode_key(("index.md",))
    assert ref.key_hash == key_hash(ref.key)
    assert ref == QueryRef("html", key_hash(ref.key), ref.key)
    assert ref != QueryRef.of("page", ("index.md",))
    assert ref != QueryRef.of("html", ("about.md",))
    assert len({ref, QueryRef.of("html", ("index.md",))}) == 1


def test_a_ref_to_a_key_with_no_encoding_is_a_type_error_naming_the_part() -> None:
    with pytest.raises(KeyEncodingError, match="key part 1 has type 'list'") as info:
        QueryRef.of("html", ("a.md", ["b"]))
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize(
    ("kind", "key", "shown"),
    [
        ("html", ("index.md",), "html('index.md')"),
        ("cell", (1, 2), "cell(1, 2)"),
        ("config", (), "config()"),
        ("src", ((1, 2),), "src((1, 2))"),
        ("src", ((1,),), "src((1,))"),
        ("mixed", (None, True, 1.5, b"raw"), "mixed(None, True, 1.5, b'raw')"),
        ("tags", (frozenset({"b", "a", "c"}),), "tags(frozenset({'a', 'b', 'c'}))"),
        ("tags", (frozenset(),), "tags(frozenset())"),
        ("page", (Page("a.md", Lang.EN),), "page(Page('a.md', Lang.EN))"),
    ],
)
def test_a_ref_shows_as_a_call(kind: str, key: tuple[object, ...], shown: str) -> None:
    assert str(QueryRef.of(kind, key)) == shown


def test_bytes_that_do_not_decode_show_as_hex() -> None:
    assert str(QueryRef("q", 0, b"\x07\xff")) == "q(<key 07ff>)"
    assert str(QueryRef("q", 0, b"")) == "q(<key >)"
    assert str(QueryRef("q", 0, bytes.fromhex("0500000001 61"))) == "q(<key 050000000161>)"


def test_display_overrides_the_key_but_is_not_compared() -> None:
    plain = QueryRef("q", 0, b"")
    shown = QueryRef("q", 0, b"", display="q(<a list>)")
    assert str(shown) == "q(<a list>)"
    assert shown == plain
    assert hash(shown) == hash(plain)
    assert "display" not in repr(shown)


def test_a_ref_shows_the_same_in_every_process() -> None:
    script = (
        "from sofrito._events.kinds import QueryRef;"
        "print(QueryRef.of('tags', (frozenset(f'w{n}' for n in range(30)),)))"
    )
    shown = set()
    for seed in ("0", "1", "random"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        shown.add(done.stdout)
    assert len(shown) == 1


def test_events_have_exactly_the_fields_of_the_design() -> None:
    fields = {cls.__name__: [f.name for f in dataclasses.fields(cls)] for cls in EVENTS}
    assert fields == {
        "RevisionBumped": ["revision"],
        "RevisionSet": ["revision"],
        "InputSet": ["ref", "revision", "durability"],
        "InputRemoved": ["ref", "revision"],
        "QueryInvalidated": ["ref", "by", "revision"],
        "QueryChanged": ["ref", "revision"],
        "QueryExecuting": ["ref", "revision", "first"],
        "QueryVerified": ["ref", "revision"],
        "QueryTraced": ["ref", "revision"],
    }
    assert [f.name for f in dataclasses.fields(QueryRef) if f.compare] == [
        "kind",
        "key_hash",
        "key",
    ]


def test_event_is_the_union_of_the_nine() -> None:
    assert set(typing.get_args(Event)) == set(EVENTS)


def test_events_are_frozen_slotted_and_compare_by_value() -> None:
    ref = QueryRef.of("src", ("a.md",))
    event = InputSet(ref, 3, sf.Durability.STABLE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.revision = 4  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    assert not hasattr(ref, "__dict__")
    assert event == InputSet(QueryRef.of("src", ("a.md",)), 3, sf.Durability.STABLE)
    assert event != InputSet(ref, 3, sf.Durability.VOLATILE)
    assert len({event, InputSet(ref, 3, sf.Durability.STABLE), InputRemoved(ref, 3)}) == 2


def test_events_say_sofrito_and_survive_pickling() -> None:
    ref = QueryRef.of("html", ("index.md",))
    samples = [
        RevisionBumped(1),
        RevisionSet(9),
        InputSet(ref, 2, sf.Durability.VOLATILE),
        InputRemoved(ref, 3),
        QueryInvalidated(QueryRef.of("page", ("index.md",)), ref, 3),
        QueryChanged(ref, 4),
    ]
    for cls in (QueryRef, *EVENTS):
        assert cls.__module__ == "sofrito"
        assert getattr(sf, cls.__name__) is cls
    assert repr(samples[0]) == "RevisionBumped(revision=1)"
    for event in samples:
        assert pickle.loads(pickle.dumps(event)) == event
