"""``Input`` (a family of input cells) and ``InputRef`` (one cell, ``input[key]``).

In the engine because they are used on every input read: compiled, reading
``source(db, key)`` is a native call instead of a Python ``__call__``. The
public names are re-exported by ``sofrito._inputs`` and ``sofrito``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sofrito._durability import Durability
from sofrito._engine.lifetime import Anchor
from sofrito._registry import register_input

if TYPE_CHECKING:
    from sofrito._engine.handle import Db

__all__ = ["Input", "InputRef", "key_of", "ref_of"]


def key_of(subscript: object) -> tuple[Any, ...]:
    """The key tuple ``input[subscript]`` refers to."""
    return subscript if type(subscript) is tuple else (subscript,)


class Input:
    """A family of input cells, keyed like queries.

    ``durability`` is the default for its cells; ``locator(*key)`` is asked for
    the value of a cell that was never set (it may return ``sf.PENDING`` or
    raise ``sf.NotFound``; an ``async def`` locator is awaited by
    ``rt.aquery``).
    """

    __slots__ = ("_anchor", "_refs", "durability", "is_async", "locator", "name")

    def __init__(
        self,
        name: str,
        *,
        durability: Durability = Durability.VOLATILE,
        locator: Callable[..., Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"an input needs a non-empty string name, got {name!r}")
        self.name = name
        self.durability = Durability(durability)
        self.locator = locator
        self.is_async = locator is not None and inspect.iscoroutinefunction(locator)
        self._refs: dict[tuple[Any, ...], InputRef] = {}
        self._anchor = Anchor(self)  # what the registry holds weakly (lifetime.py)
        register_input(name, self._anchor)

    def __getitem__(self, subscript: object) -> InputRef:
        return self.ref(key_of(subscript))

    def ref(self, key: tuple[Any, ...]) -> InputRef:
        try:
            ref = self._refs.get(key)
        except TypeError:
            raise TypeError(
                f"input {self.name!r}: key {key!r} is not hashable; "
                "input keys must be hashable (use a tuple or frozenset)"
            ) from None
        if ref is None:
            ref = self._refs.setdefault(key, InputRef(self, key))
        return ref

    def __call__(self, db: Db, *key: Any) -> Any:
        """Read the cell ``self[key]``; inside a query this records the dependency."""
        return db._read_input(self, key)

    def keys(self, db: Db) -> tuple[tuple[Any, ...], ...]:
        """The keys of the cells currently set, sorted (docs/concepts.md, "Listing keys").

        Inside a query this is a tracked read that changes only when a key is
        added or removed, not when a value changes: a report over all files
        re-runs on an added file, not on every edit. ``source.keys(rt)`` reads
        it untracked. Each key is a tuple, as in ``source[key]``.
        """
        return db._read_keys(self)

    def describe(self, key: tuple[Any, ...]) -> str:
        return f"{self.name}[{', '.join(map(repr, key))}]"

    def __repr__(self) -> str:
        return f"sofrito.Input({self.name!r})"


@dataclass(frozen=True, slots=True)
class InputRef:
    """One cell of an input: ``input[key]``. Hashable; equal refs compare equal."""

    input: Input
    key: tuple[Any, ...]

    def __repr__(self) -> str:
        return self.input.describe(self.key)


def ref_of(target: Input | InputRef) -> InputRef:
    """Accept a bare input as its unit-key cell."""
    if isinstance(target, InputRef):
        return target
    if isinstance(target, Input):
        return target.ref(())
    raise TypeError(f"expected an input or an input reference (input[key]), got {target!r}")
