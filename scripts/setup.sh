#!/usr/bin/env bash
# Set up dlprep in ./.venv: PyTorch first, pinned, then the project with its dependencies.
# Safe to run again. On the project's machines the pin resolves to a CPU build kept on disk.
# Elsewhere pip may pick PyTorch's multi-GB CUDA build for this pin: to get the CPU build, set
# TORCH_INDEX_URL to PyTorch's CPU wheel index (see pytorch.org's install page) first.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
echo "dlprep is set up: run .venv/bin/grade --help (or activate .venv and run grade)."
