#!/usr/bin/env bash
# The comparison with the Python peers (docs/benchmarks.md), on Python 3.13, in .venv-bench/.
#
# Makes the venv once, installs sofrito (editable) and each peer one at a time,
# so that one peer that cannot install blocks nothing; a peer already there is
# not reinstalled; builds sofrito a second time with its engine compiled. Then
# runs the harness (arguments are passed on: --only, --scale, --rounds) and the
# persistence, site, warm-start and call-count benchmarks. Runs on Python 3.13
# because on older Pythons pip silently picks years-old releases of some peers.
# The site benchmark's peers (static-site generators) are a list of their own,
# installed the same way: one that cannot install is a column of "skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${BENCH_VENV:-.venv-bench}"
peers=(reaktiv nervio signified incr-compute revlet query-cascade pytracked)
# Pelican reads Markdown through the markdown package (its [markdown] extra).
site_peers=(pelican markdown sphinx myst-parser mkdocs hugo)

is_313() { [ "$(env "$@" -c 'import sys; print(sys.version_info[:2] == (3, 13))' 2>/dev/null)" = True ]; }

find_python() {
    if is_313 PYENV_VERSION=3.13.0 python; then
        echo "PYENV_VERSION=3.13.0 python"
    elif is_313 python3.13; then
        echo "python3.13"
    else
        echo "python3"
    fi
}

venv_minor() { "$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }

python_cmd="$(find_python)"
if [ -x "$venv/bin/python" ] && [ "$(venv_minor)" != 3.13 ] && [ "$python_cmd" != python3 ]; then
    echo "bench: $venv has Python $(venv_minor); making it again with 3.13"
    rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "bench: making $venv with $python_cmd ($(env $python_cmd -V 2>&1))"
    [ "$python_cmd" = python3 ] && echo "bench: warning: Python 3.13 not found; peers may be old releases"
    env $python_cmd -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip >"$venv/pip.log" 2>&1
fi
echo "bench: using $venv/bin/python ($("$venv/bin/python" -V 2>&1))"

# With the site extra: the site benchmark builds the example site (examples/site/).
stamp="$venv/.sofrito-installed-site"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install --quiet -e '.[site]' >>"$venv/pip.log" 2>&1 \
        || { echo "bench: pip install -e '.[site]' failed; see $venv/pip.log" >&2; exit 1; }
    touch "$stamp"
fi

# Why a pip run failed, in one line: an unreachable host if that was it, then pip's errors.
reason() {
    {
        grep -oE "Could not resolve host: [^ )]+" "$1" | head -n 1
        grep -E "^ERROR:|^error: [a-z-]+$" "$1" | grep -v subprocess-exited-with-error
    } | head -n 2 | paste -sd ';' | sed 's/;/; /g' || true
}

status="$venv/peers.tsv"
: >"$status"
for peer in "${peers[@]}" "${site_peers[@]}"; do
    if "$venv/bin/python" -c "import importlib.metadata as m, sys; m.version(sys.argv[1])" "$peer" 2>/dev/null; then
        note=$(grep -s "^$peer	" "$venv/peers.note" | cut -f2- || true)
        printf '%s\t%s\n' "$peer" "${note:-ok}" >>"$status"
        continue
    fi
    echo "bench: installing $peer"
    log="$venv/pip-$peer.log"
    if "$venv/bin/python" -m pip install "$peer" >"$log" 2>&1; then
        printf '%s\tok\n' "$peer" >>"$status"
    elif first=$(reason "$log") && "$venv/bin/python" -m pip install --pre "$peer" >>"$log" 2>&1; then
        # Its only release did not install, a pre-release did (incr-compute: the
        # release is a source build that fetches Rust crates; the pre-release has wheels).
        note="installed with pip --pre: the release failed (${first:-see $log})"
        printf '%s\t%s\n' "$peer" "$note" >>"$status"
        printf '%s\t%s\n' "$peer" "$note" >>"$venv/peers.note"
    else
        printf '%s\t%s\n' "$peer" "$(reason "$log")" >>"$status"
        echo "bench: could not install $peer; it will be reported as skipped (log: $log)"
    fi
done

# The compiled engine (docs/concepts.md): built with mypyc into a folder of its
# own, which the harness puts first on the path of the sofrito-compiled column.
# Built again when a source file changed; if it cannot be built, the column
# says so and the rest runs.
compiled="$venv/compiled"
if [ ! -f "$compiled/.built" ] || [ -n "$(find pyproject.toml src -newer "$compiled/.built" \( -name '*.py' -o -name '*.toml' \) -print -quit)" ]; then
    echo "bench: compiling the engine with mypyc into $compiled"
    rm -rf "$compiled"
    source scripts/_compiled.sh
    if install_compiled "$venv/bin/python" --quiet --no-deps --target "$compiled" \
        >"$venv/pip-compiled.log" 2>&1; then
        touch "$compiled/.built"
    else
        echo "bench: compiling failed (see $venv/pip-compiled.log); that column will be skipped"
        rm -rf "$compiled"
    fi
fi

"$venv/bin/python" -m benchmarks --install-status "$status" --compiled "$compiled" "$@"
# Persistence, the site, warm start and flow edits: on the compiled engine, which a wheel
# installs, when it was built, then on pure Python. The site beside its peers
# (N = 1,000) on the first build only; the second measures sofrito alone.
builds=("")
[ -d "$compiled" ] && builds=("$compiled:." "")
site_tools=()
for path in "${builds[@]}"; do
    echo
    echo "Persistence (sofrito only):"
    PYTHONPATH="$path" "$venv/bin/python" -m benchmarks.persistence
    echo
    PYTHONPATH="$path" "$venv/bin/python" -m benchmarks.site "${site_tools[@]}"
    site_tools=(--only sofrito)
    echo
    PYTHONPATH="$path" "$venv/bin/python" -m benchmarks.warm_start
    echo
    PYTHONPATH="$path" "$venv/bin/python" -m benchmarks.flow_edit --pages 1000
done
echo
echo "Calls per operation (sofrito only; cProfile counts, machine-independent):"
"$venv/bin/python" -m benchmarks.calls
