# shellcheck shell=bash
# Shared shell helpers for the scripts and test runners: messages and usage,
# free loopback ports, starting a real redis-server and chatd, waiting for
# readiness by polling, and stopping everything started, by pid. Source it;
# do not run it.

# Processes started through these helpers, stopped by stop_started.
STARTED_PIDS=()

# The folder of these helpers (scripts/), for the scripts beside them.
lib_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Messages go to stderr, prefixed with the script's name ($script_name, by
# default the file name: "stack: ..."). die says "error: ..." and exits 1.
say() { echo "${script_name:-${0##*/}}: $*" >&2; }

die() {
  say "error: $*"
  exit 1
}

# Prints the running script's header comment (line 2 up to `set -euo`) to
# stderr and exits 2.
usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
  exit 2
}

# use_scratch standalone|cluster: a scratch folder in $tmp, removed on exit
# after everything started here is stopped. With "cluster", scripts/cluster
# keeps its state there too (CLUSTERCHAT_STATE; CLUSTER_NODE_TIMEOUT 1000 ms
# unless set) and that cluster is torn down on exit.
use_scratch() {
  tmp=$(mktemp -d)
  if [[ $1 == cluster ]]; then
    export CLUSTERCHAT_STATE=$tmp/state CLUSTER_NODE_TIMEOUT=${CLUSTER_NODE_TIMEOUT:-1000}
    trap 'stop_started; "$lib_scripts/cluster" down --purge >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
  else
    trap 'stop_started; rm -rf "$tmp"' EXIT
  fi
}

# Ports are picked below 32768, where Linux's ephemeral ports (for outgoing
# connections, which would make a later bind fail) begin, from two ranges
# that never meet: single ports from 10000-19999, local clusters from
# 20000-21995 with their bus ports 30000-31995. A port is only known free
# when it is picked, and a suite often picks its chatd ports before its
# cluster starts: from one range they could land on that cluster's ports.

# Prints a TCP port on 127.0.0.1 that nothing listens on (from a random start).
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$(( 10000 + RANDOM % 10000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# True when something listens on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the first of six consecutive free ports whose Redis Cluster bus
# ports (+10000) are free too, for a local cluster (scripts/cluster).
free_cluster_port_base() {
  local base p ok
  for _ in $(seq 1 50); do
    base=$(( 20000 + (RANDOM % 200) * 10 ))
    ok=1
    for p in $(seq "$base" $(( base + 5 ))); do
      if port_in_use "$p" || port_in_use $(( p + 10000 )); then ok=0; fi
    done
    if (( ok )); then echo "$base"; return 0; fi
  done
  echo "no free ports for a cluster" >&2
  return 1
}

# wait_until SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds.
wait_until() {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
  shift
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s%N) > deadline )); then
      return 1
    fi
    sleep 0.05
  done
}

# start_redis DIR PORT: a standalone redis-server without persistence.
start_redis() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --save '' --appendonly no \
    --dir "$dir" --logfile "$dir/redis.log" --daemonize yes --pidfile "$dir/redis.pid"
  wait_until 10 redis-cli -p "$port" ping || { echo "redis on $port did not start" >&2; return 1; }
  STARTED_PIDS+=("$(cat "$dir/redis.pid")")
}

# create_room BASE_URL ROOM: creates ROOM with POST /room/ as a new user
# (only created rooms take messages, streams and long-polls; docs/API.md).
# 0 when the room exists afterwards (201 or 200).
create_room() {
  local email token status
  email="room-creator-$$-$RANDOM$RANDOM@example.com"
  token=$(curl -sS -X POST "$1/user/" -H 'Content-Type: application/json'     -d "{\"email\":\"$email\",\"password\":\"room-creator-password\"}" |
    sed -n 's/.*"authKey":"\([A-Za-z0-9_-]*\)".*/\1/p')
  status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$1/room/" -b "authKey=$token" \
    -H 'Content-Type: application/json' -d "{\"name\":\"$2\"}")
  [[ $status == 201 || $status == 200 ]]
}

