# shellcheck shell=bash
# Scenario "webhooks" of bench/bench.sh: what webhooks cost the send path,
# on a standalone Redis. Contenders, each for $duration seconds with $conns
# connections, wrk POST /message/ (bench/post_message.lua):
#   chatd           no --webhook (the send path as it was)
#   chatd-queue     --webhook for message.created to a port nothing listens
#                   on, with --webhook-concurrency 1: each send queues its
#                   event (one more durable XADD) before its 201, and almost
#                   nothing is delivered (4 entries held, retried seconds
#                   apart): the send path's own cost (the queue is emptied
#                   after each run)
#   chatd-webhooks  the same to a receiver that answers 204 at once
#                   (bench/webhook_sink.mjs, on the same cores): the same
#                   chatd also delivers every event meanwhile
# Each contender has a redis-server of its own (the queue's consumer group
# is every chatd of one Redis). Besides requests/s and latency, chatd's CPU time per message (utime+stime
# from /proc, counted until the queue is empty again, so the deliveries are
# included) and the delivered events. Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, conns, rounds, duration are bench.sh's

# cpu_ticks PID: utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# drop_queue REDIS_PORT: deletes the webhook queue's shards (8 by default).
drop_queue() {
    local n
    for n in 0 1 2 3 4 5 6 7; do redis-cli -p "$1" DEL "webhook:{$n}" >/dev/null; done
}

# queue_empty URL: the webhook queue of that chatd is drained.
queue_empty() {
    local m
    m=$(curl -sS "$1/metrics") || return 1
    grep -q '^chatd_webhook_queue_length 0$' <<<"$m" && grep -q '^chatd_webhook_held 0$' <<<"$m"
}

scenario_webhooks() {
    local port sink c round t0 t1 hz pid_of_on pid_of_off secret
    local -A redis
    sink=$(free_port)
    node "$root/bench/webhook_sink.mjs" "$sink" &
    STARTED_PIDS+=("$!")
    wait_until 10 curl -s -o /dev/null -X POST "http://127.0.0.1:$sink/" || die "the sink did not start"
    secret=$tmp/webhook.secret
    head -c 32 /dev/urandom | base64 >"$secret"
    for c in chatd chatd-queue chatd-webhooks; do
        start_redis_here "webhooks-redis-$c"
        redis[$c]=$redis_port
    done
    port=$(free_port)
    start_chatd "$chatd" "$tmp/webhooks-off.log" "$port" "${redis[chatd]}" --log-level warn ||
        die "chatd did not start"
    pid_of_off=$CHATD_PID
    local -A url=([chatd]="http://127.0.0.1:$port")
    port=$(free_port)
    start_chatd "$chatd" "$tmp/webhooks-on.log" "$port" "${redis[chatd-webhooks]}" --log-level warn \
        --webhook "http://127.0.0.1:$sink/hook,message.created" --webhook-secret-file "$secret" \
        --webhook-poll 50 || die "chatd with webhooks did not start"
    pid_of_on=$CHATD_PID
    url[chatd-webhooks]="http://127.0.0.1:$port"
    port=$(free_port)
    start_chatd "$chatd" "$tmp/webhooks-queue.log" "$port" "${redis[chatd-queue]}" --log-level warn \
        --webhook "http://127.0.0.1:$(free_port)/hook,message.created" --webhook-secret-file "$secret" \
        --webhook-concurrency 1 || die "chatd with webhooks did not start"
    url[chatd-queue]="http://127.0.0.1:$port"
    local -A pid=([chatd]=$pid_of_off [chatd-webhooks]=$pid_of_on [chatd-queue]=$CHATD_PID)
    local -A token
    for c in chatd chatd-queue chatd-webhooks; do
        token[$c]=$(register_user "${url[$c]}" webhooks-bench@example.com)
        post_ok "${url[$c]}/message/" "${token[$c]}"
    done
    hz=$(getconf CLK_TCK)
    for ((round = 1; round <= rounds; round++)); do
        for c in $(round_order "$round" chatd chatd-queue chatd-webhooks); do
            t0=$(cpu_ticks "${pid[$c]}")
            wrk_run "$tmp/webhooks-$c-$round" "$conns" "${url[$c]}/message/" post_message.lua "${token[$c]}"
            [[ $c != chatd-webhooks ]] || wait_until 120 queue_empty "${url[$c]}" ||
                die "the webhook queue did not drain"
            t1=$(cpu_ticks "${pid[$c]}")
            [[ $c != chatd-queue ]] || drop_queue "${redis[$c]}"
            wrk_record webhooks "$c" "$round"
            record webhooks "$c" "$round" cpu_us_per_msg \
                "$(awk -v t="$((t1 - t0))" -v hz="$hz" -v r="$rps" -v d="$duration" \
                    'BEGIN { printf "%.1f", t / hz * 1e6 / (r * d) }')"
        done
    done
    record webhooks chatd-webhooks 1 delivered \
        "$(curl -sS "${url[chatd-webhooks]}/metrics" | awk '$1 == "chatd_webhook_delivered_total" {print $2}')"
}
