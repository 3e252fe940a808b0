#!/usr/bin/env bash
# Reads `pip install -v` of a package built from source (llama-cpp-python) on stdin and prints its
# progress: pip hides a build's output unless verbose, and verbose is thousands of compiler lines.
#
# What the build prints, and what is kept of it:
#   [12/345] /usr/bin/c++ ... -c .../llama-mmap.cpp    Ninja, one line per step (scikit-build-core builds
#                                                      with Ninja; llama-cpp-python asks for verbose, so
#                                                      each step is its whole command): one line per percent
#   [ 12%] Building CXX object ...                     CMake's Makefiles, where Ninja is missing: the same
#   *** Building project with Ninja...                 scikit-build-core's phases: as they are
#   Successfully ..., ERROR: ..., error: ...           the outcome and any error: as they are
set -uo pipefail

shown=-1
while IFS= read -r line; do
  if [[ $line =~ ^[[:space:]]*\[([0-9]+)/([0-9]+)\] ]]; then
    percent=$((BASH_REMATCH[1] * 100 / BASH_REMATCH[2]))
    if ((percent != shown)); then
      shown=$percent
      printf '  compiling: %3d%% (step %d of %d)\n' "$percent" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    fi
  elif [[ $line =~ ^[[:space:]]*\[\ *([0-9]+)%\] ]]; then
    percent=${BASH_REMATCH[1]}
    if ((percent != shown)); then
      shown=$percent
      printf '  compiling: %3d%%\n' "$percent"
    fi
  elif [[ $line =~ ^[[:space:]]*(\*\*\*\ .*|Successfully.*|ERROR.*|.*error:.*)$ ]]; then
    printf '  %s\n' "${BASH_REMATCH[1]}"
  fi
done
