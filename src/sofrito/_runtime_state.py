"""``RuntimeState``: a runtime's lifecycle, in a module both sides of the store import.

The engine keeps its runtime's state (a write to a retired runtime is refused
in ``_engine/write.py``) and the stores persist it (``sofrito.stores``), so
the enum lives below both: the engine imports nothing from ``sofrito.stores``
at run time, and ``sofrito.stores.RuntimeState`` re-exports this one, the
public name.
"""

from __future__ import annotations

import enum

__all__ = ["RuntimeState"]


class RuntimeState(enum.StrEnum):
    """A runtime's lifecycle. Writes are refused in ``retired``, ``stopped`` and ``destroyed``."""

    INITIALIZING = "initializing"
    IDLE = "idle"
    RUNNING = "running"
    RETIRED = "retired"
    STOPPED = "stopped"
    DESTROYED = "destroyed"


RuntimeState.__module__ = "sofrito.stores"
