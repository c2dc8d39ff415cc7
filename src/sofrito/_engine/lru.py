"""Per-query LRU: keep at most ``lru`` values, evict the least recently used.

Eviction drops the value (and cached error) only. The memo's revisions and
dependencies stay, so dependents keep verifying against it without
re-executing; a read of the evicted memo itself re-executes it, and when its
dependencies are unchanged the result counts as unchanged (queries are pure),
so nothing downstream re-executes either.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from sofrito._engine.memo import NOT_HITTABLE

if TYPE_CHECKING:
    from sofrito._engine.memo import Memo
    from sofrito._engine.state import Engine

__all__ = ["LruRing", "insert", "touch"]


class LruRing:
    __slots__ = ("capacity", "lock", "order")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.lock = threading.Lock()
        self.order: OrderedDict[Memo, None] = OrderedDict()


def _ring(engine: Engine, memo: Memo) -> LruRing:
    spec = memo.spec
    ring = engine.lrus.get(spec)
    if ring is None:
        assert spec.lru is not None
        ring = engine.lrus.setdefault(spec, LruRing(spec.lru))
    return ring


def touch(engine: Engine, memo: Memo) -> None:
    ring = _ring(engine, memo)
    with ring.lock:
        if memo in ring.order:
            ring.order.move_to_end(memo)


def insert(engine: Engine, memo: Memo) -> None:
    ring = _ring(engine, memo)
    with ring.lock:
        ring.order[memo] = None
        ring.order.move_to_end(memo)
        while len(ring.order) > ring.capacity:
            evicted, _ = ring.order.popitem(last=False)
            _evict(evicted)


def _evict(memo: Memo) -> None:
    # Order matters to lock-free readers: has_value goes first (see fetch.ensure).
    memo.has_value = False
    memo.hit_at = NOT_HITTABLE
    memo.value = None
    memo.error = None
    memo.traceback = None
