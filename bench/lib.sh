# shellcheck shell=bash
# Shared by bench/bench.sh and its scenarios (bench/scenario_*.sh): messages,
# the result records, the load tools (wrk, redis-benchmark), chatd with a
# session, and what a process costs (memory, CPU). Source it after
# scripts/lib.sh; do not run it.

# say and die (scripts/lib.sh) prefix their messages with "bench:".
# shellcheck disable=SC2034  # read by say
script_name=bench

# bench_usage LINES: prints those lines of the running script's header, exits 2.
bench_usage() {
    sed -n "$1s/^# \{0,1\}//p" "$0" >&2
    exit 2
}

# record SCENARIO CONTENDER ROUND METRIC VALUE: one figure into $raw, the
# tab-separated file bench/report.sh reads.
# shellcheck disable=SC2154  # raw is bench.sh's
record() {
    [[ -n $5 ]] || die "no value for $1 $2 $4 (round $3)"
    printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$raw"
}

# round_order ROUND NAME...: the names in order on odd rounds, reversed on
# even ones, so that no contender always runs first (or right after another).
round_order() {
    local round=$1 i
    shift
    local names=("$@")
    if ((round % 2)); then
        echo "${names[@]}"
    else
        for ((i = ${#names[@]} - 1; i >= 0; i--)); do printf '%s ' "${names[i]}"; done
        echo
    fi
}

# ---- wrk ----

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

# stop_wrk: stops a wrk_run still going (from a cleanup trap).
stop_wrk() {
    [[ -n ${wrk_pid:-} ]] || return 0
    kill "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" 2>/dev/null || true
    wrk_pid=''
}

# wrk_run OUT CONNS URL SCRIPT [ARGS...]: one wrk run of $duration seconds
# (2 threads, CONNS connections) with the Lua SCRIPT and its ARGS, output in
# OUT. It runs in the background with its pid in wrk_pid, for the caller's
# cleanup on a signal. Sets rps, p50, p99 and err.
# shellcheck disable=SC2034,SC2154  # rps p50 p99 err are the caller's, duration bench.sh's
wrk_run() {
    local out=$1 c=$2 url=$3 script=$4
    shift 4
    wrk --latency -t 2 -c "$c" -d "${duration}s" -s "$root/bench/$script" "$url" -- "$@" \
        >"$out" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || {
        cat "$out" >&2
        die "wrk $url failed"
    }
    wrk_pid=''
    read -r rps p50 p99 err <<<"$(wrk_summary "$out")"
    [[ -n $rps ]] || {
        cat "$out" >&2
        die "no Requests/sec in wrk's output ($url)"
    }
}

# wrk_record SCENARIO CONTENDER ROUND: records the last wrk_run's figures.
wrk_record() {
    record "$1" "$2" "$3" rps "$rps"
    record "$1" "$2" "$3" p50_ms "$p50"
    record "$1" "$2" "$3" p99_ms "$p99"
    record "$1" "$2" "$3" errors "$err"
    say "$1 $2 round $3: $rps requests/s, p50 $p50 ms, p99 $p99 ms, $err errors"
}

# wrk_run_cpu SERVER_PIDS REDIS_PIDS OUT CONNS URL SCRIPT [ARGS...]: wrk_run,
# and the CPU time the server's and Redis's processes spent meanwhile per
# request (each list space-separated). Sets rps, p50, p99, err, server_us,
# redis_us.
wrk_run_cpu() {
    local servers=$1 redises=$2 s0 r0 n
    shift 2
    # shellcheck disable=SC2086  # the lists are words
    s0=$(cpu_ms $servers) r0=$(cpu_ms $redises)
    wrk_run "$@"
    # shellcheck disable=SC2086
    server_us=$(($(cpu_ms $servers) - s0)) redis_us=$(($(cpu_ms $redises) - r0))
    n=$(awk '/requests in/ {print $1}' "$1")
    server_us=$(awk -v c="$server_us" -v n="$n" 'BEGIN {printf "%.1f", n ? c * 1000 / n : 0}')
    redis_us=$(awk -v c="$redis_us" -v n="$n" 'BEGIN {printf "%.1f", n ? c * 1000 / n : 0}')
}

# wrk_record_cpu SCENARIO CONTENDER ROUND: wrk_record, and the last
# wrk_run_cpu's CPU per request.
wrk_record_cpu() {
    wrk_record "$@"
    record "$1" "$2" "$3" server_us_per_req "$server_us"
    record "$1" "$2" "$3" redis_us_per_req "$redis_us"
    say "$1 $2 round $3: CPU per request $server_us us in the server, $redis_us us in Redis"
}

# nginx_pids MASTER_PID: nginx's master and its workers.
nginx_pids() { echo "$1 $(pgrep -P "$1" | tr '\n' ' ')"; }

# ---- redis-benchmark ----

# rb_rps PORT CONNS N COMMAND...: requests/s of one redis-benchmark run of N
# requests (no pipelining).
rb_rps() {
    local port=$1 c=$2 n=$3 out
    shift 3
    out=$(redis-benchmark -h 127.0.0.1 -p "$port" -c "$c" -n "$n" -q "$@" 2>&1) || {
        echo "$out" >&2
        die "redis-benchmark $* failed"
    }
    tr '\r' '\n' <<<"$out" | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1
}

# rb_run PORT CONNS COMMAND...: a redis-benchmark run lasting about $duration
# seconds: redis-benchmark counts requests, not seconds, so a short run
# calibrates the rate first. Sets rps.
# shellcheck disable=SC2034
rb_run() {
    local port=$1 c=$2 rate n
    shift 2
    rate=$(rb_rps "$port" "$c" 20000 "$@")
    [[ -n $rate ]] || die "no result from redis-benchmark $*"
    n=$(awk -v r="$rate" -v d="$duration" 'BEGIN {n = int(r * d); print (n < 20000 ? 20000 : n)}')
    rps=$(rb_rps "$port" "$c" "$n" "$@")
    [[ -n $rps ]] || die "no result from redis-benchmark $*"
}

# ---- chatd ----

# listeners PORT: how many sockets listen on TCP PORT (with SO_REUSEPORT,
# several processes do).
listeners() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" '$2 ~ p "$" && $4 == "0A"' /proc/net/tcp /proc/net/tcp6 2>/dev/null | wc -l
}

# start_chatds BINARY N LOG_PREFIX PORT REDIS_PORT [more chatd flags]: N chatd
# sharing PORT (--reuseport 1: the kernel spreads the connections over them),
# as one chatd per core runs; logs in LOG_PREFIX-<i>.log. A /health answer
# may come from a chatd started before, so each is awaited until it listens
# too. Sets CHATD_PIDS.
start_chatds() {
    local bin=$1 n=$2 prefix=$3 port=$4 redis=$5 i
    shift 5
    CHATD_PIDS=()
    for ((i = 1; i <= n; i++)); do
        start_chatd "$bin" "$prefix-$i.log" "$port" "$redis" --reuseport 1 "$@" || return 1
        CHATD_PIDS+=("$CHATD_PID")
        wait_until 15 listening_at_least "$port" "$i" || {
            tail -n 20 "$prefix-$i.log" >&2
            return 1
        }
    done
}

# start_app_chatds BINARY LOG_PREFIX REDIS_PORT [more chatd flags]: three
# chatd on ports of their own, as the app hosts behind HAProxy
# (deploy/haproxy.cfg's CHATD1..CHATD3); logs in LOG_PREFIX<i>.log. Sets
# APP_ADDRS (host:port each) and APP_PIDS.
start_app_chatds() {
    local bin=$1 prefix=$2 redis=$3 i port
    shift 3
    APP_ADDRS=() APP_PIDS=()
    for i in 1 2 3; do
        port=$(free_port)
        start_chatd "$bin" "$prefix$i.log" "$port" "$redis" "$@" || return 1
        APP_ADDRS+=("127.0.0.1:$port")
        APP_PIDS+=("$CHATD_PID")
    done
}

# listening_at_least PORT N: N or more sockets listen on PORT.
listening_at_least() { (($(listeners "$1") >= $2)); }

# chatd_metric BASE_URL SERIES: the value of one series of chatd's /metrics
# (its name and labels exactly as printed), 0 when absent.
chatd_metric() {
    curl -sf "$1/metrics" | awk -v s="$2" '$1 == s {v = $2} END {print v + 0}'
}

# workers_idle BASE_URL: chatd's password-hashing queue is empty.
workers_idle() { (($(chatd_metric "$1" chatd_worker_queue_depth) == 0)); }

# register_user BASE_URL [EMAIL]: prints the authKey of a new user (or of the
# same user logged in again when it exists: Redis may outlive a chatd); EMAIL
# defaults to bench@example.com, the password is bench-password.
register_user() {
    local email=${2:-bench@example.com} body key
    body="{\"email\":\"$email\",\"password\":\"bench-password\",\"name\":\"bench\"}"
    key=$(curl -sS -X POST "$1/user/" -H 'Content-Type: application/json' -d "$body" |
        sed -n 's/.*"authKey":"\([A-Za-z0-9_-]*\)".*/\1/p')
    if [[ -z $key ]]; then
        key=$(curl -sS -o /dev/null -c - -X PUT "$1/user/" -H 'Content-Type: application/json' \
            -d "$body" | awk '$6 == "authKey" {print $7}')
    fi
    [[ -n $key ]] || die "no session from chatd at $1"
    echo "$key"
}

# post_ok URL TOKEN: one POST of a message; dies unless it answers 201.
post_ok() {
    local status
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$1" -b "authKey=$2" \
        -H 'Content-Type: application/json' -d '{"text":"warm-up"}')
    [[ $status == 201 ]] || die "POST $1 answered $status, not 201"
}

# ---- HAProxy (deploy/haproxy.cfg, three server lines) ----

# lb_servers STATS: "UP DOWN" counts of the chatd servers in HAProxy's stats.
lb_servers() {
    curl -sf "http://$1/stats;csv" |
        awk -F, '$1 == "chatd" && $2 != "BACKEND" {n[$18]++} END {print n["UP"] + 0, n["DOWN"] + 0}'
}

# lb_ready STATS UP: exactly UP servers up, the others down.
lb_ready() { [[ $(lb_servers "$1") == "$2 $((3 - $2))" ]]; }

# ---- what a process costs ----

# pss_kb PID...: the proportional set size of the processes together, KB (a
# page shared by several, like nginx's shared memory, counts once in all).
pss_kb() {
    local pid sum=0 kb
    for pid in "$@"; do
        kb=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) || kb=0
        sum=$((sum + ${kb:-0}))
    done
    echo "$sum"
}

# rss_kb PID: VmRSS, KB.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# cpu_ms PID...: user + system CPU time of the processes so far, ms.
cpu_ms() {
    local pid sum=0 hz
    hz=$(getconf CLK_TCK)
    for pid in "$@"; do
        sum=$((sum + $(awk -v hz="$hz" '{printf "%d", ($14 + $15) * 1000 / hz}' "/proc/$pid/stat")))
    done
    echo "$sum"
}

# children_cpu VAR: sets VAR to the user + system CPU time, ms, of every
# child of this shell that ended and was waited for so far (bash's `times`):
# the difference around a load tool's run is that tool's cost. Call it
# as it is, not in $(...) or a pipe: a subshell has no children of its own.
# shellcheck disable=SC2154  # tmp is bench.sh's
children_cpu() {
    times >"$tmp/times"
    printf -v "$1" '%s' "$(awk 'NR == 2 {
        for (i = 1; i <= 2; i++) {split($i, t, /[ms]/); ms += (t[1] * 60 + t[2]) * 1000}
        printf "%d", ms
    }' "$tmp/times")"
}
