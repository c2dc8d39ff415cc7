"""The ``db`` a query body receives.

The handle is what makes dependency tracking automatic: a query reads other
queries and inputs *through* it, and the handle records each read on its
frame. Its ``_revision`` can never equal a real revision, so the hot path
that ``@sf.query`` generates always falls through to ``_fetch_cold`` here,
which records the read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sofrito._engine.frames import Frame
    from sofrito._engine.memo import Cell
    from sofrito._engine.state import Engine
    from sofrito._inputs import Input
    from sofrito._queries import QuerySpec

__all__ = ["Handle"]


class Handle:
    """A query's view of the runtime; keep it only while the body runs."""

    __slots__ = ("_engine", "_frame", "_tables")

    _revision = -2  # never a real revision: the hot path always falls through

    def __init__(self, engine: Engine, frame: Frame) -> None:
        self._engine = engine
        self._frame = frame
        self._tables = engine.tables

    def _fetch_cold(self, spec: QuerySpec[Any], key: tuple[Any, ...]) -> Any:
        # The tracked hit, inlined: one call per dependency read instead of three.
        engine = self._engine
        frame = self._frame
        if not (engine.gate.cancel_requested or frame.finished) and spec.lru is None:
            try:
                memo = self._tables[spec].get(key)
            except TypeError:
                memo = None
            if memo is not None and memo.hit_at == engine.revisions.current:
                deps = frame.deps
                if not deps or deps[-1] is not memo:
                    deps.append(memo)
                return memo.value
        return _fetch.fetch_tracked(engine, frame, spec, key)

    def _read_input(self, input: Input, key: tuple[Any, ...]) -> Any:
        return _inputs.read_tracked(self._engine, self._frame, input, key)

    def _cell_for_state(self, input: Input, key: tuple[Any, ...]) -> Cell:
        return _inputs.state_tracked(self._engine, self._frame, input, key)

    @property
    def runtime(self) -> Any:
        """The runtime behind this handle, for untracked reads."""
        return self._engine.runtime

    def __repr__(self) -> str:
        return f"<sofrito db handle for {self._frame.memo!r}>"


# At the bottom: these modules call back into this one (the algorithm is
# recursive), so they are bound once all three exist.
from sofrito._engine import fetch as _fetch  # noqa: E402
from sofrito._engine import inputs as _inputs  # noqa: E402
