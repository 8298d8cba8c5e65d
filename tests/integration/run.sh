#!/usr/bin/env bash
# Integration tests: starts a real redis-server and a real chatd (from the
# build folder given as $1) on free loopback ports, runs every integration
# test binary and the CLI test against them, then stops chatd with SIGTERM
# and checks it exits cleanly (under ASan that includes "no leaks").
# Output is TAP.
#
# The tests find their fixtures in the environment (set below):
#   CHAT_URL           the main chatd                     (every test, testlib)
#   CHAT_REDIS_PORT    the redis-server of every chatd    (testlib)
#   CHATD_PID          the main chatd's pid               (test_streams)
#   CHAT_LIMITED_URL   a chatd with low abuse limits      (test_limits)
#   CHAT_LIMITED2_URL  another one, sharing the counts    (test_limits)
#   CHAT_URL2          a second chatd with the session cache (test_session_cache,
#                      test_members)
#   CHAT_ADMIN_EMAIL   the main chatd's site administrator (--admins; test_members,
#                      test_matrix)
#   CHAT_API_DOC       docs/API.md, whose authorization matrix test_matrix checks
#   CHAT_NOCACHE_URL   a chatd without the session cache  (test_session_cache)
#   CHAT_SANITIZED     1 under ASan+UBSan (tests/run-all.sh sets it)
#   CHAT_RETENTION_URL a chatd keeping 10 messages per room (test_retention)
#   CHAT_RETENTION_REDIS_PORT  its own redis-server     (test_retention)
#   CHATCTL_BIN, CHATD_LOG  chatctl and the main chatd's log (test_server_api.sh,
#                      which uses CHAT_LIMITED_URL's --limit-api-key 3/60 too)
#   TOKEN_URL, TOKEN_PEM_URL, TOKEN_LIMITED_URL, TOKEN_KEYS  chatd that take
#                      application tokens, and their keys (test_token.sh)
#   CHAT_PRESENCE_URL, CHAT_PRESENCE_VICTIM_URL, CHAT_PRESENCE_VICTIM_PID
#                      chatd with short presence entries, one to kill (test_presence)
#   CHAT_CLUSTER       1 when tests/cluster/run.sh runs test_api and
#                      test_hostile on the cluster; unset here
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

use_scratch standalone

redis_port=$(free_port) || exit 1
start_redis "$tmp/redis" "$redis_port" || exit 1
chat_port=$(free_port) || exit 1
# --request-timeout 2000: test_abuse waits that long for slow clients to be cut;
# --stream-heartbeat 500: test_streams waits for a heartbeat; --stream-buffer 32 MB:
# and lets a stalled reader fall 6 MB behind.
admin_email=site-admin@members.example.com
start_chatd "$top/$build/chatd" "$tmp/chatd.log" "$chat_port" "$redis_port" --workers 2 \
  --admins "$admin_email" --request-timeout 2000 --stream-heartbeat 500 --stream-buffer 33554432 --web-root "$top/web" || exit 1
main_pid=$CHATD_PID

# A second chatd on the same Redis with low abuse limits, for test_limits.
limited_port=$(free_port) || exit 1
CHATD_LIMIT_LOGIN_EMAIL=3/60 CHATD_LIMIT_LOGIN_ADDRESS=6/60 CHATD_LIMIT_REGISTER_ADDRESS=2/60 \
  CHATD_LIMIT_MESSAGES_USER=3/2 CHATD_LIMIT_ROOMS_USER=3/60 CHATD_LIMIT_ROOMS_ADDRESS=5/60 \
  CHATD_MAX_ROOMS_PER_USER=2 CHATD_LIMIT_DM_USER=2/60 CHATD_LIMIT_INVITES_USER=2/60 \
  CHATD_LIMIT_API_KEY=3/60 \
  CHATD_LIMIT_EDITS_USER=2/60 CHATD_LIMIT_REACTIONS_USER=2/60 \
  start_chatd "$top/$build/chatd" "$tmp/limited.log" "$limited_port" "$redis_port" --workers 2 ||
  exit 1
