#!/usr/bin/env bash
# The comparison with the Python peers, on Python 3.13, in .venv-bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-bench/bin/python ]; then
    if command -v pyenv >/dev/null && PYENV_VERSION=3.13.0 pyenv exec python -V >/dev/null 2>&1; then
        PYENV_VERSION=3.13.0 pyenv exec python -m venv .venv-bench
    elif command -v python3.13 >/dev/null; then
        python3.13 -m venv .venv-bench
    else
        echo "Python 3.13 not found; using $(python3 -V)" >&2
        python3 -m venv .venv-bench
    fi
    .venv-bench/bin/python -m pip install --quiet --upgrade pip
fi
.venv-bench/bin/python -m pip install --quiet -e .
# One peer at a time, so one that cannot install does not block the others.
# incr-compute's only wheel is a pre-release; its sdist needs network access to crates.io.
for peer in reaktiv nervio signified revlet query-cascade pytracked "--pre incr-compute"; do
    # shellcheck disable=SC2086
    .venv-bench/bin/python -m pip install --quiet $peer 2>/dev/null \
        || echo "could not install $peer: it will be reported as skipped" >&2
done
.venv-bench/bin/python -m benchmarks "$@"
