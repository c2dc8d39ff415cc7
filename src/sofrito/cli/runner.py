"""One run of a flow, as a function that returns a ``RunSummary`` record.

``open_session`` loads nothing itself: it opens the flow's runtime on its
store once. ``run_once`` is one run: scan, compute ``main`` and each output,
write what changed, delete what disappeared, commit a boundary. ``watch``
and ``serve`` keep one session and call ``run_once`` per change batch; the
command line prints the summary it returns (``output.py``), so nothing here
prints.

The steps, each a function below:

1. ``scan`` (``sofrito._fs.scan``): the file inputs follow the disk, one batch,
   whose writes mark their stored readers by id (``sofrito._settle``); then
   ``settle`` verifies the cone of what changed and clears the marks of the
   readers it proves unchanged, none of them loaded (docs/persistence.md).
2. ``_mapping``: ``main``'s ``{path: content | sf.output(...)}``, checked.
   ``_kept`` sets aside the outputs whose file holds what their render's
   stored row, untouched by this run's edits, holds: those are not asked
   for at all (on a no-op, none is). ``_prefetch`` then loads the memos of
   the other referenced outputs in bulk, with what verifying them reads
   (``_on_demand.prefetch``): a run polls them all, where a library read
   loads one memo per round trip.
3. ``_produce``: each output's content. A reference is asked for with
   ``rt.poll``: a render no edit reached is a memo hit (never executed), and
   its ``changed_at`` tells whether its value moved. A render that raises
   fails that output only; the others go on.
4. ``_emit``: write an output only when its bytes differ from the file's
   (a file the record does not know is compared byte for byte, and kept
   when equal: a fresh cache does not rewrite a whole site).
   The written outputs are recorded in the store (``OUTPUTS``, a cell per
   output folder: name -> digest, size, mtime, ``changed_at``; read whole
   every run, so one decode per folder): an output whose render's
   ``changed_at`` and whose file's size and mtime are as recorded is
   unchanged without hashing its content. Each write is atomic, so a reader
   never sees half a file: a spare file swapped with the output's
   (``writes.py``: one file created per run, not one per output).
5. ``_delete``: outputs recorded but no longer in the mapping are deleted;
   only those (sofrito never deletes a file it did not write).
6. The record of outputs is set in one batch and the boundary committed,
   also after a failing render (the cache keeps every good memo) and before
   an output folder that cannot be written is reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import sofrito as sf
from sofrito._fs.cells import FILES, split
from sofrito._fs.patterns import is_normal, normalize
from sofrito._fs.scan import MissingFolder, ScanReport, SourceError, scan
from sofrito._on_demand import prefetch, release_unlinked, untouched
from sofrito._settle import marks_by_id, settle
from sofrito.cli import lastrun
from sofrito.cli.errors import OutputNotWritable, OutputsFailed, SourcesError
from sofrito.cli.flow import Flow, where_raised
from sofrito.cli.writes import OutputWriter
from sofrito.fs import Output
from sofrito.stores import Receipt, RuntimeStore, Traces

if TYPE_CHECKING:
    from sofrito.executors import Executor

__all__ = [
    "OUTPUTS",
    "Failure",
    "Progress",
    "RunSummary",
    "Session",
    "open_session",
    "recorded_outputs",
    "run_once",
]

OUTPUTS = sf.Input("sofrito.run.outputs")
"""Folder of outputs (``""`` at the top) -> {file name: ``Written`` as a plain
tuple}: what sofrito wrote there. A cell per folder, as the scan's manifest
(``sofrito._fs.cells``): every run reads the whole record, and a cell per
output was 10,000 rows to load and decode on a 10,000-page site."""
OUT_DIR = sf.Input("sofrito.run.out_dir")
"""The absolute output folder ``OUTPUTS`` describes; another folder starts a fresh record."""


class Written(NamedTuple):
    """An output sofrito wrote: its content's digest, the file's size and mtime, and
    the ``changed_at`` of the render that gave it (None for content given inline)."""

    digest: str
    size: int
    mtime_ns: int
    changed_at: int | None


class Failure(NamedTuple):
    """An output that could not be produced: which, why, and the source behind it if known."""

    output: str
    message: str
    source: str | None = None
    where: str | None = None
    """``file:line`` in the flow's folder where the error was raised."""

    def __str__(self) -> str:
        context = [
            part
            for part in (
                f"source {self.source}" if self.source else None,
                f"at {self.where}" if self.where else None,
            )
            if part
        ]
        shown = f" ({', '.join(context)})" if context else ""
        return f"{self.output}: {self.message}{shown}"


