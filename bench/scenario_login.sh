# shellcheck shell=bash
# Scenario "login" of bench/bench.sh: does a storm of logins (PUT /user/, an
# Argon2id verification each, on chatd's worker threads) slow the sends down?
# One chatd on a standalone Redis; the storm is a second wrk logging in over
# and over with $login_conns connections (bench/login.lua). Contenders, each
# for $duration seconds:
#   send                wrk POST /message/ with $conns connections as fast as
#                       chatd answers (saturated), alone
#   send+logins         the same during the storm
#   send-paced          wrk POST /message/ with $conns connections at a fixed
#                       offered rate (bench/post_message.lua's GAP_MS), alone
#   send-paced+logins   the same during the storm
#   logins-alone        the storm alone
# The target: the send p99 at the fixed rate unchanged within noise. A
# saturating closed-loop sender turns any CPU time the workers take into
# latency on 2 cores, so the saturated pair shows throughput, and latency is
# judged where the server has headroom, as a real one does. The fixed rate is
# BENCH_LOGIN_RATE requests/s or, by default, half of what the saturated
# sender reached alone in round 1 (which runs first); it stays the same in
# every round. Logins per second are counted from chatd's /metrics over the
# sends' own window (recorded as the contenders logins, logins-paced and
# logins-alone, metric rps). The paced sender reaches somewhat less than the
# rate it offers (offered_rps): each connection's cycle is its gap plus the
# response time.
#
# Redis runs in the harness's session, not daemonized, so that it shares one
# scheduling group with chatd (BENCH_LOGIN_REDIS_GROUP=own daemonizes it as
# the other scenarios do). SCHED_IDLE and nice rank threads within a group
# only; with autogroup scheduling a daemon's new session is a group of its
# own, which competes with the group holding chatd's busy workers as an
# equal, and a Redis slowed that way is not what a login storm does to a
# deployment, whose Redis runs on other hosts. BENCH_LOGIN_CHATD_ARGS adds
# flags to chatd (e.g. "--worker-priority nice" or "--workers 1", to
# compare). Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, conns, rounds, duration, raw are bench.sh's

login_conns=${BENCH_LOGIN_CONNECTIONS:-4}
login_rate=${BENCH_LOGIN_RATE:-}
login_redis_group=${BENCH_LOGIN_REDIS_GROUP:-shared}
login_series='chatd_http_requests_total{route="/user",method="PUT",status="200"}'

scenario_login() {
    local port base token round c rate=$login_rate gap=
    local -a extra
    read -r -a extra <<<"${BENCH_LOGIN_CHATD_ARGS:-}"
    [[ -z $rate || $rate =~ ^[1-9][0-9]*$ ]] || die "BENCH_LOGIN_RATE must be a rate per second"
    case $login_redis_group in
    shared) start_redis_here login-redis --in-session ;;
    own) start_redis_here login-redis ;;
    *) die "BENCH_LOGIN_REDIS_GROUP must be shared or own, got '$login_redis_group'" ;;
    esac
    port=$(free_port)
    start_chatd "$chatd" "$tmp/login-chatd.log" "$port" "$redis_port" --log-level warn \
        "${extra[@]}" || die "chatd did not start"
    base=http://127.0.0.1:$port
    token=$(register_user "$base")
    post_ok "$base/message/" "$token"
    # The storm logs in as another user: every login adds a session, and the
    # sender's would be the oldest one ended past the per-user cap.
    register_user "$base" storm@example.com >/dev/null
    for ((round = 1; round <= rounds; round++)); do
        for c in $(round_order "$round" send send+logins send-paced send-paced+logins logins-alone); do
            if [[ $c == send-paced* && -z $rate ]]; then
                rate=$(med_of login send rps | awk '{printf "%d", $1 / 2}')
                ((rate > 0)) || die "no saturated send rate to pace at"
                say "login: the paced sends offer $rate requests/s (half the saturated rate alone)"
            fi
            # Each connection's mean gap for the fixed rate.
            [[ -z $rate ]] || gap=$(awk -v c="$conns" -v r="$rate" 'BEGIN {printf "%.3f", c * 1000 / r}')
            login_contender "$base" "$token" "$c" "$round" "$gap"
            [[ $c != send-paced* ]] || record login "$c" "$round" offered_rps "$rate"
            # Hashes a finished storm left queued must not run into the next contender.
            wait_until 60 workers_idle "$base" || die "chatd's worker queue did not drain"
        done
    done
}

# login_contender BASE TOKEN CONTENDER ROUND GAP_MS: one contender's run,
# with the storm around it when its name says so.
login_contender() {
    local base=$1 token=$2 c=$3 round=$4 gap=$5 storm_pid='' n0 n1 t0 t1 out
    if [[ $c == *logins* ]]; then
        out=$tmp/login-storm-$c-$round
        wrk -t 1 -c "$login_conns" --timeout 60s -d "$((duration + 2))s" -s "$root/bench/login.lua" \
            "$base/user/" -- storm@example.com bench-password >"$out" 2>&1 &
        storm_pid=$!
        STARTED_PIDS+=("$storm_pid")
        sleep 1 # the storm is under way when the sends start
    fi
    n0=$(chatd_metric "$base" "$login_series")
    t0=$(date +%s%N)
    case $c in
    send | send+logins)
        wrk_run "$tmp/login-$c-$round" "$conns" "$base/message/" post_message.lua "$token"
        wrk_record login "$c" "$round"
        ;;
    send-paced*)
        wrk_run "$tmp/login-$c-$round" "$conns" "$base/message/" post_message.lua "$token" - "$gap"
        wrk_record login "$c" "$round"
        ;;
    logins-alone) sleep "$duration" ;;
    esac
    t1=$(date +%s%N)
    n1=$(chatd_metric "$base" "$login_series")
    [[ -n $storm_pid ]] || return 0
    wait "$storm_pid" || die "the login wrk failed"
    grep -q 'Non-2xx or 3xx responses' "$out" && die "logins failed: $(grep Non-2xx "$out")"
    local name=logins
    [[ $c == send-paced* ]] && name=logins-paced
    [[ $c == logins-alone ]] && name=logins-alone
    record login "$name" "$round" rps "$(awk -v n=$((n1 - n0)) -v ns=$((t1 - t0)) \
        'BEGIN {printf "%.2f", n * 1e9 / ns}')"
    # A login slower than wrk's timeout counts as an error here, not a failure.
    record login "$name" "$round" errors "$(wrk_summary "$out" | cut -d' ' -f4)"
    say "login $name round $round: $((n1 - n0)) logins in $(((t1 - t0) / 1000000)) ms"
}

# med_of SCENARIO CONTENDER METRIC: the median of the figures recorded so far.
med_of() {
    awk -F'\t' -v s="$1" -v c="$2" -v m="$3" '$1 == s && $2 == c && $4 == m {print $5}' "$raw" |
        sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}
