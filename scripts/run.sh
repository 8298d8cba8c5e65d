#!/usr/bin/env bash
# Runs clusterchat locally in the foreground (make run) until Ctrl-C, which
# stops everything it started; `make stop` does the same from another
# terminal (scripts/run.sh stop). The data is kept under .state/.
#   default          the whole system, with scripts/stack: a 6-node Redis
#                    Cluster (ports 7000-7005), three chatd (8183-8185) and
#                    HAProxy on http://localhost:8182/ and, with HTTP/2,
#                    https://localhost:8443/ (stats on 127.0.0.1:8404)
#   CHAT_SMALL=1     the small mode: one redis-server (append-only file on) and
#                    one chatd on 8182, no HAProxy
#   CHAT_SMALL=1 CHAT_CLUSTER=1
#                    one chatd on 8182 that uses the 6-node Redis Cluster
# CHAT_CLUSTER=1 alone changes nothing: the whole system runs on the cluster.
# Variables: CHAT_PORT (8182), CHAT_TLS_PORT (8443), CHAT_TLS_CERT,
# CHAT_REDIS_PORT (6399, small mode),
# CLUSTERCHAT_STATE (.state), and those of scripts/stack and scripts/cluster.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

port=${CHAT_PORT:-8182}
redis_port=${CHAT_REDIS_PORT:-6399}
export CLUSTERCHAT_STATE=${CLUSTERCHAT_STATE:-$top/.state}
small_dir=$CLUSTERCHAT_STATE/small

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_alive FILE PATTERN: the pid in FILE when that process lives (not a
# zombie) and its command line matches PATTERN; fails otherwise.
pid_alive() {
  local pid stat args
  [[ -f $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[1-9][0-9]*$ ]] || return 1
  read -r stat args < <(ps -o stat=,args= -p "$pid" 2>/dev/null) || return 1
  # shellcheck disable=SC2053  # PATTERN is a glob
  [[ $stat != Z* && $args == $2 ]] || return 1
  echo "$pid"
}

# Stops the small mode's chatd and redis-server by their pid files.
stop_small() {
  local pid
  if pid=$(pid_alive "$small_dir/chatd.pid" "*chatd*"); then
    STARTED_PIDS=("$pid") && stop_started
    echo "stopped the small mode's chatd"
  fi
  if pid=$(pid_alive "$CLUSTERCHAT_STATE/redis/redis.pid" "*redis-server*"); then
    STARTED_PIDS=("$pid") && stop_started
    echo "stopped the small mode's redis-server"
  fi
  rm -f "$small_dir/chatd.pid"
}

# `make stop`: whatever make run started, in either mode.
if [[ ${1:-} == stop ]]; then
  rc=0
  "$top/scripts/stack" down || rc=1
  stop_small || rc=1
  exit "$rc"
fi

# Refuses early when the public port is taken, by a make run or anything else.
public_port=$port
[[ ${CHAT_SMALL:-0} == 1 || -z ${CHAT_LB_BIND:-} ]] || public_port=${CHAT_LB_BIND##*:}
if in_use "$public_port"; then
  echo "Port $public_port is in use; set CHAT_PORT to another port (or make stop, if it is make run's)." >&2
  exit 1
fi

# Sleeps in the foreground until a signal, or until FILE's process is gone
# (make stop). `wait` returns at once when a trapped signal arrives.
stay_while() {
  while pid_alive "$1" "$2" >/dev/null; do
    sleep 1 &
    wait $! || true
  done
  echo "$3 is gone (make stop?); exiting."
}

if [[ ${CHAT_SMALL:-0} != 1 ]]; then
  # A second Ctrl-C does not cut the stopping short.
  trap 'trap "" INT; "$top/scripts/stack" down' EXIT
  trap 'exit 0' INT TERM
  if ! "$top/scripts/stack" up; then
    echo "scripts/stack up failed; stopping what it started." >&2
    exit 1
  fi
  echo "Try: build/chat register you@example.com   — Ctrl-C or make stop stops everything."
  stay_while "$CLUSTERCHAT_STATE/stack/haproxy.pid" "*haproxy*" HAProxy
  exit 0
fi

# The small mode.
cluster_started=0
stop_all() {
  stop_small
  if ((cluster_started)); then "$top/scripts/cluster" down >/dev/null 2>&1 || true; fi
  echo "stopped."
}
trap 'trap "" INT; stop_all' EXIT
trap 'exit 0' INT TERM

if [[ ${CHAT_CLUSTER:-0} == 1 ]]; then
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
  redis="127.0.0.1:$redis_port"
fi

# setsid: Ctrl-C reaches only this script, which stops chatd with SIGTERM.
mkdir -p "$small_dir"
setsid "$top/build/chatd" --port "$port" --redis "$redis" --web-root "${CHATD_WEB_ROOT:-$top/web}" &
echo "$!" >"$small_dir/chatd.pid"
wait_until 15 curl -sf "http://127.0.0.1:$port/health" || { echo "chatd did not start" >&2; exit 1; }

echo
echo "clusterchat is running: http://localhost:$port/  (Redis: $redis)"
echo "Try: build/chat register you@example.com   — Ctrl-C or make stop stops everything."
stay_while "$small_dir/chatd.pid" "*chatd*" chatd
