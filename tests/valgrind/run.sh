#!/usr/bin/env bash
# chatd under valgrind (memcheck): starts a real redis-server and chatd (from
# the build folder given as $1, a normal build) wrapped in valgrind, drives
# registration, login, sends (one replayed), history, scroll-back, long-poll,
# event streams (live and resumed), rooms, error replies and logout with
# curl, stops chatd with SIGTERM while a stream is still open and checks
# that valgrind saw no invalid access and no definite or indirect leak.
# Argon2id is slow under valgrind, so only two passwords are hashed (plus
# chatd's own dummy hash at start-up).
# Output is TAP.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

use_scratch standalone

vlog=$tmp/valgrind.log
export CHATD_WRAPPER="valgrind --error-exitcode=99 --leak-check=full
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
  --track-fds=no --num-callers=30 --log-file=$vlog"
export CHATD_START_TIMEOUT=120

redis_port=$(free_port) || exit 1
start_redis "$tmp/redis" "$redis_port" || exit 1
chat_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/chatd.log" "$chat_port" "$redis_port" --workers 2 || {
  echo "not ok 1 - chatd starts under valgrind"; tail -20 "$vlog"; exit 1; }
echo "ok 1 - chatd starts under valgrind"
unset CHATD_WRAPPER

url="http://127.0.0.1:$chat_port"
rc=0
n=1

# check DESCRIPTION COMMAND...: one TAP line for the outcome of COMMAND.
check() {
  local desc=$1
  shift
  n=$(( n + 1 ))
  if "$@"; then
    echo "ok $n - $desc"
  else
    echo "not ok $n - $desc"
    rc=1
  fi
}

# api METHOD PATH [BODY] [curl options]: the status code, the body in $tmp/body.
api() {
  local method=$1 path=$2 body=${3:-}
  shift 3
  curl -s --max-time 120 -o "$tmp/body" -w '%{http_code}' -X "$method" \
    -H 'Content-Type: application/json' ${body:+-d "$body"} "$@" "$url$path"
}
has() { grep -q -- "$1" "$tmp/body"; }
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$tmp/body" | head -1; }

email="valgrind-$$-$RANDOM@example.com"
code=$(api POST /user/ "{\"email\":\"$email\",\"password\":\"correct horse\",\"name\":\"Val\"}")
token=$(json_field authKey)
check "register: 201 with a session token" test "$code" = 201 -a -n "$token"
code=$(api PUT /user/ "{\"email\":\"$email\",\"password\":\"correct horse\"}" -c "$tmp/jar")
check "login: 200 and a session cookie" test "$code" = 200 -a -s "$tmp/jar"
auth=(-H "Authorization: Bearer $token")
code=$(api GET /user/ "" -b "$tmp/jar")
check "the cookie session reads the user" test "$code" = 200

# a live subscriber from the start, left open through the shutdown
curl -sN --max-time 300 "$url/message/stream" >"$tmp/live" 2>/dev/null &
live=$!
wait_until 60 grep -q connected "$tmp/live"
code=$(api POST /message/ '{"text":"first"}' "${auth[@]}")
first=$(json_field id)
check "send: 201 with an id" test "$code" = 201 -a -n "$first"
code=$(api POST /message/ '{"text":"second, ünïcode","clientMsgId":"v-1"}' "${auth[@]}")
second=$(json_field id)
code2=$(api POST /message/ '{"text":"second, ünïcode","clientMsgId":"v-1"}' "${auth[@]}" -D "$tmp/headers")
check "an idempotent resend is replayed" eval 'test "$code" = 201 -a "$code2" = 201 && grep -qi "Idempotent-Replayed: true" "$tmp/headers"'
check "the live stream gets both messages" wait_until 60 grep -q 'second' "$tmp/live"
code=$(api GET /message/ "")
check "history: both messages in order" eval 'test "$code" = 200 && grep -q "first.*second" "$tmp/body"'
code=$(api GET "/message/?before=$second&limit=1" "")
check "scroll-back before the second: the first" eval 'test "$code" = 200 && has first && ! has second'
code=$(api GET "/message/?after=$first&wait=1" "")
check "long-poll after the first: the second at once" eval 'test "$code" = 200 && has second'
curl -sN --max-time 10 "$url/message/stream?after=$first" >"$tmp/replay" 2>/dev/null &
replay=$!
check "a stream resumed after the first replays the second" wait_until 60 grep -q second "$tmp/replay"
kill "$replay" 2>/dev/null; wait "$replay" 2>/dev/null
code=$(api POST /room/ '{"name":"valgrind"}' "${auth[@]}")
code2=$(api POST /room/valgrind/message/ '{"text":"in a room"}' "${auth[@]}")
check "a room is created and takes a message" test "$code" = 201 -a "$code2" = 201
code=$(api GET /room/ "")
check "the room list has it" eval 'test "$code" = 200 && has valgrind'
code=$(api POST /user/ '{"email":')
check "a broken body is 400 bad_json" eval 'test "$code" = 400 && has bad_json'
code=$(api GET "/message/?after=x&wait=99" "")
check "a bad query is 400 invalid_query" eval 'test "$code" = 400 && has invalid_query'
code=$(api POST /message/ '{"text":"x"}')
check "a send without a session is 401" test "$code" = 401
code=$(api DELETE /user/session "" "${auth[@]}")
check "logout: 204" test "$code" = 204

tap_clean_exit "$CHATD_PID" "$tmp/chatd.log" "chatd under valgrind" || rc=1
kill "$live" 2>/dev/null; wait "$live" 2>/dev/null
if grep -q 'ERROR SUMMARY: 0 errors' "$vlog"; then
  echo "ok - valgrind: no invalid access, no definite or indirect leak"
else
  echo "not ok - valgrind: no invalid access, no definite or indirect leak"
  grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|[0-9,]+ bytes in|   (at|by) )' "$vlog" | head -60 | sed 's/^/# /'
  rc=1
fi
grep -E 'in use at exit|definitely lost|indirectly lost|possibly lost|still reachable|All heap blocks|ERROR SUMMARY' "$vlog" | sed 's/^==[0-9]*==/#/'
exit $rc
