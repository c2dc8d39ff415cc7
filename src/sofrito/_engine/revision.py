"""The revision counter and, per durability level, the last revision with a change.

``last_changed[d]`` is the last revision in which an input of durability ``d``
*or higher* changed. A memo of durability ``d`` verified at or after
``last_changed[d]`` cannot have seen any of its inputs change.
"""

from __future__ import annotations

from sofrito._durability import Durability

__all__ = ["Revisions"]

_LEVELS = len(Durability)


class Revisions:
    __slots__ = ("current", "last_changed")

    def __init__(self, current: int = 0) -> None:
        self.current = current
        """The revision now: what ``rt.revision`` reads, and an ``lru`` entry point
        (``handle.Db._revisions``). Moved only by ``write._move_to``."""
        self.last_changed = [0] * _LEVELS

    def record_change(self, durability: int) -> None:
        """Note that an input of ``durability`` changed in the current revision."""
        for level in range(durability + 1):
            self.last_changed[level] = self.current

    def unchanged_since(self, durability: int, revision: int) -> bool:
        """Whether no input of ``durability`` or higher changed after ``revision``:
        the durability rule, whose one home this is (``verify.shallow_valid``
        asks it; the read paths write it out, naming it)."""
        return self.last_changed[durability] <= revision
