"""Giving the pages a bulk of freed values leaves behind back to the system.

A first commit turns every value a run computed into the bytes of its row
(``_persistence``: the memo holds its row from then on, not the value). The
values go as the rows come, but their memory stays with the process: each
freed value leaves a hole in the C heap a little too small for the next row
(a row is the value's bytes plus its header and dependencies), so the rows
grow the heap while the holes stay resident. At 10,000 pages of the example
site that was 35-40 MB of a first build's peak, never used again.

glibc's ``malloc_trim(0)`` gives every whole free page in the heap back to
the kernel (``madvise``), not only the free top. It is what Dask's workers
call for the same reason ("trim memory"). Elsewhere (macOS, musl, Windows)
there is no such call, and ``give_back`` does nothing.

Only after a commit that wrote many rows (``Persistence.commit``): a trim
walks the heap, a few milliseconds at that size, which a small commit
should not pay. ``ctypes`` is imported then, not at start-up.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

__all__ = ["give_back"]


def give_back() -> None:
    """Return the C heap's free pages to the system, where the C library can."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache  # looked up once
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # noqa: PLC0415 (only for a large commit, see the module docstring)

    try:
        function = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function
