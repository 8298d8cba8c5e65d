#!/usr/bin/env bash
# Contract tests of docs/openapi.yaml (see README.md here). First the
# document: a real OpenAPI 3.1 validator (npm, pinned in package-lock.json,
# installed with `npm ci` when node_modules lacks it or is older than the
# lockfile) accepts it, it names every route of src/routes.c and every error
# code of src/errors.h (document.test.mjs). Then real answers: a redis-server,
# three chatd (the second for test_members' other chatd, the third without
# the session cache for test_accounts) and proxy.mjs in front of each, which
# checks every answer against the document while integration tests
# (test_api, test_accounts, test_members, test_matrix, test_multi_stream,
# test_web, test_message_edits, test_reactions, test_read_markers, test_presence; CONTRACT_TESTS
# names others) and the server API's test_server_api.sh (with a fourth chatd for its rate limit)
# drive chatd through it; any
# undocumented path, method, status, header or body fails the suite.
# ws.test.mjs adds the GET /ws upgrade and its refusals, probes.test.mjs the
# operations those tests leave out.
# Output is TAP. Build folder: $1 (default build).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
dir=$top/tests/contract
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

use_scratch standalone

if ! command -v node >/dev/null; then
  echo "not ok - node is installed (scripts/deps.sh installs it)"; exit 1
fi
if [[ ! -f $dir/node_modules/@apidevtools/swagger-parser/package.json ||
      $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
  if ! (cd "$dir" && npm ci --no-audit --no-fund) >"$tmp/npm.log" 2>&1; then
    echo "not ok - npm ci installs the validators"; sed 's/^/# /' "$tmp/npm.log" | tail -20; exit 1
  fi
fi

rc=0
echo "# document.test.mjs"
node --test-reporter=tap "$dir/document.test.mjs" || rc=1

redis_port=$(free_port) || exit 1
start_redis "$tmp/redis" "$redis_port" || exit 1
admin_email=site-admin@contract.example.com
chat_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/chatd.log" "$chat_port" "$redis_port" --workers 2 \
  --admins "$admin_email" --web-root "$top/web" || exit 1
second_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/second.log" "$second_port" "$redis_port" --workers 1 || exit 1
nocache_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/nocache.log" "$nocache_port" "$redis_port" --workers 1 \
  --session-cache-ms 0 || exit 1
# the server API's test (test_server_api.sh) counts calls per key on a chatd of its own
api_limited_port=$(free_port) || exit 1
CHATD_LIMIT_API_KEY=3/60 start_chatd "$top/$build/chatd" "$tmp/api-limited.log" "$api_limited_port" \
  "$redis_port" --workers 1 || exit 1

proxy_port=$(free_port) || exit 1
proxy2_port=$(free_port) || exit 1
proxy3_port=$(free_port) || exit 1
proxy4_port=$(free_port) || exit 1
node "$dir/proxy.mjs" "$tmp/report.json" "$proxy_port=http://127.0.0.1:$chat_port" \
  "$proxy2_port=http://127.0.0.1:$second_port" "$proxy3_port=http://127.0.0.1:$nocache_port" \
  "$proxy4_port=http://127.0.0.1:$api_limited_port" \
  >"$tmp/proxy.log" 2>&1 &
proxy_pid=$!
STARTED_PIDS+=("$proxy_pid")
if ! wait_until 15 grep -qx ready "$tmp/proxy.log"; then
  echo "not ok - the checking proxy starts"; sed 's/^/# /' "$tmp/proxy.log"; exit 1
fi

export CHAT_URL="http://127.0.0.1:$proxy_port" CHAT_URL2="http://127.0.0.1:$proxy2_port"
export CHAT_NOCACHE_URL="http://127.0.0.1:$proxy3_port"
export CHAT_ADMIN_EMAIL=$admin_email CHAT_REDIS_PORT=$redis_port CHAT_API_DOC=$top/docs/API.md
for name in ${CONTRACT_TESTS:-test_api test_accounts test_members test_matrix test_multi_stream test_web test_message_edits test_reactions test_read_markers test_presence}; do
  echo "# $name through the checking proxy"
  CMOCKA_MESSAGE_OUTPUT=TAP "$top/$build/tests/integration/$name" || rc=1
done

echo "# test_server_api.sh through the checking proxy"
CHAT_LIMITED_URL="http://127.0.0.1:$proxy4_port" CHATCTL_BIN="$top/$build/chatctl" \
  CHATD_LOG="$tmp/chatd.log" "$top/tests/integration/test_server_api.sh" || rc=1

for file in ws probes; do
  echo "# $file.test.mjs through the checking proxy"
  CONTRACT_URL=$CHAT_URL node --test-reporter=tap "$dir/$file.test.mjs" || rc=1
done

kill -TERM "$proxy_pid"
wait "$proxy_pid" 2>/dev/null
node "$dir/verdict.mjs" "$tmp/report.json" || rc=1
exit $rc
