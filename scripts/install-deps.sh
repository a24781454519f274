#!/usr/bin/env bash
# Installs every Debian package mailproxy needs to build, test and document itself.
# Idempotent: when everything is installed already it changes nothing. Run as root (or with sudo).
set -euo pipefail

packages=(
  # build
  g++ cmake ninja-build pkg-config clang-format
  # libraries (DESIGN §7)
  libcli11-dev nlohmann-json3-dev libexpected-dev libfmt-dev libidn2-dev libcurl4-openssl-dev libldns-dev
  libasio-dev libssl-dev
  # the filter: libclamav, GMime, libmagic, libarchive
  libclamav-dev libgmime-3.0-dev libmagic-dev libarchive-dev libsqlite3-dev
  # tests and their real peers
  doctest-dev python3 openssl util-linux bash zsh fish mandoc
  # zone rewrite and check: patch applies our diffs, NSD serves zones for live checks
  patch nsd
  # serve: swaks as the client, postfix's smtp-sink as the target
  swaks postfix
  # the filter's tests: ClamAV's test files and clamd
  clamav-testfiles clamav-daemon
  # spam scoring: SpamAssassin (spamd, spamc, its rules) and rspamd, offline with local rules
  spamassassin spamd spamc rspamd
  # the libFuzzer targets (tests/fuzz)
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# postfix is installed for smtp-sink only: no mail system is configured or started
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
