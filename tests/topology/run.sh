#!/usr/bin/env bash
# Topology tests: the whole system on separate hosts (network namespaces,
# scripts/topology): two load balancers sharing a virtual IP (keepalived),
# three app hosts, six Redis hosts, a client host. A client on the client
# host sends through the VIP (tests/topology/test_flow, build folder $1)
# while this script
#   1. crashes the load balancer holding the VIP (kill -9 of HAProxy and
#      keepalived, link down), waits for the VIP on the other, restarts it and
#      waits for the VIP to come back;
#   2. cuts off the Redis host holding the lobby stream's master, waits for
#      the promotion and for sends to resume, heals it and waits until the old
#      master is a replica of the new one;
#   3. cuts off an app host, waits until HAProxy has marked it down, heals it.
# Each time nothing acknowledged may be lost or doubled, and no send may fail.
# Needs root and network namespaces; otherwise one skipped TAP line. Output
# is TAP. About 60-90 s.
#
# test_flow runs on the client host and finds its fixtures in the
# environment (set by flow_start below):
#   CHAT_URL   the virtual IP's URL
#   FLOW_DIR   a folder for its progress, marks and result files
#   FLOW_TAIL  1: a second client follows the lobby live (chat_tail)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

topology=$top/scripts/topology
export TOPOLOGY_PREFIX=cct$$- TOPOLOGY_NODE_TIMEOUT=1500
# Quick checks so that a cut-off chatd is taken out within about a second;
# chatd refreshes the Redis topology every second; no drain delay on down.
export CHAT_LB_CHECK_INTER=500ms CHAT_LB_CHECK_FALL=2 CHAT_LB_CHECK_RISE=2
# HAProxy gives up a silent chatd connection (an open stream) after 1 + 2 x 1 s.
export CHAT_LB_SRV_KA_IDLE=1s CHAT_LB_SRV_KA_INTVL=1s CHAT_LB_SRV_KA_CNT=2
export CHATD_TOPOLOGY_REFRESH=1000 CHATD_DRAIN_DELAY=0 CHATD_GRACE=3000
# The client sends as fast as it can as one user: abuse limits off (they have
# tests of their own).
# shellcheck disable=SC2046  # one word per assignment
export $(unlimited_env)
# All clients come from one address: HAProxy's per-client limits off.
# shellcheck disable=SC2046  # one word per assignment
export $(unlimited_lb_env)
export CHATD="$top/$build/chatd"

skip() {
  echo "ok 1 # SKIP skipped: needs root and network namespaces ($1)"
  exit 0
}
[[ $(id -u) == 0 ]] || skip "not root"
for c in ip keepalived haproxy redis-server; do command -v "$c" >/dev/null || skip "no $c"; done
ip netns add "${TOPOLOGY_PREFIX}probe" 2>/dev/null || skip "ip netns add failed"
ip netns del "${TOPOLOGY_PREFIX}probe"

