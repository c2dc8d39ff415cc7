"""Inputs: families of cells that the program writes and queries read.

``source = sf.Input("source")`` declares a family; ``source["a.md"]`` is a
reference to one cell (key ``("a.md",)``), ``cell[1, 2]`` has key ``(1, 2)``,
and the bare input stands for its unit key ``()``. Inside a query,
``source(db, "a.md")`` reads the cell and records the dependency.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from sofrito._durability import Durability
from sofrito._engine.memo import CellStatus
from sofrito._registry import register_input

if TYPE_CHECKING:
    from sofrito._engine.frames import Handle
    from sofrito._runtime import Runtime

__all__ = [
    "PENDING",
    "Failed",
    "Input",
    "InputRef",
    "Loading",
    "Ready",
    "key_of",
    "state",
]

T = TypeVar("T")


class _Pending:
    """The type of ``sf.PENDING``: what a locator returns for "not yet"."""

    _instance: _Pending | None = None

    def __new__(cls) -> _Pending:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "sofrito.PENDING"

    def __reduce__(self) -> str:
        return "PENDING"


PENDING: Final = _Pending()
"""Return this from a locator to say the value is not available yet."""


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

    __slots__ = ("__weakref__", "_refs", "durability", "is_async", "locator", "name")

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
        register_input(self)

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

    def __call__(self, db: Runtime | Handle, *key: Any) -> Any:
        """Read the cell ``self[key]``; inside a query this records the dependency."""
        return db._read_input(self, key)

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


@dataclass(frozen=True, slots=True)
class Loading:
    """``sf.state``: the cell has no value yet."""


@dataclass(frozen=True, slots=True)
class Ready(Generic[T]):
    """``sf.state``: the cell holds ``value``."""

    value: T


@dataclass(frozen=True, slots=True)
class Failed:
    """``sf.state``: the cell's value is the error ``error``."""

    error: BaseException


def state(db: Runtime | Handle, target: Input | InputRef) -> Loading | Ready[Any] | Failed:
    """The loading state of a cell, without suspending the query that asks.

    The read is recorded like any other, so the query re-executes when the
    cell resolves. A pending cell read this way is listed by ``rt.pending()``.
    """
    ref = ref_of(target)
    cell = db._cell_for_state(ref.input, ref.key)
    if cell.status == CellStatus.READY:
        return Ready(cell.value)
    if cell.status == CellStatus.FAILED:
        assert cell.error is not None
        return Failed(cell.error)
    return Loading()


for _cls in (Input, InputRef, Loading, Ready, Failed):
    _cls.__module__ = "sofrito"
