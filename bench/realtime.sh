#!/usr/bin/env bash
# bench/realtime.sh: how fast chatd's server push reaches 1,000 and 10,000
# subscribers, and what an idle subscriber costs it in memory.
#
# usage: bench/realtime.sh [-n "N1 N2 ..."] [-m MESSAGES] [-g GAP_MS] [-r RATE]
#
#   -n  subscriber counts, one run each   (BENCH_SUBSCRIBERS, default "1000 10000")
#   -m  messages sent per run             (BENCH_MESSAGES, default 20)
#   -g  ms between two sends; 0 sends back to back  (BENCH_GAP_MS, default 1000)
#   -r  connections opened per second     (BENCH_CONNECT_RATE, default 2000)
#   BENCH_LOG_LEVEL  chatd's --log-level during the runs (default warn)
#   CHATD, SSE_LOAD  the binaries (default build/chatd, build/sse_load)
#
# It starts a standalone redis-server (no persistence) and one chatd on free
# loopback ports, registers a user, then for each N: sse_load (bench/sse_load.c)
# opens N GET /message/stream and prints "ready" once all have started; chatd's
# VmRSS before the streams and with all of them open and idle gives the KB per
# idle subscriber; then curl POSTs the messages one after another (GAP_MS
# apart: a fan-out to 10,000 takes a few hundred ms here, and a shorter gap
# measures messages queued behind the previous one) and sse_load reports the
# delivery latency (now - the message's "timestamp", chatd's receive time of
# the POST, in whole ms, so 0-1 ms high) over all deliveries, and per message
# the latency of its last subscriber. The runs share one chatd, in the order
# given: a later run may reuse heap the earlier one freed, which lowers its
# KB per subscriber a little (run -n 10000 alone to avoid that).
#
# The load tool, chatd and redis-server share the same CPUs (2 here): while
# chatd writes a message to N sockets, sse_load competes for the cores to read
# them, so the figures include the client's share of the work, as in the
# reference numbers of the fan-out notes. Kernel socket memory is not in RSS.
# Everything is stopped by pid on exit, also on Ctrl-C. Exits 1 if a run lost,
# duplicated or reordered a message.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh disable=SC1091  # (shellcheck -x follows it)
. "$root/scripts/lib.sh"
# shellcheck source=bench/lib.sh disable=SC1091
. "$root/bench/lib.sh"

counts=${BENCH_SUBSCRIBERS:-1000 10000}
messages=${BENCH_MESSAGES:-20}
gap_ms=${BENCH_GAP_MS:-1000}
rate=${BENCH_CONNECT_RATE:-2000}
log_level=${BENCH_LOG_LEVEL:-warn}
chatd=${CHATD:-$root/build/chatd}
sse_load=${SSE_LOAD:-$root/build/sse_load}
timeout_s=60 # sse_load's limit for connecting, and again for the events

while getopts 'n:m:g:r:h' opt; do
    case $opt in
    n) counts=$OPTARG ;;
    m) messages=$OPTARG ;;
    g) gap_ms=$OPTARG ;;
    r) rate=$OPTARG ;;
    *) bench_usage 5,12 ;;
    esac
