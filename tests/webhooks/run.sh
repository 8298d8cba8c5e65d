#!/usr/bin/env bash
# Webhook tests: a real redis-server on a free loopback port, then
# webhooks.test.mjs, which starts its own chatd (two, sharing that Redis,
# so that one can be killed) and a real HTTP receiver (Node's http) that
# verifies each delivery's signature and answers as each test tells it.
# Output is TAP. Build folder: $1 (default build).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

use_scratch standalone

if ! command -v node >/dev/null; then
  echo "not ok - node is installed (scripts/deps.sh installs it)"; exit 1
fi
redis_port=$(free_port) || exit 1
start_redis "$tmp/redis" "$redis_port" || exit 1

ports=()
for _ in 1 2 3 4; do ports+=("$(free_port)") || exit 1; done
# shellcheck disable=SC2046  # one word per assignment
export $(unlimited_env)
export WH_CHATD="$top/$build/chatd" WH_REDIS_PORT=$redis_port WH_TMP=$tmp WH_PORTS="${ports[*]}"
node --test-reporter=tap "$top/tests/webhooks/webhooks.test.mjs"
rc=$?
if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$tmp"/chatd-*.log 2>/dev/null; then
  echo "not ok - no sanitizer reports in the chatd logs"; rc=1
fi
exit $rc
