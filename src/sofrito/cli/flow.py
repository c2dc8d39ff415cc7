"""Loading a flow file: a Python file with ``SOURCES`` and a ``main`` query.

The file is compiled and executed as a module of its own, with its folder
first on ``sys.path`` so that it can import its helper modules. The module
is registered in ``sys.modules`` under a stable name (the file's stem when
that is a valid name no standard module uses, else ``sofrito_flow``): query
names default to ``module.function``, so the name must be the same in every
process for the cache to find its memos, and values that refer to the
flow's own functions (an ``sf.output`` reference in ``main``'s mapping) are
pickled by that name.

Why execute it here instead of importing it: a syntax error is reported as
``flow.py:12: invalid syntax`` in one line, and an exception while the
module runs is reported at the flow's own line, not inside importlib. Its
compiled code is cached as an imported module's is (``_code``): compiling
the example site's flow was 12 ms of each run, a no-op's included.
"""

from __future__ import annotations

import contextlib
import importlib.util
import marshal
import os
import sys
import traceback
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from sofrito import Query
from sofrito.cli.errors import FlowFileError

__all__ = ["Flow", "load_flow", "where_raised"]


class Flow(NamedTuple):
    """A loaded flow: its file, folder, module, ``SOURCES`` and ``main``."""

    path: Path
    module: types.ModuleType
    sources: tuple[str, ...]
    main: Query[[], Any]

    @property
    def root(self) -> Path:
        """The flow's folder: sources, outputs and the default cache are relative to it."""
        return self.path.parent

    @property
    def name(self) -> str:
        """The runtime id of the flow in its store: the file's stem."""
        return self.path.stem


def load_flow(path: str | Path) -> Flow:
    """Load the flow at ``path``; ``FlowFileError`` with one line if it cannot be used."""
    file = Path(path).absolute()
    if not file.parent.is_dir():
        raise FlowFileError(f"{path}: the folder {file.parent} does not exist")
    code = _code(file, path)
    name = module_name(file)
    module = types.ModuleType(name)
    module.__file__ = str(file)
    folder = str(file.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except Exception as exc:
        del sys.modules[name]
        where = where_raised(exc, file) or str(path)
        raise FlowFileError(
            f"{where}: {type(exc).__name__}: {exc} (while loading the flow)"
        ) from exc
    return Flow(file, module, _sources(module, path), _main(module, path))


def _code(file: Path, path: str | Path) -> types.CodeType:
    """The flow's code: from its bytecode cache if that was made from these very
    bytes, else compiled (and cached, when the folder can be written and Python
    may write bytecode).

    The cache is the file Python's import would use
    (``__pycache__/<stem>.cpython-3XX.pyc``), written as a *checked hash-based*
    one (PEP 552): valid only for the source bytes it was compiled from, where
    the usual kind trusts the file's mtime in whole seconds and its size, and
    would run old code after an edit of the same length within the second.
    Compiled as an imported module is, with no ``__future__`` flag of this one
    (``compile`` inherits its caller's)."""
    try:
        source = file.read_bytes()
    except FileNotFoundError:
        raise FlowFileError(f"{path}: no such flow file") from None
    except OSError as exc:
        raise FlowFileError(f"{path}: cannot read the flow file: {exc.strerror}") from None
    cache = Path(importlib.util.cache_from_source(str(file)))
    header = importlib.util.MAGIC_NUMBER + _CHECKED_HASH + importlib.util.source_hash(source)
    try:
        cached = cache.read_bytes()
    except OSError:
        cached = b""
    if cached.startswith(header):
        try:
            code = marshal.loads(memoryview(cached)[len(header) :])
        except (EOFError, ValueError, TypeError):
            code = None  # a damaged cache: compiled again below
        if isinstance(code, types.CodeType):
            return code
    try:
        code = compile(source, str(file), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise FlowFileError(f"{path}:{exc.lineno}: {type(exc).__name__}: {exc.msg}") from None
    if not sys.dont_write_bytecode:
        _write_cache(cache, header + marshal.dumps(code))
    return code


_CHECKED_HASH = (0b11).to_bytes(4, "little")
"""A pyc's flags (PEP 552): hash-based, and checked against the source when loaded."""


def _write_cache(cache: Path, data: bytes) -> None:
    """Write the cache whole or not at all (a temporary file renamed over it);
    a folder that cannot be written only means compiling again next time."""
    temporary = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(exist_ok=True)
        temporary.write_bytes(data)
        os.replace(temporary, cache)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def module_name(file: Path) -> str:
    """The stable module name of the flow at ``file`` (see the module docstring)."""
    stem = file.stem
    loaded = sys.modules.get(stem)
    if loaded is not None and getattr(loaded, "__file__", None) != str(file):
        return "sofrito_flow"  # a module of that name is something else
    if stem.isidentifier() and stem not in sys.stdlib_module_names:
        return stem
    return "sofrito_flow"


def where_raised(exc: BaseException, file: Path) -> str | None:
    """``file:line`` of the innermost frame of ``exc``'s traceback in ``file``'s folder."""
    folder = file.parent
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        frame_file = Path(frame.filename)
        if frame_file.is_relative_to(folder):
            found = f"{frame_file.relative_to(folder).as_posix()}:{frame.lineno}"
    return found


def _sources(module: types.ModuleType, path: str | Path) -> tuple[str, ...]:
    sources = getattr(module, "SOURCES", None)
    if sources is None:
        raise FlowFileError(
            f"{path}: no SOURCES; a flow names the files it reads, e.g. SOURCES = ['**/*.md']"
        )
    if isinstance(sources, str) or not isinstance(sources, Sequence):
        raise FlowFileError(f"{path}: SOURCES must be a list of globs, not {sources!r}")
    bad = [item for item in sources if not isinstance(item, str)]
    if bad:
        raise FlowFileError(f"{path}: SOURCES must hold glob strings, not {bad[0]!r}")
    return tuple(sources)


def _main(module: types.ModuleType, path: str | Path) -> Query[[], Any]:
    main = getattr(module, "main", None)
    if main is None:
        raise FlowFileError(
            f"{path}: no main; a flow defines @sf.query def main(db) returning {{path: content}}"
        )
    if not hasattr(main, "spec"):  # what @sf.query returns carries its spec
        raise FlowFileError(f"{path}: main must be declared with @sf.query, got {main!r}")
    return main  # type: ignore[no-any-return]
