#!/usr/bin/env bash
# Set up (see setup.sh), then run the project's own tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
