#!/usr/bin/env bash
# Creates .venv and installs sanacloud (editable) with the extras given, e.g. `scripts/setup.sh dev`.
# Re-runs are quick and silent: nothing is reinstalled unless pyproject.toml or setup.py changed.
# pip's output goes to .venv/setup.log; only a failure shows it (its tail).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
log=.venv/setup.log
stamp=".venv/.sanacloud-installed-${extras:-base}"
digest="$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)"
[ "$(cat "$stamp" 2>/dev/null)" = "$digest" ] && exit 0

if compgen -G ".venv/.sanacloud-installed-*" > /dev/null; then
  echo "updating .venv (log in $log)" >&2
else
  echo "setting up .venv (first run: a few minutes; log in $log)" >&2
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
if ! { .venv/bin/python -m pip install --upgrade pip &&
       .venv/bin/python -m pip install -e ".${extras:+[$extras]}"; } > "$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "setup failed; the whole log is $log" >&2
  exit 1
fi
echo "$digest" > "$stamp"
