#!/usr/bin/env bash
# The main job on an embedded default configuration: install, build, then run the filter itself,
# `mailproxy serve`, on 127.0.0.1:2525 with one entry (example.com) that delivers to a maildir. It runs in
# the foreground until Ctrl-C (SIGTERM/SIGINT: it finishes what is in flight and exits 0). Everything lives
# in a temporary directory that is removed at the end. MAILPROXY_DEMO_PORT picks another port.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

demo=$(mktemp -d /tmp/mailproxy-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
port=${MAILPROXY_DEMO_PORT:-2525}
mp=build/cli/mailproxy

"$mp" --store "$demo/entries" entry create example.com --target "maildir:$demo/Maildir" \
  --admin postmaster@example.com >/dev/null
# virus signatures for the demo (this system has no ClamAV database): ClamAV's test file and EICAR
python3 -c 'import sys; sys.path.insert(0, "tests/integration"); import filter_samples as s; s.write_signatures(sys.argv[1])' \
  "$demo/clamav-db"
cat > "$demo/mailproxy.conf" <<CONF
store = "$demo/entries"
[serve]
listen = ["127.0.0.1:$port"]
state-dir = "$demo/state"
hostname = "mailproxy.demo"
max-message-size = 10485760
clamav-db = "$demo/clamav-db"
CONF

cat <<TEXT
mailproxy demo in $demo (removed at the end):
  entry example.com -> maildir:$demo/Maildir
  configuration $demo/mailproxy.conf
Send a test mail from another terminal, then look at the maildir:
  swaks --server 127.0.0.1:$port --to user@example.com --from you@sender.example
  ls $demo/Maildir/new/
ClamAV's test virus, attached, arrives wrapped (example.com is on MEDIUM: ACCEPT, wrapped):
  swaks --server 127.0.0.1:$port --to user@example.com --from you@sender.example \\
    --attach /usr/share/clamav-testfiles/clam.exe
A domain without an entry is refused (not an open relay):
  swaks --server 127.0.0.1:$port --to user@elsewhere.example --from you@sender.example
Stop with Ctrl-C.

TEXT
exec_status=0
"$mp" --config "$demo/mailproxy.conf" serve || exec_status=$?
exit "$exec_status"
