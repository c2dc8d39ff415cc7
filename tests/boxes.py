"""A value that a weak reference can watch: tests that check who keeps a value alive."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Box(Generic[T]):
    """Holds ``content``; unlike an int or a str, it can be weakly referenced."""

    def __init__(self, content: T) -> None:
        self.content = content
