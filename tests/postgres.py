"""The PostgreSQL server the tests share, and the one rule for when it is missing.

The server is the one ``scripts/_postgres.sh`` starts (``scripts/test.sh``
sources it), named by ``SOFRITO_TEST_POSTGRES``. Without it a test that needs
it skips, saying why, so a contributor without PostgreSQL can work on the
rest; but where a server is required (``SOFRITO_REQUIRE_POSTGRES=1`` or
``CI``, as ``.ci/run`` sets) the test fails instead, so CI can never pass by
skipping the store the issue targets. Every module that needs the server asks
here, so no module can forget the second half of that rule.
"""

from __future__ import annotations

import os

import pytest

DSN = os.environ.get("SOFRITO_TEST_POSTGRES", "")


def required() -> bool:
    """Whether a missing server is a failure here, not a skip."""
    ci = os.environ.get("CI", "") not in ("", "0", "false")
    return ci or os.environ.get("SOFRITO_REQUIRE_POSTGRES") == "1"


def need_postgres() -> str:
    """The server's DSN; skip the calling test without one, or fail it where
    a server is required."""
    if DSN:
        return DSN
    if required():
        pytest.fail(
            "SOFRITO_REQUIRE_POSTGRES=1 or CI is set, but SOFRITO_TEST_POSTGRES is not: run "
            "the suite through scripts/test.sh, which starts a server (scripts/_postgres.sh)"
        )
    pytest.skip("no PostgreSQL server: set SOFRITO_TEST_POSTGRES (scripts/test.sh starts one)")
