#!/usr/bin/env bash
# Sets up the studio with its local model (first time only) and runs it on the embedded local server.
# Any options are passed to app.py, e.g. scripts/run.sh --port 8080
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh local
exec .venv/bin/python app.py "$@"
