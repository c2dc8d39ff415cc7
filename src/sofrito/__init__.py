"""sofrito: incremental computation for Python.

Declare inputs (``sf.Input``) and pure queries (``@sf.query``); a
``sf.Runtime`` memoizes every query, records what it read, and after an input
changes re-executes only what could have changed, stopping early where a
recomputed value comes out equal to the old one.

Layout: the public names below come from private modules, one idea each;
``sofrito._engine`` holds the algorithm, one step per module.
"""

from sofrito._durability import Durability
from sofrito._engine import COMPILED
from sofrito._errors import (
    Cancelled,
    CycleError,
    Lagged,
    MissingDependency,
    NotFound,
    QueryError,
    ReceiverClosed,
    Suspend,
)
from sofrito._events.broadcast import EventReceiver
from sofrito._events.kinds import (
    Event,
    InputRemoved,
    InputSet,
    QueryChanged,
    QueryExecuting,
    QueryInvalidated,
    QueryRef,
    QueryTraced,
    QueryVerified,
    RevisionBumped,
    RevisionSet,
)
from sofrito._events.watch import RevisionReceiver
from sofrito._gather import gather
from sofrito._inputs import PENDING, Failed, Input, InputRef, Loading, Ready, state
from sofrito._queries import Query, query
from sofrito._runtime import Polled, Runtime
from sofrito._version import __version__

__all__ = [
    # declaring
    "Input",
    "InputRef",
    "query",
    "Query",
    "Durability",
    # running
    "Runtime",
    "Polled",
    "gather",
    # assets and suspense
    "PENDING",
    "state",
    "Loading",
    "Ready",
    "Failed",
    # events
    "QueryRef",
    "Event",
    "RevisionBumped",
    "RevisionSet",
    "InputSet",
    "InputRemoved",
    "QueryInvalidated",
    "QueryChanged",
    "QueryExecuting",
    "QueryTraced",
    "QueryVerified",
    "EventReceiver",
    "ReceiverClosed",
    "RevisionReceiver",
    # errors
    "QueryError",
    "Suspend",
    "CycleError",
    "Cancelled",
    "MissingDependency",
    "NotFound",
    "Lagged",
    # flows (docs/flows.md): an output given by reference, imported on first use (as is
    # the module sofrito.fs, sf.fs, with the file inputs)
    "output",
    # the build: True where the engine was compiled (docs/concepts.md, "A compiled engine")
    "COMPILED",
    "__version__",
]


def __getattr__(name: str) -> object:
    """``sf.fs`` and ``sf.output`` on first use (docs/flows.md).

    Flows need them; a program that only memoizes does not, so ``import
    sofrito`` does not import the file inputs, their glob rules or hashlib.
    Once imported they are ordinary attributes.
    """
    if name in ("fs", "output"):
        import sofrito.fs  # noqa: PLC0415 (see the docstring)

        globals()["output"] = sofrito.fs.output
        return sofrito.fs if name == "fs" else sofrito.fs.output
    raise AttributeError(f"module 'sofrito' has no attribute {name!r}")
