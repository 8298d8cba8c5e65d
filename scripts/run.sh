#!/usr/bin/env bash
# Runs clusterchat locally in the foreground: a redis-server (data kept under
# .state/redis, append-only file on) and chatd on port 8182. Ctrl-C stops both.
# Variables: CHAT_PORT (8182), CHAT_REDIS_PORT (6399), CLUSTERCHAT_STATE (.state).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

port=${CHAT_PORT:-8182}
redis_port=${CHAT_REDIS_PORT:-6399}
state=${CLUSTERCHAT_STATE:-$top/.state}
mkdir -p "$state/redis"

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "Port $port is in use; set CHAT_PORT to another port." >&2
  exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then
  echo "Port $redis_port is in use; set CHAT_REDIS_PORT to another port." >&2
  exit 1
fi

trap 'stop_started; echo "stopped."' EXIT
trap 'exit 0' INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --protected-mode yes \
  --appendonly yes --dir "$state/redis" --logfile "$state/redis/redis.log" \
  --daemonize yes --pidfile "$state/redis/redis.pid"
wait_until 10 redis-cli -p "$redis_port" ping || { echo "redis-server did not start" >&2; exit 1; }
STARTED_PIDS+=("$(cat "$state/redis/redis.pid")")

"$top/build/chatd" --port "$port" --redis "127.0.0.1:$redis_port" &
STARTED_PIDS+=("$!")
wait_until 15 curl -sf "http://127.0.0.1:$port/health" || { echo "chatd did not start" >&2; exit 1; }

echo
echo "clusterchat is running: http://localhost:$port/  (redis-server on 127.0.0.1:$redis_port)"
echo "Try: build/chat register you@example.com   — Ctrl-C stops everything."
wait
