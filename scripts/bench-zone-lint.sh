#!/usr/bin/env bash
# Speed and memory of `mailproxy zone lint` on a zone of 1,000,000 records, against kzonecheck (Knot),
# named-checkzone -i local (BIND) and nsd-checkzone (NSD) on the same file in the same run.
# Prints wall time, peak memory (max RSS) and the ratios to mailproxy. Usage: scripts/bench-zone-lint.sh [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}

# the reference tools are only needed here, not for the build or the tests
missing=()
for p in knot-dnssecutils bind9-utils nsd time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x build/cli/mailproxy ] || bash scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

work=$(mktemp -d /tmp/mailproxy-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
zone="$work/bench.example.zone"
python3 - "$zone" "$records" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("$ORIGIN bench.example.\n$TTL 3600\n"
            "@ IN SOA ns1 hostmaster 2026112801 7200 3600 1209600 3600\n"
            "@ IN NS ns1\n@ IN NS ns2\nns1 IN A 192.0.2.1\nns2 IN A 192.0.2.2\n"
            "@ IN MX 10 mailproxy.domain-robot.org.\n")
    written, i = 6, 0
    while written < n:
        k = i % 5
        if k == 0:
            f.write(f"h{i} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
        elif k == 1:
            f.write(f"h{i} IN AAAA 2001:db8::{i >> 16:x}:{i & 0xffff:x}\n")
        elif k == 2:
            f.write(f'h{i} IN TXT "record {i} of the benchmark"\n')
        elif k == 3:
            f.write(f"w{i} IN CNAME h{i - 3}\n")
        else:
            f.write(f"s{i} 300 IN MX 10 mailproxy.domain-robot.org.\n")
        written += 1
        i += 1
PY
printf 'zone: %s records, %s MB\n\n' "$records" "$(( $(stat -c %s "$zone") / 1048576 ))"

measure() {  # measure NAME CMD...: prints "NAME SECONDS MAXRSS_KB EXIT"
  local name=$1; shift
  local rc=0
  /usr/bin/time -o "$work/time" -f '%e %M' "$@" >/dev/null 2>"$work/$name.err" || rc=$?
  echo "$name $(tail -n 1 "$work/time") $rc"
}

rows=()
rows+=("$(measure mailproxy build/cli/mailproxy zone lint --origin bench.example. "$zone")")
rows+=("$(measure kzonecheck kzonecheck -o bench.example. "$zone")")
rows+=("$(measure named-checkzone named-checkzone -i local bench.example. "$zone")")
rows+=("$(measure nsd-checkzone nsd-checkzone bench.example. "$zone")")

printf '%-16s %9s %10s %12s %12s %5s\n' tool "wall s" "peak MB" "time/ours" "memory/ours" exit
read -r _ base_s base_kb _ <<<"${rows[0]}"
for row in "${rows[@]}"; do
  read -r name secs kb rc <<<"$row"
  awk -v n="$name" -v s="$secs" -v k="$kb" -v bs="$base_s" -v bk="$base_kb" -v rc="$rc" \
    'BEGIN { printf "%-16s %9.2f %10.1f %12.2f %12.2f %5s\n", n, s, k / 1024, s / bs, k / bk, rc }'
done
echo
echo "exit 0 = the tool accepted the zone; ratios > 1 mean the other tool needs more than mailproxy."
