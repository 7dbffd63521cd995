#!/usr/bin/env bash
# mypy cannot follow the editable install's import hook, so it checks a tree of symlinks that
# lays the code folders out under their import names (sanacloud/platform -> ../../platform).
set -euo pipefail
cd "$(dirname "$0")/.."
tree=.mypy_tree/sanacloud
rm -rf .mypy_tree && mkdir -p "$tree"
for part in platform api workers model cli client; do ln -s "../../$part" "$tree/$part"; done
MYPYPATH=.mypy_tree .venv/bin/mypy --explicit-package-bases --namespace-packages -p sanacloud
