"""Durability levels: how often an input is expected to change.

A query's durability is the lowest durability of everything it read. The
runtime remembers, per level, the last revision in which an input of that
level or higher changed; a memo whose durability level has seen no change
since it was verified is valid without looking at its dependencies. That is
what keeps a volatile edit from re-verifying queries that read only stable
configuration.
"""

from __future__ import annotations

import enum

__all__ = ["Durability"]


class Durability(enum.IntEnum):
    """Ordered: ``VOLATILE < TRANSIENT < STABLE < STATIC``."""

    VOLATILE = 0
    """Changes often: files being edited, editor buffers."""
    TRANSIENT = 1
    """Changes now and then: generated files, environment."""
    STABLE = 2
    """Rarely changes: configuration, dependency manifests."""
    STATIC = 3
    """Never changes while the program runs: the standard library, constants."""


Durability.__module__ = "sofrito"
