#!/usr/bin/env bash
# The second example: an incremental word count on the embedded SQLite store, four runs,
# each a new process, showing what a restart and two kinds of edit re-execute.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
run() { .venv/bin/python examples/wordcount.py "$@"; }
run --reset --label "cold build"
run --label "restart, no edit"
run --edit ch03/doc07.md "$(printf 'THE quick BROWN fox %.0s' {1..11})" --label "same words, other case"
run --edit ch03/doc07.md "a brand new text" --label "one document rewritten"
echo "Cache and report in build/wordcount/ (cache.db, report.txt)."
