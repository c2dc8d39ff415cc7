#!/usr/bin/env bash
# The API reference (docs/README.md): pdoc pages for sofrito, sofrito.stores and
# sofrito.subscriptions, made from the docstrings, in build/api/ (or $1). Fails
# when pdoc fails or a public name has no docstring. Installs what it needs.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
.venv/bin/python scripts/apidocs.py "${1:-build/api}"
