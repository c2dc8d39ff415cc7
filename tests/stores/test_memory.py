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
