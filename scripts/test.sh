#!/usr/bin/env bash
# Run the whole test suite, with ruff and mypy --strict. Installs what it needs.
#
# The suite runs twice: on the pure-Python package (.venv, editable), then on
# the package with its engine compiled by mypyc (.venv-compiled; built again
# when a source file changed). SOFRITO_EXPECT_COMPILED tells the suite which
# build it must find (tests/test_build.py), so that neither run can
# silently test the other build.
source "$(dirname "$0")/_venv.sh"
# The serve tests drive Debian's Chromium with its chromedriver (tests/cli/browser.py);
# they fail, not skip, without them. As root (CI) they are installed here.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver
    else
        echo "test.sh: the serve tests need Debian's chromium and chromium-driver:" >&2
        echo "  sudo apt-get install chromium chromium-driver" >&2
    fi
fi
# The PostgresStore tests run against a throwaway server (stopped at exit by a trap),
# and must not skip here: SOFRITO_REQUIRE_POSTGRES turns a missing server into a failure.
if [ -z "${SOFRITO_TEST_POSTGRES:-}" ]; then
    source scripts/_postgres.sh
    start_postgres
fi
export SOFRITO_REQUIRE_POSTGRES=1
# The Dask tests (a real LocalCluster) must not skip here either.
export SOFRITO_REQUIRE_DASK=1
.venv/bin/ruff check hatch_build.py src tests benchmarks
.venv/bin/ruff format --check hatch_build.py src tests benchmarks
.venv/bin/mypy
# Each pass on the machine's cores, up to four processes (pytest-xdist); a test that
# restarts the PostgreSQL server runs while no other test uses it (tests/conftest.py).
spread=(--numprocesses=auto --maxprocesses=4)
echo "== pure Python"
SOFRITO_EXPECT_COMPILED=0 .venv/bin/python -m pytest "${spread[@]}" "$@"
echo "== compiled engine"
VENV=.venv-compiled
SOFRITO_COMPILE=1
source scripts/_venv.sh  # the first one moved to the repository's root
SOFRITO_EXPECT_COMPILED=1 .venv-compiled/bin/python -m pytest "${spread[@]}" "$@"
