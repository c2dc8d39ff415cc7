"""``sofrito run --jobs N`` and ``--executor URL``: which executor computes the renders.

The options only choose an executor (``sofrito.executors``); what it does
with a run is the runner's ``_run_ahead`` and ``sofrito._shipping``. Kept
out of ``main.py`` so the argument parser stays a list of commands.

- ``--jobs 1`` (the default): no executor, the run computes on its own thread.
- ``--jobs N``: ``Processes(N)``, worker processes of this machine on the
  flow's store.
- ``--executor dask://HOST:PORT``: ``Dask`` on that scheduler (the
  ``distributed`` package; ``pip install 'sofrito[dask]'``).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sofrito.executors import Executor

__all__ = ["add_parallel_options", "executor_for"]


def add_parallel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs",
        metavar="N",
        type=_positive,
        default=1,
        help="compute outputs in N worker processes on the flow's store (default: 1, no workers)",
    )
    parser.add_argument(
        "--executor",
        metavar="URL",
        help="compute outputs on a Dask cluster: dask://HOST:PORT (needs `distributed`)",
    )


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is not a positive number of jobs")
    return number


@contextmanager
def executor_for(args: argparse.Namespace) -> Iterator[Executor | None]:
    """The executor ``--jobs`` or ``--executor`` asks for (None: none), shut down
    when the run ends."""
    url: str | None = getattr(args, "executor", None)
    jobs: int = getattr(args, "jobs", 1)
    store_url: str = getattr(args, "store_url", "") or ""
    # A sqlite: URL may be relative to the flow: the workers derive the file's
    # absolute path from the store itself. Other URLs (postgresql://) go as given.
    shared_url = None if store_url.startswith(("sqlite:", "memory:")) else store_url
    if url is None and jobs == 1:
        yield None
        return
    from sofrito import executors  # noqa: PLC0415
    from sofrito.cli.main import UsageError  # noqa: PLC0415 (main imports this module)

    if url is not None and jobs != 1:
        raise UsageError("choose --jobs N or --executor URL, not both")
    executor: executors.Processes | executors.Dask
    if url is None:
        executor = executors.Processes(jobs, store_url=shared_url)
    else:
        if not url.startswith("dask://"):
            raise UsageError(f"--executor {url}: unknown executor; use dask://HOST:PORT")
        try:
            executor = executors.Dask(url.removeprefix("dask://"), store_url=shared_url)
        except ImportError as exc:
            raise UsageError(f"--executor {url}: {exc}") from None
        except OSError as exc:
            raise UsageError(f"--executor {url}: cannot reach the scheduler ({exc})") from None
    try:
        yield executor
    finally:
        executor.shutdown()
