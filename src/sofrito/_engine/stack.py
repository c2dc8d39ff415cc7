"""Deep chains of queries run on fresh thread stacks.

Every level of a query chain costs several Python frames and at least one C
level call, so a 10,000-level chain would hit the recursion limit (and, past
that, the C stack). Raising the limit to an absurd value just moves the crash.
Instead, every ``FRAMES_PER_STACK`` levels the body runs on a new thread,
which starts with an empty stack and its own recursion counter, while the
calling thread waits for it. The new thread acts for the same task: it holds
no lock the caller needs, and it is counted as the same reader by the write
gate.

Costs one thread start per ``FRAMES_PER_STACK`` levels (a few tens of
microseconds), which shallow graphs never pay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from sofrito._engine.state import Engine

__all__ = ["FRAMES_PER_STACK", "run_on_fresh_stack"]

FRAMES_PER_STACK: Final = 40
"""Query levels run on one thread stack before the next level moves to a new one."""


def run_on_fresh_stack(engine: Engine, body: Callable[..., Any], *args: Any) -> Any:
    """``body(*args)`` on a new thread acting for the caller's reader; its result or error."""
    outcome: list[Any] = []
    failure: list[BaseException] = []

    def target() -> None:
        engine.gate.adopt_reader()
        try:
            outcome.append(body(*args))
        except BaseException as exc:
            failure.append(exc)
        finally:
            engine.gate.release_adopted()

    thread = threading.Thread(target=target, name="sofrito-deep-chain", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]
