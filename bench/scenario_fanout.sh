# shellcheck shell=bash
# Scenario "fanout" of bench/bench.sh: one server pushing each message to N
# Server-Sent Events subscribers, for each N of $counts. Contenders:
#   chatd          GET /message/stream on one chatd (standalone Redis)
#   chatd-rooms    GET /stream?rooms=lobby,bench-other on the same: the
#                  multi-room stream, whose event ids differ per stream
#   chatd-lb3      the same through HAProxy (deploy/haproxy.cfg) in front of
#                  three chatd on that Redis: the load balancer spreads the
#                  subscribers, and the messages are sent through it too, as
#                  a browser does (compare its p99 with chatd's: the cost of
#                  the path users take)
#   nchan-redis-wW nchan's EventSource subscribers, messages through the same
#                  redis-server (nginx with W workers)
#   nchan-mem-wW   the same with the messages in nginx's shared memory
#   floor          build/floor (bench/floor.c): one libevent thread, chatd's
#                  encoder and SSE framing, no Redis: the least work there is
#   chatd-ws, chatd-sse  bench/scenario_ws.sh's (not this scenario's): GET /ws
#                  on one chatd, WebSockets following the lobby; and chatd's
#                  GET /message/stream again under that name
# Each run starts the server afresh, then sse_load (bench/sse_load.c) opens
# the N streams ($connect_rate per second) and says "ready"; after a second to
# settle the server's memory is taken (PSS, all its processes) for the KB per
# idle subscriber; then sse_load POSTs $messages messages, $gap_ms apart, each
# carrying its send time, and times every delivery; the memory is taken again
# with the messages delivered and the streams still open. The figures: the
# delivery latency over all deliveries (p50, p99, p99.9, max), the server's
# KB per subscriber, idle and after the messages, and the server's CPU time
# per delivery (us), and sse_load's own CPU time per delivery (is the load
# tool the bound?). The latency distributions go to $tmp/cdf for the plot.
# BENCH_FANOUT_CONTENDERS chooses the contenders (default: all; nchan's are
# those of $nchan_workers), e.g. "chatd chatd-lb3" for the load balancer's
# cost alone.
# Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, floor, sse_load, ... are bench.sh's

connect_rate=${BENCH_CONNECT_RATE:-4000}

# stop_one PID: stops one server we started (TERM, KILL after 5 s).
stop_one() {
    local pid=$1
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local kept=() p
    for p in "${STARTED_PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
    STARTED_PIDS=("${kept[@]}")
}

# wait_line FILE WORD: until sse_load printed a line starting with WORD; dies
# if it exited first.
wait_line() {
    until grep -qs "^$2" "$1"; do
        if ! kill -0 "$load_pid" 2>/dev/null; then
            cat "$1.err" >&2
            die "sse_load exited before it said '$2'"
        fi
        sleep 0.02
    done
}

# sse_field FILE LINE KEY: the value after KEY on sse_load's summary line LINE.
sse_field() {
    awk -v line="$2" -v key="$3" '$1 == line {for (i = 2; i < NF; i++) if ($i == key) print $(i + 1)}' "$1"
}

# lb_subscribers N: sets subs to how many of N subscribers HAProxy can
# carry, and lb_maxconn to its maxconn for them. HAProxy needs 2 descriptors
# per connection (client and chatd) and a few more, and refuses to start
# when maxconn needs more than the hard open-file limit. The limit is raised
# when that is allowed (root with CAP_SYS_RESOURCE); else the count is cut
# to what fits, and said.
lb_subscribers() {
    local n=$1 hard reserve=100
    local need=$((2 * (n + reserve) + 200))
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < need)) && ! ulimit -Hn "$need" 2>/dev/null; then
        n=$(((hard - 200) / 2 - reserve))
        say "HAProxy needs $need open files for $1 streams, the hard limit is $hard and cannot" \
            "be raised here: chatd-lb3 runs with $n subscribers"
    fi
    ulimit -Sn "$(ulimit -Hn)"
    subs=$n
    lb_maxconn=$((n + reserve))
}