class RunSummary(NamedTuple):
    """What one run did. ``executed`` counts the queries whose bodies ran, each once
    (a shared trace that stood in for a body is not counted)
    (``lastrun.py``, from the engine's execution events); the
    rest count outputs: ``reused`` came from the cache without a new value,
    ``written`` had new bytes, ``unchanged`` were left alone, ``deleted`` went
    with their source, ``failed`` raised."""

    executed: int
    reused: int
    written: int
    unchanged: int
    deleted: int
    failed: int
    elapsed: float
    scan: ScanReport
    failures: tuple[Failure, ...] = ()
    receipt: Receipt | None = None
    written_paths: tuple[str, ...] = ()
    deleted_paths: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The counts, for ``--events`` and the boundary's label."""
        return {
            "executed": self.executed,
            "reused": self.reused,
            "written": self.written,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": self.failed,
            "elapsed": round(self.elapsed, 4),
        }


class Progress:
    """Told about the outputs as they are produced; the default shows nothing."""

    def start(self, total: int) -> None:
        """``total`` outputs are about to be produced."""

    def advance(self, path: str) -> None:
        """One more output is done."""

    def stop(self) -> None:
        """The run is over."""


class Session(NamedTuple):
    """A flow open on its store, for one run or many (``watch``)."""

    flow: Flow
    rt: sf.Runtime
    store: RuntimeStore
    out_dir: Path
    exclude: tuple[Path, ...] = ()
    executor: Executor | None = None
    """``--jobs``, ``--executor``: computes the renders ahead (``_run_ahead``)."""
    command: str = "run"
    """The command whose runs these are: each commit's label says it (``receipts``)."""

    @property
    def resident(self) -> bool:
        """Whether runs follow in this process (``watch``, ``serve``): each one then
        drops, after its commit, the memos the next writes could not mark by their
        own walk (``sofrito._on_demand.release_unlinked``)."""
        return self.command != "run"


def open_session(
    flow: Flow,
    store: RuntimeStore,
    out_dir: Path,
    *,
    exclude: tuple[Path, ...] = (),
    before_load: Callable[[sf.Runtime], None] | None = None,
    traces: Traces | None = None,
    executor: Executor | None = None,
    command: str = "run",
) -> Session:
    """Open ``flow``'s runtime on ``store``; ``before_load`` may subscribe to its events first.
    ``traces``: shared traces (``SOFRITO_TRACE_SECRET``, docs/persistence.md). ``command``
    (``run``, ``watch``, ``serve``) labels each commit, for ``sofrito receipts``."""
    rt = sf.Runtime(store=store, runtime_id=flow.name, load=False, traces=traces, executor=executor)
    if before_load is not None:
        before_load(rt)
    rt.load()
    exclude = (out_dir.absolute(), *exclude)
    return Session(flow, rt, store, out_dir.absolute(), exclude, executor, command)


