# shellcheck shell=bash
# Scenario "ws" of bench/bench.sh: chatd's WebSocket (GET /ws) beside its
# Server-Sent Events and its POST, on one standalone Redis, in one run.
#   ws-N, for each N of $counts: one server pushing each message to N
#     subscribers, with the fanout scenario's run (bench/scenario_fanout.sh:
#     a fresh server each run, sse_load opening the N clients, $messages
#     messages $gap_ms apart, timed from the POST's write to each delivery).
#     Contenders:
#       chatd-ws   N WebSockets on one chatd, each following the lobby
#                  (sse_load with a ws:// URL and the session cookie)
#       chatd-sse  N event streams GET /message/stream on one chatd
#       floor      build/floor, the least work there is (SSE, no Redis): the
#                  fanout scenario's floor, both chatd's latency is set
#                  against it
#     The figures: the delivery latency (p50, p99, ...), the memory per idle
#     client (chatd's RSS growth with the N clients open and idle, divided by
#     N; the PSS growth beside it), chatd's and sse_load's CPU per delivery.
#   ws-send: sends of one user to one chatd (its per-user limits off, as
#     everywhere in bench/: scripts/lib.sh's unlimited_env), $duration
#     seconds each:
#       chatd-ws   one WebSocket with $conns sends in flight, each answered
#                  by an ack (bench/ws_load.mjs, Node and npm's ws)
#       chatd-post wrk POST /message/ on $conns keep-alive connections
#     The figures: acknowledged sends per second, latency p50/p99 (a send to
#     its ack or 201), chatd's CPU per acknowledged send and the load tool's
#     (/proc for chatd; bash's `times` for the load tool, a child of ours).
#   ws-deflate: would permessage-deflate pay? bench/ws_deflate.mjs on the
#     same chatd, once a round: the frames chatd sends for 2,000 chat
#     messages of 10 users, compressed as permessage-deflate would (context
#     takeover or not, zlib level 6 and 1): bytes per frame before and
#     after (contender "plain" and one per way), CPU us per frame.
# Sourced by bench/bench.sh, after bench/scenario_fanout.sh's functions.
# shellcheck disable=SC2154  # tmp, chatd, conns, rounds, ... are bench.sh's

# shellcheck source=bench/scenario_fanout.sh
. "$root/bench/scenario_fanout.sh"

# ws_node_ready: npm's ws for bench/ws_load.mjs, pinned by tests/ws's lockfile.
ws_node_ready() {
    local dir=$root/tests/ws
    command -v node >/dev/null || die "node is not installed (scripts/deps.sh)"
    [[ -f $dir/node_modules/ws/package.json ]] && return 0
    say "installing npm's ws in tests/ws (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund) >"$tmp/ws-npm.log" 2>&1 || {
        tail -n 20 "$tmp/ws-npm.log" >&2
        die "npm ci in tests/ws failed"
    }
}

# ws_send_run CONTENDER ROUND BASE TOKEN PID: one run of sends, recorded
# (rps, p50, p99 and err as wrk_run sets them, for wrk_record).
# shellcheck disable=SC2034  # p50 p99 err are wrk_record's
ws_send_run() {
    local c=$1 round=$2 base=$3 token=$4 pid=$5 out=$tmp/ws-send-$1-$2.out
    local cpu0 cpu1 load0 load1 n
    cpu0=$(cpu_ms "$pid")
    children_cpu load0
    if [[ $c == chatd-ws ]]; then
        node "$root/bench/ws_load.mjs" "$base" "$token" "$duration" "$conns" >"$out" 2>&1 || {
            cat "$out" >&2
            die "bench/ws_load.mjs failed"
        }
        rps=$(awk '$1 == "acks_per_s" {print $2}' "$out")
        p50=$(awk '$1 == "latency_ms" {print $3}' "$out")
        p99=$(awk '$1 == "latency_ms" {print $5}' "$out")
        err=$(awk '$1 == "errors" {print $2}' "$out")
    else
        wrk_run "$out" "$conns" "$base/message/" post_message.lua "$token"
    fi
    cpu1=$(cpu_ms "$pid")
    children_cpu load1
    wrk_record ws-send "$c" "$round"
    n=$(awk -v r="$rps" -v d="$duration" 'BEGIN {print r * d}')
    record ws-send "$c" "$round" cpu_us_per_msg "$(awk -v c=$((cpu1 - cpu0)) -v n="$n" 'BEGIN {printf "%.2f", c * 1000 / n}')"
    record ws-send "$c" "$round" load_cpu_us_per_msg "$(awk -v c=$((load1 - load0)) -v n="$n" 'BEGIN {printf "%.2f", c * 1000 / n}')"
    say "ws-send $c round $round: chatd CPU $((cpu1 - cpu0)) ms, the load tool's $((load1 - load0)) ms"
}

# ws_deflate_run ROUND BASE: bench/ws_deflate.mjs against BASE, recorded.
ws_deflate_run() {
    local round=$1 out=$tmp/ws-deflate-$1.out way level c
    node "$root/bench/ws_deflate.mjs" "$2" >"$out" 2>&1 || {
        cat "$out" >&2
        die "bench/ws_deflate.mjs failed"
    }
    # ws_field NAME: the value of line NAME of its output.
    ws_field() { awk -v n="$1" '$1 == n {print $2}' "$out"; }
    record ws-deflate plain "$round" bytes_per_frame "$(ws_field bytes_per_frame_plain)"
    record ws-deflate plain "$round" text_chars "$(ws_field text_chars_mean)"
    record ws-deflate plain "$round" compressor_kb "$(ws_field compressor_kb)"
    for way in takeover no_takeover; do
        for level in 6 1; do
            c=${way//_/-}-l$level
            record ws-deflate "$c" "$round" bytes_per_frame "$(ws_field "bytes_per_frame_${way}_level$level")"
            record ws-deflate "$c" "$round" us_per_frame "$(ws_field "us_per_frame_${way}_level$level")"
        done
    done
    say "ws-deflate round $round: bytes per frame $(ws_field bytes_per_frame_plain) ->" \
        "$(ws_field bytes_per_frame_takeover_level6) (takeover), $(ws_field bytes_per_frame_no_takeover_level6) (none);" \
        "$(ws_field us_per_frame_takeover_level6) us per frame (takeover, level 6)"
}

# ws_sends: the ws-send contenders, round after round, on one chatd; then
# ws-deflate on it.
ws_sends() {
    local port base token pid round c
    port=$(free_port)
    start_chatd "$chatd" "$tmp/ws-send-chatd.log" "$port" "$redis_port" --log-level warn ||
        die "chatd did not start"
    pid=$CHATD_PID base=http://127.0.0.1:$port
    token=$(register_user "$base")
    post_ok "$base/message/" "$token"
    for ((round = 1; round <= rounds; round++)); do
        for c in $(round_order "$round" chatd-ws chatd-post); do
            ws_send_run "$c" "$round" "$base" "$token" "$pid"
        done
    done
    for ((round = 1; round <= rounds; round++)); do ws_deflate_run "$round" "$base"; done
    stop_one "$pid"
}

scenario_ws() {
    local n round c
    ws_node_ready
    fanout_token=''
    start_redis_here ws-redis
    for ((round = 1; round <= rounds; round++)); do
        for n in $counts; do
            for c in $(round_order "$round" chatd-ws chatd-sse floor); do
                fanout_run "$c" "$n" "$round" ws
            done
        done
    done
    ws_sends
}
