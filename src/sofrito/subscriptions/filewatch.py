"""``FileWatch``: batches of file changes under some paths, from ``watchfiles``.

``watchfiles`` (Rust ``notify`` underneath) groups changes over ``debounce``
milliseconds and yields them as one set. Each set becomes one message:
``make_msg(batch)``, ``batch`` a frozenset of ``(watchfiles.Change, path)``.

Stopping is prompt because the stop signal's ``event`` is watchfiles'
``stop_event``, which its Rust loop checks every ``step`` milliseconds while
it waits. ``rust_timeout`` is only a backstop that returns control to Python
now and then. ``watchfiles`` is imported when a watcher starts, so importing
sofrito does not load it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from sofrito.subscriptions._ids import stable_id
from sofrito.subscriptions.protocol import StopSignal

if TYPE_CHECKING:
    from watchfiles import Change

__all__ = ["Batch", "FileWatch"]

M = TypeVar("M")

Batch = frozenset[tuple["Change", str]]
"""One message's worth of changes: ``(watchfiles.Change, absolute path)`` pairs."""

Filter = Callable[["Change", str], bool]
"""``filter(change, path) -> bool``: keep the change?"""

_RUST_TIMEOUT_MS = 500


class FileWatch(Generic[M]):
    """Watch ``paths`` (recursively); send ``make_msg(batch)`` per batch of changes.

    ``debounce``: the longest time, in milliseconds, over which changes are
    grouped into one batch. ``step``: how long, in milliseconds, a batch
    waits for more changes before it goes out, and how often the stop
    signal is checked. ``filter(change, path) -> bool`` keeps only the
    changes you care about (default: watchfiles' ``DefaultFilter``, which
    skips ``.git``, ``__pycache__``, editor swap files and the like).

    The id is hashed from the resolved paths, the debounce, the step and the
    filter. watchfiles' own filters (``DefaultFilter()``, ``PythonFilter()``,
    ...) count by their configuration, so a fresh instance per query run is
    the same watcher. Any other filter counts by object identity: a lambda
    written in the query body is a new filter, hence a new watcher, on every
    run of the query. Define it once, at module level.
    """

    def __init__(
        self,
        paths: Iterable[str | Path],
        make_msg: Callable[[Batch], M],
        *,
        debounce: int = 50,
        step: int = 20,
        filter: Filter | None = None,
    ) -> None:
        self.paths = tuple(sorted({str(Path(p).resolve()) for p in paths}))
        if not self.paths:
            raise ValueError("FileWatch needs at least one path to watch, got none")
        if debounce <= 0 or step <= 0:
            raise ValueError(
                f"FileWatch needs a positive debounce and step in ms, got {debounce!r}, {step!r}"
            )
        self.make_msg = make_msg
        self.debounce = debounce
        self.step = step
        self.filter = filter
        self._id = stable_id("filewatch", self.paths, debounce, step, _filter_identity(filter))

    @property
    def id(self) -> int:
        return self._id

    def run(self, send: Callable[[M], None], stop: StopSignal) -> None:
        import watchfiles  # noqa: PLC0415 (imported on use: `import sofrito` stays light)

        for changes in watchfiles.watch(
            *self.paths,
            watch_filter=self.filter if self.filter is not None else watchfiles.DefaultFilter(),
            debounce=self.debounce,
            step=self.step,
            stop_event=stop.event,
            rust_timeout=_RUST_TIMEOUT_MS,
            yield_on_timeout=False,
            raise_interrupt=False,
        ):
            if stop.is_stopped():
                return
            send(self.make_msg(frozenset(changes)))

    def __eq__(self, other: object) -> bool:
        """Equal ids are the same watcher, so a re-declared list can cut off early."""
        return isinstance(other, FileWatch) and other._id == self._id

    def __hash__(self) -> int:
        return hash(("FileWatch", self._id))

    def __repr__(self) -> str:
        return f"FileWatch({list(self.paths)!r}, debounce={self.debounce})"


def _filter_identity(filter: Filter | None) -> str:
    """What makes two filters the same filter, for the id."""
    if filter is None:
        return "default"
    if type(filter).__module__ == "watchfiles.filters":
        return repr(filter)  # watchfiles' filters show their whole configuration in repr
    return f"object {id(filter):x}"