def run_once(session: Session, progress: Progress | None = None) -> RunSummary:
    """One run: scan, compute, write what changed, delete what went, commit.

    Raises ``OutputsFailed`` after committing when ``main`` failed (a failing
    render is a ``Failure`` in the summary instead), ``OutputNotWritable``
    after committing, ``SourcesError`` before computing anything.
    """
    began = time.perf_counter()
    progress = progress or Progress()
    flow, rt = session.flow, session.rt
    start = rt.revision
    try:
        with marks_by_id(rt):  # its writes' stored readers: marked by id, for settle
            report = scan(rt, flow.root, flow.sources, exclude=session.exclude)
    except MissingFolder as exc:
        raise SourcesError(f"{flow.path.name}: {exc}") from None
    except SourceError as exc:
        raise SourcesError(f"{flow.path.name}: {exc}") from None
    record = _Record.load(rt, session.out_dir)
    listener = lastrun.listen(rt, start)  # after the scan: its writes report nothing
    mapping: list[tuple[str, Any]] = []
    failed: dict[str, str] = {}  # output -> its error, for ``inspect --why``
    emitted_all = False
    try:
        settle(rt)  # verify the cone of the scan's writes, without loading the rest
        _commit_for_workers(session)
        mapping, main_changed_at, by_folder = _mapping(session)
        kept = _kept(session, by_folder, record)
        asked = [(path, value) for path, value in mapping if path not in kept]
        _prefetch(session, asked)
        _run_ahead(session, asked)
        produced = _produce(session, asked, start, main_changed_at, progress)
        failed = _failed(produced)
        emitted = _emit(session, produced, record)
        emitted_all = True
        # Written: their contents (the renders' values) need not outlive the
        # commit's encoding of them (``restore.hold_encoded``).
        produced = [item._replace(content=None) if item.content else item for item in produced]
        deleted = _delete(session, record, by_folder)
    finally:
        progress.stop()
        facts = listener.close()
        renders = lastrun.renders_of(mapping, flow.main)
        if not emitted_all:  # Ctrl-C, or an error, between computing and writing
            _unvouch_unwritten(record, mapping, renders, facts)
        _commit(session, record, lastrun.build(rt, facts, renders, failed))
    if session.resident:
        release_unlinked(rt)  # the next edit marks from what it wrote, as a fresh run
    summary = RunSummary(
        executed=facts.bodies_run,
        reused=_reused(produced, kept, renders, facts),
        written=len(emitted.written),
        unchanged=emitted.unchanged + len(kept),
        deleted=len(deleted),
        failed=sum(1 for item in produced if item.failure is not None),
        elapsed=time.perf_counter() - began,
        scan=report,
        failures=tuple(item.failure for item in produced if item.failure is not None),
        receipt=record.receipt,
        written_paths=tuple(emitted.written),
        deleted_paths=tuple(deleted),
    )
    if emitted.error is not None:
        raise OutputNotWritable(emitted.error)
    return summary


def _reused(
    produced: list[_Produced],
    kept: set[str],
    renders: Mapping[str, sf.QueryRef],
    facts: lastrun.RunFacts,
) -> int:
    """The outputs whose value came from the cache: the ``kept`` ones, and those
    asked for whose ``changed_at <= start`` (``_one``), except for a render whose
    code was edited: a code edit writes no input, so it executes and changes at
    the revision the run began at, and was not reused. The run's events name
    those (``QueryChanged``, or a first execution); asked only when both lists
    are non-empty, so a no-op or a one-page edit looks up a few refs, not 10,000."""
    if facts.first_build:  # every render asked for ran for the first time
        return len(kept)
    asked = [item.path for item in produced if item.reused]
    changed = facts.changed | {ref for ref, first in facts.executed.items() if first}
    if not (asked or kept) or not changed:
        return len(kept) + len(asked)
    rewritten = lastrun.rendered(renders, changed)
    return sum(1 for path in (*kept, *asked) if path not in rewritten)


class _Produced(NamedTuple):
    """An output asked for (not ``_kept``): its content, or why there is none."""

    path: str
    content: str | bytes | None  # None: failed; str is written as UTF-8
    changed_at: int | None
    reused: bool
    failure: Failure | None


