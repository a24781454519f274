#!/usr/bin/env bash
# Throughput and memory of `mailproxy serve` (issue 6, "Speed"): postfix's smtp-source sends the same load
# to smtp-sink directly and through serve (4 KiB and 100 KiB messages, 1 and 16 sessions), in one run;
# prints messages/s and the ratio. Each case runs three times, direct and through serve in turn, and the
# medians are printed: on a shared 2-core machine single runs vary by a third. Then serve's resident
# memory with 1,000 idle connections.
# Usage: scripts/bench-serve.sh [MESSAGES]   (default 3000 per run)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

count=${1:-3000}
mp=$PWD/build/cli/mailproxy
work=$(mktemp -d /tmp/mailproxy-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n 8192 || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

sink_port=$(free_port)
/usr/sbin/smtp-sink -u nobody -m 1000 127.0.0.1:"$sink_port" 1000 &
pids+=($!)
wait_port "$sink_port"
# protection OFF: this measures the mail path (issue 6); the checks have their own benchmark
"$mp" --store "$work/entries" entry create example.com --target "[127.0.0.1]:$sink_port" --protection OFF \
  --admin postmaster@example.com >/dev/null
python3 -c 'import sys; sys.path.insert(0, "tests/integration"); import filter_samples as s; s.write_signatures(sys.argv[1])' \
  "$work/clamav-db"
serve_port=$(free_port)
"$mp" --store "$work/entries" serve --clamav-db "$work/clamav-db" --listen 127.0.0.1:"$serve_port" --state-dir "$work/state" \
  --hostname bench.test --max-connections 2000 --max-connections-per-ip 2000 \
  >"$work/ready" 2>"$work/serve.log" &
serve_pid=$!
pids+=($serve_pid)
for _ in $(seq 100); do grep -q '^ready' "$work/ready" 2>/dev/null && break; sleep 0.05; done

rate() {  # rate PORT SESSIONS BYTES -> messages per second
  local start end
  start=$(date +%s.%N)
  /usr/sbin/smtp-source -s "$2" -m "$count" -l "$3" -f a@sender.example -t b@example.com 127.0.0.1:"$1"
  end=$(date +%s.%N)
  python3 -c "print(f'{$count / ($end - $start):.0f}')"
}

median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

printf '\n%-26s %12s %12s %8s\n' "case ($count messages)" "direct msg/s" "serve msg/s" "ratio"
for size in 4096 102400; do
  for sessions in 1 16; do
    d=() p=()
    for _ in 1 2 3; do
      d+=("$(rate "$sink_port" "$sessions" "$size")")
      p+=("$(rate "$serve_port" "$sessions" "$size")")
    done
    direct=$(median "${d[@]}")
    proxied=$(median "${p[@]}")
    ratio=$(python3 -c "print(f'{$proxied / $direct:.2f}')")
    printf '%-26s %12s %12s %8s\n' "$((size / 1024)) KiB, $sessions session(s)" "$direct" "$proxied" "$ratio"
  done
done
grep -c 'event=message ' "$work/serve.log" | xargs printf '(serve logged %s messages)\n'

rss() { awk '/VmRSS/ {print $2}' /proc/"$serve_pid"/status; }
before=$(rss)
python3 - "$serve_port" <<'PY' &
import socket, sys, time
conns = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    conns.append(s)
for s in conns:
    s.recv(100)  # the greeting: each session is up
time.sleep(30)
PY
holder=$!
pids+=($holder)
sleep 8
after=$(rss)
kill "$holder" 2>/dev/null || true
printf '\nresident memory of serve: %s KiB idle, %s KiB with 1000 idle connections: %s KiB per connection\n' \
  "$before" "$after" "$(( (after - before) / 1000 ))"