limited_pid=$CHATD_PID
# and a second one like it: the limits are counted in Redis, shared by both.
limited2_port=$(free_port) || exit 1
CHATD_LIMIT_LOGIN_EMAIL=3/60 start_chatd "$top/$build/chatd" "$tmp/limited2.log" "$limited2_port" \
  "$redis_port" --workers 1 || exit 1
limited2_pid=$CHATD_PID
export CHAT_LIMITED_URL="http://127.0.0.1:$limited_port" CHAT_LIMITED2_URL="http://127.0.0.1:$limited2_port"

# For test_session_cache: a second chatd with the session cache, like the
# first (where sessions end), and one without it.
second_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/second.log" "$second_port" "$redis_port" --workers 1 || exit 1
second_pid=$CHATD_PID
nocache_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/nocache.log" "$nocache_port" "$redis_port" --workers 1 \
  --session-cache-ms 0 || exit 1
nocache_pid=$CHATD_PID
export CHAT_URL2="http://127.0.0.1:$second_port" CHAT_NOCACHE_URL="http://127.0.0.1:$nocache_port"
# For test_secure_cookie: a chatd that trusts no proxy on this machine, so
# that the X-Forwarded-Proto the tests send it must be ignored.
untrusted_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/untrusted.log" "$untrusted_port" "$redis_port" --workers 1 \
  --trusted-proxies 192.0.2.1 || exit 1
untrusted_pid=$CHATD_PID
export CHAT_UNTRUSTED_URL="http://127.0.0.1:$untrusted_port"

# For test_retention: a Redis of its own (its memory is filled) whose
# streams have small nodes (4 entries), so that the approximate trim of a
# chatd keeping 10 messages per room removes some after a few dozen.
retention_redis=$(free_port) || exit 1
start_redis "$tmp/retention-redis" "$retention_redis" || exit 1
redis-cli -p "$retention_redis" config set stream-node-max-entries 4 >/dev/null
retention_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/retention.log" "$retention_port" "$retention_redis" \
  --workers 1 --history-max-messages 10 --history-batch 7 || exit 1
retention_pid=$CHATD_PID
export CHAT_RETENTION_URL="http://127.0.0.1:$retention_port" CHAT_RETENTION_REDIS_PORT=$retention_redis