class _Record:
    """The outputs recorded in the store, and the changes this run makes to the record."""

    __slots__ = ("fresh", "known", "out_dir", "receipt", "removed", "stored", "updates")

    def __init__(
        self,
        out_dir: str,
        known: dict[str, dict[str, tuple[Any, ...]]],
        stored: dict[str, dict[str, tuple[Any, ...]]],
        *,
        fresh: bool = False,
    ) -> None:
        self.out_dir = out_dir
        self.known = known
        """The outputs of ``out_dir`` recorded, by folder: {file name: a ``Written``
        as a plain tuple}; empty when ``fresh``. Kept as stored, not unfolded into
        10,000 paths and ``Written`` records: a no-op looks each output up once
        (``_kept``, by folder) and makes a ``Written`` of none (``get``)."""
        self.stored = stored
        """``OUTPUTS`` as stored, by folder (of another output folder, if it moved)."""
        self.fresh = fresh
        """The record describes another output folder: it is replaced whole."""
        self.updates: dict[str, Written] = {}
        self.removed: list[str] = []
        self.receipt: Receipt | None = None

    @classmethod
    def load(cls, rt: sf.Runtime, out_dir: Path) -> _Record:
        stored = {key[0]: rt.get(OUTPUTS[key[0]]) for key in OUTPUTS.keys(rt)}
        folder = str(out_dir)
        same = bool(OUT_DIR.keys(rt)) and rt.get(OUT_DIR) == folder
        return cls(folder, stored if same else {}, stored, fresh=not same)

    def get(self, path: str) -> Written | None:
        """What the record says was written at ``path``, if anything."""
        folder, _, name = path.rpartition("/")
        entry = self.known.get(folder, _NO_ENTRIES).get(name)
        return None if entry is None else Written(*entry)

    def paths(self) -> list[str]:
        """Every output path the record knows."""
        return list(_unfolded(self.known))

    def folders(self) -> dict[str, dict[str, tuple[Any, ...]] | None]:
        """The folder cells this run changes: their new entries, None for one to remove."""
        changed: dict[str, dict[str, tuple[Any, ...]] | None] = {}
        if self.fresh:
            changed.update(dict.fromkeys(self.stored))
        for path in (*self.updates, *self.removed):
            folder = split(path)[0]
            if changed.get(folder) is None:
                changed[folder] = {} if self.fresh else dict(self.stored.get(folder, {}))
        for path, written in self.updates.items():
            folder, name = split(path)
            entries = changed[folder]
            assert entries is not None
            entries[name] = tuple(written)
        for path in self.removed:
            folder, name = split(path)
            entries = changed[folder]
            assert entries is not None
            entries.pop(name, None)
        return {
            folder: dict(sorted(entries.items())) if entries else None
            for folder, entries in changed.items()
        }


_NO_ENTRIES: dict[str, tuple[Any, ...]] = {}


def recorded_outputs(rt: sf.Runtime) -> dict[str, Written]:
    """Output path -> what the last runs wrote there (``OUTPUTS``), in whatever folder."""
    return _unfolded({key[0]: rt.get(OUTPUTS[key[0]]) for key in OUTPUTS.keys(rt)})


def _unfolded(stored: dict[str, dict[str, tuple[Any, ...]]]) -> dict[str, Written]:
    return {
        f"{folder}/{name}" if folder else name: Written(*entry)
        for folder, entries in stored.items()
        for name, entry in entries.items()
    }


