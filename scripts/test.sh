#!/usr/bin/env bash
# Run the whole test suite, with ruff and mypy --strict. Installs what it needs.
#
# The suite runs twice: on the pure-Python package (.venv, editable), then on
# the package with its engine compiled by mypyc (.venv-compiled; built again
# when a source file changed). SOFRITO_EXPECT_COMPILED tells the suite which
# build it must find (tests/test_build.py), so that neither run can
# silently test the other build.
source "$(dirname "$0")/_venv.sh"
.venv/bin/ruff check hatch_build.py src tests benchmarks
.venv/bin/mypy
echo "== pure Python"
SOFRITO_EXPECT_COMPILED=0 .venv/bin/python -m pytest "$@"
echo "== compiled engine"
VENV=.venv-compiled
SOFRITO_COMPILE=1
source scripts/_venv.sh  # the first one moved to the repository's root
SOFRITO_EXPECT_COMPILED=1 .venv-compiled/bin/python -m pytest "$@"
