#!/usr/bin/env bash
# bench/bench.sh (`make bench`): clusterchat side by side with Redis itself,
# nginx + nchan and a minimal fan-out floor, in one run on one machine, as
# ratios; writes bench/runs/<date>.json and .md, the latency distributions
# and the plots (bench/runs/ is not in git; docs/BENCHMARKS.md says how a run
# is published).
#
# usage: bench/bench.sh [-q] [-s "SCENARIO..."] [-d SECONDS] [-r ROUNDS]
#                       [-c CONNECTIONS] [-n "N..."] [-W "WORKERS..."] [-o DIR]
#
#   -q  quick run: -d 3 -r 1 -n 1000, a smaller history  (BENCH_QUICK=1)
#   -s  scenarios, of: send cluster history fanout login haproxy failover rooms presence
#       webhooks
#       unread ws
#                                                 (BENCH_SCENARIOS, default all)
#   -d  seconds per throughput run                (BENCH_DURATION, default 10)
#   -r  rounds; contenders alternate their order, medians are reported
#                                                 (BENCH_ROUNDS, default 3)
#   -c  concurrent connections of the load tools  (BENCH_CONNECTIONS, default 64)
#   -n  subscriber counts of fanout and ws        (BENCH_SUBSCRIBERS, default "1000 10000")
#   -W  nginx worker counts of the nchan contenders (BENCH_NCHAN_WORKERS, default "1 2")
#   -o  where the results go                      (BENCH_OUT, default bench/runs)
#   BENCH_PLOTS  where the PNG plots go ("" for none; default beside the results)
#   BENCH_MESSAGES, BENCH_GAP_MS  fanout: messages per run (20), ms between them (500)
#   BENCH_FANOUT_CONTENDERS  fanout: the contenders (default all), e.g.
#                "chatd chatd-lb3": one chatd direct and three behind HAProxy
#   BENCH_ROOMS, BENCH_ROOMS_MESSAGES  rooms: rooms with a stream (10000), messages (200)
#   BENCH_ROOMS_CLUSTER  rooms: rooms over three chatd on the cluster (100000)
#   BENCH_HISTORY  messages in the history scenario (default 200000, quick 20000)
#   BENCH_UNREAD_ROOMS  unread: rooms of the user whose list is read (100)
#   BENCH_PRESENCE_MEMBERS, _RATE, _SECONDS, _TYPING  presence: users online
#                (10000), changes per second (100), seconds of changes (20),
#                typing signals per second (10)
#   BENCH_LOGIN_CONNECTIONS  login: connections of the login storm (4)
#   BENCH_LOGIN_RATE  login: the paced sends' rate per second (default: half
#                the saturated rate alone, measured first in the same run)
#   BENCH_LOGIN_CHATD_ARGS  login: more chatd flags ("--worker-priority nice")
#   BENCH_LOGIN_REDIS_GROUP  login: "shared" (default) runs Redis in the
#                harness's scheduling group with chatd, "own" daemonized
#   BENCH_FAILOVER_TIMEOUTS  failover: cluster-node-timeout values in ms
#                (default "1000 2000 5000"), one cluster each
#
# Each scenario (bench/scenario_<name>.sh) starts what it needs on free
# loopback ports (redis-server, the 3+3 cluster, chatd, HAProxy, nginx with
# nchan, the floor), warms it up, runs its contenders round after round, and
# stops everything again; bench/report.sh then takes the medians, the ratios
# against the targets, and draws the plots. The open-file soft limit is raised
# to the hard one (10,000 subscribers need ~10,100 descriptors in the server
# and as many in the load tool). Everything is stopped by pid on exit, also on
# Ctrl-C.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh disable=SC1091  # (shellcheck -x follows it)
. "$root/scripts/lib.sh"
# All clients come from one address: HAProxy's per-client limits off.
# shellcheck disable=SC2046  # one word per assignment
export $(unlimited_lb_env)
# shellcheck source=bench/lib.sh disable=SC1091
. "$root/bench/lib.sh"
# shellcheck source=bench/nchan.sh disable=SC1091
. "$root/bench/nchan.sh"

all_scenarios="send cluster history fanout login haproxy failover rooms presence webhooks unread ws"
quick=${BENCH_QUICK:-0}
scenarios=${BENCH_SCENARIOS:-$all_scenarios}
duration=${BENCH_DURATION:-}
rounds=${BENCH_ROUNDS:-}
conns=${BENCH_CONNECTIONS:-64}
counts=${BENCH_SUBSCRIBERS:-}
nchan_workers=${BENCH_NCHAN_WORKERS:-1 2}
out_dir=${BENCH_OUT:-$root/bench/runs}
plot_dir=${BENCH_PLOTS-default}
messages=${BENCH_MESSAGES:-20}
gap_ms=${BENCH_GAP_MS:-500}
history=${BENCH_HISTORY:-}
chatd=${CHATD:-$root/build/chatd}
sse_load=${SSE_LOAD:-$root/build/sse_load}
floor=${FLOOR:-$root/build/floor}

while getopts 'qs:d:r:c:n:W:o:h' opt; do
    case $opt in
    q) quick=1 ;;
    s) scenarios=$OPTARG ;;
    d) duration=$OPTARG ;;
    r) rounds=$OPTARG ;;
    c) conns=$OPTARG ;;
    n) counts=$OPTARG ;;
    W) nchan_workers=$OPTARG ;;
    o) out_dir=$OPTARG ;;
    *) bench_usage 7,35 ;;
    esac
