#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the project's own tests (setup.cfg: the `slow` marker).
#
#   bash scripts/test.sh [ARGS...]          every test not marked slow (a few minutes)
#   bash scripts/test.sh --slow [ARGS...]   the slow tests only (CI runs both, see .ci/run)
#   bash scripts/test.sh --all [ARGS...]    everything
#
# Other arguments go to pytest; a `-m EXPR` of your own replaces the default selection.
set -euo pipefail
cd "$(dirname "$0")/.."
select=(-m "not slow")
case "${1:-}" in
  --slow) select=(-m slow); shift ;;
  --all) select=(); shift ;;
esac
bash scripts/setup.sh
# the test extra (XSD validation, junitparser) and the similarity extra (copydetect), so that
# no test skips for a missing package
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test,similarity,cluster]"
exec .venv/bin/python -m pytest ${select[@]+"${select[@]}"} "$@"
