"""``Every``: a message every ``interval`` seconds.

The message is ``make_msg()``, as in the subscription model sofrito follows;
a factory that takes one argument gets ``make_msg(tick)`` instead, ``tick``
counting messages from 1. A count, not a timestamp: it is deterministic in
tests, and a handler that wants the time can read it itself.

Which of the two a factory is, is read once, from its signature, when the
timer is declared. Calling it and retrying without the argument on a
``TypeError`` would also swallow a ``TypeError`` raised inside the factory
and call it twice. Waiting is ``stop.wait``, never ``sleep``, so a stop
ends the timer at once.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from sofrito.subscriptions._ids import stable_id
from sofrito.subscriptions.protocol import StopSignal

__all__ = ["Every"]

M = TypeVar("M")


class Every(Generic[M]):
    """Send ``make_msg()`` every ``interval`` seconds, or ``make_msg(tick)``.

    A factory that can take one positional argument gets the tick count,
    from 1; one that takes none is called with none. The default id is
    derived from the interval, so two declarations of the same interval are
    one timer (and compare equal). Pass ``id=`` for independent timers. Ticks
    do not drift: each is due at the previous due time plus ``interval``. A
    timer that falls more than one interval behind (the machine slept, the
    receiver was slow) sends one tick at once and realigns, rather than
    bursting the missed ones.
    """

    @overload
    def __init__(
        self, interval: float, make_msg: Callable[[], M], id: int | None = None
    ) -> None: ...

    @overload
    def __init__(
        self, interval: float, make_msg: Callable[[int], M], id: int | None = None
    ) -> None: ...

    def __init__(
        self,
        interval: float,
        make_msg: Callable[[], M] | Callable[[int], M],
        id: int | None = None,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"Every needs a positive interval in seconds, got {interval!r}")
        self.interval = float(interval)
        self.make_msg = make_msg
        self._takes_tick = _takes_tick(make_msg)
        self._id = id if id is not None else stable_id("every", self.interval)

    @property
    def id(self) -> int:
        return self._id

    def run(self, send: Callable[[M], None], stop: StopSignal) -> None:
        due = time.monotonic()
        tick = 0
        while True:
            due += self.interval
            now = time.monotonic()
            if now > due + self.interval:
                due = now  # fell behind: one tick now, then on the new grid
            if stop.wait(max(0.0, due - now)):
                return
            tick += 1
            send(self._message(tick))

    def _message(self, tick: int) -> M:
        if self._takes_tick:
            return self.make_msg(tick)  # type: ignore[call-arg]
        return self.make_msg()  # type: ignore[call-arg]

    def __eq__(self, other: object) -> bool:
        """Equal ids are the same timer, so a re-declared list can cut off early."""
        return isinstance(other, Every) and other._id == self._id

    def __hash__(self) -> int:
        return hash(("Every", self._id))

    def __repr__(self) -> str:
        return f"Every({self.interval!r}, id={self._id:#x})"


def _takes_tick(make_msg: Callable[..., Any]) -> bool:
    """Whether ``make_msg`` gets the tick count: it can take one positional argument.

    A callable whose signature Python cannot tell (some built-ins, such as
    ``str``) gets the count, as every factory did before zero-argument ones
    were accepted. One that can take neither is refused here, at the
    declaration, rather than failing on its thread at the first tick.
    """
    try:
        signature = inspect.signature(make_msg)
    except (TypeError, ValueError):  # no signature to read: a built-in
        return True
    for arguments in ((0,), ()):
        try:
            signature.bind(*arguments)
        except TypeError:
            continue
        return bool(arguments)
    name = getattr(make_msg, "__qualname__", repr(make_msg))
    raise TypeError(
        f"Every's make_msg must take no argument or one (the tick count); "
        f"{name}{signature} takes neither"
    )
