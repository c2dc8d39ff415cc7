"""Inputs: families of cells that the program writes and queries read.

``source = sf.Input("source")`` declares a family; ``source["a.md"]`` is a
reference to one cell (key ``("a.md",)``), ``cell[1, 2]`` has key ``(1, 2)``,
and the bare input stands for its unit key ``()``. Inside a query,
``source(db, "a.md")`` reads the cell and records the dependency.

``Input`` and ``InputRef`` live in the engine (``_engine/family.py``),
because every input read goes through them; this module adds what a
locator and ``sf.state`` speak: ``PENDING``, ``Loading``, ``Ready``,
``Failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from sofrito._engine.family import Input, InputRef, key_of, ref_of
from sofrito._engine.memo import CellStatus

if TYPE_CHECKING:
    from sofrito._engine.handle import Db

__all__ = [
    "PENDING",
    "Failed",
    "Input",
    "InputRef",
    "Loading",
    "Ready",
    "key_of",
    "ref_of",
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


def state(db: Db, target: Input | InputRef) -> Loading | Ready[Any] | Failed:
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
