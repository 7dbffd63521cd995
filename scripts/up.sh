#!/usr/bin/env bash
# Sets up the project and starts the whole embedded platform: `sanacloud up` with its defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh model
exec .venv/bin/sanacloud up "$@"