done
shift $((OPTIND - 1))
(($# == 0)) || bench_usage 7,35
if ((quick)); then
    duration=${duration:-3} rounds=${rounds:-1} counts=${counts:-1000} history=${history:-20000}
fi
duration=${duration:-10} rounds=${rounds:-3} counts=${counts:-1000 10000} history=${history:-200000}

for v in duration rounds conns messages history; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ $gap_ms =~ ^[0-9]+$ ]] || die "the gap must be a number of ms, got '$gap_ms'"
((conns >= 2)) || die "need at least 2 connections (wrk runs 2 threads)"
for n in $counts; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "bad subscriber count '$n'"; done
for w in $nchan_workers; do [[ $w =~ ^[1-9]$ ]] || die "bad nginx worker count '$w'"; done
for s in $scenarios; do
    [[ " $all_scenarios " == *" $s "* ]] || die "unknown scenario '$s' (of: $all_scenarios)"
done
for tool in redis-server redis-cli redis-benchmark wrk curl jq nginx haproxy; do
    command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
[[ -f $NCHAN_MODULE ]] || die "$NCHAN_MODULE not found (apt-get install libnginx-mod-nchan)"
for bin in "$chatd" "$sse_load" "$floor" "${PRESENCE_LOAD:-$root/build/presence_load}"; do
    [[ -x $bin ]] || die "$bin not found: run 'make' first"
done

# Every subscriber is a descriptor in the server and one in sse_load.
max_n=$(tr ' ' '\n' <<<"$counts" | sort -n | tail -n 1)
hard=$(ulimit -Hn)
if [[ $hard != unlimited ]] && ((max_n + 200 > hard)); then
    die "$max_n subscribers need more than the hard open-file limit ($hard); raise it (ulimit -Hn)"
fi
ulimit -Sn "$hard"

# ---- what we start, stopped on exit ----

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench.XXXXXX")
raw=$tmp/raw.tsv # scenario contender round metric value
: >"$raw"
mkdir -p "$tmp/cdf"
export CLUSTERCHAT_STATE=$tmp/state
cluster_started=0
wrk_pid=''
load_pid=''

# cluster_up: the local 3+3 Redis Cluster (scripts/cluster) on free ports.
cluster_up() {
    CLUSTER_PORT_BASE=$(free_cluster_port_base) || die "no free ports for the cluster"
    export CLUSTER_PORT_BASE
    cluster_started=1
    say "starting the 3+3 cluster on 127.0.0.1:$CLUSTER_PORT_BASE-$((CLUSTER_PORT_BASE + 5))"
    "$root/scripts/cluster" up >"$tmp/cluster-up.log" 2>&1 || {
        tail -n 20 "$tmp/cluster-up.log" >&2
        die "the cluster did not come up"
    }
}

cluster_down() {
    ((cluster_started)) || return 0
    cluster_started=0
    "$root/scripts/cluster" down --purge >/dev/null 2>&1 ||
        say "warning: 'scripts/cluster down --purge' failed (CLUSTER_PORT_BASE=$CLUSTER_PORT_BASE)"
}

# stop_load: stops an sse_load still running.
stop_load() {
    [[ -n $load_pid ]] || return 0
    kill "$load_pid" 2>/dev/null || true
    wait "$load_pid" 2>/dev/null || true
    load_pid=''
}

# start_redis_here NAME [--in-session]: a standalone redis-server (no
# persistence) on a free port; sets redis_port. It daemonizes, which starts a
# session of its own and so (with the kernel's autogroup scheduling) a
# scheduling group of its own; --in-session keeps it in the harness's session
# and group, with chatd, as one scheduling group (see scenario_login.sh).
start_redis_here() {
    redis_port=$(free_port)
    if [[ ${2:-} == --in-session ]]; then
        mkdir -p "$tmp/$1"
        redis-server --port "$redis_port" --bind 127.0.0.1 --protected-mode yes --save '' \
            --appendonly no --dir "$tmp/$1" --logfile "$tmp/$1/redis.log" --daemonize no &
        STARTED_PIDS+=("$!")
        wait_until 10 redis-cli -p "$redis_port" ping || die "redis-server did not start"
    elif ! start_redis "$tmp/$1" "$redis_port"; then
        [[ -f $tmp/$1/redis.pid ]] && STARTED_PIDS+=("$(<"$tmp/$1/redis.pid")")
        die "redis-server did not start"
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_wrk
    stop_load
    stop_started
    cluster_down
    if ((rc == 0)) || [[ -n ${BENCH_KEEP_TMP:-} ]]; then
        rm -rf "$tmp"
    else
        say "the logs of the failed run are in $tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the scenarios ----

started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
say "scenarios: $scenarios; ${duration}s per run, $rounds round(s), -c $conns," \
    "subscribers: $counts, nchan workers: $nchan_workers; open-file limit $(ulimit -Sn)"
for s in $scenarios; do
    # shellcheck source=/dev/null
    . "$root/bench/scenario_$s.sh"
    say "---- $s ----"
    "scenario_$s"
    stop_started
    cluster_down
done

# ---- the report ----

stamp=$(date -u +%Y-%m-%d-%H%M)
mkdir -p "$out_dir"
[[ $plot_dir != default ]] || plot_dir=$out_dir/$stamp-plots
export started_at load_at_start duration rounds conns counts nchan_workers messages gap_ms history quick scenarios
# The login scenario's settings, when it ran (bench/scenario_login.sh).
export login_redis_group="${login_redis_group:-}" login_chatd_args="${BENCH_LOGIN_CHATD_ARGS:-}"
"$root/bench/report.sh" "$raw" "$tmp/cdf" "$out_dir/$stamp" "$plot_dir"
say "results: $out_dir/$stamp.json, $out_dir/$stamp.md${plot_dir:+, plots in $plot_dir}"
cat "$out_dir/$stamp.md"
