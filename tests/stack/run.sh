#!/usr/bin/env bash
# Stack tests: the whole system on free loopback ports — a 6-node Redis
# Cluster, three chatd and HAProxy with deploy/haproxy.cfg — plus a second,
# small HAProxy + chatd + standalone Redis whose Redis the test takes away.
# The first HAProxy serves HTTPS with HTTP/2 as well, with a self-signed
# certificate made by scripts/tls-cert. Runs tests/stack/test_* against them
# (build folder $1): test_https and test_realtime first (the latter kills the
# fourth chatd), then test_stack (it kills the first and drains the second).
# Output is TAP.
#
# The tests find their fixtures in the environment (set below):
#   CHAT_URL                    HAProxy in front of chatd 1-3 (testlib)
#   CHAT_TLS_URL                its HTTPS port (test_https)
#   CHAT_CACERT                 the certificate that port presents
#   CHAT_WRONG_CACERT           another self-signed certificate (must fail)
#   CHATD1_URL .. CHATD3_URL    the three chatd behind it
#   CHATD1_PID .. CHATD3_PID    their pids (test_stack kills and drains)
#   CHATD4_URL, CHATD4_PID      a fourth chatd, not behind HAProxy
#                               (test_realtime's subscribers)
#   LOSE_STATS_URL              the small second HAProxy's stats CSV
#   LOSE_REDIS_PORT             the Redis its chatd loses (test_stack)
#   LOSE_REDIS_START            a command that starts that Redis again
#   CHAT_SANITIZED              1 under ASan+UBSan (tests/run-all.sh sets it)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
# All clients come from one address: HAProxy's per-client limits off.
# shellcheck disable=SC2046  # one word per assignment
export $(unlimited_lb_env)

use_scratch cluster

# start_haproxy NAME BIND STATS APP1 APP2 APP3 [TLS_BIND PEM]: HAProxy in the
# foreground (-db) in the background, with the shipped config; with TLS_BIND,
# HTTPS there too.
start_haproxy() {
  local name=$1 tls_env=()
  [[ -n ${7:-} ]] && tls_env=(CHAT_LB_TLS_BIND="$7" CHAT_LB_TLS_CERT="$8")
  env "${tls_env[@]}" CHAT_LB_BIND="$2" CHAT_LB_STATS="$3" CHATD1="$4" CHATD2="$5" CHATD3="$6" \
    haproxy -db -f "$top/deploy/haproxy.cfg" >"$tmp/$name.log" 2>&1 &
  STARTED_PIDS+=("$!")
}

# servers_up STATS_PORT N: HAProxy's stats show N servers UP.
servers_up() {
  [[ $(curl -s "http://127.0.0.1:$1/stats;csv" | awk -F, '$1 == "chatd" && $18 == "UP"' | wc -l) -ge $2 ]]
}

export CLUSTER_PORT_BASE
CLUSTER_PORT_BASE=$(free_cluster_port_base) || { echo "not ok - free ports for the cluster"; exit 1; }
if ! "$top/scripts/cluster" up >"$tmp/cluster-up.log" 2>&1; then
  echo "not ok - the local cluster came up"; cat "$tmp/cluster-up.log"; exit 1
fi

apps=() pids=()
for i in 1 2 3; do
  port=$(free_port) || exit 1
  start_chatd "$top/$build/chatd" "$tmp/chatd$i.log" "$port" "$CLUSTER_PORT_BASE" \
    --drain-delay 3000 --grace 15000 --redis-timeout 5000 || exit 1
  apps+=("127.0.0.1:$port") pids+=("$CHATD_PID")
done
# A fourth chatd, not behind HAProxy, for the real-time tests' subscribers:
# a small --stream-buffer so that a subscriber that stops reading is cut soon.
port=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/chatd4.log" "$port" "$CLUSTER_PORT_BASE" \
  --stream-buffer 65536 --redis-timeout 5000 || exit 1
export CHATD4_URL="http://127.0.0.1:$port" CHATD4_PID=$CHATD_PID
lb=$(free_port) stats=$(free_port) tls_port=$(free_port)
pem=$("$top/scripts/tls-cert" "$tmp/tls" 2>/dev/null) || { echo "not ok - a certificate for HTTPS"; exit 1; }
start_haproxy haproxy "127.0.0.1:$lb" "127.0.0.1:$stats" "${apps[@]}" "127.0.0.1:$tls_port" "$pem"
if ! wait_until 30 servers_up "$stats" 3; then
  echo "not ok - HAProxy sees 3 chatd"
  curl -s "http://127.0.0.1:$stats/stats;csv" | cut -d, -f1,2,18,37 | sed 's/^/# /'
  tail -20 "$tmp/haproxy.log"
  for i in 1 2 3; do tail -5 "$tmp/chatd$i.log"; done
  exit 1
