#!/usr/bin/env bash
# Sets up the project and runs everything CI runs: lint, type check, the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-packages.sh
scripts/setup.sh dev,model
.venv/bin/ruff check .
scripts/typecheck.sh
.venv/bin/python -m pytest "$@"
