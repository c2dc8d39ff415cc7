"""pytest's set-up for the whole suite: children get Ctrl-C as a terminal gives it;
the tests of the shared PostgreSQL server kept from one that restarts it.

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

import fcntl
import hashlib
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_configure() -> None:
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


POSTGRES_MODULE = "tests/stores/test_postgres.py"
"""Its tests use the one PostgreSQL server ``scripts/test.sh`` starts; so does any
other test whose name says so (``test_on_postgresql_too``, ``[postgres]``)."""


@pytest.fixture(autouse=True)
def _the_postgresql_server(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test of the shared PostgreSQL server holds it shared, one that restarts it
    (``@pytest.mark.restarts_postgres``) alone.

    ``scripts/test.sh`` runs the suite in several processes (pytest-xdist).
    Each test of the server works in a schema of its own, but a restart cuts
    every connection: a test beside it would fail for it. A lock on a file
    named by the server's address, shared or exclusive (``flock``), orders
    them across the processes; a run in one process takes it uncontended.
    (pytest-xdist's ``--dist loadgroup`` would send them all to one process,
    but it marks its groups in a field that pytest 9 no longer reads.)"""
    item = request.node
    dsn = os.environ.get("SOFRITO_TEST_POSTGRES", "")
    uses_server = (
        item.path.relative_to(item.config.rootpath).as_posix() == POSTGRES_MODULE
        or "postgres" in item.name
    )
    if not dsn or not uses_server:
        yield
        return
    name = hashlib.sha256(dsn.encode()).hexdigest()[:16]
    exclusive = item.get_closest_marker("restarts_postgres") is not None
    with open(Path(tempfile.gettempdir()) / f"sofrito-test-postgres-{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