fi
echo "ok - HAProxy on :$lb sees three chatd on the cluster"

# The small second system: its chatd loses its own Redis during the test.
lose_redis=$(free_port) || exit 1
start_redis "$tmp/lose-redis" "$lose_redis" || exit 1
lose_app=$(free_port) || exit 1
start_chatd "$top/$build/chatd" "$tmp/lose-chatd.log" "$lose_app" "$lose_redis" || exit 1
lose_lb=$(free_port) lose_stats=$(free_port)
start_haproxy haproxy-lose "127.0.0.1:$lose_lb" "127.0.0.1:$lose_stats" \
  "127.0.0.1:$lose_app" "127.0.0.1:$lose_app" "127.0.0.1:$lose_app"

export CHAT_URL="http://127.0.0.1:$lb"
# The certificate names localhost (and 127.0.0.1).
export CHAT_TLS_URL="https://localhost:$tls_port" CHAT_CACERT=$tmp/tls/localhost.crt
# A certificate that did not sign the server's, for the wrong-CA cases.
"$top/scripts/tls-cert" "$tmp/other-ca" >/dev/null 2>&1
export CHAT_WRONG_CACERT=$tmp/other-ca/localhost.crt
export CHATD1_URL="http://${apps[0]}" CHATD2_URL="http://${apps[1]}" CHATD3_URL="http://${apps[2]}"
export CHATD1_PID=${pids[0]} CHATD2_PID=${pids[1]} CHATD3_PID=${pids[2]}
export LOSE_STATS_URL="http://127.0.0.1:$lose_stats/stats;csv" LOSE_REDIS_PORT=$lose_redis
export LOSE_REDIS_START="redis-server --port $lose_redis --bind 127.0.0.1 --save '' --appendonly no --dir '$tmp/lose-redis' --daemonize yes --logfile '$tmp/lose-redis/redis.log' --pidfile '$tmp/lose-redis/redis2.pid'"
rc=0

# 1,000 concurrent subscribers over two chatd get a burst of 50 messages sent
# through a third: every one of them all 50, in order (bench/sse_load checks).
fanout() {
  local cookie=$tmp/fanout.cookie i
  "$top/$build/sse_load" --url "http://${apps[2]}/message/stream" --subscribers 500 \
    --messages 50 --timeout 60 >"$tmp/fanout1.out" 2>&1 & local l1=$!
  "$top/$build/sse_load" --url "$CHATD4_URL/message/stream" --subscribers 500 \
    --messages 50 --timeout 60 >"$tmp/fanout2.out" 2>&1 & local l2=$!
  wait_until 60 grep -q '^ready' "$tmp/fanout1.out" || return 1
  wait_until 60 grep -q '^ready' "$tmp/fanout2.out" || return 1
  curl -s -c "$cookie" -H 'Content-Type: application/json' -X POST \
    -d "{\"email\":\"fanout-$$@example.com\",\"password\":\"fanout password\"}" \
    "http://${apps[0]}/user/" >/dev/null || return 1
  for i in $(seq 1 50); do
    curl -s -b "$cookie" -H 'Content-Type: application/json' -X POST \
      -d "{\"text\":\"burst $i\"}" "http://${apps[0]}/message/" >/dev/null || return 1
  done
  wait "$l1" && wait "$l2"
}
if fanout; then
  echo "ok - 1000 subscribers on two chatd each got all 50 messages of a burst, in order"
else
  echo "not ok - 1000 subscribers on two chatd each got all 50 messages of a burst, in order"
  tail -5 "$tmp"/fanout*.out; rc=1
fi
grep -h '^latency_ms' "$tmp"/fanout*.out | sed 's/^/# fan-out /'