tmp=$(mktemp -d)
export CLUSTERCHAT_STATE=$tmp/state
flow_pid="" watcher=""
cleanup() {
  [[ -n $flow_pid ]] && kill -9 "$flow_pid" 2>/dev/null
  [[ -n $watcher ]] && kill "$watcher" 2>/dev/null
  "$topology" down >>"$tmp/down.log" 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

rc=0
pass() { echo "ok - $*"; }
fail() {
  echo "not ok - $*"
  rc=1
}
now_ms() { date +%s%3N; }
topo() { "$topology" "$@" 2>>"$tmp/topology.log"; }
ns() { echo "$TOPOLOGY_PREFIX$1"; }

# Dumps what helps to see why a step failed.
show_state() {
  topo status | sed 's/^/# /'
  tail -n 5 "$tmp/topology.log" | sed 's/^/# /'
  local log
  for log in "$CLUSTERCHAT_STATE"/topology/lb*/keepalived.log; do
    [[ -f $log ]] && tail -n 8 "$log" | sed "s|^|# ${log#"$CLUSTERCHAT_STATE"/topology/}: |"
  done
  return 0
}

if ! "$topology" up >"$tmp/up.log" 2>&1; then
  fail "the topology comes up"
  sed 's/^/# /' "$tmp/up.log"
  exit 1
fi
pass "the topology comes up: 2 load balancers with one VIP, 3 chatd, 6 Redis nodes, a client"
vip=$(topo addr vip)
url="http://$vip:8182"

# ---- the client's traffic ----

# flow_start NAME TAIL: the client host starts sending through the VIP.
flow_start() {
  flow_dir=$tmp/$1
  mkdir -p "$flow_dir"
  ip netns exec "$(ns client)" env CHAT_URL="$url" FLOW_DIR="$flow_dir" FLOW_TAIL="$2" \
    timeout 170 "$top/$build/tests/topology/test_flow" "$1" >"$flow_dir/out" 2>&1 &
  flow_pid=$!
}

acks() { local a=0; [[ -f $flow_dir/progress ]] && read -r a _ <"$flow_dir/progress"; echo "${a:-0}"; }

# more_acks N: waits until N more messages are acknowledged than now; fails
# when that takes over 40 s or the sender has exited.
more_acks() {
  local want=$(( $(acks) + $1 ))
  wait_until 40 acks_or_gone "$want"
  (($(acks) >= want))
}
acks_or_gone() { (($(acks) >= $1)) || ! kill -0 "$flow_pid" 2>/dev/null; }

mark() { echo "$1 $(now_ms)" >>"$flow_dir/marks"; }

# Stops the sender and passes on its TAP lines.
flow_finish() {
  touch "$flow_dir/stop"
  wait "$flow_pid" || rc=1
  flow_pid=""
  cat "$flow_dir/out"
}

# ---- 1. a load balancer crashes ----

holds_vip() { [[ $(topo vip-holder) == "$1" ]]; }

# watch_vip HOST FILE: writes the time to FILE once HOST's link is up and
# carries the VIP (polled every 20 ms).
watch_vip() {
  until ip -n "$(ns "$1")" -4 -o addr show dev eth0 up 2>/dev/null | grep -qF " $vip/"; do
    sleep 0.02
  done
  now_ms >"$2"
}

flow_start lb 1
more_acks 30
holder=$(topo vip-holder)
other=lb2
[[ $holder == lb2 ]] && other=lb1
# A watcher notes when the VIP appears on the other host, every 20 ms.
watch_vip "$other" "$tmp/vip-moved" &
watcher=$!
mark "crash-$holder"
topo crash "$holder"
if wait_until 10 holds_vip "$other" && wait_until 2 test -s "$tmp/vip-moved"; then
  t0=$(<"$CLUSTERCHAT_STATE/topology/$holder/crashed_at")
  pass "$holder crashed (link down, kill -9 of HAProxy and keepalived): the VIP moved to $other $(( $(<"$tmp/vip-moved") - t0 )) ms later"
else
  fail "kill -9 of HAProxy and keepalived on $holder: the VIP moved to $other"
  show_state
fi
kill "$watcher" 2>/dev/null
watcher=""
more_acks 30 || fail "sends go on through $other"
t0=$(now_ms)
mark "restart-$holder"
topo start "$holder"
if wait_until 20 holds_vip "$holder"; then
  pass "$holder restarted: it took the VIP back $(( $(now_ms) - t0 )) ms after its restart began"
else
  fail "$holder restarted: it took the VIP back"
  show_state
fi
more_acks 30 || fail "sends go on after the VIP came back"
flow_finish

# ---- 2. the Redis host holding the lobby's master is cut off ----

declare -A addr
for h in redis1 redis2 redis3 redis4 redis5 redis6 app1 app2 app3; do addr[$h]=$(topo addr "$h"); done

# rcli HOST ARGS...: redis-cli against HOST's node from inside HOST.
rcli() {
  local host=$1
  shift
  timeout 3 ip netns exec "$(ns "$host")" redis-cli -h "${addr[$host]}" "$@" 2>/dev/null | tr -d '\r'
}

# master_of SLOT ASK_HOST: the address of the live master serving SLOT, as ASK_HOST sees it.
master_of() {
  rcli "$2" cluster nodes | awk -v slot="$1" '
    $3 ~ /master/ && $3 !~ /fail/ {
      for (i = 9; i <= NF; i++) {
        if ($i ~ /^\[/) continue
        n = split($i, r, "-"); lo = r[1]; hi = (n == 2) ? r[2] : r[1]
        if (slot + 0 >= lo + 0 && slot + 0 <= hi + 0) { split($2, a, ":"); print a[1]; exit }
      }
    }'
}

promoted() {
  local m
  m=$(master_of "$slot" "$witness")
  [[ -n $m && $m != "$old_ip" ]]
}

# True when HOST's node is a replica with its link to the master up.
is_replica() {
  local info
  info=$(rcli "$1" info replication)
  [[ $info == *role:slave* && $info == *master_link_status:up* ]]
}

degraded_total() {
  local host sum=0 v
  for host in app1 app2 app3; do
    v=$(ip netns exec "$(ns client)" curl -s -m 1 "http://${addr[$host]}:8182/metrics" |
      awk '$1 == "chatd_durable_degraded_total" { print $2 }')
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

slot=$(rcli redis1 cluster keyslot 'room:{lobby}:messages')
old_ip=$(master_of "$slot" redis1)
old=$(topo redis-host "$old_ip")
witness=redis1
[[ $old == redis1 ]] && witness=redis2
flow_start redis 1
more_acks 30
degraded_before=$(degraded_total)
t0=$(now_ms)
mark "cut-$old"
topo cut "$old"
if wait_until 20 promoted; then
  pass "$old (master of the lobby, slot $slot) cut off: its replica $(master_of "$slot" "$witness") was promoted $(( $(now_ms) - t0 )) ms later (cluster-node-timeout $TOPOLOGY_NODE_TIMEOUT ms)"
else
  fail "$old (master of the lobby) cut off: its replica was promoted"
  show_state
fi
if more_acks 30; then
  pass "sends resumed while $old is still cut off, $(( $(now_ms) - t0 )) ms after the cut (30 more acknowledged)"
else
  fail "sends resumed while $old is still cut off"
fi
degraded=$(( $(degraded_total) - degraded_before ))
if ((degraded > 0)); then
  pass "chatd acknowledged $degraded writes without a replica (chatd_durable_degraded_total)"
else
  fail "chatd counted the writes acknowledged without a replica (chatd_durable_degraded_total)"
fi
t0=$(now_ms)
mark "heal-$old"
topo heal "$old"
if wait_until 30 is_replica "$old"; then
  pass "$old healed: it rejoined as a replica of the new master, in sync $(( $(now_ms) - t0 )) ms later"
else
  fail "$old healed: it rejoined as a replica"
  show_state
fi
more_acks 30 || fail "sends go on after $old rejoined"
flow_finish

# ---- 3. an app host is cut off ----

# marked HOST STATE: the VIP holder's HAProxy shows chatd server HOST (app1 ->
# its server "app1") in STATE (UP or DOWN).
marked() {
  local lb
  lb=$(topo vip-holder) || return 1
  ip netns exec "$(ns "$lb")" curl -s -m 2 'http://127.0.0.1:8404/stats;csv' |
    awk -F, -v s="$1" -v st="$2" '$1 == "chatd" && $2 == s && $18 ~ "^" st { found = 1 } END { exit !found }'
}

# stream_lines SERVER: event streams HAProxy (either) logged for that chatd.
stream_lines() {
  cat "$CLUSTERCHAT_STATE"/topology/lb[12]/haproxy.log 2>/dev/null |
    grep -c " chatd/$1 .*\"GET /message/stream" || true
}

# stream_moved EXCEPT: a chatd other than EXCEPT with more streams logged than
# in base_lines.
declare -A base_lines
stream_moved() {
  local host
  for host in app1 app2 app3; do
    [[ $host != "$1" && $(stream_lines "$host") -gt ${base_lines[$host]} ]] && { echo "$host"; return 0; }
  done
  return 1
}

# open_streams HOST: chatd_open_streams on HOST's chatd (empty when it does not answer).
open_streams() {
  ip netns exec "$(ns client)" curl -s -m 1 "http://${addr[$1]}:8182/metrics" |
    awk '$1 == "chatd_open_streams" { print $2 }'
}

# stream_host [EXCEPT]: the app host, other than EXCEPT, whose chatd has more open streams than in
# base_streams: the one serving the client's event stream. (A chatd may still
# count a stream of an earlier flow whose load balancer vanished.)
declare -A base_streams
stream_host() {
  local host n
  for host in app1 app2 app3; do
    [[ $host == "${1:-}" ]] && continue
    n=$(open_streams "$host")
    ((${n:-0} > ${base_streams[$host]:-0})) && { echo "$host"; return 0; }
  done
  return 1
}

for h in app1 app2 app3; do
  base_streams[$h]=$(open_streams "$h")
  base_lines[$h]=$(stream_lines "$h")
done
flow_start app 1
more_acks 30
# Cut off the host that serves the stream: the tail must resume elsewhere.
if app=$(stream_host); then
  pass "the client's event stream runs on $app"
else
  fail "the client's event stream runs on one of the app hosts"
  app=app1
fi
t0=$(now_ms)
mark "cut-$app"
topo cut "$app"
if wait_until 15 marked "$app" DOWN; then
  pass "$app cut off: HAProxy marked it down $(( $(now_ms) - t0 )) ms later"
else
  fail "$app cut off: HAProxy marked it down"
  show_state
fi
more_acks 50 || fail "sends go on while $app is cut off"
t0=$(now_ms)
mark "heal-$app"
topo heal "$app"
if wait_until 15 marked "$app" UP; then
  pass "$app healed: HAProxy put it back $(( $(now_ms) - t0 )) ms later"
else
  fail "$app healed: HAProxy put it back"
fi
more_acks 30 || fail "sends go on after $app is back"
flow_finish
# Both HAProxy log a stream when it ends: the tail's resumed stream, ended
# when the client exits, must have been served by another chatd.
if wait_until 5 stream_moved "$app"; then
  pass "the client's event stream resumed on $(stream_moved "$app") (HAProxy's log)"
else
  fail "the client's event stream resumed on another chatd (HAProxy's log)"
fi

# ---- down leaves nothing behind ----

grep -hE 'acknowledged by fewer|not acknowledged' "$CLUSTERCHAT_STATE"/topology/app*/chatd.log |
  head -6 | sed 's/^/# chatd: /'

pids=$(cat "$CLUSTERCHAT_STATE"/topology/*/*.pid 2>/dev/null)
"$topology" down >"$tmp/down.log" 2>&1
left=$(ip netns list | grep -c "^$TOPOLOGY_PREFIX" || true)
alive=0
for p in $pids; do
  [[ $(ps -o stat= -p "$p" 2>/dev/null || echo Z) == Z* ]] || alive=$((alive + 1))
done
if ((left == 0 && alive == 0)) && [[ ! -d $CLUSTERCHAT_STATE/topology ]]; then
  pass "scripts/topology down leaves no namespace, process or state behind"
else
  fail "scripts/topology down leaves nothing behind ($left namespaces, $alive processes)"
fi
exit $rc
