#!/usr/bin/env bash
# Creates .venv and installs sanacloud (editable) with the extras given, e.g. `scripts/setup.sh dev`.
# Re-runs are quick: nothing is reinstalled unless pyproject.toml or setup.py changed.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.sanacloud-installed-${extras:-base}"
digest="$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  echo "$digest" > "$stamp"
fi
