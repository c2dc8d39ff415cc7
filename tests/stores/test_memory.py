"""MemoryStore: the contract, with nothing to add: no file, no durability."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sofrito.stores import MemoryStore, RuntimeStore
from tests.stores.contract import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[RuntimeStore]:
        with MemoryStore() as store:
            yield store


def test_memory_store_satisfies_the_protocol_statically() -> None:
    store: RuntimeStore = MemoryStore()  # mypy checks this line
    assert store.location == "memory store"
    store.close()