def _mapping(
    session: Session,
) -> tuple[list[tuple[str, Any]], int, dict[str, dict[str, Any]]]:
    """``main``'s outputs, each path checked, the revision its value last changed,
    and the outputs by folder, as the record keeps them: folder -> {name: value}."""
    flow, rt = session.flow, session.rt
    try:
        polled = rt.poll(flow.main)
    except sf.Suspend as exc:
        raise OutputsFailed(f"{flow.path.name}: main {_missing(exc, flow)}") from None
    except Exception as exc:
        where = where_raised(exc, flow.path) or flow.path.name
        raise OutputsFailed(f"{where}: main raised {type(exc).__name__}: {exc}") from exc
    mapping = polled.value
    if not isinstance(mapping, dict):
        raise OutputsFailed(
            f"{flow.path.name}: main must return a dict {{output path: content}}, "
            f"not {type(mapping).__name__}"
        )
    checked: list[tuple[str, Any]] = []
    renamed: dict[str, Any] = {}
    """Normal path -> the key main gave it, for the keys not given normal (few):
    every other output's key is its path."""
    by_folder: dict[str, dict[str, Any]] = {}
    for path, value in mapping.items():
        if type(path) is str and is_normal(path):  # 10,000 a run: no call of normalize
            normal = path
        else:
            try:
                normal = normalize(path, what="output path")
            except (TypeError, ValueError) as exc:
                raise OutputsFailed(_bad_output_path(flow, path, exc)) from None
        folder, _, name = normal.rpartition("/")
        names = by_folder.get(folder)
        if names is None:
            names = by_folder[folder] = {}
        elif name in names:  # one file, two contents: which one is written is no answer
            raise OutputsFailed(
                f"{flow.path.name}: main returned the output {normal!r} twice, as "
                f"{renamed.get(normal, normal)!r} and {path!r}; give each output one path"
            )
        if normal is not path:
            renamed[normal] = path
        names[name] = value
        checked.append((normal, value))
    _no_file_in_a_folders_place(flow, renamed, by_folder)
    return checked, polled.changed_at, by_folder


def _no_file_in_a_folders_place(
    flow: Flow, renamed: dict[str, Any], by_folder: dict[str, dict[str, Any]]
) -> None:
    """Refuse ``a`` beside ``a/b.html``: ``a`` would be both a file and a folder.
    Writing found it as an output that could not be written (exit 7), blaming
    the output folder and leaving half the outputs written; the line names the
    two outputs of the flow (as main named them: ``renamed``, else their path).
    A walk up from each folder of outputs, not from each output."""
    folders: dict[str, str] = {}  # folder -> the first output named inside it
    for folder, names in by_folder.items():
        inside = f"{folder}/{next(iter(names))}" if folder else ""
        head = folder
        while head and head not in folders:
            folders[head] = inside
            head = head.rpartition("/")[0]
    clashes = sorted(
        folder
        for folder in folders
        if folder.rpartition("/")[2] in by_folder.get(folder.rpartition("/")[0], ())
    )
    if clashes:
        folder = clashes[0]
        raise OutputsFailed(
            f"{flow.path.name}: main returned the outputs {renamed.get(folder, folder)!r} and "
            f"{renamed.get(folders[folder], folders[folder])!r}, so {folder!r} would be both "
            "a file and a folder of the output folder; rename one of them"
        )


def _bad_output_path(flow: Flow, path: object, exc: Exception) -> str:
    """The line for a key of ``main`` that is no output path. ``normalize`` words
    its rule for sources (relative to the flow's folder); an output is relative
    to the output folder, and the line says so."""
    if isinstance(exc, TypeError):
        return (
            f"{flow.path.name}: main returned the output path {path!r}, a "
            f"{type(path).__name__}; output paths are str"
        )
    return (
        f"{flow.path.name}: main returned the output path {path!r}, which is not a path "
        "inside the output folder; name outputs relative to it (e.g. 'a/b.html')"
    )


def _kept(session: Session, by_folder: dict[str, dict[str, Any]], record: _Record) -> set[str]:
    """The outputs a run need not ask for: the record knows the ``changed_at`` their
    render had when its file was written, the file is as written (size and
    mtime), and the render's stored row is its value now, untouched by this
    run's edits (``sofrito._on_demand.untouched``). Such a render is neither
    loaded nor polled: a no-op over 10,000 pages decodes no page.

    Why the record is enough to know the row: it is committed in the same
    transaction as the rows, and every run keeps it true: an output whose
    render failed, or whose new value could not be written, is recorded with
    no ``changed_at`` (``_emit``), so the next run asks for it again.

    The files are looked at a folder at a time, as the record keeps them: a
    ``stat`` of each name relative to its open folder (``_same_files``).
    """
    candidates: list[tuple[str, Output]] = []
    for folder, names in by_folder.items():
        entries = record.known.get(folder)
        if entries:
            candidates.extend(_same_files(session.out_dir, folder, names, entries))
    clean = untouched(session.rt, [(value.render, value.key) for _, value in candidates])
    return {path for (path, _), ok in zip(candidates, clean, strict=True) if ok}


