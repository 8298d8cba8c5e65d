#!/usr/bin/env bash
# bench/haproxy.sh: what HAProxy (deploy/haproxy.cfg) costs chatd's sends, and
# what a second and a third chatd behind it bring.
#
# usage: bench/haproxy.sh [-d SECONDS] [-c CONNECTIONS] [-r REPETITIONS]
#
#   -d  seconds per wrk run                (BENCH_DURATION, default 10)
#   -c  concurrent connections (wrk -t 2)  (BENCH_CONNECTIONS, default 64)
#   -r  runs of each setup; the median is reported  (BENCH_REPEAT, default 1)
#   BENCH_LOG_LEVEL  chatd's --log-level during the runs (default warn)
#   CHATD            the chatd binary (default build/chatd)
#
# One backing store for everything: a local 3+3 Redis Cluster (scripts/cluster)
# with three chatd on it. wrk POSTs /message/ with a session cookie
# (bench/post_message.lua) to
#   (d)  one chatd directly,
#   (h1) HAProxy with the shipped config and 1 chatd,
#   (h2) HAProxy with 2 chatd,
#   (h3) HAProxy with 3 chatd,
# in alternating rounds (d h1 h2 h3, h3 h2 h1 d, ...), and prints requests/s,
# p50/p99 latency and errors, with the ratios h1/d (HAProxy's overhead), h2/h1
# and h3/h1 (scale-out). Each HAProxy has three server lines; those without a
# chatd point at a port nothing listens on, so their checks fail and HAProxy
# marks them DOWN, as it would a dead chatd: the runs start only once its stats
# show exactly the expected servers UP. Everything listens on free loopback
# ports and is stopped on exit, also on Ctrl-C. Exits 1 if any request failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh disable=SC1091  # (shellcheck -x follows it)
. "$root/scripts/lib.sh"
# shellcheck source=bench/lib.sh disable=SC1091
. "$root/bench/lib.sh"

wrk_options 5,11 "$@"
need_tools redis-server redis-cli wrk curl haproxy

# HAProxy refuses to start when its maxconn (2 descriptors each) exceeds the
# hard open-file limit; the shipped default of 9000 needs about 20000.
if [[ -z ${CHAT_LB_MAXCONN+set} ]]; then
    fd_limit=$(ulimit -Hn)
    if [[ $fd_limit != unlimited ]] && ((fd_limit < 20000)); then
        export CHAT_LB_MAXCONN=$(((fd_limit - 200) / 2))
        ((CHAT_LB_MAXCONN > conns)) || die "the open-file limit ($fd_limit) is too low for -c $conns"
        say "hard open-file limit $fd_limit: HAProxy runs with CHAT_LB_MAXCONN=$CHAT_LB_MAXCONN"
    fi
fi

# ---- what we start, stopped on exit ----

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench-haproxy.XXXXXX")
export CLUSTERCHAT_STATE=$tmp/state
cluster_started=0
wrk_pid=''

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_wrk
    stop_started # the chatds and the HAProxys, by pid
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

# take_port: sets port to a free loopback port that no earlier take_port
# handed out (free_port only sees the ports that are listened on already).
taken=' '
take_port() {
    for _ in $(seq 1 50); do
        port=$(free_port) || break
        if [[ $taken != *" $port "* ]]; then
            taken+="$port "
            return 0
        fi
    done
    die "no free port found"
}

# ---- the cluster first (its ports are then taken), then three chatd ----

CLUSTER_PORT_BASE=$(free_cluster_port_base) || die "no free ports for the cluster"
export CLUSTER_PORT_BASE
cluster_started=1
say "starting the cluster on 127.0.0.1:$CLUSTER_PORT_BASE-$((CLUSTER_PORT_BASE + 5))"
"$root/scripts/cluster" up >"$tmp/cluster-up.log" 2>&1 || {
    tail -n 20 "$tmp/cluster-up.log" >&2
    die "the cluster did not come up"
}

apps=()
for i in 1 2 3; do
    take_port
    start_chatd "$chatd" "$tmp/chatd$i.log" "$port" "$CLUSTER_PORT_BASE" --log-level "$log_level" ||
        die "chatd $i did not start"
    apps+=("127.0.0.1:$port")
    say "chatd $i pid $CHATD_PID on 127.0.0.1:$port"