# HAProxy's per-client limits (deploy/haproxy.cfg) as shipped but for the
# numbers: with CHAT_LB_CLIENT_CONNS=2, a client address holding two open
# streams gets 429 too_many_from_address in JSON on a third connection, and
# is served again once they close. (HAProxy notices a vanished client of a
# stream only when writing to it fails, after a message or two to the room
# or chatd's heartbeats: the check sends messages while it waits.)
per_client() {
  local plb pstats s1 s2 third cookie=$tmp/per-client.cookie
  plb=$(free_port) pstats=$(free_port)
  CHAT_LB_CLIENT_CONNS=2 CHAT_LB_CLIENT_CONN_RATE=1000 start_haproxy haproxy-per-client \
    "127.0.0.1:$plb" "127.0.0.1:$pstats" "${apps[@]}"
  wait_until 30 servers_up "$pstats" 1 || return 1
  curl -sN "http://127.0.0.1:$plb/message/stream" >"$tmp/pc1" 2>&1 & s1=$!
  curl -sN "http://127.0.0.1:$plb/message/stream" >"$tmp/pc2" 2>&1 & s2=$!
  wait_until 10 bash -c "grep -q ': connected' '$tmp/pc1' && grep -q ': connected' '$tmp/pc2'" || return 1
  third=$(curl -s -D - "http://127.0.0.1:$plb/health" | tr -d '\r')
  kill "$s1" "$s2" 2>/dev/null; wait "$s1" "$s2" 2>/dev/null
  curl -s -c "$cookie" -H 'Content-Type: application/json' -X POST \
    -d "{\"email\":\"per-client-$$@example.com\",\"password\":\"per client password\"}" \
    "http://${apps[0]}/user/" >/dev/null || return 1
  # each try sends a message, whose write to the vanished clients fails sooner or later
  served_again() {
    curl -s -b "$cookie" -H 'Content-Type: application/json' -X POST -d '{"text":"wake"}' \
      "http://${apps[0]}/message/" >/dev/null
    curl -sf -o /dev/null "http://127.0.0.1:$plb/health"
  }
  grep -q '^HTTP/1.1 429' <<<"$third" && grep -qi '^retry-after: 10' <<<"$third" &&
    grep -q '"too_many_from_address"' <<<"$third" && wait_until 10 served_again
}
if per_client; then
  echo "ok - HAProxy per client: a third connection beside two streams gets 429 too_many_from_address (JSON)"
else
  echo "not ok - HAProxy per client: a third connection beside two streams gets 429 too_many_from_address (JSON)"; rc=1
fi

