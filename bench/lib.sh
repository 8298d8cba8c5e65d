# shellcheck shell=bash
# Shared by the benchmark scripts in bench/: messages, and reading wrk's
# output. Source it after scripts/lib.sh; do not run it.

die() {
    echo "bench: error: $*" >&2
    exit 1
}

say() { echo "bench: $*" >&2; }

# wrk_options USAGE_LINES "$@": reads the options of the wrk benchmarks into
# duration, conns, reps (-d -c -r, or BENCH_DURATION, BENCH_CONNECTIONS,
# BENCH_REPEAT), log_level (BENCH_LOG_LEVEL) and chatd (CHATD); a bad option
# prints lines USAGE_LINES (e.g. "4,10") of the calling script's header.
# shellcheck disable=SC2034  # the variables are the callers'
wrk_options() {
    local lines=$1 opt v
    shift
    duration=${BENCH_DURATION:-10}
    conns=${BENCH_CONNECTIONS:-64}
    reps=${BENCH_REPEAT:-1}
    log_level=${BENCH_LOG_LEVEL:-warn}
    chatd=${CHATD:-$root/build/chatd}
    OPTIND=1
    while getopts 'd:c:r:h' opt; do
        case $opt in
        d) duration=$OPTARG ;;
        c) conns=$OPTARG ;;
        r) reps=$OPTARG ;;
        *) bench_usage "$lines" ;;
        esac
    done
    shift $((OPTIND - 1))
    (($# == 0)) || bench_usage "$lines"
    for v in duration conns reps; do
        [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
    done
    ((conns >= 2)) || die "need at least 2 connections (wrk runs 2 threads)"
}

# bench_usage LINES: prints those lines of the running script's header, exits 2.
bench_usage() {
    sed -n "$1s/^# \{0,1\}//p" "$0" >&2
    exit 2
}

# need_tools TOOL...: dies unless each is installed, and unless chatd is built.
need_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
    done
    [[ -x $chatd ]] || die "$chatd not found: run 'make' first"
}

# wrk_summary FILE: "requests/s p50_ms p99_ms errors" of wrk --latency output.
wrk_summary() {
    awk 'function ms(v) {
             if (v ~ /us$/) return v / 1000
             if (v ~ /ms$/) return v + 0
             if (v ~ /s$/) return v * 1000
             if (v ~ /m$/) return v * 60000
             return v + 0
         }
         $1 == "50%" {p50 = ms($2)}
         $1 == "99%" {p99 = ms($2)}
         /^Requests\/sec:/ {rps = $2}
         /Non-2xx or 3xx responses:/ {err += $NF}
         /Socket errors:/ {gsub(/,/, ""); err += $4 + $6 + $8 + $10}
         END {printf "%s %.2f %.2f %d\n", rps, p50, p99, err}' "$1"
}

# median FILE SETUP COLUMN: the median of a column of the results lines
# "setup rps p50 p99 errors" in FILE for one setup (2 rps, 3 p50, 4 p99).
median() {
    awk -v t="$2" -v c="$3" '$1 == t {print $c}' "$1" | sort -g |
        awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}

# stop_wrk: stops a wrk_post run still going (from a cleanup trap).
stop_wrk() {
    [[ -n ${wrk_pid:-} ]] || return 0
    kill "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" 2>/dev/null || true
}

# wrk_post NAME URL TOKEN OUT: one wrk run of POST /message/ against URL
# (bench/post_message.lua, the session TOKEN), output in OUT. It runs in the
# background with its pid in wrk_pid, for the caller's cleanup on a signal.
# Sets rps, p50, p99 and err, and appends "NAME rps p50 p99 err" to $results.
# shellcheck disable=SC2034,SC2154  # rps p50 p99 err and results are the caller's
wrk_post() {
    local name=$1 url=$2 token=$3 out=$4
    wrk --latency -t 2 -c "$conns" -d "${duration}s" -s "$root/bench/post_message.lua" \
        "$url" -- "$token" >"$out" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || {
        cat "$out" >&2
        die "wrk ($name) failed"
    }
    wrk_pid=''
    read -r rps p50 p99 err <<<"$(wrk_summary "$out")"
    [[ -n $rps ]] || {
        cat "$out" >&2
        die "no Requests/sec in wrk's output ($name)"
    }
    echo "$name $rps $p50 $p99 $err" >>"$results"
}
