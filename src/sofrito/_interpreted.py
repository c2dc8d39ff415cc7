"""What a module compiled by mypyc cannot do as the interpreter does, done here.

A wheel compiles the engine and the code of a commit and a load
(docs/concepts.md, "A compiled engine"). Compiled code is the same program
but for two things users see, and this module, which stays Python, does them
for it in both builds:

- ``raise error from None`` does not set ``__suppress_context__`` when
  compiled, so the traceback of a store error would show the codec's or
  SQLite's exception as "During handling of the above exception...", the
  context the message already quotes. ``without_context`` sets it by hand.
- A compiled function has no Python frame, so ``warnings.warn``'s
  ``stacklevel`` counts a different number of frames in each build, and a
  fixed level names the wrong file in one of them. ``warn_at_caller`` names
  the first frame outside sofrito, whichever build runs.

Rejected: ``warnings.warn(skip_file_prefixes=...)``, which does the second
from Python 3.12 on (3.11 is the floor); setting ``__suppress_context__``
at each raise (ten places, each a line a reader must know the reason for);
and leaving the code of a commit and a load uncompiled, which costs a
template edit at 10,000 pages 6% more instructions (docs/benchmarks.md).
"""

from __future__ import annotations

import sys
import warnings
from typing import TypeVar

__all__ = ["warn_at_caller", "without_context"]

_Error = TypeVar("_Error", bound=BaseException)

_PACKAGE = "sofrito"


def without_context(error: _Error) -> _Error:
    """``error``, to be raised as ``raise error from None`` would raise it, in both builds."""
    error.__cause__ = None
    error.__suppress_context__ = True
    return error


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """Warn as raised by the first caller outside the ``sofrito`` package: the
    user's line that led here (``rt.commit()``, say), in either build."""
    level = 2  # this function's caller, in Python frames
    frame = sys._getframe(1)
    while frame.f_back is not None and _inside_package(frame.f_globals.get("__name__")):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


def _inside_package(module: object) -> bool:
    return isinstance(module, str) and (module == _PACKAGE or module.startswith(f"{_PACKAGE}."))
