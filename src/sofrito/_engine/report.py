"""What the engine tells listeners about its own steps: executions, verifications, changes.

Three events come from here (salsa's ``event.rs`` has the first two as
``WillExecute`` and ``DidValidateMemoizedValue``). With ``QueryChanged``, a
listener can tell for every query a computation touched whether it executed,
was verified, or was cut off early (executed to an equal value):

- ``QueryExecuting`` before a body runs (``execute.execute``), built before
  the memo is claimed;
- ``QueryChanged`` after the body, when ``backdate.store`` found the value
  different (``executed``);
- ``QueryVerified`` when a memo from an earlier revision is found valid
  without executing: by the shallow check (``fetch.ensure``,
  ``Frame._fetch_cold``, ``verify.is_valid``, ``verify._settle_shallow``), a
  cut frontier, or a deep walk (``verify.walk``).

**Free when nobody listens.** Every caller reads ``engine.listening`` (a
plain field) before calling in, so a runtime without receivers pays one
field read on the execute and verify paths, builds no ref and makes no call;
a memo hit (``verified_at`` already current) passes none of these places.

**Why a call at each place a memo is marked verified**, rather than one in
``verify.mark_verified``: the places every read takes write the marking out
inline (a call per read is a tenth of a warm read), so no single function
sees every verification; and ``mark_verified`` also makes a decoded value
hittable, which verifies nothing. The rejected alternative, one event per
memo a deep walk *passes* (its clean dependencies), would report memos that
are not brought up to date: ``verify.walk`` leaves those to be marked by
their own next read, and that read reports them.

**A key with no canonical encoding** cannot be named. The step is completed
first, then the ``TypeError`` naming the query reaches the caller: an
execution is announced without its event and ``executed`` raises once the
result is stored; ``verified`` raises once the memo is marked. Nothing is
left half done (docs/events.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sofrito._engine.memo import NEVER
from sofrito._engine.refs import memo_ref
from sofrito._events.kinds import QueryChanged, QueryExecuting, QueryTraced, QueryVerified

if TYPE_CHECKING:
    from sofrito._engine.memo import Memo
    from sofrito._engine.state import Engine

__all__ = ["executed", "executing", "traced", "verified"]


def executing(engine: Engine, memo: Memo) -> QueryExecuting | None:
    """The event for ``memo`` about to execute; the caller publishes it once it holds
    the claim (another thread may execute it instead). ``first`` when the memo has
    no earlier value to compare with.

    None when the key has no canonical encoding: the execution goes on, and
    ``executed`` raises the ``TypeError`` naming it once the result is stored.
    """
    try:
        ref = memo_ref(memo)
    except TypeError:
        return None
    return QueryExecuting(ref, engine.revisions.current, memo.verified_at == NEVER)


def executed(engine: Engine, memo: Memo, changed: bool) -> None:
    """After ``memo``'s execution is stored: ``QueryChanged`` if its value ``changed``.

    Naming the memo raises the ``TypeError`` of a key with no canonical
    encoding, here, with the execution complete (its ref is cached otherwise,
    so asking again costs a field read).
    """
    ref = memo_ref(memo)
    if changed:
        engine.events.publish(QueryChanged(ref, engine.revisions.current))


def verified(engine: Engine, memo: Memo) -> None:
    """``memo`` was just marked verified in this revision without executing."""
    engine.events.publish(QueryVerified(memo_ref(memo), engine.revisions.current))


def traced(engine: Engine, memo: Memo) -> None:
    """``memo``'s execution took a trace's value instead of running its body
    (``trace.py``); its ``executing`` event came first, ``executed`` follows."""
    engine.events.publish(QueryTraced(memo_ref(memo), engine.revisions.current))
