"""The public names are exactly the API of DESIGN.md, each exported once."""

from __future__ import annotations

import sofrito as sf

CORE_API = {
    "Input",
    "InputRef",
    "query",
    "Query",
    "Runtime",
    "Polled",
    "Durability",
    "QueryError",
    "Suspend",
    "CycleError",
    "Cancelled",
    "MissingDependency",
    "NotFound",
    "Lagged",
    "PENDING",
    "state",
    "Loading",
    "Ready",
    "Failed",
}


def test_core_api_is_exported() -> None:
    assert set(sf.__all__) >= CORE_API
    assert len(sf.__all__) == len(set(sf.__all__))
    for name in sf.__all__:
        assert hasattr(sf, name), name


def test_public_classes_say_sofrito_in_tracebacks() -> None:
    for name in sf.__all__:
        obj = getattr(sf, name)
        if isinstance(obj, type):
            assert obj.__module__ == "sofrito", name
