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
#   cluster-3x $rooms_cluster rooms over three chatd on the 3+3 cluster, 32
#              rooms per stream (GET /stream?rooms=): the clients the
#              doorbells add on the nodes, the latency, the memory
# Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, rounds are bench.sh's

rooms_count=${BENCH_ROOMS:-10000}
rooms_messages=${BENCH_ROOMS_MESSAGES:-200}
rooms_cluster=${BENCH_ROOMS_CLUSTER:-100000}

# redis_clients_of NODES: the clients of NODES Redis nodes from $redis_port
# on, the redis-cli asking each left out.
redis_clients_of() {
    local sum=0 p
    for ((p = redis_port; p < redis_port + $1; p++)); do
        sum=$((sum + $(redis-cli -p "$p" CLIENT LIST | wc -l) - 1))
    done
    echo "$sum"
}

# rss_sum PID...: the RSS of the processes together, KB.
rss_sum() {
    local sum=0 pid
    for pid in "$@"; do sum=$((sum + $(rss_kb "$pid"))); done
    echo "$sum"
}

# rooms_run NAME ROUND STREAMS ROOMS PER_STREAM CHATDS NODES: one run of
# rooms_load against CHATDS fresh chatd on the Redis at $redis_port, whose
# NODES nodes (from $redis_port on) have their clients counted.
# rooms_make PORT N: the rooms bench-0 .. bench-<N-1> exist (only rooms
# created take streams and sends), written straight into the room list
# (room-names, docs/STORAGE.md) in batches: creating 100,000 through POST
# /room/ would time the set-up, not the rooms.
rooms_make() {
    local port=$1 n=$2 i names=()
    for ((i = 0; i < n; i++)); do
        names+=(0 "bench-$i")
        if ((${#names[@]} >= 2000 || i == n - 1)); then
            redis-cli -c -p "$port" ZADD room-names "${names[@]}" >/dev/null || return 1
            names=()
        fi
    done
}

rooms_run() {
    local name=$1 round=$2 streams=$3 nrooms=$4 per=$5 nchatd=$6 nodes=$7
    local pids=() urls=() i pid port key before clients_before line go_fd load_pid
    local go=$tmp/rooms-go-$name-$round out=$tmp/rooms-$name-$round.out
    for ((i = 0; i < nchatd; i++)); do
        port=$(free_port)
        start_chatd "$chatd" "$tmp/rooms-$name-$round-$i.log" "$port" "$redis_port" \
            --log-level warn --max-streams $((streams + 100)) || die "chatd did not start"
        pids+=("$CHATD_PID")
        urls+=("http://127.0.0.1:$port")
    done
    key=$(register_user "${urls[0]}")
    rooms_make "$redis_port" "$nrooms" || die "the rooms were not created"
    before=$(rss_sum "${pids[@]}")
    clients_before=$(redis_clients_of "$nodes")
    rm -f "$go" && mkfifo "$go"
    node "$root/bench/rooms_load.mjs" "$(IFS=,; echo "${urls[*]}")" "$key" "$streams" \
        "$rooms_messages" "$nrooms" "$per" <"$go" >"$out" &
    load_pid=$!
    exec {go_fd}>"$go" # rooms_load waits for a line on it
    wait_until 600 grep -q '^ready' "$out" || die "rooms_load did not open its streams"
    sleep 2
    record rooms "$name" "$round" rss_growth_kb $(($(rss_sum "${pids[@]}") - before))
    record rooms "$name" "$round" redis_clients "$(redis_clients_of "$nodes")"
    record rooms "$name" "$round" redis_clients_added $(($(redis_clients_of "$nodes") - clients_before))
    echo go >&"$go_fd"
    wait "$load_pid" || say "rooms $name: deliveries were lost"
    exec {go_fd}>&-
    while read -r line; do
        case $line in
        p50_ms* | p99_ms* | lost*) record rooms "$name" "$round" "${line% *}" "${line#* }" ;;
        esac
    done <"$out"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

scenario_rooms() {
    local round
    start_redis_here rooms-redis
    for round in $(seq 1 "$rounds"); do
        rooms_run 1room "$round" 1 1 1 1 1
        rooms_run Nrooms "$round" "$rooms_count" "$rooms_count" 1 1 1
        rooms_run Nstreams "$round" "$rooms_count" 1 1 1 1
    done
    # 100,000 rooms over three chatd on the 3+3 cluster, 32 rooms per
    # stream (GET /stream?rooms=): one stream per room would need more
    # descriptors than the hard limit here (20,000)
    cluster_up
    redis_port=$CLUSTER_PORT_BASE
    for round in $(seq 1 "$rounds"); do
        rooms_run cluster-3x "$round" $((rooms_cluster / 32)) "$rooms_cluster" 32 3 6
    done
}