done
shift $((OPTIND - 1))
(($# == 0)) || bench_usage 5,12

for n in $counts; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "subscriber counts must be positive integers, got '$n'"
done
[[ -n ${counts// /} ]] || die "no subscriber count given (-n)"
[[ $messages =~ ^[1-9][0-9]*$ ]] || die "messages must be a positive integer, got '$messages'"
[[ $gap_ms =~ ^[0-9]+$ ]] || die "the gap must be a number of ms, got '$gap_ms'"
[[ $rate =~ ^[1-9][0-9]*$ ]] || die "the connect rate must be a positive integer, got '$rate'"
for tool in redis-server redis-cli curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
[[ -x $chatd ]] || die "$chatd not found: run 'make' first"
[[ -x $sse_load ]] || die "$sse_load not found: run 'make' first"

# chatd holds one descriptor per stream, plus some; sse_load raises its own limit.
max_n=$(tr ' ' '\n' <<<"$counts" | sort -n | tail -n 1)
hard=$(ulimit -Hn)
if [[ $hard != unlimited ]] && ((max_n + 100 > hard)); then
    die "$max_n subscribers need more than the hard open-file limit ($hard) in chatd"
fi
ulimit -Sn "$hard"

# ---- what we start, stopped on exit ----

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench-realtime.XXXXXX")
load_pid=''

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $load_pid ]]; then
        kill "$load_pid" 2>/dev/null || true
        wait "$load_pid" 2>/dev/null || true
    fi
    stop_started
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

redis_port=$(free_port)
if ! start_redis "$tmp/redis" "$redis_port"; then
    [[ -f $tmp/redis/redis.pid ]] && STARTED_PIDS+=("$(<"$tmp/redis/redis.pid")")
    die "redis-server did not start"
fi
say "redis-server on 127.0.0.1:$redis_port"

chatd_port=$(free_port)
start_chatd "$chatd" "$tmp/chatd.log" "$chatd_port" "$redis_port" --log-level "$log_level" \
    --max-streams $((max_n + 100)) || die "chatd did not start"
chatd_pid=$CHATD_PID
base=http://127.0.0.1:$chatd_port
say "chatd pid $chatd_pid on 127.0.0.1:$chatd_port (--max-streams $((max_n + 100)))"

token=$(curl -sS -X POST "$base/user/" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"bench-password","name":"bench"}' |
    sed -n 's/.*"authKey":"\([A-Za-z0-9_-]*\)".*/\1/p')
[[ -n $token ]] || die "registration did not return an authKey"

# post TEXT: one message as the bench user; fails unless chatd answers 201.
post() {
    local status
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/message/" \
        -b "authKey=$token" -H 'Content-Type: application/json' -d "{\"text\":\"$1\"}")
    [[ $status == 201 ]] || die "POST /message/ answered $status, not 201"
}
post "warm-up" # before any stream: nobody receives it

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$chatd_pid/status"; }
# chatd's user and system CPU time so far, in ms.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{printf "%d %d", $14 * 1000 / hz, $15 * 1000 / hz}' "/proc/$chatd_pid/stat"; }

# ---- one run per subscriber count ----

# wait_ready OUT: waits until sse_load printed "ready", or dies if it exited.
wait_ready() {
    until grep -q '^ready ' "$1"; do
        if ! kill -0 "$load_pid" 2>/dev/null; then
            cat "$tmp/load.err" >&2
            die "sse_load exited before all streams had started"
        fi
        sleep 0.05
    done
}

# summary_field FILE LINE_NAME KEY: the value after KEY on sse_load's LINE_NAME line.
summary_field() {
    awk -v line="$2" -v key="$3" '$1 == line {for (i = 2; i < NF; i++) if ($i == key) print $(i + 1)}' "$1"
}

results=$tmp/results
: >"$results"
failed=0
gap_s=$(awk -v g="$gap_ms" 'BEGIN {print g / 1000}')
for n in $counts; do
    out=$tmp/load-$n.out
    rss_before=$(rss_kb)
    "$sse_load" --url "$base/message/stream" --subscribers "$n" --messages "$messages" \
        --connect-rate "$rate" --timeout "$timeout_s" >"$out" 2>"$tmp/load.err" &
    load_pid=$!
    wait_ready "$out"
    sleep 1 # let chatd finish the subscriptions and settle
    rss_idle=$(rss_kb)
    say "$n streams open: chatd VmRSS $rss_before -> $rss_idle KB; sending $messages messages"
    read -r user0 sys0 <<<"$(cpu_ms)"
    for ((i = 1; i <= messages; i++)); do
        post "realtime bench message $i of $messages to $n subscribers"
        ((gap_ms == 0)) || sleep "$gap_s"
    done
    rc=0
    wait "$load_pid" || rc=$?
    load_pid=''
    read -r user1 sys1 <<<"$(cpu_ms)"
    say "chatd CPU while the messages went out: user $((user1 - user0)) ms, sys $((sys1 - sys0)) ms"
    sed 's/^/bench:   /' "$tmp/load.err" >&2
    grep -v '^ready ' "$out" | sed 's/^/bench:   sse_load: /' >&2
    if ((rc != 0)); then
        failed=1
        say "sse_load exited with $rc for $n subscribers: the figures are not valid"
    fi
    kb=$(awk -v a="$rss_before" -v b="$rss_idle" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / n}')
    echo "$n $(summary_field "$out" latency_ms p50) $(summary_field "$out" latency_ms p99)" \
        "$(summary_field "$out" latency_ms p99.9) $(summary_field "$out" last_subscriber_ms p50)" \
        "$(summary_field "$out" last_subscriber_ms max) $kb" \
        "$(summary_field "$out" events missing) $(summary_field "$out" events out_of_order)" \
        >>"$results"
    sleep 1 # let chatd close the streams before the next run's baseline
done

# ---- the report ----

echo
echo "clusterchat realtime bench: GET /message/stream on one chatd, $messages messages" \
    "per run (${gap_ms} ms apart), $(nproc) CPUs shared by chatd, redis-server and sse_load"
awk 'BEGIN {
    f = "  %11s %8s %8s %9s %11s %11s %8s %8s %8s\n"
    printf f, "subscribers", "p50 ms", "p99 ms", "p99.9 ms", "last p50", "last max", "KB/sub",
        "missing", "reorder"
}
{ printf f, $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$results"
echo "latency: now - the message's timestamp (chatd received the POST), over every delivery;"
echo "last p50/max: per message, the latency of the last subscriber to get it (ms);"
echo "KB/sub: chatd's VmRSS growth with all streams open and idle, per stream."
if ((failed)); then
    say "some messages were lost, duplicated or reordered (see above): the figures are not valid"
    exit 1
fi
