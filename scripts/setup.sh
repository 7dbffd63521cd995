#!/usr/bin/env bash
# Creates .venv and installs sanacloud (editable) with the extras given, e.g. `scripts/setup.sh dev`,
# then builds the dashboard (dashboard/ → api/dashboard/build/) with npm.
# Re-runs are quick and silent: nothing is reinstalled unless pyproject.toml or setup.py changed, nor
# rebuilt unless the dashboard's sources or lock file did. Output goes to .venv/setup.log and
# .venv/dashboard-build.log; only a failure shows it (its tail).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
npm="${NPM:-npm}"

install_python() {
  local log=.venv/setup.log stamp=".venv/.sanacloud-installed-${extras:-base}" digest
  digest="$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ] && return 0
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
}

build_dashboard() {
  local log=.venv/dashboard-build.log stamp=.venv/.sanacloud-dashboard-built digest
  [ -f dashboard/package-lock.json ] || return 0
  digest="$(find dashboard -path dashboard/node_modules -prune -o -type f -print | LC_ALL=C sort |
            xargs -d '\n' sha256sum | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ] && [ -f api/dashboard/build/index.html ] && return 0
  if ! command -v "$npm" > /dev/null; then
    echo "npm not found: the dashboard is not built (install Node.js 20 and npm, then run this again)" >&2
    return 0
  fi
  echo "building the dashboard (log in $log)" >&2
  if ! (cd dashboard && "$npm" ci --no-audit --no-fund && "$npm" run build) > "$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "the dashboard's build failed; the whole log is $log" >&2
    exit 1
  fi
  echo "$digest" > "$stamp"
}

install_python
build_dashboard
