#!/usr/bin/env bash
# The main job: a small incremental build that shows what sofrito reuses.
source "$(dirname "$0")/_venv.sh"
.venv/bin/python examples/wordcount.py "$@"
