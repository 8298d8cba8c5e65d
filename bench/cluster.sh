#!/usr/bin/env bash
# bench/cluster.sh: what a Redis Cluster, and its WAIT, cost chatd's sends.
#
# usage: bench/cluster.sh [-d SECONDS] [-c CONNECTIONS] [-r REPETITIONS]
#
#   -d  seconds per wrk run                (BENCH_DURATION, default 10)
#   -c  concurrent connections (wrk -t 2)  (BENCH_CONNECTIONS, default 64)
#   -r  runs of each setup; the median is reported  (BENCH_REPEAT, default 1)
#   BENCH_LOG_LEVEL  chatd's --log-level during the runs (default warn)
#   CHATD            the chatd binary (default build/chatd)
#
# wrk POSTs /message/ with a session cookie (bench/post_message.lua) to
#   (a) chatd on a standalone redis-server (no persistence, as bench/run.sh),
#   (b) chatd on a local 3+3 Redis Cluster (scripts/cluster), default
#       --min-replica-acks: every send waits for one replica (WAIT),
#   (c) chatd on the same cluster with --min-replica-acks 0 (no WAIT),
# in alternating rounds (a b c, c b a, ...), and prints requests/s, p50/p99
# latency and errors, with the ratios b/a (cluster / standalone) and b/c (the
# cost of WAIT). Everything listens on free loopback ports and is stopped on
# exit, also on Ctrl-C. Exits 1 if any request failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh disable=SC1091  # (shellcheck -x follows it)
. "$root/scripts/lib.sh"
# shellcheck source=bench/lib.sh disable=SC1091
. "$root/bench/lib.sh"

wrk_options 4,10 "$@"
need_tools redis-server redis-cli wrk curl

# ---- what we start, stopped on exit ----

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench-cluster.XXXXXX")
export CLUSTERCHAT_STATE=$tmp/state
cluster_started=0
wrk_pid=''

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_wrk
    stop_started
    if ((cluster_started)); then
        "$root/scripts/cluster" down --purge >/dev/null 2>&1 ||
            say "warning: 'scripts/cluster down --purge' failed (CLUSTER_PORT_BASE=$CLUSTER_PORT_BASE)"
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the cluster first (its ports are then taken), then the rest ----

CLUSTER_PORT_BASE=$(free_cluster_port_base) || die "no free ports for the cluster"
export CLUSTER_PORT_BASE
cluster_started=1
say "starting the cluster on 127.0.0.1:$CLUSTER_PORT_BASE-$((CLUSTER_PORT_BASE + 5))"
"$root/scripts/cluster" up >"$tmp/cluster-up.log" 2>&1 || {
    tail -n 20 "$tmp/cluster-up.log" >&2
    die "the cluster did not come up"
}

redis_port=$(free_port)
if ! start_redis "$tmp/redis" "$redis_port"; then
    [[ -f $tmp/redis/redis.pid ]] && STARTED_PIDS+=("$(<"$tmp/redis/redis.pid")")
    die "redis-server did not start"
fi
say "standalone redis-server on 127.0.0.1:$redis_port"

# The POST URL and the session token of each setup.
declare -A url token
for t in a b c; do
    port=$(free_port)
    case $t in
    a) start_chatd "$chatd" "$tmp/chatd-a.log" "$port" "$redis_port" --log-level "$log_level" ;;
    b) start_chatd "$chatd" "$tmp/chatd-b.log" "$port" "$CLUSTER_PORT_BASE" --log-level "$log_level" ;;
    c) start_chatd "$chatd" "$tmp/chatd-c.log" "$port" "$CLUSTER_PORT_BASE" --log-level "$log_level" \
        --min-replica-acks 0 ;;
    esac
    url[$t]=http://127.0.0.1:$port/message/
    say "chatd ($t) pid $CHATD_PID on 127.0.0.1:$port"
done

# register URL: prints the authKey of a new user (chatd at URL's host).
register() {
    curl -sS -X POST "${1%/message/}/user/" -H 'Content-Type: application/json' \
        -d '{"email":"bench@example.com","password":"bench-password","name":"bench"}' |
        sed -n 's/.*"authKey":"\([A-Za-z0-9_-]*\)".*/\1/p'
}
# (b) and (c) share the cluster, so one user serves both.
token[a]=$(register "${url[a]}")
token[b]=$(register "${url[b]}")
token[c]=${token[b]}
for t in a b c; do
    [[ -n ${token[$t]} ]] || die "registration on chatd ($t) did not return an authKey"
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "${url[$t]}" -b "authKey=${token[$t]}" \
        -H 'Content-Type: application/json' -d '{"text":"warm-up"}')
    [[ $status == 201 ]] || die "a POST /message/ to chatd ($t) answered $status, not 201"
done

# ---- the runs ----


results=$tmp/results
: >"$results"
for ((rep = 1; rep <= reps; rep++)); do
    order=(a b c)
    ((rep % 2)) || order=(c b a)
    for t in "${order[@]}"; do
        out=$tmp/wrk-$t-$rep
        wrk_post "$t" "${url[$t]}" "${token[$t]}" "$out"
        say "($t) run $rep/$reps: $rps requests/s, p50 ${p50} ms, p99 ${p99} ms, $err errors"
    done
done

# ---- the report ----

medians=()
for t in a b c; do
    for col in 2 3 4; do medians+=("$(median "$results" "$t" "$col")"); done
    medians+=("$(awk -v t="$t" '$1 == t {n += $5} END {print n + 0}' "$results")")
done
aof=$(redis-cli -h 127.0.0.1 -p "$CLUSTER_PORT_BASE" CONFIG GET appendonly | tail -n 1)
fsync=$(redis-cli -h 127.0.0.1 -p "$CLUSTER_PORT_BASE" CONFIG GET appendfsync | tail -n 1)

echo
echo "clusterchat cluster bench: POST /message/, ${duration}s per run, wrk -c $conns -t 2," \
    "$reps run(s) per setup (median), $(nproc) CPUs"
awk -v m="${medians[*]}" '
function row(name, i) {
    printf f, name, sprintf("%.0f", v[i + 1]), sprintf("%.2f", v[i + 2]), sprintf("%.2f", v[i + 3]), v[i + 4]
}
BEGIN {
    split(m, v, " ")  # a: v[1..4], b: v[5..8], c: v[9..12] (rps p50 p99 errors)
    f = "  %-50s %11s %8s %8s %7s\n"
    printf f, "setup", "requests/s", "p50 ms", "p99 ms", "errors"
    row("(a) standalone redis-server, no persistence", 0)
    row("(b) cluster 3+3, WAIT for 1 replica (default)", 4)
    row("(c) cluster 3+3, --min-replica-acks 0 (no WAIT)", 8)
    printf f, "b/a  cluster / standalone", sprintf("%.2f", v[5] / v[1]),
        sprintf("%.2f", v[6] / v[2]), sprintf("%.2f", v[7] / v[3]), ""
    printf f, "b/c  cost of WAIT (with / without)", sprintf("%.2f", v[5] / v[9]),
        sprintf("%.2f", v[6] / v[10]), sprintf("%.2f", v[7] / v[11]), ""
}'
echo "note: the cluster nodes run with appendonly $aof, appendfsync $fsync (scripts/cluster's config);"
echo "      the standalone redis-server has no persistence. All messages go to one key"
echo "      (room:{lobby}:messages): one master and its replica do the cluster's work, and"
echo "      wrk, the chatds and the 7 redis-servers share the $(nproc) CPUs."
if ((medians[3] + medians[7] + medians[11] > 0)); then
    say "some requests failed (errors column): the figures are not valid"
    exit 1
fi