done
# The server lines of HAProxy that have no chatd: nothing listens there.
take_port
dead=127.0.0.1:$port

# ---- three HAProxys with the shipped config: 1, 2 and 3 chatd UP ----

# lb_csv SETUP: HAProxy's stats CSV.
lb_csv() { curl -sf "http://${stats[$1]}/stats;csv"; }

# lb_servers SETUP: "UP DOWN" counts of the chatd servers (not the BACKEND row).
lb_servers() {
    lb_csv "$1" | awk -F, '$1 == "chatd" && $2 != "BACKEND" {n[$18]++}
                          END {print n["UP"] + 0, n["DOWN"] + 0}'
}

# lb_ready SETUP: exactly the expected servers UP, the others DOWN.
lb_ready() {
    local want=${1#h}
    [[ $(lb_servers "$1") == "$want $((3 - want))" ]]
}

# lb_counters SETUP: requests each server received (app1 app2 app3), then the
# backend's connection errors + response errors + retries + redispatches.
lb_counters() {
    lb_csv "$1" | awk -F, '$1 == "chatd" && $2 ~ /^app[123]$/ {req[substr($2, 4)] = $49}
                          $1 == "chatd" && $2 == "BACKEND" {issues = $14 + $15 + $16 + $17}
                          END {print req[1] + 0, req[2] + 0, req[3] + 0, issues + 0}'
}

declare -A url stats lb_log
url[d]=http://${apps[0]}/message/
for t in h1 h2 h3; do
    case $t in
    h1) servers=("${apps[0]}" "$dead" "$dead") ;;
    h2) servers=("${apps[0]}" "${apps[1]}" "$dead") ;;
    h3) servers=("${apps[@]}") ;;
    esac
    take_port
    lb_port=$port
    take_port
    url[$t]=http://127.0.0.1:$lb_port/message/
    stats[$t]=127.0.0.1:$port
    lb_log[$t]=$tmp/haproxy-$t.log
    # Appending, so that the log (a line per request) can be emptied between runs.
    CHAT_LB_BIND=127.0.0.1:$lb_port CHAT_LB_STATS=${stats[$t]} \
        CHATD1=${servers[0]} CHATD2=${servers[1]} CHATD3=${servers[2]} \
        haproxy -db -f "$root/deploy/haproxy.cfg" >>"${lb_log[$t]}" 2>&1 &
    STARTED_PIDS+=("$!")
    say "HAProxy ($t) pid $! on 127.0.0.1:$lb_port (stats ${stats[$t]}): servers ${servers[*]}"
done
for t in h1 h2 h3; do
    wait_until 30 lb_ready "$t" || {
        tail -n 20 "${lb_log[$t]}" >&2
        die "HAProxy ($t) does not show ${t#h} chatd UP and $((3 - ${t#h})) DOWN (UP DOWN: $(lb_servers "$t"))"
    }
done
say "HAProxy stats: ${#apps[@]} chatd, 1/2/3 UP in h1/h2/h3, the other server lines DOWN"

# ---- one user, registered on chatd directly; its session serves every run ----

token=$(curl -sS -X POST "http://${apps[0]}/user/" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"bench-password","name":"bench"}' |
    sed -n 's/.*"authKey":"\([A-Za-z0-9_-]*\)".*/\1/p')
[[ -n $token ]] || die "registration on chatd did not return an authKey"
for t in d h1 h2 h3; do
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "${url[$t]}" -b "authKey=$token" \
        -H 'Content-Type: application/json' -d '{"text":"warm-up"}')
    [[ $status == 201 ]] || die "a POST /message/ to ($t) answered $status, not 201"
done

# ---- the runs ----


