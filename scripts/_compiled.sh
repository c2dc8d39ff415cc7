# Sourced by _venv.sh and bench.sh: install sofrito with its engine compiled.
#
# install_compiled PYTHON [PIP-INSTALL-ARGUMENTS...] builds from a copy of the
# tree, not from the tree itself: while it runs, the mypyc build writes
# compiled modules into src/ and renames pyproject.toml, and a build that is
# interrupted, or a commit made meanwhile, would keep them. SOFRITO_BUILD=compiled
# (hatch_build.py) makes a failed compile an error instead of a pure-Python wheel.
install_compiled() {
    local python="$1"
    shift
    local copy status=0
    copy="$(mktemp -d)"
    cp -r pyproject.toml README.md hatch_build.py src "$copy/"
    find "$copy/src" -name __pycache__ -prune -exec rm -rf {} +
    SOFRITO_BUILD=compiled "$python" -m pip install "$@" "$copy" || status=$?
    rm -rf "$copy"
    return "$status"
}