# Tests and benchmarks register, log in and send far faster than people do:
# `env $(unlimited_env) chatd ...` runs chatd with its abuse limits (the
# --limit-* and --max-*-per-address options) off, unless the caller's environment sets them; a flag
# on the command line wins as always. The limits have tests of their own.
unlimited_env() {
  echo "CHATD_LIMIT_LOGIN_EMAIL=${CHATD_LIMIT_LOGIN_EMAIL:-0}" \
    "CHATD_LIMIT_LOGIN_ADDRESS=${CHATD_LIMIT_LOGIN_ADDRESS:-0}" \
    "CHATD_LIMIT_REGISTER_ADDRESS=${CHATD_LIMIT_REGISTER_ADDRESS:-0}" \
    "CHATD_LIMIT_MESSAGES_USER=${CHATD_LIMIT_MESSAGES_USER:-0}" \
    "CHATD_LIMIT_ROOMS_USER=${CHATD_LIMIT_ROOMS_USER:-0}" \
    "CHATD_LIMIT_ROOMS_ADDRESS=${CHATD_LIMIT_ROOMS_ADDRESS:-0}" \
    "CHATD_LIMIT_DM_USER=${CHATD_LIMIT_DM_USER:-0}" \
    "CHATD_LIMIT_INVITES_USER=${CHATD_LIMIT_INVITES_USER:-0}" \
    "CHATD_LIMIT_API_KEY=${CHATD_LIMIT_API_KEY:-0}" \
    "CHATD_LIMIT_EDITS_USER=${CHATD_LIMIT_EDITS_USER:-0}" \
    "CHATD_LIMIT_REACTIONS_USER=${CHATD_LIMIT_REACTIONS_USER:-0}" \
    "CHATD_LIMIT_TYPING_USER=${CHATD_LIMIT_TYPING_USER:-0}" \
    "CHATD_MAX_ROOMS_PER_USER=${CHATD_MAX_ROOMS_PER_USER:-0}" \
    "CHATD_LIMIT_LOGIN_GLOBAL=${CHATD_LIMIT_LOGIN_GLOBAL:-0}" \
    "CHATD_MAX_CONNECTIONS_PER_ADDRESS=${CHATD_MAX_CONNECTIONS_PER_ADDRESS:-0}" \
    "CHATD_MAX_STREAMS_PER_ADDRESS=${CHATD_MAX_STREAMS_PER_ADDRESS:-0}" \
    "CHATD_MAX_LONG_POLLS_PER_ADDRESS=${CHATD_MAX_LONG_POLLS_PER_ADDRESS:-0}"
}

# `export $(unlimited_lb_env)` lifts HAProxy's per-client connection limits
# (deploy/haproxy.cfg) for tests and benchmarks, whose clients all come from
# 127.0.0.1, unless the caller's environment sets them.
unlimited_lb_env() {
  echo "CHAT_LB_CLIENT_CONNS=${CHAT_LB_CLIENT_CONNS:-1000000}" \
    "CHAT_LB_CLIENT_CONN_RATE=${CHAT_LB_CLIENT_CONN_RATE:-100000000}"
}

# start_chatd BINARY LOG PORT REDIS_PORT [more chatd flags]: starts chatd in
# the background (abuse limits off, see unlimited_env) and waits until
# /health answers 200. CHATD_WRAPPER (words) runs chatd under a command such
# as valgrind, in the same process; CHATD_START_TIMEOUT is how many seconds it
# may take (15).
start_chatd() {
  local bin=$1 log=$2 port=$3 redis_port=$4
  shift 4
  # shellcheck disable=SC2046,SC2086 # one word per assignment; the wrapper is a command and its options
  env $(unlimited_env) ${CHATD_WRAPPER:-} "$bin" --bind 127.0.0.1 --port "$port" --redis "127.0.0.1:$redis_port" "$@" >"$log" 2>&1 &
  local pid=$!
  STARTED_PIDS+=("$pid")
  CHATD_PID=$pid
  if ! wait_until "${CHATD_START_TIMEOUT:-15}" curl -sf "http://127.0.0.1:$port/health"; then
    echo "chatd on $port did not become healthy; its log:" >&2
    tail -20 "$log" >&2
    return 1
  fi
}

# tap_clean_exit PID LOG WHAT: SIGTERM to a chatd we started, then one TAP
# line: it must exit with status 0 and its log must hold no sanitizer report.
# Returns 1 when it did not.
tap_clean_exit() {
  local pid=$1 log=$2 what=$3 status
  kill -TERM "$pid"
  wait "$pid"
  status=$?
  if [[ $status -eq 0 ]] && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$log"; then
    echo "ok - $what exits cleanly on SIGTERM"
    return 0
  fi
  echo "not ok - $what exits cleanly on SIGTERM (status $status)"
  grep -E -A15 'Sanitizer|runtime error' "$log" | head -60
  return 1
}

# Stops every process started above (TERM, then KILL after 5 s).
stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}
