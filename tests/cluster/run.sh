#!/usr/bin/env bash
# Cluster tests: a real 6-node Redis Cluster (scripts/cluster, short
# cluster-node-timeout) on free loopback ports and a real chatd (from the
# build folder $1) in front of it. Runs the API, hostile-input, membership and
# read-marker tests against it, then the cluster's own tests (spread, resharding, failover,
# a silent master, whole-cluster restart, crash-stop-start rounds, 100,000
# rooms over three chatd across a reshard and a failover). Output
# is TAP. chatd's periodic topology refresh is turned (almost) off, so that
# it must learn every change from redirects and errors, and the resharding
# test can count the MOVED it must see. A second chatd (CHAT_URL2) is the
# other end of test_sessions; test_rooms spreads its streams over all three
# (CHAT_URL3).
#
# The tests find their fixtures in the environment (set below):
#   CHAT_URL              chatd on the cluster (every test, testlib)
#   CHATD_PID             its pid
#   CHAT_URL2             a second chatd on the cluster (test_sessions, test_rooms,
#                         test_members)
#   CHAT_URL3             a third chatd on the cluster (test_rooms)
#   CHAT_URL4             a fourth chatd on the cluster (test_server_api.sh's limit; test_sessions)
#   CHAT_CLUSTER          1: test_api, test_hostile and test_members run on the cluster
#   CHAT_LIMITED_URL, CHAT_REDIS_PORT, CHATCTL_BIN, CHATD_LOG  test_server_api.sh (a
#                         fourth chatd with --limit-api-key 3/60; the cluster's first node)
#   CLUSTER_SCRIPT        scripts/cluster, to kill and restart nodes
#   CLUSTER_PORT_BASE     the cluster's first port (6 consecutive ports)
#   CLUSTER_NODE_TIMEOUT  its cluster-node-timeout (use_scratch: 1000 ms)
#   CHAT_SANITIZED        1 under ASan+UBSan (tests/run-all.sh sets it)
#   CLUSTER_RESTART_ROUNDS crash-stop-start rounds of test_restart
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

use_scratch cluster
export CLUSTER_SCRIPT=$top/scripts/cluster

CLUSTER_PORT_BASE=$(free_cluster_port_base) || { echo "no free ports for the cluster"; exit 1; }
export CLUSTER_PORT_BASE
if ! "$CLUSTER_SCRIPT" up >"$tmp/cluster-up.log" 2>&1; then
  echo "not ok - the local cluster came up"
  cat "$tmp/cluster-up.log"
  exit 1
fi
echo "ok - the local cluster came up (ports $CLUSTER_PORT_BASE-$(( CLUSTER_PORT_BASE + 5 )))"

seeds="127.0.0.1:$CLUSTER_PORT_BASE,127.0.0.1:$(( CLUSTER_PORT_BASE + 1 ))"
# start_on_cluster LOG PORT [FLAGS...]: a chatd on the cluster (abuse limits
# off), healthy within 20 s; its pid in CHATD_PID.
start_on_cluster() {
  local log=$1 port=$2
  shift 2
  # shellcheck disable=SC2046  # one word per assignment
  env $(unlimited_env) "$top/$build/chatd" --bind 127.0.0.1 --port "$port" --redis "$seeds" \
    --redis-timeout 5000 "$@" >"$log" 2>&1 &
  CHATD_PID=$!
  STARTED_PIDS+=("$CHATD_PID")
  if ! wait_until 20 curl -sf "http://127.0.0.1:$port/health"; then
    echo "not ok - chatd on $port became healthy on the cluster"
    tail -20 "$log"
    exit 1
  fi
}
chat_port=$(free_port) || exit 1
start_on_cluster "$tmp/chatd.log" "$chat_port" --workers 2 --topology-refresh 600000
main_pid=$CHATD_PID
# A second chatd on the cluster, for test_sessions (the session cache across chatd).
second_port=$(free_port) || exit 1
start_on_cluster "$tmp/second.log" "$second_port" --workers 1
second_pid=$CHATD_PID
third_port=$(free_port) || exit 1
start_on_cluster "$tmp/third.log" "$third_port" --workers 1
third_pid=$CHATD_PID
# A fourth, counting server-API calls per key (test_server_api.sh).
api_limited_port=$(free_port) || exit 1
CHATD_LIMIT_API_KEY=3/60 start_on_cluster "$tmp/api-limited.log" "$api_limited_port" --workers 1
api_limited_pid=$CHATD_PID
CHATD_PID=$main_pid

export CHAT_URL="http://127.0.0.1:$chat_port" CHATD_PID CHAT_CLUSTER=1
export CHAT_URL2="http://127.0.0.1:$second_port" CHAT_URL3="http://127.0.0.1:$third_port"
# the fourth only for test_sessions, whose kills of subscribers hit its subscriber too
export CHAT_URL4="http://127.0.0.1:$api_limited_port"
# test_restart's crash-stop-start rounds: ten, or one under the sanitizers
# (the slow build; the other tests cover the same code there).
if [[ -n ${CHAT_SANITIZED:-} ]]; then
  export CLUSTER_RESTART_ROUNDS=${CLUSTER_RESTART_ROUNDS:-1}
else
  export CLUSTER_RESTART_ROUNDS=${CLUSTER_RESTART_ROUNDS:-10}
fi
rc=0
for bin in "$top/$build/tests/integration/test_api" "$top/$build/tests/integration/test_hostile" \
           "$top/$build/tests/integration/test_members" "$top/$build"/tests/cluster/test_*; do
  [[ -x $bin ]] || continue
  echo "# $(basename "$bin") (on the cluster)"
  CMOCKA_MESSAGE_OUTPUT=TAP "$bin" || rc=1
done

# The server API and chatctl on the cluster: chatctl's key commands follow
# MOVED from the first node to each key's master.
echo "# test_server_api.sh (on the cluster)"
CHAT_LIMITED_URL="http://127.0.0.1:$api_limited_port" CHAT_REDIS_PORT=$CLUSTER_PORT_BASE \
  CHATCTL_BIN="$top/$build/chatctl" CHATD_LOG="$tmp/chatd.log" \
  "$top/tests/integration/test_server_api.sh" || rc=1

# Read markers live in the user's slot and unread counts read every room's
# slot: the test writes messages into a room's stream straight, through any node.
echo "# test_read_markers (on the cluster)"
CHAT_REDIS_PORT=$CLUSTER_PORT_BASE CMOCKA_MESSAGE_OUTPUT=TAP \
  "$top/$build/tests/integration/test_read_markers" || rc=1

tap_clean_exit "$CHATD_PID" "$tmp/chatd.log" "chatd on the cluster" || rc=1
tap_clean_exit "$second_pid" "$tmp/second.log" "the second chatd on the cluster" || rc=1
tap_clean_exit "$third_pid" "$tmp/third.log" "the third chatd on the cluster" || rc=1
tap_clean_exit "$api_limited_pid" "$tmp/api-limited.log" "the fourth chatd on the cluster" || rc=1
grep -E 'topology|MOVED|lost|timed out|not acknowledged' "$tmp/chatd.log" | sed 's/^/# chatd: /' | tail -40
exit $rc
