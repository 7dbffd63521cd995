#!/usr/bin/env bash
# Installs the Debian packages the test suite drives: jq (the README's tours), Chromium (the API's
# pages and the dashboard in a real headless browser) and npm (which builds the dashboard).
# Quiet when they are already there.
set -euo pipefail
missing=()
command -v jq > /dev/null || missing+=(jq)
command -v chromium > /dev/null || missing+=(chromium)
command -v npm > /dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "error: the tests need ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]} (apt-get)"
log="$(mktemp)"
if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    > "$log" 2>&1; then
  tail -n 30 "$log" >&2
  exit 1
fi
rm -f "$log"
