#!/usr/bin/env bash
# Set up dlprep in ./.venv: PyTorch's CPU build first (pinned, so pip never pulls a multi-GB
# CUDA build), then the project with its dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
echo "dlprep is set up: run .venv/bin/grade --help (or activate .venv and run grade)."