# fanout_lb N: three chatd on the fan-out's Redis behind HAProxy with the
# shipped config, for N subscribers; sets sub_url, pub_url, server_pid (HAProxy)
# and pids. It waits until HAProxy sees the three chatd UP.
fanout_lb() {
    local n=$1 lb_port stats
    local -a apps
    start_app_chatds "$chatd" "$tmp/fanout-lb-chatd" "$redis_port" --log-level warn \
        --max-streams $((n + 100)) || die "the three chatd behind HAProxy did not start"
    apps=("${APP_ADDRS[@]}")
    pids="${APP_PIDS[*]} "
    lb_port=$(free_port)
    stats=$(free_port)
    [[ $stats != "$lb_port" ]] || stats=$(free_port)
    CHAT_LB_BIND=127.0.0.1:$lb_port CHAT_LB_STATS=127.0.0.1:$stats CHAT_LB_MAXCONN=$lb_maxconn \
        CHATD1=${apps[0]} CHATD2=${apps[1]} CHATD3=${apps[2]} \
        haproxy -db -f "$root/deploy/haproxy.cfg" >/dev/null 2>"$tmp/fanout-lb-haproxy.log" &
    server_pid=$!
    STARTED_PIDS+=("$server_pid")
    pids+=$server_pid
    wait_until 30 lb_ready "127.0.0.1:$stats" 3 || {
        tail -n 20 "$tmp/fanout-lb-haproxy.log" >&2
        die "HAProxy does not show 3 chatd UP"
    }
    sub_url=http://127.0.0.1:$lb_port/message/stream
    pub_url=http://127.0.0.1:$lb_port/message/
}

# fanout_server NAME N: starts contender NAME for N subscribers; sets sub_url,
# pub_url, header, server_pid and pids (all its processes; those that
# fanout_run stops are server_pid and, for chatd-lb3, the chatd too).
fanout_server() {
    local name=$1 n=$2 port w
    port=$(free_port)
    header=''
    case $name in
    chatd-lb3)
        fanout_lb "$n"
        [[ -n $fanout_token ]] || fanout_token=$(register_user "${pub_url%/message/}")
        header="Cookie: authKey=$fanout_token"
        ;;
    chatd | chatd-sse | chatd-rooms | chatd-ws)
        start_chatd "$chatd" "$tmp/fanout-chatd.log" "$port" "$redis_port" --log-level warn \
            --max-streams $((n + 100)) || die "chatd did not start"
        server_pid=$CHATD_PID
        pids=$server_pid
        sub_url=http://127.0.0.1:$port/message/stream
        [[ $name != chatd-rooms ]] || sub_url="http://127.0.0.1:$port/stream?rooms=lobby,bench-other"
        [[ $name != chatd-ws ]] || sub_url=ws://127.0.0.1:$port/ws
        pub_url=http://127.0.0.1:$port/message/
        [[ -n $fanout_token ]] || fanout_token=$(register_user "http://127.0.0.1:$port")
        [[ $name != chatd-rooms ]] || create_room "http://127.0.0.1:$port" bench-other ||
            die "room bench-other could not be created"
        header="Cookie: authKey=$fanout_token"
        ;;
    nchan-*)
        w=${name##*-w}
        if [[ $name == nchan-redis-* ]]; then
            nchan_start "$tmp/fanout-$name" "$port" "$w" "redis://127.0.0.1:$redis_port"
        else
            nchan_start "$tmp/fanout-$name" "$port" "$w"
        fi || die "nginx ($name) did not start"
        server_pid=$NCHAN_PID
        pids=$(nchan_pids "$NCHAN_PID" | tr '\n' ' ')
        sub_url=http://127.0.0.1:$port/sub
        pub_url=http://127.0.0.1:$port/pub
        ;;
    floor)
        "$floor" --port "$port" 2>"$tmp/fanout-floor.log" &
        server_pid=$!
        STARTED_PIDS+=("$server_pid")
        wait_until 10 curl -sf "http://127.0.0.1:$port/health" || die "the floor did not start"
        pids=$server_pid
        sub_url=http://127.0.0.1:$port/message/stream
        pub_url=http://127.0.0.1:$port/message/
        ;;
    esac
}

