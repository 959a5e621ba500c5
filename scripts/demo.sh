#!/usr/bin/env bash
# The one-command demo: installs what is missing (scripts/bootstrap.sh), then
# pushes examples/app to a local Ray cluster, edits it and ships the edit
# without restarting the cluster (scripts/demo.py). Extra arguments go to demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python scripts/demo.py "$@"
