#!/usr/bin/env bash
# Configures and builds one build tree: scripts/build.sh DIR [cmake options...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -G Ninja "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
grep -A12 'dependency summary' "$dir.configure.log" | grep -v '^-- Configuring\|^-- Generating\|^-- Build files' || true
rm -f "$dir.configure.log"
cmake --build "$dir" -j2