def _same_files(
    out_dir: Path, folder: str, names: dict[str, Any], entries: dict[str, tuple[Any, ...]]
) -> list[tuple[str, Output]]:
    """The outputs of ``folder`` given by reference whose record has a ``changed_at``
    and whose file has the size and mtime recorded. Each ``stat`` is of the name
    relative to the folder, open once (``dir_fd``): the kernel does not walk the
    output folder's path again for each of 10,000 files (25 -> 22 ms). Where
    ``dir_fd`` is not offered (Windows), the whole path, as text."""
    same: list[tuple[str, Output]] = []
    prefix = f"{folder}/" if folder else ""
    path = out_dir / folder
    if _DIR_FD:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # gone, or not a folder: no output of it is as written
            return same
        where: str = ""
    else:
        fd, where = -1, f"{path}{os.sep}"
    try:
        for name, value in names.items():
            old = entries.get(name)
            if old is None or old[3] is None or not isinstance(value, Output):
                continue
            try:
                stat = os.stat(name, dir_fd=fd) if fd >= 0 else os.stat(where + name)
            except OSError:
                continue
            if stat.st_size == old[1] and stat.st_mtime_ns == old[2]:
                same.append((prefix + name, value))
    finally:
        if fd >= 0:
            os.close(fd)
    return same


_DIR_FD = hasattr(os, "O_DIRECTORY") and os.stat in os.supports_dir_fd
"""Whether a ``stat`` can be relative to an open folder (not on Windows)."""


def _prefetch(session: Session, mapping: list[tuple[str, Any]]) -> None:
    """Load every referenced output's memo in bulk: the run polls them all, and one
    store call for all of them beats one each (``sofrito._on_demand.prefetch``)."""
    outputs = [value for _, value in mapping if isinstance(value, Output)]
    prefetch(session.rt, [(output.render, output.key) for output in outputs])


def _run_ahead(session: Session, mapping: list[tuple[str, Any]]) -> None:
    """With an executor (``--jobs N``, ``--executor``): the referenced outputs'
    renders, grouped by query, are computed by its workers and installed, so
    that ``_produce`` finds them current. Keys that are hits are not sent, and
    a key a worker could not compute is computed by ``_produce``, which also
    reports every failure as a serial run does (docs/parallel.md)."""
    executor = session.executor
    if executor is None:
        return
    by_render: dict[Any, list[tuple[Any, ...]]] = {}
    for _, value in mapping:
        if isinstance(value, Output):
            by_render.setdefault(value.render, []).append(value.key)
    # Every group sent before any is taken: the first dispatch commits what
    # main computed (the workers read it), the others find nothing to commit,
    # and the workers have every group's tasks at once.
    dispatches = [(executor.dispatch(session.rt, r, keys), keys) for r, keys in by_render.items()]
    try:
        for dispatch, keys in dispatches:
            for index in range(len(keys)):
                dispatch.take(index)
    finally:
        for dispatch, _ in dispatches:
            dispatch.close(True)


def _commit_for_workers(session: Session) -> None:
    """With an executor, commit the scan's input changes before ``main`` runs:
    a query's ``sf.gather`` (the site's ``order`` gathers every page's summary)
    can send its keys to workers only when the store holds the inputs they
    read, and a computation cannot commit. A no-op has nothing to commit."""
    if session.executor is not None:
        from sofrito import _shipping  # noqa: PLC0415 (2.4 ms a run without workers never pays)

        _shipping.prepare(session.rt)


