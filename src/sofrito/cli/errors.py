"""What can go wrong in a command, as exceptions that carry their exit code.

Every failure a user can cause is a ``CliError`` subclass raised with one
line of text that names the file, folder or store and what to do next.
``main`` prints that line to stderr and exits with the class's code; only
``--debug`` adds the traceback. Anything else that escapes is a bug in
sofrito or the flow's own code and exits 70 with a hint to rerun with
``--debug``.

| code | class | meaning |
|---|---|---|
| 1 | ``OutputsFailed`` | the flow's code raised (``main``, or renders: the others written) |
| 2 | (argparse), ``UnknownOutput`` | bad command-line arguments; an OUTPUT the flow does not have |
| 3 | ``FlowFileError`` | the flow file is missing, does not compile, lacks ``main``/``SOURCES`` |
| 4 | ``SourcesError`` | a ``SOURCES`` folder is missing or a source cannot be read |
| 5 | ``CacheBusy`` | another process holds or just committed the cache |
| 6 | ``CacheDamaged`` | the cache cannot be read as a cache |
| 7 | ``OutputNotWritable`` | the output folder cannot be written |
| 8 | ``NotRun`` | nothing to inspect: no cache, or no (recorded) run of the flow in it |
| 9 | ``CacheVersion`` | the cache's schema is another version: upgrade the store, or sofrito |
| 70 | (anything else) | a bug: rerun with ``--debug`` and report it |
| 130 | ``KeyboardInterrupt`` | interrupted |
"""

from __future__ import annotations

__all__ = [
    "EXIT_BUG",
    "EXIT_INTERRUPTED",
    "CacheBusy",
    "CacheDamaged",
    "CacheVersion",
    "CliError",
    "FlowFileError",
    "NotRun",
    "OutputNotWritable",
    "OutputsFailed",
    "SourcesError",
    "UnknownOutput",
]

EXIT_BUG = 70
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the user can fix; ``str(error)`` is the one line to print."""

    exit_code = 1


class OutputsFailed(CliError):
    """The flow's code raised: ``main``, or the renders of some outputs."""

    exit_code = 1


class FlowFileError(CliError):
    """The flow file is missing, does not compile or import, or lacks ``main``/``SOURCES``."""

    exit_code = 3


class SourcesError(CliError):
    """A folder a ``SOURCES`` glob starts in is missing, or a source cannot be read."""

    exit_code = 4


class CacheBusy(CliError):
    """The cache is locked by another process, or another process committed first."""

    exit_code = 5


class CacheDamaged(CliError):
    """The cache exists but is not a readable sofrito cache."""

    exit_code = 6


class CacheVersion(CliError):
    """The cache is whole, but its schema is not this sofrito's version
    (``sofrito.stores.SchemaMismatch``): older, upgrade the store
    (``sofrito store upgrade URL``); newer, upgrade sofrito. Never "delete it":
    a shared cache holds a team's work."""

    exit_code = 9


class OutputNotWritable(CliError):
    """The output folder (or a file in it) cannot be created, written or deleted."""

    exit_code = 7


class NotRun(CliError):
    """``inspect`` found nothing to read: no cache there, or no run (recorded) in it."""

    exit_code = 8


class UnknownOutput(CliError):
    """``inspect --why OUTPUT`` names an output the flow has not produced."""

    exit_code = 2
