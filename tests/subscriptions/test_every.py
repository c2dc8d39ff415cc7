"""Every: ticks, dedupe by interval, explicit ids, prompt stop."""

from __future__ import annotations

import queue
import threading

import pytest

from sofrito.subscriptions import Every, Reconciler


def test_equal_intervals_dedupe_and_explicit_ids_do_not() -> None:
    assert Every(0.5, str).id == Every(0.5, repr).id
    assert Every(0.5, str).id != Every(1.0, str).id
    assert Every(0.5, str, id=1).id == 1
    with pytest.raises(ValueError, match="positive interval"):
        Every(0, str)


@pytest.mark.timeout(30)
def test_ticks_arrive_counted_and_stop_promptly() -> None:
    ticks: queue.SimpleQueue[str] = queue.SimpleQueue()
    reconciler: Reconciler[str] = Reconciler(ticks.put)
    reconciler.reconcile([Every(0.01, lambda tick: f"tick {tick}")])
    assert [ticks.get(timeout=5) for _ in range(3)] == ["tick 1", "tick 2", "tick 3"]
    reconciler.stop_all()
    assert not [t for t in threading.enumerate() if t.name.startswith("sofrito-sub-")]