results=$tmp/results # setup rps p50 p99 errors
spread=$tmp/spread   # setup app1 app2 app3 lb_issues (requests during the run)
: >"$results"
: >"$spread"
for ((rep = 1; rep <= reps; rep++)); do
    order=(d h1 h2 h3)
    ((rep % 2)) || order=(h3 h2 h1 d)
    for t in "${order[@]}"; do
        out=$tmp/wrk-$t-$rep
        [[ $t == d ]] || {
            : >"${lb_log[$t]}"
            before=$(lb_counters "$t")
        }
        wrk_post "$t" "${url[$t]}" "$token" "$out"
        note=''
        if [[ $t != d ]]; then
            # A server that went DOWN (or came UP) during the run spoils it.
            lb_ready "$t" || die "HAProxy ($t) changed during the run (UP DOWN: $(lb_servers "$t"))"
            read -r -a b <<<"$before"
            read -r -a a <<<"$(lb_counters "$t")"
            echo "$t $((a[0] - b[0])) $((a[1] - b[1])) $((a[2] - b[2])) $((a[3] - b[3]))" >>"$spread"
            note=", chatd 1/2/3 got $((a[0] - b[0]))/$((a[1] - b[1]))/$((a[2] - b[2])) requests"
        fi
        say "($t) run $rep/$reps: $rps requests/s, p50 ${p50} ms, p99 ${p99} ms, $err errors$note"
    done
done

# ---- the report ----

medians=()
for t in d h1 h2 h3; do
    for col in 2 3 4; do medians+=("$(median "$results" "$t" "$col")"); done
    medians+=("$(awk -v t="$t" '$1 == t {n += $5} END {print n + 0}' "$results")")
done
shares=$(awk '{for (i = 2; i <= 4; i++) {n[$1, i] += $i; sum[$1] += $i}; issues += $5}
    END {
        for (k = 1; k <= 3; k++) {
            t = "h" k
            s = sum[t] > 0 ? sum[t] : 1
            printf "%s %.0f/%.0f/%.0f %%; ", t, 100 * n[t, 2] / s, 100 * n[t, 3] / s, 100 * n[t, 4] / s
        }
        printf "HAProxy connection/response errors, retries, redispatches: %d\n", issues
    }' "$spread")

echo
echo "clusterchat HAProxy bench: POST /message/, ${duration}s per run, wrk -c $conns -t 2," \
    "$reps run(s) per setup (median), $(nproc) CPUs, one 3+3 Redis Cluster"
awk -v m="${medians[*]}" '
function row(name, i) {
    printf f, name, sprintf("%.0f", v[i + 1]), sprintf("%.2f", v[i + 2]), sprintf("%.2f", v[i + 3]), v[i + 4]
}
function ratio(name, i, j) {
    printf f, name, sprintf("%.2f", v[i + 1] / v[j + 1]),
        sprintf("%.2f", v[i + 2] / v[j + 2]), sprintf("%.2f", v[i + 3] / v[j + 3]), ""
}
BEGIN {
    split(m, v, " ")  # d: v[1..4], h1: v[5..8], h2: v[9..12], h3: v[13..16] (rps p50 p99 errors)
    f = "  %-42s %11s %8s %8s %7s\n"
    printf f, "setup", "requests/s", "p50 ms", "p99 ms", "errors"
    row("(d)  one chatd, directly", 0)
    row("(h1) HAProxy, 1 chatd UP", 4)
    row("(h2) HAProxy, 2 chatd UP", 8)
    row("(h3) HAProxy, 3 chatd UP", 12)
    ratio("h1/d   HAProxy overhead", 4, 0)
    ratio("h2/h1  scale-out to 2 chatd", 8, 4)
    ratio("h3/h1  scale-out to 3 chatd", 12, 4)
}'
echo "requests per chatd 1/2/3 through HAProxy: $shares"
echo "note: wrk (2 threads), each HAProxy (one thread per CPU), the 3 chatd and the 6"
echo "      redis-servers all share the $(nproc) CPUs of this machine, so the scale-out"
echo "      ratios are CPU-bound here: a chatd added on the same cores takes CPU from"
echo "      the others (and from HAProxy and Redis) instead of bringing its own. h1/d"
echo "      is HAProxy's cost on the same cores: an extra proxy hop per request, and one"
echo "      log line per request on stdout (the shipped config). All messages go to one"
echo "      key (room:{lobby}:messages), so one master and its replica do the cluster's"
echo "      work, each send waiting for one replica (chatd's default --min-replica-acks)."
if ((medians[3] + medians[7] + medians[11] + medians[15] > 0)); then
    say "some requests failed (errors column): the figures are not valid"
    exit 1
fi