# HTTPS on HAProxy's TLS port: HTTP/2 by ALPN, HSTS there and not on plain
# HTTP, an event stream over HTTP/2, and chatd's Secure cookie only over TLS.
tls_checks() {
  local h2 http1 hsts plain_hsts body
  h2=$(curl --http2 -s --cacert "$CHAT_CACERT" -o /dev/null -w '%{http_version}' "$CHAT_TLS_URL/health")
  http1=$(curl --http1.1 -s --cacert "$CHAT_CACERT" -o /dev/null -w '%{http_version}' "$CHAT_TLS_URL/health")
  if [[ $h2 == 2 && $http1 == 1.1 ]]; then
    echo "ok - HTTPS negotiates HTTP/2 (and HTTP/1.1 for clients without h2)"
  else
    echo "not ok - HTTPS negotiates HTTP/2 (got '$h2') and HTTP/1.1 (got '$http1')"; rc=1
  fi
  hsts=$(curl -s --cacert "$CHAT_CACERT" -o /dev/null -D - "$CHAT_TLS_URL/" | tr -d '\r' |
    grep -i '^strict-transport-security:')
  plain_hsts=$(curl -s -o /dev/null -D - "$CHAT_URL/" | tr -d '\r' | grep -ci '^strict-transport-security:')
  if [[ $hsts == *max-age=* && $plain_hsts == 0 ]]; then
    echo "ok - HSTS on HTTPS ($hsts), none on plain HTTP"
  else
    echo "not ok - HSTS on HTTPS ('$hsts'), none on plain HTTP ($plain_hsts)"; rc=1
  fi
  # A stream over HTTP/2: the event sent meanwhile arrives on it.
  curl -sN --http2 --cacert "$CHAT_CACERT" -m 20 -D "$tmp/h2-stream.headers" \
    "$CHAT_TLS_URL/message/stream" >"$tmp/h2-stream" 2>&1 & local s=$!
  wait_until 10 grep -q ': connected' "$tmp/h2-stream"
  body=$(curl -s --cacert "$CHAT_CACERT" -c "$tmp/tls.cookie" -D "$tmp/tls-register.headers" \
    -H 'Content-Type: application/json' -H 'X-Forwarded-Proto: http' \
    -d "{\"email\":\"tls-$$@example.com\",\"password\":\"tls password\"}" "$CHAT_TLS_URL/user/")
  curl -s --cacert "$CHAT_CACERT" -b "$tmp/tls.cookie" -H 'Content-Type: application/json' \
    -d "{\"text\":\"over h2 $$\"}" "$CHAT_TLS_URL/message/" >/dev/null
  wait_until 10 grep -q "over h2 $$" "$tmp/h2-stream"
  kill -INT "$s" 2>/dev/null; wait "$s" 2>/dev/null
  if grep -q "over h2 $$" "$tmp/h2-stream" && grep -q '^HTTP/2 200' "$tmp/h2-stream.headers"; then
    echo "ok - an event stream over HTTP/2 delivers a message sent meanwhile"
  else
    echo "not ok - an event stream over HTTP/2 delivers a message sent meanwhile"
    tail -5 "$tmp/h2-stream" | sed 's/^/# /'; rc=1
  fi
  # Over HTTPS the cookie is Secure (and named __Host-authKey), even when the
  # client claims plain HTTP; over plain HTTP it is not, even when the client
  # claims HTTPS.
  local plain
  plain=$(curl -s -o /dev/null -D - -H 'Content-Type: application/json' -H 'X-Forwarded-Proto: https' \
    -d "{\"email\":\"tls-$$@example.com\",\"password\":\"tls password\"}" -X PUT "$CHAT_URL/user/" |
    tr -d '\r' | grep -i '^set-cookie:')
  if grep -qi '^set-cookie: __Host-authKey=.*; Secure' "$tmp/tls-register.headers" &&
     [[ -n $plain && $plain != *Secure* && $plain == [Ss]et-[Cc]ookie:\ authKey=* ]]; then
    echo "ok - the session cookie is Secure over HTTPS only (HAProxy sets X-Forwarded-Proto)"
  else
    echo "not ok - the session cookie is Secure over HTTPS only ($body / $plain)"; rc=1
  fi
  # The command-line client with the certificate, and without it.
  if CHAT_CACERT=$CHAT_CACERT CHAT_PASSWORD="tls password" CHAT_SESSION_FILE=$tmp/tls.session \
       "$top/$build/chat" --server "$CHAT_TLS_URL" login "tls-$$@example.com" >/dev/null &&
     CHAT_SESSION_FILE=$tmp/tls.session "$top/$build/chat" --cacert "$CHAT_CACERT" send "cli over https" >/dev/null &&
     ! CHAT_SESSION_FILE=$tmp/tls.session "$top/$build/chat" --cacert "$CHAT_WRONG_CACERT" history \
       >/dev/null 2>"$tmp/tls-wrong.err" && grep -q 'certificate is not trusted' "$tmp/tls-wrong.err"; then
    echo "ok - chat works over HTTPS with --cacert/CHAT_CACERT and refuses another CA clearly"
    sed 's/^/# /' "$tmp/tls-wrong.err"
  else
    echo "not ok - chat works over HTTPS with --cacert/CHAT_CACERT and refuses another CA clearly"
    sed 's/^/# /' "$tmp/tls-wrong.err"; rc=1
  fi
}
tls_checks

for bin in "$top/$build"/tests/stack/test_*; do
  [[ -x $bin ]] || continue
  echo "# $(basename "$bin")"
  CMOCKA_MESSAGE_OUTPUT=TAP "$bin" || rc=1
done

# The drained chatd (the second) must have exited by itself, with status 0.
wait "${pids[1]}"
status=$?
if [[ $status -eq 0 ]]; then
  echo "ok - the drained chatd exited with status 0"
else
  echo "not ok - the drained chatd exited with status 0 (got $status)"; tail -5 "$tmp/chatd2.log"; rc=1
fi
grep -E 'draining|stopped accepting|grace' "$tmp/chatd2.log" | sed 's/^/# chatd2: /'
stop_started # chatd 3 and the rest get SIGTERM; their logs must show no sanitizer report
if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$tmp"/chatd*.log; then
  echo "not ok - no sanitizer reports in the chatd logs"; rc=1
else
  echo "ok - no sanitizer reports in the chatd logs"
fi
[[ -f $tmp/lose-redis/redis2.pid ]] && kill "$(cat "$tmp/lose-redis/redis2.pid")" 2>/dev/null
exit $rc
