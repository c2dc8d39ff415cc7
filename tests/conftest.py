"""pytest's set-up for the whole suite: children get Ctrl-C as a terminal gives it;
one Dask cluster for the tests that ask for it (``cluster``); the tests of the
shared PostgreSQL server on one worker when pytest-xdist spreads the suite.

A test run started in the background by a script inherits SIGINT ignored (a
non-interactive shell ignores it for its background jobs), an ignored signal
stays ignored across ``exec``, and Python installs no ``KeyboardInterrupt``
for a SIGINT ignored at its start: every ``sofrito`` child would run on when a
test stops it as Ctrl-C does (a CI run launched that way failed
``test_a_run_interrupted_before_writing_leaves_no_output_stale``). A handled
signal is reset to the default at ``exec``, so handling it here, as Python
does by default, gives each child what a user at a terminal has.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest


def pytest_configure() -> None:
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


POSTGRES_MODULE = "tests/stores/test_postgres.py"
"""Its tests use the one PostgreSQL server ``scripts/test.sh`` starts; so does any
other test whose name says so (``test_on_postgresql_too``, ``[postgres]``)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``scripts/test.sh`` spreads the suite over processes (pytest-xdist,
    ``--dist loadgroup``). Each test of the PostgreSQL server works in a schema
    of its own, but one restarts the server in the middle of a run
    (tests/stores/test_postgres.py): run beside them, the others would lose
    their connections. So they all go to one worker, one after the other."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    root = config.rootpath
    for item in items:
        if item.path.relative_to(root).as_posix() == POSTGRES_MODULE or "postgres" in item.name:
            item.add_marker(pytest.mark.xdist_group("postgres"))


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    """One ``distributed.LocalCluster`` with two worker processes for the session
    (tests/test_parallel_dask.py, tests/test_parallel_properties.py); imported
    only by a test that asks for it (Dask is an optional extra)."""
    from distributed import LocalCluster

    os.environ["SOFRITO_TEST_COORDINATOR"] = str(os.getpid())
    # dashboard_address=None still serves HTTP on 8787 (distributed falls back
    # to its default port), which another cluster on the machine may hold: ":0"
    # takes a free port.
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local
