# shellcheck shell=bash
# Scenario "send" of bench/bench.sh: sending a message on a standalone Redis.
# Contenders, each for $duration seconds with $conns connections:
#   chatd        wrk POST /message/ with a session cookie (bench/post_message.lua)
#   chatd-x2     the same to two chatd sharing one port (--reuseport 1), the
#                deployment of one chatd per core on this 2-core machine
#   redis-xadd   redis-benchmark with the XADD that chatd sends for it (same
#                fields, same text), no pipelining: the target is >= 0.8x this
#   nchan-mem-wW, nchan-redis-wW  wrk POST of the same body to nchan's
#                publisher (nginx with W workers), in memory or through the
#                same redis-server
# Each wrk run also records the CPU time per request of the server (chatd, or
# nginx's master and workers) and of Redis. The Redis server has no
# persistence. Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, conns, rounds, ... are bench.sh's

scenario_send() {
    local port base token w np c round text key
    start_redis_here send-redis
    port=$(free_port)
    start_chatd "$chatd" "$tmp/send-chatd.log" "$port" "$redis_port" --log-level warn ||
        die "chatd did not start"
    base=http://127.0.0.1:$port
    token=$(register_user "$base")
    post_ok "$base/message/" "$token"
    local -A url=([chatd]="$base/message/") pids=([chatd]=$CHATD_PID)
    local redis_pid
    redis_pid=$(redis-cli -p "$redis_port" info server | tr -d '\r' | sed -n 's/^process_id://p')
    port=$(free_port)
    start_chatds "$chatd" 2 "$tmp/send-chatd-x2" "$port" "$redis_port" --log-level warn ||
        die "chatd x2 did not start"
    url[chatd-x2]=http://127.0.0.1:$port/message/
    pids[chatd-x2]="${CHATD_PIDS[*]}"
    post_ok "${url[chatd-x2]}" "$token"
    local contenders=(chatd chatd-x2 redis-xadd)
    for w in $nchan_workers; do
        np=$(free_port)
        nchan_start "$tmp/send-nchan-mem-w$w" "$np" "$w" || die "nginx (nchan, memory) did not start"
        url[nchan-mem-w$w]=http://127.0.0.1:$np/pub
        pids[nchan-mem-w$w]=$(nginx_pids "$NCHAN_PID")
        np=$(free_port)
        nchan_start "$tmp/send-nchan-redis-w$w" "$np" "$w" "redis://127.0.0.1:$redis_port" ||
            die "nginx (nchan, Redis) did not start"
        url[nchan-redis-w$w]=http://127.0.0.1:$np/pub
        pids[nchan-redis-w$w]=$(nginx_pids "$NCHAN_PID")
        contenders+=("nchan-mem-w$w" "nchan-redis-w$w")
    done
    # What chatd sends for a POST: its stream key, the user, the text, the time.
    text='Hello from wrk: a benchmark message of ordinary length.'
    key='room:{bench}:messages'
    for ((round = 1; round <= rounds; round++)); do
        for c in $(round_order "$round" "${contenders[@]}"); do
            case $c in
            chatd | chatd-x2)
                wrk_run_cpu "${pids[$c]}" "$redis_pid" "$tmp/send-$c-$round" "$conns" "${url[$c]}" \
                    post_message.lua "$token"
                wrk_record_cpu send "$c" "$round"
                ;;
            redis-xadd)
                rb_run "$redis_port" "$conns" XADD "$key" '*' userId 0123456789abcdef0123456789abcdef \
                    name bench text "$text" timestamp 1795790000000
                record send "$c" "$round" rps "$rps"
                say "send $c round $round: $rps requests/s"
                ;;
            *)
                wrk_run_cpu "${pids[$c]}" "$redis_pid" "$tmp/send-$c-$round" "$conns" "${url[$c]}" \
                    post_message.lua -
                wrk_record_cpu send "$c" "$round"
                ;;
            esac
        done
    done
}
