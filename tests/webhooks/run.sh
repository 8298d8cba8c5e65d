#!/usr/bin/env bash
# Webhook tests: webhooks.test.mjs, which starts its own chatd (two,
# sharing one Redis, so that one can be killed) and a real HTTP receiver
# (Node's http) that verifies each delivery's signature and answers as each
# test tells it; twice: on a standalone redis-server, then on a local 3+3
# Redis Cluster (the queue's shards on several masters, writes under WAIT).
# Output is TAP. Build folder: $1 (default build).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

use_scratch cluster

if ! command -v node >/dev/null; then
  echo "not ok - node is installed (scripts/deps.sh installs it)"; exit 1
fi
redis_port=$(free_port) || exit 1
start_redis "$tmp/redis" "$redis_port" || exit 1

ports=()
for _ in 1 2 3 4; do ports+=("$(free_port)") || exit 1; done
# shellcheck disable=SC2046  # one word per assignment
export $(unlimited_env)
export WH_CHATD="$top/$build/chatd" WH_CHATCTL="$top/$build/chatctl" WH_TMP=$tmp WH_PORTS="${ports[*]}"
echo "# on a standalone Redis"
WH_REDIS=127.0.0.1:$redis_port WH_REDIS_CLI="-p $redis_port" \
  node --test-reporter=tap "$top/tests/webhooks/webhooks.test.mjs"
rc=$?

CLUSTER_PORT_BASE=$(free_cluster_port_base) || { echo "not ok - free ports for the cluster"; exit 1; }
export CLUSTER_PORT_BASE
if ! "$top/scripts/cluster" up >"$tmp/cluster-up.log" 2>&1; then
  echo "not ok - the local cluster came up"; tail -20 "$tmp/cluster-up.log"; exit 1
fi
echo "# on the 3+3 Redis Cluster (ports $CLUSTER_PORT_BASE-$((CLUSTER_PORT_BASE + 5)))"
WH_REDIS="127.0.0.1:$CLUSTER_PORT_BASE,127.0.0.1:$((CLUSTER_PORT_BASE + 1))" \
  WH_REDIS_CLI="-c -p $CLUSTER_PORT_BASE" WH_LOG_TAG=cluster \
  node --test-reporter=tap "$top/tests/webhooks/webhooks.test.mjs" || rc=1
if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$tmp"/chatd-*.log 2>/dev/null; then
  echo "not ok - no sanitizer reports in the chatd logs"; rc=1
fi
exit $rc