# fanout_run NAME N ROUND [SCENARIO]: one run, its figures recorded under
# SCENARIO-N (default fanout-N).
fanout_run() {
    local name=$1 n=$2 round=$3 prefix=${4:-fanout}
    local out=$tmp/$prefix-$1-$2-$3.out before idle after cpu0 cpu1 rss0 rss1 rc=0 p
    local -a args
    local subs=$n lb_maxconn
    [[ $name != chatd-lb3 ]] || lb_subscribers "$n"
    fanout_server "$name" "$subs"
    # shellcheck disable=SC2086  # pids is a list
    before=$(pss_kb $pids) rss0=$(rss_kb "$server_pid")
    args=(--url "$sub_url" --subscribers "$subs" --messages "$messages" --connect-rate "$connect_rate"
        --timeout 120 --publish "$pub_url" --gap-ms "$gap_ms" --wait-signal
        --cdf "$tmp/cdf/$prefix-$n-$name-$round.txt")
    [[ -z $header ]] || args+=(--header "$header")
    "$sse_load" "${args[@]}" >"$out" 2>"$out.err" &
    load_pid=$!
    wait_line "$out" ready
    sleep 1 # the server finishes the subscriptions
    # shellcheck disable=SC2086
    idle=$(pss_kb $pids) cpu0=$(cpu_ms $pids) rss1=$(rss_kb "$server_pid")
    kill -USR1 "$load_pid"
    wait_line "$out" "done"
    # shellcheck disable=SC2086
    after=$(pss_kb $pids) cpu1=$(cpu_ms $pids)
    kill -USR1 "$load_pid"
    wait "$load_pid" || rc=$?
    load_pid=''
    stop_one "$server_pid"
    if [[ $name == chatd-lb3 ]]; then
        # shellcheck disable=SC2086  # pids is a list
        for p in $pids; do stop_one "$p"; done
    fi
    ((rc == 0)) || {
        cat "$out" "$out.err" >&2
        die "sse_load failed for $name with $subs subscribers (lost, duplicated or reordered messages)"
    }
    local s="$prefix-$n" load_cpu
    load_cpu=$(awk '$1 == "cpu_ms_after_ready" {print $3 + $5}' "$out")
    record "$s" "$name" "$round" subscribers "$subs"
    record "$s" "$name" "$round" p50_ms "$(sse_field "$out" latency_ms p50)"
    record "$s" "$name" "$round" p99_ms "$(sse_field "$out" latency_ms p99)"
    record "$s" "$name" "$round" p999_ms "$(sse_field "$out" latency_ms p99.9)"
    record "$s" "$name" "$round" max_ms "$(sse_field "$out" latency_ms max)"
    record "$s" "$name" "$round" kb_per_idle_sub "$(awk -v a="$before" -v b="$idle" -v n="$subs" 'BEGIN {printf "%.2f", (b - a) / n}')"
    record "$s" "$name" "$round" kb_per_sub_after "$(awk -v a="$before" -v b="$after" -v n="$subs" 'BEGIN {printf "%.2f", (b - a) / n}')"
    if [[ $name != chatd-lb3 && $name != nchan-* ]]; then # one process: its RSS growth too
        record "$s" "$name" "$round" kb_rss_per_idle_sub "$(awk -v a="$rss0" -v b="$rss1" -v n="$subs" 'BEGIN {printf "%.2f", (b - a) / n}')"
    fi
    record "$s" "$name" "$round" cpu_us_per_delivery "$(awk -v c=$((cpu1 - cpu0)) -v n="$subs" -v m="$messages" 'BEGIN {printf "%.2f", c * 1000 / (n * m)}')"
    record "$s" "$name" "$round" load_cpu_us_per_delivery "$(awk -v c="$load_cpu" -v n="$subs" -v m="$messages" 'BEGIN {printf "%.2f", c * 1000 / (n * m)}')"
    say "$prefix $n $name round $round: p50 $(sse_field "$out" latency_ms p50) ms," \
        "p99 $(sse_field "$out" latency_ms p99) ms; PSS $before -> $idle -> $after KB;" \
        "CPU $((cpu1 - cpu0)) ms (sse_load $load_cpu ms) for $((subs * messages)) deliveries"
}

scenario_fanout() {
    local n round c w
    local contenders=(chatd chatd-rooms chatd-lb3 floor)
    for w in $nchan_workers; do contenders+=("nchan-redis-w$w" "nchan-mem-w$w"); done
    # shellcheck disable=SC2206  # a list of names
    [[ -z ${BENCH_FANOUT_CONTENDERS:-} ]] || contenders=($BENCH_FANOUT_CONTENDERS)
    fanout_token=''
    start_redis_here fanout-redis
    for ((round = 1; round <= rounds; round++)); do
        for n in $counts; do
            for c in $(round_order "$round" "${contenders[@]}"); do
                fanout_run "$c" "$n" "$round"
            done
        done
    done
}
