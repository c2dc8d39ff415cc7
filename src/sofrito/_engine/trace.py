"""Take a memo's value from a trace instead of executing its body.

A **trace** is what another execution of the same query and key (in another
runtime, a fresh clone, a CI job) read and returned: its reads in order, each
with a hash of the value it saw, and the value it produced. When this runtime
is about to execute a memo (it has none, or its verification failed),
``run`` first asks the ``TraceSource`` for the traces of that query
(same fingerprint, same code) and key, and replays each one's reads through
the execution's own frame, exactly as the body would read them: fetch each
dependency's current value (which may itself come from a trace, or execute),
hash it, compare. The first mismatch moves on to the next trace; a trace whose
every read matches gives its value, and the execution stores it as if the
body had returned it (``backdate.store``: early cutoff, events, the journal).

**Why this is sound.** A query is a pure function of what it reads, and what
it reads next depends only on what it has read so far. If the first ``k``
reads of a trace give the same values here, the body here would make the
same ``k + 1``-th read as the traced execution; if all of them match, it
would return the same value. So the reads recorded on the frame are the ones
an execution would have recorded, and later writes invalidate the memo
exactly as they would an executed one. Replaying a trace never reads more
than the body would: it stops at the first read whose value differs, where
the body would have gone its own way. These are the constructive traces of
"Build systems a la carte" (Mokhov, Mitchell, Peyton Jones, 2018), which
make Shake's cloud builds; Bazel's action cache and redun's call cache are
the same idea keyed by content.

**What it never does.** It is not on the hit path: only a memo about to
execute gets here, and only on a runtime with traces enabled for reading
(``Engine.traces``). A system error met on a replayed read (``Suspend``,
``Cancelled``, a cycle) is what the body would have met at the same read:
it ends the execution as it would. A user error cached on a dependency, or
a cell without a value (pending, failed), means the trace does not match (a
trace only records reads of values): the body runs and reads it its own way
(``sf.state`` sees a pending cell loading where a plain read suspends).

Rejected: checking a trace's hashes against stored hashes of this runtime's
memos without fetching them (what a cloud build does with a content store):
this runtime's values are only known once its dependencies are brought up to
date, and bringing them up to date is what fetching does. Rejected too: a
trace hit as a new kind of memo; it is an ordinary execution whose body was
not called, so everything downstream of ``backdate.store`` stays one path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

from sofrito._engine.memo import CellStatus
from sofrito._errors import QueryError

if TYPE_CHECKING:
    from sofrito._engine.frames import Frame
    from sofrito._engine.memo import Memo, Node
    from sofrito._engine.spec import QuerySpec
    from sofrito._engine.state import Engine
    from sofrito._inputs import Input

__all__ = [
    "TRACE_READ_CELL",
    "TRACE_READ_KEYS",
    "TRACE_READ_QUERY",
    "Trace",
    "TraceRead",
    "TraceSource",
    "install",
    "run",
]

TRACE_READ_QUERY: Final = 0
TRACE_READ_CELL: Final = 1
TRACE_READ_KEYS: Final = 2


class TraceRead:
    """One read of a trace, resolved to this process's query or input: what to
    fetch (``kind``: a query call, an input cell, or an input's key listing) and
    the hash of the value the traced execution saw."""

    __slots__ = ("digest", "input", "key", "kind", "spec")

    def __init__(
        self,
        kind: int,
        spec: QuerySpec[Any] | None,
        input: Input | None,
        key: tuple[Any, ...],
        digest: bytes,
    ) -> None:
        self.kind = kind
        self.spec = spec
        self.input = input
        self.key = key
        self.digest = digest


class Trace:
    """A candidate: its reads in order, and its value as the codec encoded it."""

    __slots__ = ("reads", "value")

    def __init__(self, reads: list[TraceRead], value: bytes) -> None:
        self.reads = reads
        self.value = value


class TraceSource(Protocol):
    """Where traces come from (``sofrito._traces.TraceBook``, over a store)."""

    def candidates(self, memo: Memo) -> list[Trace]:
        """The traces of ``memo``'s query (its fingerprint) and key, checked (MAC)."""
        ...

    def digest(self, node: Node) -> bytes | None:
        """The hash of ``node``'s current value, as traces record it; None for a
        node that holds no value (a cached error, a pending cell)."""
        ...

    def take(self, memo: Memo, trace: Trace) -> tuple[bool, Any]:
        """``trace``'s value decoded for ``memo``; (False, None) if it does not decode."""
        ...


def install(engine: Engine, source: TraceSource | None) -> None:
    """Read traces from ``source`` before executing (None: never). The persistence
    layer installs its ``TraceBook`` here, as it installs a backing (``backing.py``)."""
    engine.traces = source


def run(engine: Engine, frame: Frame) -> Any:
    """The result of ``frame``'s execution: a matching trace's value, else the body's.

    Called by ``execute.execute`` in place of the body, on a runtime with traces
    enabled for reading (``Engine.traces``)."""
    source = engine.traces
    if source is not None:
        memo = frame.memo
        candidates = source.candidates(memo)
        for trace in candidates:
            if _replay(engine, source, frame, trace):
                taken, value = source.take(memo, trace)
                if taken:
                    engine.executions_traced += 1
                    if engine.listening:
                        report.traced(engine, memo)
                    return value
            frame.deps = []  # what the body reads, from the start
    memo = frame.memo
    return memo.spec.run(frame, *memo.key)


def _replay(engine: Engine, source: TraceSource, frame: Frame, trace: Trace) -> bool:
    """Read ``trace``'s reads through ``frame``, in order; True if every value matches."""
    for read in trace.reads:
        try:
            if read.kind == TRACE_READ_QUERY:
                assert read.spec is not None
                fetch.fetch_tracked(engine, frame, read.spec, read.key)
            elif read.kind == TRACE_READ_CELL:
                assert read.input is not None
                if inputs.cell_for(engine, read.input, read.key).status != CellStatus.READY:
                    # The trace read a value; this cell has none. How the body reads it
                    # (suspending, or sf.state seeing it loading) is the body's to say.
                    return False
                inputs.read_tracked(engine, frame, read.input, read.key)
            else:
                assert read.input is not None
                inputs.keys_tracked(engine, frame, read.input)
        except QueryError:
            raise  # what the body would meet at this read: it ends the execution
        except Exception:
            return False  # a cached user error: the traced execution read a value
        deps = frame.deps
        if not deps or source.digest(deps[-1]) != read.digest:
            return False
    return True


# At the bottom: fetch reaches this module through execute (the algorithm is
# recursive), so these are bound once both exist (as in ``frames.py``).
from sofrito._engine import fetch, inputs, report  # noqa: E402
