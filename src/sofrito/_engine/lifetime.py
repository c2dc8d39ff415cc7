"""Objects the engine holds by weak reference, to learn when something is gone.

``ThreadMark`` dies with the thread-local values of its thread; ``Anchor``
dies with the object that owns it.

The write gate keeps every thread's ``Reader`` so that a writer can see who
is reading, and must let go of a thread's record when the thread ends. It
stores a ``ThreadMark`` beside the record in the thread's locals and holds
the mark by weak reference: when the thread ends, its locals go, the mark
dies, and the weak reference's callback removes the record.

The name registry (``_registry.py``) holds each input's ``Anchor`` weakly,
and finds the input through it: the input itself is a compiled class in
the compiled engine.

This module stays ordinary Python classes when the engine is compiled
(``docs/concepts.md``, "A compiled engine"), because compiled classes
cannot be weakly referenced; the objects they watch can then be compiled.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Anchor", "ThreadMark"]


class ThreadMark:
    __slots__ = ("__weakref__",)


class Anchor:
    """Owned by one object, and referring back to it: the two die together."""

    __slots__ = ("__weakref__", "owner")

    def __init__(self, owner: Any) -> None:
        self.owner = owner
