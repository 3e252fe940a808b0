#!/usr/bin/env bash
# Sets up .venv with the studio. Usage: scripts/setup.sh [EXTRAS]   (default "local": with the local model)
# Installs what Debian needs first (a C++ compiler for llama.cpp, python3-venv) when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-local}"

missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++ make)
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && apt-get install -y -q "${missing[@]}"
  else
    echo "Please install these Debian packages first: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check)

if [[ ",$extras," == *",local,"* ]] && ! .venv/bin/python -c 'import llama_cpp' >/dev/null 2>&1; then
  echo "Installing llama-cpp-python. The first time, pip compiles llama.cpp from source: 7-10 minutes on"
  echo "2 cores (progress below). pip caches the wheel, so later installs take seconds."
  # pip hides a build's output unless verbose; build_progress.sh turns the verbose output into a
  # line per percent of the compilation, so the wait is visible.
  set +o pipefail
  "${pip[@]}" install -v 'llama-cpp-python>=0.3.7' 2>&1 | bash scripts/build_progress.sh
  status=${PIPESTATUS[0]}
  set -o pipefail
  [ "$status" = 0 ] || { echo "Installing llama-cpp-python failed (see above)." >&2; exit "$status"; }
fi

echo "Installing the studio and its dependencies ($extras)..."
"${pip[@]}" install -q -e ".[$extras]"
