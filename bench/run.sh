#!/usr/bin/env bash
# bench/run.sh: chatd's throughput next to that of the Redis commands it sends.
#
# usage: bench/run.sh [-d SECONDS] [-c CONNECTIONS] [-t THREADS] [-m MESSAGES]
#
#   -d  seconds per run                     (BENCH_DURATION, default 10)
#   -c  concurrent connections              (BENCH_CONNECTIONS, default 64)
#   -t  wrk threads                         (BENCH_THREADS, default 2)
#   -m  messages pre-filled before the GET  (BENCH_PREFILL, default 5000)
#   BENCH_LOG_LEVEL  chatd's --log-level during the runs (default warn: the
#                    info level writes a line per request)
#   CHATD            the chatd binary (default build/chatd)
#
# It starts its own redis-server (127.0.0.1, a free port, no persistence) and
# a chatd on another free port, registers a user to get a session token,
# pre-fills the history through chatd, then measures, each run lasting the
# same time and using the same number of connections:
#   (a) wrk   POST /message/ with the authKey cookie (bench/post_message.lua)
#   (b) wrk   GET /message/?after=<the id in the middle>&limit=100
#   (c) redis-benchmark XADD bench:stream * f v
#   (d) redis-benchmark XRANGE <chatd's stream> (<the same id> + COUNT 100,
#       which is the very command chatd sends for (b)
# redis-benchmark counts requests, not seconds: a short calibration run gives
# its rate, and the real run asks for rate x duration requests.
# It prints a table of requests/s and the ratios chatd/Redis, and stops
# everything it started (by pid) on exit, also on Ctrl-C.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh disable=SC1091  # (shellcheck -x follows it)
. "$root/scripts/lib.sh"
# shellcheck source=bench/lib.sh disable=SC1091
. "$root/bench/lib.sh"
duration=${BENCH_DURATION:-10}
conns=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
prefill=${BENCH_PREFILL:-5000}
log_level=${BENCH_LOG_LEVEL:-warn}
chatd=${CHATD:-$root/build/chatd}

while getopts 'd:c:t:m:h' opt; do
    case $opt in
    d) duration=$OPTARG ;;
    c) conns=$OPTARG ;;
    t) threads=$OPTARG ;;
    m) prefill=$OPTARG ;;
    *) bench_usage 3,13 ;;
    esac
