#!/usr/bin/env bash
# Tests of the JavaScript client, web/clusterchat.js, in Node: first
# unit.test.mjs (no server: the stream parser, positions, retry rules,
# fakes for fetch and WebSocket) and the type check of clusterchat.d.ts
# (tsc --noEmit on usage.ts), then client.test.mjs, sends.test.mjs (sends
# over the stream's WebSocket) and resume.test.mjs
# against a real redis-server and chatd started here on free loopback ports
# (chatd with an HS256 key for the token exchange); they start more chatd of
# their own on the same Redis (to kill -9 one and start it again, or with a
# message limit). Last, lb.test.mjs through HAProxy (deploy/haproxy.cfg) in
# front of three chatd, two of which it kills with SIGKILL. npm's ws (the WebSocket of Node) and typescript are pinned
# in package-lock.json and installed with `npm ci` when node_modules lacks
# them or is older than the lockfile. SDK_FILES="client" runs only some of
# the server files. Output is TAP. Build folder: $1 (default build).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
dir=$top/tests/sdk
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
# shellcheck disable=SC2046  # one word per assignment
export $(unlimited_env)

use_scratch standalone

if ! command -v node >/dev/null; then
  echo "not ok - node is installed (scripts/deps.sh installs it)"; exit 1
fi
if [[ ! -f $dir/node_modules/ws/package.json || ! -f $dir/node_modules/typescript/package.json ||
      $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
  if ! (cd "$dir" && npm ci --no-audit --no-fund) >"$tmp/npm.log" 2>&1; then
    echo "not ok - npm ci installs ws and typescript"; sed 's/^/# /' "$tmp/npm.log" | tail -20; exit 1
  fi
fi

rc=0
echo "# unit.test.mjs"
timeout 120 node --test-reporter=tap "$dir/unit.test.mjs" || rc=1

if "$dir/node_modules/.bin/tsc" --noEmit -p "$dir/tsconfig.json" >"$tmp/tsc.log" 2>&1; then
  echo "ok - clusterchat.d.ts type-checks a typed use of the client (tsc --noEmit)"
else
  echo "not ok - clusterchat.d.ts type-checks a typed use of the client (tsc --noEmit)"
  sed 's/^/# /' "$tmp/tsc.log" | head -30; rc=1
fi

redis_port=$(free_port) || exit 1
start_redis "$tmp/redis" "$redis_port" || exit 1
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/jwt-secret"
chat_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/chatd.log" "$chat_port" "$redis_port" --workers 2 \
  --jwt-key "$tmp/jwt-secret" --web-root "$top/web" || exit 1

# Two more chatd on the same Redis, and HAProxy with deploy/haproxy.cfg (plain
# HTTP) in front of the three, as make run has it, for lb.test.mjs.
urls=("http://127.0.0.1:$chat_port") pids=("$CHATD_PID")
for i in 2 3; do
  port=$(free_port) || exit 1
  start_chatd "$top/$build/chatd" "$tmp/chatd$i.log" "$port" "$redis_port" --workers 1 || exit 1
  urls+=("http://127.0.0.1:$port") pids+=("$CHATD_PID")
done
lb_port=$(free_port) stats_port=$(free_port)
# shellcheck disable=SC2046  # one word per assignment
env -u CHAT_LB_TLS_CERT $(unlimited_lb_env) CHAT_LB_BIND="127.0.0.1:$lb_port" \
  CHAT_LB_STATS="127.0.0.1:$stats_port" CHATD1="${urls[0]#http://}" CHATD2="${urls[1]#http://}" \
  CHATD3="${urls[2]#http://}" haproxy -db -f "$top/deploy/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
STARTED_PIDS+=("$!")
# shellcheck disable=SC2317  # called by wait_until
lb_sees_three() {
  [[ $(curl -s "http://127.0.0.1:$stats_port/stats;csv" | awk -F, '$1 == "chatd" && $18 == "UP"' | wc -l) -ge 3 ]]
}
if ! wait_until 30 lb_sees_three; then
  echo "not ok - HAProxy sees 3 chatd"; sed 's/^/# /' "$tmp/haproxy.log" | tail -20; exit 1
fi
export SDK_LB_URL="http://127.0.0.1:$lb_port" SDK_CHATD_URLS="${urls[*]}" SDK_CHATD_PIDS="${pids[*]}"

export SDK_URL="http://127.0.0.1:$chat_port" SDK_CHATD="$top/$build/chatd" SDK_TMP=$tmp
export SDK_REDIS_PORT=$redis_port SDK_REDIS_PID SDK_JWT_SECRET_FILE=$tmp/jwt-secret
SDK_REDIS_PID=$(cat "$tmp/redis/redis.pid")
for file in ${SDK_FILES:-client sends resume lb}; do
  echo "# $file.test.mjs"
  timeout 300 node --test-reporter=tap "$dir/$file.test.mjs" || rc=1
done
if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$tmp"/*.log; then
  echo "not ok - no sanitizer reports in the chatd logs"; rc=1
fi
exit $rc
