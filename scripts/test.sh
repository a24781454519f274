#!/usr/bin/env bash
# The whole test suite: install, build, check formatting, run every test (unit + integration), then
# build with AddressSanitizer + UndefinedBehaviorSanitizer and run every test again, then run the libFuzzer
# targets for a bounded time (MAILPROXY_FUZZ_SECONDS, default 60 each). Prints the totals.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

werror=OFF
[ -n "${CI:-}" ] && werror=ON

echo "== build (RelWithDebInfo, -Werror=$werror)"
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILPROXY_WERROR=$werror
echo "== clang-format check"
cmake --build build --target check-format

passed=0
failed=0
run_ctest() {  # run_ctest DIR: runs the tree's tests, adds its counts to the totals
  local log
  log=$(mktemp)
  local rc=0
  (cd "$1" && ctest --output-on-failure -j2 --timeout 600) 2>&1 | tee "$log" || rc=$?
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1 || true)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "test.sh: ctest in $1 printed no totals" >&2
    failed=$((failed + 1))
    return
  fi
  local f total
  f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* tests failed out of ([0-9]+).*/\1/' <<<"$line")
  passed=$((passed + total - f))
  failed=$((failed + f))
  [ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || failed=$((failed + 1))
}

echo "== tests"
run_ctest build

echo "== build with sanitizers (address;undefined)"
bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug "-DMAILPROXY_SANITIZE=address;undefined" \
  -DMAILPROXY_WERROR=$werror
echo "== tests with sanitizers"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build-asan

fuzz_seconds=${MAILPROXY_FUZZ_SECONDS:-60}
echo "== fuzz targets (clang, libFuzzer with ASan/UBSan, ${fuzz_seconds} s each)"
cmake -S tests/fuzz -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DMAILPROXY_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build build-fuzz -j2
run_ctest build-fuzz

echo
echo "mailproxy tests (plain and sanitized builds, fuzz targets):"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