def _produce(
    session: Session,
    asked: list[tuple[str, Any]],
    start: int,
    main_changed_at: int,
    progress: Progress,
) -> list[_Produced]:
    """Each output asked for (not ``_kept``): its content (or failure), in the
    mapping's order. The kept ones are counted, never listed: a no-op over
    10,000 pages makes no record per page here or after (``_emit``,
    ``_reused``), and the progress bar counts what is asked for."""
    progress.start(len(asked))
    produced = []
    for path, value in asked:
        produced.append(_one(session, path, value, start, main_changed_at))
        progress.advance(path)
    return produced


def _one(session: Session, path: str, value: Any, start: int, main_changed_at: int) -> _Produced:
    flow, rt = session.flow, session.rt
    changed_at: int | None = None
    reused = main_changed_at <= start
    given = value
    if isinstance(value, Output):
        try:
            polled = rt.poll(value.render, *value.key)
        except sf.Suspend as exc:
            failure = Failure(path, _missing(exc, flow), _source_of(value, rt))
            return _Produced(path, None, None, False, failure)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            failure = Failure(path, message, _source_of(value, rt), where_raised(exc, flow.path))
            return _Produced(path, None, None, False, failure)
        value, changed_at = polled.value, polled.changed_at
        reused = changed_at <= start
    if not isinstance(value, str | bytes):
        whose = f"its render {given!r}" if isinstance(given, Output) else "main"
        failure = Failure(
            path,
            f"{whose} gave it {type(value).__name__} {value!r:.40}; the content of an "
            "output is bytes or str (or, in main, sf.output(render, *key))",
        )
        return _Produced(path, None, None, False, failure)
    return _Produced(path, value, changed_at, reused, None)


def _failed(produced: list[_Produced]) -> dict[str, str]:
    """Each output whose render failed -> its error as the run prints it after the path."""
    return {
        item.path: str(item.failure).removeprefix(f"{item.path}: ")
        for item in produced
        if item.failure is not None
    }


class _Emitted(NamedTuple):
    written: list[str]
    unchanged: int
    error: str | None


def _emit(session: Session, produced: list[_Produced], record: _Record) -> _Emitted:
    """Write the outputs whose bytes differ from their file's; record what was written.

    An output whose render failed, or that could not be written, keeps its old
    file and is recorded with no ``changed_at``: the record no longer vouches
    for it, so the next run asks for it (``_kept``) and compares bytes."""
    with OutputWriter(session.out_dir) as writer:
        return _emit_each(session, produced, record, writer)


def _emit_each(
    session: Session, produced: list[_Produced], record: _Record, writer: OutputWriter
) -> _Emitted:
    written: list[str] = []
    unchanged = 0
    top = str(session.out_dir)  # paths as text: 10,000 Paths cost more than their writes
    for at, item in enumerate(produced):
        if item.content is None:
            _unvouched(record, item.path)
            continue
        target = f"{top}/{item.path}"
        old = record.get(item.path)
        on_disk = _stat(target)
        if old is not None and on_disk == (old.size, old.mtime_ns):
            if item.changed_at is not None and old.changed_at == item.changed_at:
                unchanged += 1
                continue
            content = _as_bytes(item.content)
            digest = hashlib.sha256(content).hexdigest()
            if digest == old.digest:
                record.updates[item.path] = old._replace(changed_at=item.changed_at)
                unchanged += 1
                continue
        else:
            content = _as_bytes(item.content)
            digest = hashlib.sha256(content).hexdigest()
            if on_disk is not None and old is None and _holds(target, content):
                # not in the record (a fresh cache, or another --store): adopt it as it is
                record.updates[item.path] = Written(digest, *on_disk, item.changed_at)
                unchanged += 1
                continue
        try:
            size, mtime_ns = writer.write(target, content)
        except OSError as exc:
            for left in produced[at:]:
                _unvouched(record, left.path)
            return _Emitted(written, unchanged, _not_writable(session, target, exc))
        record.updates[item.path] = Written(digest, size, mtime_ns, item.changed_at)
        written.append(item.path)
    return _Emitted(written, unchanged, None)


