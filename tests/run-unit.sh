#!/usr/bin/env bash
# Runs every unit test binary of a build folder (default build):
# build/tests/unit/test_*, each a cmocka suite. Output is TAP; the exit
# status is 1 when any of them failed. `make unit` and tests/run-all.sh
# use it.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
cd "$top" || exit 1

rc=0
found=0
for bin in "$build"/tests/unit/test_*; do
  [[ -x $bin ]] || continue
  found=1
  echo "# $bin"
  CMOCKA_MESSAGE_OUTPUT=TAP "$bin" || rc=1
done
if (( !found )); then
  echo "not ok - no unit test binaries in $build/tests/unit (run make first)"
  rc=1
fi
exit $rc
