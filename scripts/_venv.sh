# Sourced by the other scripts: make a venv with the project installed in it.
#
# VENV (default .venv) says where. By default the project is installed
# editable, pure Python. With SOFRITO_COMPILE=1 its engine is compiled with
# mypyc (docs/concepts.md, "A compiled engine") and the project installed as
# a built wheel, built again whenever a file under src/ changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.sofrito-installed"
if [ "${SOFRITO_COMPILE:-0}" = 1 ]; then
    if [ ! -f "$stamp" ] || [ -n "$(find pyproject.toml src -newer "$stamp" \( -name '*.py' -o -name '*.toml' \) -print -quit)" ]; then
        echo "compiling the engine with mypyc into $VENV (about a minute)"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        # The dependencies, from a pure-Python build (SOFRITO_BUILD=pure): a default
        # build would compile the engine a first time, in the tree itself.
        SOFRITO_BUILD=pure "$VENV/bin/python" -m pip install --quiet ".[test,postgres,dask]"
        source scripts/_compiled.sh
        install_compiled "$VENV/bin/python" --quiet --force-reinstall --no-deps
        touch "$stamp"
    fi
elif [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[test,postgres,dask]"
    touch "$stamp"
fi
