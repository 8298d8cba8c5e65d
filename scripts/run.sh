#!/usr/bin/env bash
# Runs clusterchat locally in the foreground: Redis and chatd on port 8182.
# Ctrl-C stops everything it started; the data is kept under .state/.
#   default          one redis-server (append-only file on), one chatd
#   CHAT_CLUSTER=1   a 6-node Redis Cluster (scripts/cluster, ports
#                    7000-7005) and one chatd that uses all of it
# Variables: CHAT_PORT (8182), CHAT_REDIS_PORT (6399), CLUSTERCHAT_STATE (.state).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

port=${CHAT_PORT:-8182}
redis_port=${CHAT_REDIS_PORT:-6399}
export CLUSTERCHAT_STATE=${CLUSTERCHAT_STATE:-$top/.state}
cluster=${CHAT_CLUSTER:-0}

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if in_use "$port"; then
  echo "Port $port is in use; set CHAT_PORT to another port." >&2
  exit 1
fi

cluster_started=0
stop_all() {
  stop_started
  if (( cluster_started )); then "$top/scripts/cluster" down >/dev/null 2>&1 || true; fi
  echo "stopped."
}
trap stop_all EXIT
trap 'exit 0' INT TERM

if [[ $cluster == 1 ]]; then
  "$top/scripts/cluster" up
  cluster_started=1
  base=${CLUSTER_PORT_BASE:-7000}
  redis="127.0.0.1:$base,127.0.0.1:$(( base + 1 )),127.0.0.1:$(( base + 2 ))"
else
  if in_use "$redis_port"; then
    echo "Port $redis_port is in use; set CHAT_REDIS_PORT to another port." >&2
    exit 1
  fi
  mkdir -p "$CLUSTERCHAT_STATE/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --protected-mode yes \
    --appendonly yes --dir "$CLUSTERCHAT_STATE/redis" --logfile "$CLUSTERCHAT_STATE/redis/redis.log" \
    --daemonize yes --pidfile "$CLUSTERCHAT_STATE/redis/redis.pid"
  wait_until 10 redis-cli -p "$redis_port" ping || { echo "redis-server did not start" >&2; exit 1; }
  STARTED_PIDS+=("$(cat "$CLUSTERCHAT_STATE/redis/redis.pid")")
  redis="127.0.0.1:$redis_port"
fi

"$top/build/chatd" --port "$port" --redis "$redis" &
STARTED_PIDS+=("$!")
wait_until 15 curl -sf "http://127.0.0.1:$port/health" || { echo "chatd did not start" >&2; exit 1; }

echo
echo "clusterchat is running: http://localhost:$port/  (Redis: $redis)"
echo "Try: build/chat register you@example.com   — Ctrl-C stops everything."
wait
