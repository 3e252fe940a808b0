#!/usr/bin/env bash
# Sets up everything the tests need (Python packages, the local model, Debian's Chromium and PostgreSQL)
# and runs them.
# Any options are passed to pytest, e.g. scripts/test.sh -m "not browser" -x
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh local,test

# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work offline), the
# store's tests run on a real PostgreSQL, and the multi-process tests put Debian's nginx in front of studio
# processes; the tests start PostgreSQL and nginx themselves, each in a temporary folder.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && apt-get install -y -q "${missing[@]}"
  else
    echo "Please install these Debian packages first: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

export GRADIO_ANALYTICS_ENABLED=False HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
