"""``sofrito run --jobs N`` and ``--executor URL``: which executor computes the renders.

The options only choose an executor (``sofrito.executors``); what it does
with a run is the runner's ``_run_ahead`` and ``sofrito._shipping``. Kept
out of ``main.py`` so the argument parser stays a list of commands.

- ``--jobs 1`` (the default): no executor, the run computes on its own thread.
- ``--jobs N``: N processes compute at once, as with ``make -j N``: the run
  itself and ``Processes(N - 1)``, worker processes of this machine on the
  flow's store. The run keeps its share of the keys (``caller_share``): a
  run that only waited and installed was slower with two workers on two
  cores than alone (docs/benchmarks.md, "Site with workers").
- ``--executor dask://HOST:PORT``: ``Dask`` on that scheduler (the
  ``distributed`` package; ``pip install 'sofrito[dask]'``). The address is
  checked at once (a TCP connection: a wrong one is a usage error, exit 2);
  the Dask client connects when the run first has keys to send.
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
        help="compute in N processes at once: this one and N-1 workers (default: 1, no workers)",
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


def _unreachable(address: str) -> str | None:
    """Why nothing listens at the scheduler's ``HOST:PORT``, or None: a TCP
    connection and nothing more (about a millisecond). The executor connects
    its Dask client only when a run has keys to send (``executors.Dask``), so
    a wrong address would otherwise show only in a run with work to do."""
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    try:
        number = int(port)
    except ValueError:
        return f"{address!r} is not HOST:PORT"
    import socket  # noqa: PLC0415 (14 M instructions every run paid, --executor or not)

    try:
        socket.create_connection((host or "127.0.0.1", number), timeout=5).close()
    except OSError as exc:
        return str(exc)
    return None


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
        executor = executors.Processes(jobs - 1, store_url=shared_url)
    else:
        if not url.startswith("dask://"):
            raise UsageError(f"--executor {url}: unknown executor; use dask://HOST:PORT")
        address = url.removeprefix("dask://")
        try:
            executor = executors.Dask(address, store_url=shared_url)
        except ImportError as exc:
            raise UsageError(f"--executor {url}: {exc}") from None
        unreachable = _unreachable(address)
        if unreachable is not None:
            raise UsageError(f"--executor {url}: cannot reach the scheduler ({unreachable})")
    try:
        yield executor
    finally:
        executor.shutdown()