done
shift $((OPTIND - 1))
[[ $# -eq 0 ]] || bench_usage 3,13

for v in duration conns threads prefill; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
((conns >= threads)) || die "need at least as many connections as threads"
((prefill >= 202)) || die "pre-fill at least 202 messages (the page after the middle needs 100)"
for tool in redis-server redis-cli redis-benchmark wrk curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
[[ -x $chatd ]] || die "$chatd not found: run 'make build/chatd' first"

# ---- processes we own, stopped by pid on exit ----

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench.XXXXXX")
child_pid=''

stop_pid() {
    local pid=$1
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || return 0
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$child_pid"
    stop_started
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command in the background and waits for it, so that a signal reaches
# the trap at once (bash runs traps only between commands).
run_child() {
    local rc=0
    "$@" &
    child_pid=$!
    wait "$child_pid" || rc=$?
    child_pid=''
    return "$rc"
}

# ---- Redis and chatd ----

redis_port=$(free_port)
start_redis "$tmp/redis" "$redis_port" || die "redis-server did not start"
say "redis-server on 127.0.0.1:$redis_port"
chatd_port=$(free_port)
base=http://127.0.0.1:$chatd_port
start_chatd "$chatd" "$tmp/chatd.log" "$chatd_port" "$redis_port" --log-level "$log_level" ||
    die "chatd did not start"
say "chatd pid $CHATD_PID on 127.0.0.1:$chatd_port"

# ---- a user, a token, a filled history ----

token=$(curl -sS -X POST "$base/user/" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"bench-password","name":"bench"}' |
    sed -n 's/.*"authKey":"\([A-Za-z0-9_-]*\)".*/\1/p')
[[ -n $token ]] || die "registration did not return an authKey"

# One wrk thread posts until Redis holds $prefill messages; it stops itself
# after that many answers, but wrk only exits at the end of its duration or
# on SIGINT, which it answers by printing its summary.
stream='room:{lobby}:messages'
xlen() { redis-cli -h 127.0.0.1 -p "$redis_port" XLEN "$stream"; }
wrk -t 1 -c 8 -d 300s -s "$root/bench/post_message.lua" "$base/message/" \
    -- "$token" "$prefill" >"$tmp/prefill.txt" 2>&1 &
child_pid=$!
deadline=$((SECONDS + 120))
while kill -0 "$child_pid" 2>/dev/null && (($(xlen) < prefill && SECONDS < deadline)); do
    sleep 0.05
done
kill -INT "$child_pid" 2>/dev/null || true
wait "$child_pid" || {
    cat "$tmp/prefill.txt" >&2
    die "pre-filling failed"
}
child_pid=''
stored=$(xlen)
((stored >= prefill)) || die "only $stored of $prefill messages were stored"
middle=$(curl -sS "$base/message/?limit=$((stored / 2))" |
    grep -o '"id":"[0-9]*-[0-9]*"' | tail -n 1 | cut -d'"' -f4)
[[ -n $middle ]] || die "could not read the history"
page_url="$base/message/?after=$middle&limit=100"
page_bytes=$(curl -sS "$page_url" | wc -c)
say "pre-filled $stored messages; middle id $middle; a page is $page_bytes bytes"

# ---- the runs ----

# run_wrk NAME URL SCRIPT [ARGS...]: one wrk run, output kept in $tmp/NAME.
run_wrk() {
    local name=$1 url=$2 script=$3
    shift 3
    say "wrk $name: ${duration}s, $conns connections, $threads threads"
    run_child wrk -t "$threads" -c "$conns" -d "${duration}s" -s "$script" "$url" -- "$@" \
        >"$tmp/$name" 2>&1 || {
        cat "$tmp/$name" >&2
        die "wrk $name failed"
    }
}

wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$tmp/$1"; }
# Non-2xx answers plus socket errors of a wrk run.
wrk_errors() {
    awk '/Non-2xx or 3xx responses:/ {n += $NF}
         /Socket errors:/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10}
         END {print n + 0}' "$tmp/$1"
}

# rb_rps N COMMAND...: requests/s of one redis-benchmark run of N requests.
rb_rps() {
    local n=$1
    shift
    run_child redis-benchmark -h 127.0.0.1 -p "$redis_port" -c "$conns" -n "$n" -q "$@" \
        >"$tmp/rb" 2>&1 || {
        cat "$tmp/rb" >&2
        die "redis-benchmark $* failed"
    }
    tr '\r' '\n' <"$tmp/rb" | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1
}

# run_rb NAME CALIBRATION_N COMMAND...: calibrates, then runs for ~duration.
run_rb() {
    local name=$1 calib=$2 rate n
    shift 2
    rate=$(rb_rps "$calib" "$@")
    [[ -n $rate ]] || die "no result from redis-benchmark $*"
    n=$(awk -v r="$rate" -v d="$duration" -v c="$calib" \
        'BEGIN {n = int(r * d); print (n < c ? c : n)}')
    say "redis-benchmark $name: $n requests (~${duration}s at the calibrated rate)"
    rb_rps "$n" "$@" >"$tmp/$name"
}

run_wrk post "$base/message/" "$root/bench/post_message.lua" "$token"
run_wrk get "$page_url" "$root/bench/get_messages.lua"
run_rb xadd 20000 XADD bench:stream '*' f v
run_rb xrange 5000 XRANGE "$stream" "($middle" + COUNT 100

# ---- the report ----

post=$(wrk_rps post)
get=$(wrk_rps get)
xadd=$(cat "$tmp/xadd")
xrange=$(cat "$tmp/xrange")
post_err=$(wrk_errors post)
get_err=$(wrk_errors get)

echo
echo "clusterchat bench: ${duration}s per run, -c $conns (wrk -t $threads), $(nproc) CPUs," \
    "$stored messages, pages of 100 ($page_bytes bytes)"
awk -v post="$post" -v get="$get" -v xadd="$xadd" -v xrange="$xrange" \
    -v pe="$post_err" -v ge="$get_err" 'BEGIN {
    f = "  %-56s %12s %8s\n"
    printf f, "run", "requests/s", "errors"
    printf f, "(a) chatd POST /message/", sprintf("%.0f", post), pe
    printf f, "(b) chatd GET /message/?after=<mid>&limit=100", sprintf("%.0f", get), ge
    printf f, "(c) redis XADD bench:stream * f v", sprintf("%.0f", xadd), "-"
    printf f, "(d) redis XRANGE room:{lobby}:messages (<mid> + COUNT 100", sprintf("%.0f", xrange), "-"
    printf f, "chatd POST / redis XADD", sprintf("%.2f", post / xadd), ""
    printf f, "chatd GET page / redis XRANGE", sprintf("%.2f", get / xrange), ""
}'
if ((post_err > 0 || get_err > 0)); then
    say "some chatd requests failed (errors column): the figures are not valid"
    exit 1
fi
