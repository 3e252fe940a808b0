#!/usr/bin/env bash
# Sets up everything the tests need (Python packages, the local model, Debian's Chromium) and runs them.
# Any options are passed to pytest, e.g. scripts/test.sh -m "not browser" -x
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh local,test

# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work offline).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && apt-get install -y -q chromium
  else
    echo "Please install Chromium first: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

export GRADIO_ANALYTICS_ENABLED=False HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
