#!/usr/bin/env bash
# Runs every suite of clusterchat: builds with gcc, clang and gcc with
# ASan+UBSan, then the unit tests, the integration tests (a real
# redis-server and chatd) and the cluster tests (a real 6-node Redis Cluster
# and chatd) and the stack tests (three chatd behind HAProxy on the cluster)
# for the normal and the sanitizer build. Suites
# speak TAP; the last line sums them all up as "N passed, N failed".
#
# usage: tests/run-all.sh [check]
#   check: the fast loop (make check): the gcc build, the unit and the
#   integration tests only, with the same summary line.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

mode=${1:-all}
case $mode in
all | check) ;;
*) echo "usage: $0 [check]" >&2; exit 2 ;;
esac
logs=build/test-logs
passed=0
failed=0
skipped=0

# count_tap LOG: adds the TAP results of LOG to the totals; prints failures.
count_tap() {
  local log=$1 ok notok skip
  ok=$(grep -E '^ok ' "$log" | grep -cvE '# (SKIP|skip)' || true)
  skip=$(grep -E '^(not )?ok ' "$log" | grep -cE '# (SKIP|skip)' || true)
  notok=$(grep -E '^not ok ' "$log" | grep -cvE '# (SKIP|skip)' || true)
  passed=$(( passed + ok ))
  skipped=$(( skipped + skip ))
  failed=$(( failed + notok ))
  grep -E '^not ok |^# (Error|error|ERROR)|ERROR: |runtime error' "$log" | grep -vE '# (SKIP|skip)' | head -20 || true
}

# suite NAME COMMAND...: runs one TAP-speaking command, logs it, counts it.
# A command that exits non-zero without a failing TAP line counts as a failure.
suite() {
  local name=$1 log
  shift
  log="$logs/$name.log"
  printf '== %s\n' "$name"
  local start=$SECONDS
  "$@" >"$log" 2>&1
  local rc=$?
  printf '   %s: %d s\n' "$name" $(( SECONDS - start ))
  local before=$failed
  count_tap "$log"
  if (( rc != 0 && failed == before )); then
    failed=$(( failed + 1 ))
    echo "not ok - $name exited with status $rc (see $log)"
    tail -15 "$log"
  fi
}

# check NAME COMMAND...: one pass/fail check (used for the builds).
check() {
  local name=$1 log
  shift
  log="$logs/$name.log"
  printf '== %s\n' "$name"
  local start=$SECONDS
  if "$@" >"$log" 2>&1; then
    printf '   %s: %d s\n' "$name" $(( SECONDS - start ))
    passed=$(( passed + 1 ))
    return 0
  fi
  failed=$(( failed + 1 ))
  echo "not ok - $name (see $log)"
  tail -20 "$log"
  return 1
}

# Prints the summary line of everything counted and exits: 0 when nothing failed.
finish() {
  echo
  if (( skipped > 0 )); then
    echo "$passed passed, $failed failed, $skipped skipped"
  else
    echo "$passed passed, $failed failed"
  fi
  (( failed == 0 ))
  exit
}

scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
mkdir -p "$logs"
jobs=$(nproc 2>/dev/null || echo 2)

if check build-gcc make -j"$jobs" all; then
  suite unit tests/run-unit.sh build
  suite integration tests/integration/run.sh build
  [[ $mode == check ]] && finish
  suite cluster tests/cluster/run.sh build
  suite stack tests/stack/run.sh build
  suite topology tests/topology/run.sh build
  suite e2e tests/e2e/run.sh build
  suite ws tests/ws/run.sh build
  suite sdk tests/sdk/run.sh build
  suite webhooks tests/webhooks/run.sh build
  suite contract tests/contract/run.sh build
  suite bench-tools tests/bench/run.sh build
  suite valgrind tests/valgrind/run.sh build
fi
[[ $mode == check ]] && finish
check build-clang make -j"$jobs" CC=clang BUILD=build/clang all || true
check lint make lint || true
if check build-asan make -j"$jobs" SAN=1 BUILD=build/asan all; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  suite unit-asan tests/run-unit.sh build/asan
  CHAT_SANITIZED=1 suite integration-asan tests/integration/run.sh build/asan
  CHAT_SANITIZED=1 suite cluster-asan tests/cluster/run.sh build/asan
  CHAT_SANITIZED=1 suite stack-asan tests/stack/run.sh build/asan
  CHAT_SANITIZED=1 suite ws-asan tests/ws/run.sh build/asan
  CHAT_SANITIZED=1 suite webhooks-asan tests/webhooks/run.sh build/asan
  suite bench-tools-asan tests/bench/run.sh build/asan
fi
# libFuzzer harnesses (clang, ASan+UBSan): every committed input once, then
# each harness fuzzes, two at a time, for FUZZ_SECONDS if set (0 skips it),
# else for its share of FUZZ_BUDGET seconds of wall time (150; at least 20
# each), so that a new harness does not lengthen the whole run.
harnesses=$(find fuzz -maxdepth 1 -name 'fuzz_*.c' | wc -l)
fuzz_seconds=${FUZZ_SECONDS:-$(( ${FUZZ_BUDGET:-150} * 2 / (harnesses > 0 ? harnesses : 1) ))}
(( fuzz_seconds > 0 && fuzz_seconds < 20 )) && fuzz_seconds=20
if check build-fuzz make -j"$jobs" fuzz-build; then
  suite fuzz-replay fuzz/run.sh replay build/fuzz
  (( fuzz_seconds > 0 )) && FUZZ_SECONDS=$fuzz_seconds suite fuzz fuzz/run.sh fuzz build/fuzz
fi
finish
