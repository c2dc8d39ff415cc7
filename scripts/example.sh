#!/usr/bin/env bash
# The main job: a static site of 200 Markdown pages, built incrementally by
# `sofrito run` (examples/site/). Installs what it needs into .venv, generates
# the site's sources into build/site/ if they are not there, builds it, and
# builds it again to show that a run where nothing changed executes nothing.
# Run the script again: the first build is a no-op too (the cache is in
# build/site/.sofrito/). Edit a page under build/site/content/ and run
#   .venv/bin/sofrito run build/site/flow.py
# to see one edit re-execute only what it reached.
# The word count (examples/wordcount.py) is the second example: scripts/wordcount.sh.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
SITE="${SITE:-build/site}"
PAGES="${PAGES:-200}"
if [ ! -f "$SITE/flow.py" ]; then
    "$VENV/bin/python" examples/site/generate.py --pages "$PAGES" --out "$SITE"
fi
echo "\$ sofrito run $SITE/flow.py"
"$VENV/bin/sofrito" run "$SITE/flow.py"
echo "\$ sofrito run $SITE/flow.py    # again, nothing changed"
"$VENV/bin/sofrito" run "$SITE/flow.py"
echo "The site is in $SITE/_site/ (open $SITE/_site/index.html)."
