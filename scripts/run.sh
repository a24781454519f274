#!/usr/bin/env bash
# The main job on an embedded default configuration: install, build, then walk through the entry
# workflow in a throwaway store (create an entry, change its level, show it). Nothing outside the
# temporary store is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

store=$(mktemp -d /tmp/mailproxy-demo.XXXXXX)
trap 'rm -rf "$store"' EXIT
export MAILPROXY_STORE="$store"
mp=build/cli/mailproxy

step() { printf '\n$ mailproxy %s\n' "$*"; "$mp" "$@"; }

echo "mailproxy demo: entry store $store (removed at the end)"
step entry create example.com --target mx.example.net --admin postmaster@example.com
step entry update example.com --protection HIGH --greylisting on
step entry update example.com --kill-score 15 --add-whitelist newsletter@partner.example
step entry info example.com
step entry list
step level show
