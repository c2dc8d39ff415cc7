#!/usr/bin/env bash
# Run the whole test suite, with ruff and mypy --strict. Installs what it needs.
source "$(dirname "$0")/_venv.sh"
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
