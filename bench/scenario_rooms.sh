# shellcheck shell=bash
# Scenario "rooms" of bench/bench.sh: many rooms with one event stream each
# on one chatd (standalone Redis: one master). bench/rooms_load.mjs opens the
# streams, then sends $rooms_messages messages, each into a random room, and
# times each delivery. For each run:
#   1room      one stream on one room: the latency to compare with
#   Nrooms     one stream on each of $rooms_count rooms: Redis's clients
#              (CLIENT LIST, minus the one asking) and the latency
#   Nstreams   $rooms_count streams on one room: the streams' own memory,
#              so that (Nrooms - Nstreams) / $rooms_count is the memory of
#              one idle room reader
# Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, rounds are bench.sh's

rooms_count=${BENCH_ROOMS:-10000}
rooms_messages=${BENCH_ROOMS_MESSAGES:-200}

# rooms_run NAME ROUND STREAMS ROOMS: one run of rooms_load against a fresh chatd.
rooms_run() {
    local name=$1 round=$2 streams=$3 nrooms=$4 port pid key before line go_fd
    port=$(free_port)
    start_chatd "$chatd" "$tmp/rooms-$name-$round.log" "$port" "$redis_port" \
        --log-level warn --max-streams $((streams + 100)) || die "chatd did not start"
    pid=$CHATD_PID
    key=$(register_user "http://127.0.0.1:$port")
    before=$(rss_kb "$pid")
    local go=$tmp/rooms-go-$name-$round out=$tmp/rooms-$name-$round.out load_pid
    rm -f "$go" && mkfifo "$go"
    node "$root/bench/rooms_load.mjs" "http://127.0.0.1:$port" "$key" "$streams" \
        "$rooms_messages" "$nrooms" <"$go" >"$out" &
    load_pid=$!
    exec {go_fd}>"$go" # rooms_load waits for a line on it
    wait_until 300 grep -q '^ready' "$out" || die "rooms_load did not open its streams"
    sleep 1
    record rooms "$name" "$round" rss_growth_kb $(($(rss_kb "$pid") - before))
    record rooms "$name" "$round" redis_clients $(($(redis-cli -p "$redis_port" CLIENT LIST | wc -l) - 1))
    echo go >&"$go_fd"
    wait "$load_pid" || say "rooms $name: deliveries were lost"
    exec {go_fd}>&-
    while read -r line; do
        case $line in
        p50_ms* | p99_ms* | lost*) record rooms "$name" "$round" "${line% *}" "${line#* }" ;;
        esac
    done <"$out"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

scenario_rooms() {
    local round
    start_redis_here rooms-redis
    for round in $(seq 1 "$rounds"); do
        rooms_run 1room "$round" 1 1
        rooms_run Nrooms "$round" "$rooms_count" "$rooms_count"
        rooms_run Nstreams "$round" "$rooms_count" 1
    done
}
