# shellcheck shell=bash
# Scenario "login" of bench/bench.sh: does a storm of logins (PUT /user/, an
# Argon2id verification each, on chatd's worker threads) slow the sends down?
# One chatd on a standalone Redis. Contenders, each for $duration seconds:
#   send         wrk POST /message/ with $conns connections, alone
#   send+logins  the same while a second wrk logs in over and over with
#                $login_conns connections (bench/login.lua)
# The target: the send p99 unchanged within noise. Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, conns, rounds, duration are bench.sh's

login_conns=${BENCH_LOGIN_CONNECTIONS:-4}

scenario_login() {
    local port base token round c login_pid lrps lerr
    start_redis_here login-redis
    port=$(free_port)
    start_chatd "$chatd" "$tmp/login-chatd.log" "$port" "$redis_port" --log-level warn ||
        die "chatd did not start"
    base=http://127.0.0.1:$port
    token=$(register_user "$base")
    post_ok "$base/message/" "$token"
    # The storm logs in as another user: every login adds a session, and the
    # sender's would be the oldest one ended past the per-user cap.
    register_user "$base" storm@example.com >/dev/null
    for ((round = 1; round <= rounds; round++)); do
        for c in $(round_order "$round" send send+logins); do
            if [[ $c == send+logins ]]; then
                wrk -t 1 -c "$login_conns" --timeout 30s -d "$((duration + 2))s" -s "$root/bench/login.lua" \
                    "$base/user/" -- storm@example.com bench-password >"$tmp/login-wrk-$round" 2>&1 &
                login_pid=$!
                STARTED_PIDS+=("$login_pid")
                sleep 1 # the storm is under way when the sends start
            fi
            wrk_run "$tmp/login-$c-$round" "$conns" "$base/message/" post_message.lua "$token"
            wrk_record login "$c" "$round"
            if [[ $c == send+logins ]]; then
                wait "$login_pid" || die "the login wrk failed"
                read -r lrps _ _ lerr <<<"$(wrk_summary "$tmp/login-wrk-$round")"
                ((lerr == 0)) || die "$lerr logins failed"
                record login logins "$round" rps "$lrps"
                say "login: $lrps logins/s alongside"
            fi
        done
    done
}
