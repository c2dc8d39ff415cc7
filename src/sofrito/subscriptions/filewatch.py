"""``FileWatch``: batches of file changes under some paths, from ``watchfiles``.

``watchfiles`` (Rust ``notify`` underneath) groups changes over ``debounce``
milliseconds and yields them as one set. Each set becomes one message:
``make_msg(batch)`` where ``batch`` is a frozenset of
``(watchfiles.Change, path)``. The watcher checks the stop signal every
``step`` milliseconds, so stopping is prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar

from sofrito.subscriptions._ids import stable_id
from sofrito.subscriptions.protocol import StopSignal

__all__ = ["Batch", "FileWatch"]

M = TypeVar("M")
Batch = frozenset[tuple[Any, str]]
"""``(watchfiles.Change, absolute path)`` pairs."""


class FileWatch(Generic[M]):
    """Watch ``paths`` (recursively); send ``make_msg(batch)`` per batch of changes.

    ``filter(change, path) -> bool`` keeps only the changes you care about
    (default: watchfiles' ``DefaultFilter``, which skips ``.git``,
    ``__pycache__``, editor swap files and the like). The id is hashed from
    the resolved paths, the debounce and the filter. A lambda filter gives a
    new id for every new lambda object, so declare the filter once, at module
    level, to keep the watcher across reconciles.
    """

    def __init__(
        self,
        paths: Iterable[str | Path],
        make_msg: Callable[[Batch], M],
        *,
        debounce: int = 50,
        step: int = 20,
        filter: Callable[[Any, str], bool] | None = None,
    ) -> None:
        self.paths = tuple(sorted(str(Path(p).resolve()) for p in paths))
        if not self.paths:
            raise ValueError("FileWatch needs at least one path")
        self.make_msg = make_msg
        self.debounce = debounce
        self.step = step
        self.filter = filter

    @property
    def id(self) -> int:
        filter_id = "default" if self.filter is None else f"{id(self.filter):x}"
        return stable_id("filewatch", self.paths, self.debounce, filter_id)

    def run(self, send: Callable[[M], None], stop: StopSignal) -> None:
        import watchfiles  # noqa: PLC0415 (imported on use: `import sofrito` stays light)

        options: dict[str, Any] = {}
        if self.filter is not None:
            options["watch_filter"] = self.filter
        for changes in watchfiles.watch(
            *self.paths,
            debounce=self.debounce,
            step=self.step,
            stop_event=stop.event,
            rust_timeout=500,
            raise_interrupt=False,
            **options,
        ):
            if stop.is_stopped():
                return
            send(self.make_msg(frozenset(changes)))

    def __repr__(self) -> str:
        return f"FileWatch({list(self.paths)!r})"
