#!/usr/bin/env bash
# WebSocket tests: GET /ws with npm's ws client (pinned in package-lock.json,
# installed with `npm ci` when node_modules lacks it or is older than the
# lockfile), against the whole system as `make run` starts it
# (scripts/stack: a 6-node Redis Cluster, three chatd, HAProxy with
# deploy/haproxy.cfg serving HTTP and HTTPS) on free loopback ports in a
# scratch state folder. The tests talk to a chatd directly (WS_CHATD_URLS)
# and through HAProxy (WS_LB_URL, WS_TLS_URL); see ws.test.mjs, and
# access.test.mjs for the rooms' access rule (WS_ADMIN_EMAIL is a site
# administrator). Output is TAP. Build folder: $1 (default build).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
dir=$top/tests/ws
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
# All clients come from one address: every per-address limit off.
# shellcheck disable=SC2046  # one word per assignment
export $(unlimited_lb_env) $(unlimited_env)

use_scratch cluster
trap 'CHAT_APP_PORTS="${app_ports[*]}" "$top/scripts/stack" down >/dev/null 2>&1;
      "$top/scripts/cluster" down --purge >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

if ! command -v node >/dev/null; then
  echo "not ok - node is installed (scripts/deps.sh installs it)"; exit 1
fi
if [[ ! -f $dir/node_modules/ws/package.json ||
      $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
  if ! (cd "$dir" && npm ci --no-audit --no-fund) >"$tmp/npm.log" 2>&1; then
    echo "not ok - npm ci installs ws"; sed 's/^/# /' "$tmp/npm.log" | tail -20; exit 1
  fi
fi

started=$SECONDS
app_ports=()
for _ in 1 2 3; do app_ports+=("$(free_port)") || exit 1; done
CLUSTER_PORT_BASE=$(free_cluster_port_base) || { echo "not ok - free ports for the cluster"; exit 1; }
export CLUSTER_PORT_BASE CHAT_APP_PORTS="${app_ports[*]}" CHATD="$top/$build/chatd"
export CHAT_PORT CHAT_TLS_PORT CHAT_LB_STATS CHAT_LB_BIND CHAT_LB_TLS_BIND
CHAT_PORT=$(free_port) CHAT_TLS_PORT=$(free_port) CHAT_LB_STATS=127.0.0.1:$(free_port)
CHAT_LB_BIND=127.0.0.1:$CHAT_PORT CHAT_LB_TLS_BIND=127.0.0.1:$CHAT_TLS_PORT
# A quick ping period (15 s by default), so that the tests of pings take
# seconds; a client has one to two periods to answer.
export CHATD_STREAM_HEARTBEAT=${CHATD_STREAM_HEARTBEAT:-1500} CHATD_DRAIN_DELAY=1000
# The site administrator (--admins) of access.test.mjs, registered by it.
export WS_ADMIN_EMAIL="ws-admin-$$-$RANDOM@example.com"
export CHATD_ADMINS=$WS_ADMIN_EMAIL
if ! "$top/scripts/stack" up >"$tmp/stack-up.log" 2>&1; then
  echo "not ok - the stack came up"; sed 's/^/# /' "$tmp/stack-up.log" | tail -30; exit 1
fi
echo "# the cluster, three chatd and HAProxy came up in $((SECONDS - started)) s"

state=$CLUSTERCHAT_STATE/stack
urls=() pids=()
for i in 1 2 3; do
  urls+=("http://127.0.0.1:${app_ports[$((i - 1))]}") pids+=("$(cat "$state/chatd$i.pid")")
done
export WS_CHATD_URLS="${urls[*]}" WS_CHATD_PIDS="${pids[*]}" WS_CHAT_CLI=$top/$build/chat
export WS_LB_URL="http://127.0.0.1:$CHAT_PORT" WS_TLS_URL="https://127.0.0.1:$CHAT_TLS_PORT"
export WS_STATE=$state WS_LB_STATS="http://$CHAT_LB_STATS" NODE_EXTRA_CA_CERTS=$CLUSTERCHAT_STATE/tls/localhost.crt
rc=0
for file in "$dir"/${WS_FILES:-*}.test.mjs; do
  echo "# $(basename "$file")"
  node --test-reporter=tap "$file" || rc=1
done
if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$state"/chatd*.log; then
  echo "not ok - no sanitizer reports in the chatd logs"; rc=1
fi
exit $rc