# For test_token.sh: keys made by Node's crypto; a chatd taking tokens signed
# with the secret or the JWKS keys for one issuer and audience, one with an
# RSA public key alone, and one like the first with 3 logins a minute per
# address.
token_keys=$tmp/token-keys
node "$top/tests/integration/jwt_mint.mjs" keys "$token_keys" || exit 1
token_opts=(--jwt-key "$token_keys/secret" --jwt-jwks "$token_keys/jwks.json"
  --jwt-issuer https://app.example --jwt-audience chat)
token_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/token.log" "$token_port" "$redis_port" --workers 1 \
  "${token_opts[@]}" || exit 1
token_pem_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/token-pem.log" "$token_pem_port" "$redis_port" --workers 1 \
  --jwt-key "$token_keys/rsa.pub.pem" || exit 1
token_limited_port=$(free_port) || exit 1
CHATD_LIMIT_LOGIN_ADDRESS=3/60 start_chatd "$top/$build/chatd" "$tmp/token-limited.log" \
  "$token_limited_port" "$redis_port" --workers 1 "${token_opts[@]}" || exit 1
export TOKEN_URL="http://127.0.0.1:$token_port" TOKEN_PEM_URL="http://127.0.0.1:$token_pem_port"
export TOKEN_LIMITED_URL="http://127.0.0.1:$token_limited_port" TOKEN_KEYS=$token_keys

# For test_presence: a chatd whose presence entries live 2 s (and that
# allows 3 typing signals a minute), and one like it that the test kills.
presence_port=$(free_port) || exit 1
CHATD_LIMIT_TYPING_USER=3/60 start_chatd "$top/$build/chatd" "$tmp/presence.log" "$presence_port" \
  "$redis_port" --workers 1 --presence-ttl 2000 || exit 1
victim_port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/presence-victim.log" "$victim_port" "$redis_port" \
  --workers 1 --presence-ttl 2000 || exit 1
export CHAT_PRESENCE_URL="http://127.0.0.1:$presence_port"
export CHAT_PRESENCE_VICTIM_URL="http://127.0.0.1:$victim_port" CHAT_PRESENCE_VICTIM_PID=$CHATD_PID

export CHAT_URL="http://127.0.0.1:$chat_port" CHAT_ADMIN_EMAIL=$admin_email
export CHAT_API_DOC="$top/docs/API.md"
export CHAT_REDIS_PORT=$redis_port
export CHATD_PID=$main_pid
rc=0
for bin in "$top/$build"/tests/integration/test_*; do
  [[ -x $bin ]] || continue
  echo "# $(basename "$bin")"
  redis-cli -p "$redis_port" flushall >/dev/null
  CMOCKA_MESSAGE_OUTPUT=TAP "$bin" || rc=1
done

echo "# test_token.sh"
redis-cli -p "$redis_port" flushall >/dev/null
CHATD_BIN="$top/$build/chatd" CHAT_BIN="$top/$build/chat" "$top/tests/integration/test_token.sh" || rc=1

echo "# test_server_api.sh"
redis-cli -p "$redis_port" flushall >/dev/null
CHATCTL_BIN="$top/$build/chatctl" CHATD_LOG="$tmp/chatd.log" \
  "$top/tests/integration/test_server_api.sh" || rc=1

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

# Per-address caps: with --max-streams-per-address 2, one address (from
# X-Forwarded-For, as behind HAProxy) opens two streams of either kind, the
# third gets 429 too_many_from_address with Retry-After while another address
# is served; --max-long-polls-per-address 1 does the same for long-polls.
# A closed stream gives its slot back.
percap=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/percap.log" "$percap" "$redis_port" \
  --max-streams-per-address 2 --max-long-polls-per-address 1 && percap_pid=$CHATD_PID
create_room "http://127.0.0.1:$percap" other || echo "# the room 'other' was not created"
from_a=(-H 'X-Forwarded-For: 198.51.100.20') from_b=(-H 'X-Forwarded-For: 198.51.100.21')
curl -sN "${from_a[@]}" "http://127.0.0.1:$percap/message/stream" >"$tmp/cap1" 2>&1 & cap1=$!
curl -sN "${from_a[@]}" "http://127.0.0.1:$percap/stream?rooms=lobby,other" >"$tmp/cap2" 2>&1 & cap2=$!
wait_until 10 bash -c "grep -q ': connected' '$tmp/cap1' && grep -q ': connected' '$tmp/cap2'"
third=$(curl -s -D - "${from_a[@]}" "http://127.0.0.1:$percap/room/other/message/stream" | tr -d '\r')
curl -sN "${from_b[@]}" "http://127.0.0.1:$percap/message/stream" >"$tmp/cap3" 2>&1 & cap3=$!
if grep -q '^HTTP/1.1 429' <<<"$third" && grep -q '^Retry-After: 5' <<<"$third" &&
   grep -q '"too_many_from_address"' <<<"$third" && wait_until 10 grep -q ': connected' "$tmp/cap3"; then
  echo "ok - a third stream from one address: 429 too_many_from_address with Retry-After; another address is served"
else
  echo "not ok - a third stream from one address: 429 too_many_from_address with Retry-After; another address is served"; rc=1
fi
kill "$cap1" 2>/dev/null; wait "$cap1" 2>/dev/null
curl -sN "${from_a[@]}" "http://127.0.0.1:$percap/message/stream" >"$tmp/cap4" 2>&1 & cap4=$!
if wait_until 10 grep -q ': connected' "$tmp/cap4"; then
  echo "ok - a closed stream gives its address its slot back"
else
  echo "not ok - a closed stream gives its address its slot back"; rc=1
fi
kill "$cap2" "$cap3" "$cap4" 2>/dev/null; wait "$cap2" "$cap3" "$cap4" 2>/dev/null
curl -s "${from_a[@]}" "http://127.0.0.1:$percap/message/?after=9999999999999-0&wait=10" >/dev/null & poll1=$!
wait_until 10 bash -c "curl -s http://127.0.0.1:$percap/metrics | grep -q '^chatd_long_polls_waiting 1'"
second_poll=$(curl -s -D - "${from_a[@]}" "http://127.0.0.1:$percap/message/?after=9999999999999-0&wait=1" | tr -d '\r')
other_poll=$(curl -s -o /dev/null -w '%{http_code}' "${from_b[@]}" "http://127.0.0.1:$percap/message/?after=9999999999999-0&wait=1")
if grep -q '^HTTP/1.1 429' <<<"$second_poll" && grep -q '"too_many_from_address"' <<<"$second_poll" &&
   [[ $other_poll == 200 ]]; then
  echo "ok - a second long-poll from one address: 429 too_many_from_address; another address is served"
else
  echo "not ok - a second long-poll from one address: 429 too_many_from_address; another address is served ($other_poll)"; rc=1
fi
kill "$poll1" 2>/dev/null; wait "$poll1" 2>/dev/null
kill -TERM "${percap_pid:-0}" 2>/dev/null; wait "${percap_pid:-0}" 2>/dev/null

# --max-connections-per-address counts a peer's connections when it is not a
# trusted proxy (here 127.0.0.1 is not): its fourth connection's request gets
# 429 too_many_from_address, /health is still answered, and once the idle
# connections close the address is served again.
peercap=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/peercap.log" "$peercap" "$redis_port" \
  --max-connections-per-address 3 --trusted-proxies 192.0.2.1 && peercap_pid=$CHATD_PID
peer_fds=()
for _ in 1 2 3; do exec {fd}<>"/dev/tcp/127.0.0.1/$peercap" && peer_fds+=("$fd"); done
peer_full() { grep -q '"too_many_from_address"' <<<"$(curl -s "http://127.0.0.1:$peercap/message/")"; }
if wait_until 10 peer_full &&
   grep -q '^Retry-After: 5' <<<"$(curl -s -D - -o /dev/null "http://127.0.0.1:$peercap/message/")" &&
   [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$peercap/health") == 200 ]]; then
  echo "ok - over --max-connections-per-address: 429 too_many_from_address, /health still 200"
else
  echo "not ok - over --max-connections-per-address: 429 too_many_from_address, /health still 200"; rc=1
fi
for fd in "${peer_fds[@]}"; do exec {fd}>&-; done
if wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$peercap/message/"; then
  echo "ok - closed connections give the address its connections back"
else
  echo "not ok - closed connections give the address its connections back"; rc=1
fi
kill -TERM "${peercap_pid:-0}" 2>/dev/null; wait "${peercap_pid:-0}" 2>/dev/null

# Password hashing is bounded: one worker, --max-hash-queue 8. A burst of 16
# logins: what does not fit gets 503 busy with Retry-After at once, the rest
# 401; logins whose client gives up while they wait are dropped unhashed.
hashq=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/hashq.log" "$hashq" "$redis_port" --workers 1 \
  --max-hash-queue 8 && hashq_pid=$CHATD_PID
login_on() { # PORT N [curl options]: a login for an unknown but plausible e-mail
  local port=$1 n=$2
  shift 2
  curl -s -D - -X PUT -H 'Content-Type: application/json' -H "X-Forwarded-For: 203.0.113.$n" "$@" \
    -d "{\"email\":\"nobody-$n@example.com\",\"password\":\"long enough\"}" \
    "http://127.0.0.1:$port/user/" | tr -d '\r'
}
login_pids=()
for i in $(seq 1 16); do login_on "$hashq" "$i" >"$tmp/hashq.$i" & login_pids+=("$!"); done
wait "${login_pids[@]}"
busy=0 denied=0
for i in $(seq 1 16); do
  if grep -q '^HTTP/1.1 503' "$tmp/hashq.$i" && grep -q '^Retry-After: 1' "$tmp/hashq.$i" &&
     grep -q '"busy"' "$tmp/hashq.$i"; then busy=$(( busy + 1 ))
  elif grep -q '"invalid_credentials"' "$tmp/hashq.$i"; then denied=$(( denied + 1 )); fi
done
if (( busy >= 1 && busy + denied == 16 )); then
  echo "ok - a full hashing queue: 503 busy with Retry-After ($busy), the others 401 ($denied)"
else
  echo "not ok - a full hashing queue: 503 busy with Retry-After ($busy), the others 401 ($denied)"; rc=1
fi
login_pids=()
for i in $(seq 1 8); do login_on "$hashq" "$i" --max-time 0.2 >/dev/null & login_pids+=("$!"); done
wait "${login_pids[@]}"
if wait_until 10 grep -q 'password check dropped: the client is gone' "$tmp/hashq.log" &&
   grep -q '"invalid_credentials"' <<<"$(login_on "$hashq" 99)"; then
  echo "ok - logins whose client is gone are dropped before hashing; the next is served"
else
  echo "not ok - logins whose client is gone are dropped before hashing; the next is served"; rc=1
fi
kill -TERM "${hashq_pid:-0}" 2>/dev/null; wait "${hashq_pid:-0}" 2>/dev/null

# --limit-login-global: logins that need a hash, counted for every chatd
# together; a login that could never be an account needs none.
loginq=$(free_port) || exit 1
CHATD_LIMIT_LOGIN_GLOBAL=2/60 start_chatd "$top/$build/chatd" "$tmp/loginq.log" "$loginq" \
  "$redis_port" && loginq_pid=$CHATD_PID
l1=$(login_on "$loginq" 31) l2=$(login_on "$loginq" 32)
junk=$(curl -s -X PUT -H 'Content-Type: application/json' -H 'X-Forwarded-For: 203.0.113.33' \
  -d '{"email":"x","password":"y"}' "http://127.0.0.1:$loginq/user/")
l3=$(login_on "$loginq" 34)
if grep -q '"invalid_credentials"' <<<"$l1" && grep -q '"invalid_credentials"' <<<"$l2" &&
   grep -q '"invalid_credentials"' <<<"$junk" &&
   grep -q '^HTTP/1.1 429' <<<"$l3" && grep -q '"rate_limited"' <<<"$l3"; then
  echo "ok - over --limit-login-global: 429 rate_limited; a login that needs no hash is not counted"
else
  echo "not ok - over --limit-login-global: 429 rate_limited; a login that needs no hash is not counted"; rc=1
fi
kill -TERM "${loginq_pid:-0}" 2>/dev/null; wait "${loginq_pid:-0}" 2>/dev/null

# --max-connections: beyond it, requests get 503 too_many_connections with
# Retry-After, while /health still answers (the balancer keeps seeing the
# server); once connections close, requests are served again.
capped_conns=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/capped-conns.log" "$capped_conns" "$redis_port" \
  --max-connections 16 && capped_conns_pid=$CHATD_PID
idle_fds=()
for _ in $(seq 1 20); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$capped_conns" && idle_fds+=("$fd")
done
over_limit() {
  grep -q '"too_many_connections"' <<<"$(curl -s "http://127.0.0.1:$capped_conns/message/")"
}
if wait_until 10 over_limit &&
   grep -q '^Retry-After: 1' <<<"$(curl -s -D - -o /dev/null "http://127.0.0.1:$capped_conns/message/")" &&
   [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$capped_conns/health") == 200 ]]; then
  echo "ok - over --max-connections: 503 too_many_connections with Retry-After, /health still 200"
else
  echo "not ok - over --max-connections: 503 too_many_connections with Retry-After, /health still 200"; rc=1
fi
for fd in "${idle_fds[@]}"; do exec {fd}>&-; done
if wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$capped_conns/message/" &&
   curl -s "http://127.0.0.1:$capped_conns/metrics" | grep -E '^chatd_connections_refused_total [1-9]' >/dev/null; then
  echo "ok - below --max-connections again: served, and the refusals are counted"
else
  echo "not ok - below --max-connections again: served, and the refusals are counted"; rc=1
fi
kill -TERM "${capped_conns_pid:-0}" 2>/dev/null; wait "${capped_conns_pid:-0}" 2>/dev/null

# Event streams leave evhttp once started, but still count against
# --max-connections: 16 streams fill it (other requests get 503), and as they
# close, requests are served again and the gauge drops. The log (debug) shows
# that no stream stayed with evhttp.
capped_streams=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/capped-streams.log" "$capped_streams" "$redis_port" \
  --max-connections 16 --log-level debug && capped_streams_pid=$CHATD_PID
stream_pids=()
for i in $(seq 1 16); do
  curl -sN "http://127.0.0.1:$capped_streams/message/stream" >"$tmp/capped-stream.$i" 2>&1 &
  stream_pids+=("$!")
done
# every stream has started before anything else connects: a request made
# while they connect could take the sixteenth place and push a stream out
all_streams_connected() {
  local i
  for i in $(seq 1 16); do grep -q ': connected' "$tmp/capped-stream.$i" || return 1; done
}
over_limit_streams() {
  grep -q '"too_many_connections"' <<<"$(curl -s "http://127.0.0.1:$capped_streams/message/")"
}
if wait_until 10 all_streams_connected && wait_until 10 over_limit_streams &&
   [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$capped_streams/health") == 200 ]]; then
  echo "ok - 16 event streams fill --max-connections 16: 503 too_many_connections, /health still 200"
else
  echo "not ok - 16 event streams fill --max-connections 16: 503 too_many_connections, /health still 200"; rc=1
fi
kill "${stream_pids[@]}" 2>/dev/null; wait "${stream_pids[@]}" 2>/dev/null
if wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$capped_streams/message/" &&
   wait_until 10 bash -c "curl -s http://127.0.0.1:$capped_streams/metrics | grep -q '^chatd_connections 1$'" &&
   ! grep -q 'stream stays with evhttp' "$tmp/capped-streams.log"; then
  echo "ok - closed streams free their connections (gauge back to 1), none stayed with evhttp"
else
  echo "not ok - closed streams free their connections (gauge back to 1), none stayed with evhttp"; rc=1
fi
kill -TERM "${capped_streams_pid:-0}" 2>/dev/null; wait "${capped_streams_pid:-0}" 2>/dev/null

# SIGTERM ends every event stream with "retry: 250" and, over HTTP/1.1, the
# last chunk: curl sees complete replies (exit status 0).
draining=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/draining.log" "$draining" "$redis_port" && draining_pid=$CHATD_PID
create_room "http://127.0.0.1:$draining" other
curl -sN "http://127.0.0.1:$draining/message/stream" >"$tmp/drain1" 2>&1 & d1=$!
curl -sN "http://127.0.0.1:$draining/room/other/message/stream" >"$tmp/drain2" 2>&1 & d2=$!
curl -sN --http1.0 "http://127.0.0.1:$draining/message/stream" >"$tmp/drain3" 2>&1 & d3=$!
wait_until 10 bash -c "grep -q ': connected' '$tmp/drain1' && grep -q ': connected' '$tmp/drain2' &&
  grep -q ': connected' '$tmp/drain3'"
kill -TERM "${draining_pid:-0}"
wait "$d1"; s1=$?
wait "$d2"; s2=$?
wait "$d3"; s3=$?
if (( s1 == 0 && s2 == 0 && s3 == 0 )) && grep -q '^retry: 250$' "$tmp/drain1" &&
   grep -q '^retry: 250$' "$tmp/drain2" && grep -q '^retry: 250$' "$tmp/drain3"; then
  echo "ok - SIGTERM ends event streams with retry: 250 and a complete reply (HTTP/1.1 and 1.0)"
else
  echo "not ok - SIGTERM ends event streams with retry: 250 and a complete reply (curl: $s1 $s2 $s3)"; rc=1
fi
if wait "${draining_pid:-0}" && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$tmp/draining.log"; then
  echo "ok - the chatd that ended its streams exits cleanly"
else
  echo "not ok - the chatd that ended its streams exits cleanly"; rc=1
fi

# A Redis that wants a password (requirepass) and an ACL user: chatd sends
# AUTH on every connection; a wrong password leaves it unhealthy, and says so.
auth_port=$(free_port) || exit 1
mkdir -p "$tmp/auth-redis"
printf '%s\n' "port $auth_port" "bind 127.0.0.1" "protected-mode yes" 'save ""' "appendonly no" \
  "dir $tmp/auth-redis" "daemonize yes" "pidfile $tmp/auth-redis/redis.pid" \
  "logfile $tmp/auth-redis/redis.log" 'requirepass "default secret"' \
  "user chat on >chat-secret ~* &* +@all" >"$tmp/auth-redis/redis.conf"
redis-server "$tmp/auth-redis/redis.conf" && wait_until 10 redis-cli -p "$auth_port" ping &&
  STARTED_PIDS+=("$(cat "$tmp/auth-redis/redis.pid")")
register_on() {
  curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"email\":\"auth-$1@example.com\",\"password\":\"long enough\"}" "http://127.0.0.1:$1/user/"
}
p1=$(free_port) p2=$(free_port) p3=$(free_port)
CHATD_REDIS_PASSWORD="default secret" start_chatd "$top/$build/chatd" "$tmp/auth1.log" "$p1" "$auth_port" &&
  auth1=$CHATD_PID
start_chatd "$top/$build/chatd" "$tmp/auth2.log" "$p2" "$auth_port" --redis-user chat --redis-password chat-secret &&
  auth2=$CHATD_PID
if [[ -n ${auth1:-} && -n ${auth2:-} && $(register_on "$p1") == 201 && $(register_on "$p2") == 201 ]]; then
  echo "ok - chatd authenticates to Redis with a password and with an ACL user"
else
  echo "not ok - chatd authenticates to Redis with a password and with an ACL user"; rc=1
fi
# shellcheck disable=SC2046  # one word per assignment
env $(unlimited_env) "$top/$build/chatd" --bind 127.0.0.1 --port "$p3" --redis "127.0.0.1:$auth_port" \
  --redis-password not-the-secret --redis-timeout 500 >"$tmp/auth3.log" 2>&1 &
auth3=$!
STARTED_PIDS+=("$auth3")
if wait_until 10 grep -q 'redis AUTH refused' "$tmp/auth3.log" &&
   [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p3/health") == 503 ]] &&
   ! grep -q 'not-the-secret' "$tmp/auth3.log"; then
  echo "ok - a wrong Redis password: /health 503, the log says AUTH refused and never shows the password"
else
  echo "not ok - a wrong Redis password: /health 503, the log says AUTH refused and never shows the password"; rc=1
fi
for pid in "${auth1:-}" "${auth2:-}" "$auth3"; do [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null; done

# chatd must stop cleanly on SIGTERM (with ASan: no leak report).
tap_clean_exit "$main_pid" "$tmp/chatd.log" "chatd" || rc=1
tap_clean_exit "$limited_pid" "$tmp/limited.log" "chatd with low limits" || rc=1
tap_clean_exit "$limited2_pid" "$tmp/limited2.log" "the second chatd with low limits" || rc=1
tap_clean_exit "$second_pid" "$tmp/second.log" "the second chatd with the session cache" || rc=1
tap_clean_exit "$nocache_pid" "$tmp/nocache.log" "chatd without the session cache" || rc=1
tap_clean_exit "$untrusted_pid" "$tmp/untrusted.log" "chatd that trusts no local proxy" || rc=1
tap_clean_exit "$retention_pid" "$tmp/retention.log" "chatd with a retention and a full Redis" || rc=1
exit $rc
