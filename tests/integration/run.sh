#!/usr/bin/env bash
# Integration tests: starts a real redis-server and a real chatd (from the
# build folder given as $1) on free loopback ports, runs every integration
# test binary and the CLI test against them, then stops chatd with SIGTERM
# and checks it exits cleanly (under ASan that includes "no leaks").
# Output is TAP.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

tmp=$(mktemp -d)
trap 'stop_started; rm -rf "$tmp"' EXIT

redis_port=$(free_port) || exit 1
start_redis "$tmp/redis" "$redis_port" || exit 1
chat_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/chatd.log" "$chat_port" "$redis_port" --workers 2 || exit 1

export CHAT_URL="http://127.0.0.1:$chat_port"
export CHAT_REDIS_PORT=$redis_port
export CHATD_PID=$CHATD_PID
rc=0
for bin in "$top/$build"/tests/integration/test_*; do
  [[ -x $bin ]] || continue
  echo "# $(basename "$bin")"
  redis-cli -p "$redis_port" flushall >/dev/null
  CMOCKA_MESSAGE_OUTPUT=TAP "$bin" || rc=1
done

if [[ -x $top/tests/cli/test_cli.sh && -x $top/$build/chat ]]; then
  echo "# test_cli.sh"
  "$top/tests/cli/test_cli.sh" "$CHAT_URL" "$top/$build/chat" || rc=1
fi

# chatd must stop cleanly on SIGTERM (with ASan: no leak report).
kill -TERM "$CHATD_PID"
wait "$CHATD_PID"
status=$?
if [[ $status -eq 0 ]] && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$tmp/chatd.log"; then
  echo "ok - chatd exits cleanly on SIGTERM"
else
  echo "not ok - chatd exits cleanly on SIGTERM (status $status)"
  grep -E -A15 'Sanitizer|runtime error' "$tmp/chatd.log" | head -60
  rc=1
fi
exit $rc
