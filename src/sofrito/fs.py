"""Built-in file inputs for flows: ``sf.fs.file``, ``sf.fs.glob``, and ``sf.output``.

A flow (docs/flows.md) reads its sources through these, never through
``open``: a read through ``db`` is a tracked dependency, so an edit
re-executes exactly the queries that read the edited file.

- ``file(db, relpath) -> bytes``: the content of one source file.
- ``glob(db, pattern) -> list[str]``: the source files matching a glob,
  sorted. It reads the *listing* of the file family (``Input.keys``), which
  changes only when a file is added or removed, so a query that globs
  re-runs when a page appears or goes, never because one was edited.
- ``output(render, *key)``: in the mapping ``main`` returns, a reference to
  the query that renders an output instead of its content. ``main`` then
  depends on the list of outputs only, and a run asks each render for its
  value: one an edit did not reach is a memo hit, never executed.

Paths are relative to the flow file's folder and ``/``-separated on every
platform. Only files matched by the flow's ``SOURCES`` are inputs: the scan
(``sofrito._fs.scan``) sets them before the flow runs. Reading any other
path is not silently a disk read (its changes would go unseen): it raises
``sf.Suspend`` naming the file (the cell has no value), and ``sofrito run``
reports it as a file outside ``SOURCES``.

The inputs live in ``sofrito._fs.cells``, the glob rule in
``sofrito._fs.patterns``; this module is what flows import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sofrito as sf
from sofrito._fs.cells import FILES
from sofrito._fs.patterns import compile_pattern, normalize
from sofrito._fs.scan import ScanReport, scan

Db = Any
"""A query's ``db`` handle, or a runtime (a top-level read)."""

__all__ = ["Output", "ScanReport", "file", "glob", "output", "scan"]


def file(db: Db, relpath: str) -> bytes:
    """The bytes of the source ``relpath`` (relative to the flow's folder), as a tracked read.

    A file that no ``SOURCES`` glob matches, or that was deleted, has no
    value: the read raises ``sf.Suspend`` naming ``sofrito.fs.file[relpath]``.
    """
    value: bytes = FILES(db, normalize(relpath))
    return value


def glob(db: Db, pattern: str) -> list[str]:
    """The sources matching ``pattern``, sorted; re-run when one is added or removed.

    ``**`` matches any number of folders, ``*``, ``?`` and ``[...]`` one
    path component; wildcards skip names starting with ``.``. The list is a
    fresh copy each call (the memoized value is a tuple), so it is the
    caller's to change.
    """
    return list(_glob(db, compile_pattern(pattern).text))


@sf.query(name="sofrito.fs.glob")
def _glob(db: Db, pattern: str) -> tuple[str, ...]:
    compiled = compile_pattern(pattern)
    return tuple(key[0] for key in FILES.keys(db) if compiled.matches(key[0]))


@dataclass(frozen=True, slots=True)
class Output:
    """One output of a flow given by reference: the query ``render`` at ``key``.

    A run computes it as ``rt.query(render, *key)``; the value is the
    output's content (``bytes``, or ``str`` written as UTF-8). Equal when
    the query and key are: ``main`` returning the same references again is
    cut off early.
    """

    render: Any
    key: tuple[Any, ...]

    def __repr__(self) -> str:
        name = getattr(self.render, "__qualname__", repr(self.render))
        return f"sf.output({name}, {', '.join(map(repr, self.key))})"

    def __reduce__(self) -> tuple[type[Output], tuple[Any, tuple[Any, ...]]]:
        """Pickled as a call of the class: every run decodes ``main``'s mapping, 10,000
        of these on a 10,000-page site, and a slotted dataclass's own
        ``__setstate__`` (a loop over ``fields()`` per object) took 15 ms of it
        where the call takes 6 ms. Rows pickled the old way still load."""
        return (Output, (self.render, self.key))


def output(render: Any, *key: Any) -> Output:
    """A reference to the output that ``render(db, *key)`` computes, for ``main``'s mapping."""
    if not callable(render):
        raise TypeError(f"sf.output takes a query and its key, got {render!r} first")
    return Output(render, key)


Output.__module__ = "sofrito.fs"
