"""``ThreadMark``: an object that dies with the thread-local values of its thread.

The write gate keeps every thread's ``Reader`` so that a writer can see who
is reading, and must let go of a thread's record when the thread ends. It
stores a ``ThreadMark`` beside the record in the thread's locals and holds
the mark by weak reference: when the thread ends, its locals go, the mark
dies, and the weak reference's callback removes the record.

This module stays an ordinary Python class when the engine is compiled
(``docs/concepts.md``, "A compiled engine"), because compiled classes
cannot be weakly referenced; the records themselves can then be compiled.
"""

from __future__ import annotations

__all__ = ["ThreadMark"]


class ThreadMark:
    __slots__ = ("__weakref__",)
