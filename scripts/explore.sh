#!/bin/bash
# Run the property tests with random seeds and more examples than CI runs.
#
#   bash scripts/explore.sh [TIMES] [pytest arguments...]
#
# The suite's property tests are derandomized (`derandomize=True`): CI runs the
# same examples every time, so it never explores. This copies the tests to a
# scratch folder, drops `derandomize` and multiplies every `max_examples` by
# TIMES (default 6), and runs them against this checkout's package, without
# the per-test timeout. Each run draws new examples; a failure prints the
# example to add as an `@example` (tests/test_warm_start_properties.py has
# several found this way). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
times="${1:-6}"
shift || true
source scripts/_venv.sh
cd "$repo"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp -r tests examples pyproject.toml "$scratch/"
.venv/bin/python - "$scratch/tests" "$times" <<'PY'
import pathlib, re, sys
root, times = pathlib.Path(sys.argv[1]), int(sys.argv[2])
for path in root.rglob("*.py"):
    text = path.read_text()
    new = re.sub(r'derandomize=True,?|"derandomize": True,?', "", text)
    new = re.sub(r"max_examples=(\d+)", lambda m: f"max_examples={int(m.group(1)) * times}", new)
    if new != text:
        path.write_text(new)
PY
default=(tests/engine/test_properties.py tests/test_settle.py tests/test_warm_start_properties.py
         tests/test_on_demand_edits.py tests/test_persistence_without_value.py
         tests/test_traces_properties.py tests/test_parallel_properties.py
         tests/examples/test_site_edits.py)
if [ $# -eq 0 ]; then
    set -- "${default[@]}"
fi
cd "$scratch"
PYTHONPATH="$repo/src" "$repo/.venv/bin/python" -m pytest -q -p no:cacheprovider --timeout=0 "$@"