def _unvouch_unwritten(
    record: _Record,
    mapping: list[tuple[str, Any]],
    renders: Mapping[str, sf.QueryRef],
    facts: lastrun.RunFacts,
) -> None:
    """A run that stops before it wrote every output (Ctrl-C, ``main`` raised)
    still commits the memos it computed, some of them new values of renders
    (settle executes renders too, before ``main`` names the outputs). Each
    output whose render changed and that was not written is recorded without
    ``changed_at``, so the next run asks for it and compares bytes: otherwise
    the old file, as recorded, and the render's new memo, committed with no
    mark, would let ``_kept`` leave the old page in place for good. Before
    ``main`` named the outputs (or with events lost, or in a first build, which
    names no render), any of them may be one."""
    named = not facts.lost and not facts.first_build  # the events name what changed
    changed = facts.changed | {ref for ref, first in facts.executed.items() if first}
    if named and not changed:
        return
    if named and mapping:
        paths: Iterable[str] = lastrun.rendered(renders, changed).keys()
    else:
        paths = record.paths()
    for path in paths:
        if path not in record.updates:
            _unvouched(record, path)


def _unvouched(record: _Record, path: str) -> None:
    """``path``'s file may not hold its render's value: recorded without ``changed_at``."""
    old = record.get(path)
    if old is not None and old.changed_at is not None:
        record.updates[path] = old._replace(changed_at=None)


def _delete(session: Session, record: _Record, by_folder: dict[str, dict[str, Any]]) -> list[str]:
    """Delete the recorded outputs that are no longer in the mapping (found by
    folder: a set difference of names each, not of 10,000 paths)."""
    gone = sorted(
        f"{folder}/{name}" if folder else name
        for folder, entries in record.known.items()
        for name in entries.keys() - by_folder.get(folder, _NO_ENTRIES).keys()
    )
    deleted = []
    for path in gone:
        target = session.out_dir / path
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            raise OutputNotWritable(_not_writable(session, target, exc)) from None
        _prune_empty(target.parent, session.out_dir)
        record.removed.append(path)
        deleted.append(path)
    return deleted


def _commit(session: Session, record: _Record, last_run: lastrun.LastRun) -> None:
    """Record the outputs and the run (``lastrun.py``), and commit the boundary,
    whatever happened before."""
    rt = session.rt
    with rt.batch():
        rt.set(OUT_DIR, record.out_dir)
        rt.set(lastrun.LAST_RUN, last_run.to_value())
        for folder, entries in record.folders().items():
            if entries is None:
                rt.remove(OUTPUTS[folder])
            else:
                rt.set(OUTPUTS[folder], entries)
    label = {"command": session.command, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    record.receipt = rt.commit(json.dumps(label, separators=(",", ":")))


def _as_bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


def _holds(path: str, content: bytes) -> bool:
    """Whether the file at ``path`` holds exactly ``content``."""
    try:
        return Path(path).read_bytes() == content
    except OSError:
        return False


def _stat(path: Path | str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _prune_empty(folder: Path, top: Path) -> None:
    """Remove ``folder`` and its parents up to ``top`` while they are empty."""
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _not_writable(session: Session, target: Path | str, exc: OSError) -> str:
    return (
        f"cannot write the output {target} ({exc.strerror or exc}); "
        f"check the output folder {session.out_dir} or choose another with --out"
    )


def _missing(exc: sf.Suspend, flow: Flow) -> str:
    """What a ``Suspend`` at top level means in a flow: it read a file it does not have."""
    names = []
    for ref in exc.pending:
        if ref.input.name == "sofrito.fs.file":
            names.append(str(ref.key[0]))
        else:
            names.append(repr(ref))
    shown = ", ".join(names)
    return (
        f"reads {shown}, which no SOURCES glob matches or which does not exist "
        f"(SOURCES = {list(flow.sources)!r})"
    )


def _source_of(value: Output, rt: sf.Runtime) -> str | None:
    """The source file an output's render is keyed by, if its key names one."""
    sources = {key[0] for key in FILES.keys(rt)}
    for part in value.key:
        if isinstance(part, str) and part in sources:
            return part
    return None
