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
start_chatd "$top/$build/chatd" "$tmp/chatd.log" "$chat_port" "$redis_port" --workers 2 \
  --web-root "$top/web" || exit 1

export CHAT_URL="http://127.0.0.1:$chat_port"
export CHAT_REDIS_PORT=$redis_port
export CHATD_PID=$CHATD_PID
main_pid=$CHATD_PID
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

# --reuseport: two chatd share one port; the kernel spreads connections over
# both, and when one goes the other keeps serving.
shared=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/shared1.log" "$shared" "$redis_port" --reuseport 1 --log-level debug && first=$CHATD_PID
start_chatd "$top/$build/chatd" "$tmp/shared2.log" "$shared" "$redis_port" --reuseport 1 --log-level debug && second=$CHATD_PID
for _ in $(seq 1 40); do curl -s -o /dev/null "http://127.0.0.1:$shared/health"; done
n1=$(grep -c 'path="/health" status=200' "$tmp/shared1.log")
n2=$(grep -c 'path="/health" status=200' "$tmp/shared2.log")
if [[ -n ${first:-} && -n ${second:-} ]] && (( n1 > 0 && n2 > 0 )); then
  echo "ok - two chatd with --reuseport share a port (health checks served: $n1 and $n2)"
else
  echo "not ok - two chatd with --reuseport share a port (served: ${n1:-0} and ${n2:-0})"; rc=1
fi
kill -TERM "${first:-0}" 2>/dev/null; wait "${first:-0}" 2>/dev/null
ok=0
for _ in $(seq 1 20); do curl -sf -o /dev/null "http://127.0.0.1:$shared/health" && ok=$(( ok + 1 )); done
if (( ok == 20 )); then
  echo "ok - the other chatd on the shared port serves alone (20/20)"
else
  echo "not ok - the other chatd on the shared port serves alone ($ok/20)"; rc=1
fi

# --max-streams: streams over the limit get 503 with Retry-After.
capped=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/capped.log" "$capped" "$redis_port" --max-streams 2 && capped_pid=$CHATD_PID
curl -sN "http://127.0.0.1:$capped/message/stream" >/dev/null 2>&1 & s1=$!
curl -sN "http://127.0.0.1:$capped/message/stream" >/dev/null 2>&1 & s2=$!
wait_until 10 bash -c "curl -s http://127.0.0.1:$capped/metrics | grep -q '^chatd_open_streams 2'"
third=$(curl -s -D - -o "$tmp/third.body" "http://127.0.0.1:$capped/message/stream" | tr -d '\r')
if grep -q '^HTTP/1.1 503' <<<"$third" && grep -q '^Retry-After: 1' <<<"$third" &&
   grep -q '"too_many_streams"' "$tmp/third.body"; then
  echo "ok - a stream over --max-streams gets 503 too_many_streams with Retry-After"
else
  echo "not ok - a stream over --max-streams gets 503 too_many_streams with Retry-After"; rc=1
fi
kill "$s1" "$s2" 2>/dev/null; wait "$s1" "$s2" 2>/dev/null
kill -TERM "${capped_pid:-0}" 2>/dev/null; wait "${capped_pid:-0}" 2>/dev/null

# chatd must stop cleanly on SIGTERM (with ASan: no leak report).
tap_clean_exit "$main_pid" "$tmp/chatd.log" "chatd" || rc=1
exit $rc
