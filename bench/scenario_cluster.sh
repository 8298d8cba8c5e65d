# shellcheck shell=bash
# Scenario "cluster" of bench/bench.sh: sending on the local 3+3 Redis Cluster
# (scripts/cluster: AOF, appendfsync everysec). Contenders, each for $duration
# seconds with $conns connections:
#   chatd-wait     chatd's default: every send waits for one replica (WAIT)
#   chatd-nowait   --min-replica-acks 0 (no WAIT): what the WAIT costs
#   chatd-x2-wait  two chatd with WAIT sharing one port (--reuseport 1), the
#                  deployment of one chatd per core on this 2-core machine
#   nchan-cluster-wW  wrk POST of the same body to nchan's publisher (nginx
#                  with W workers) on the same cluster, which nchan discovers
#                  from one node; nchan does not wait for replicas
# Besides requests/s, each run records the CPU time per request of the server
# (chatd, or nginx's master and workers) and of the six Redis nodes, from
# /proc: on this shared machine the scheduling group a process lands in
# moves throughput, CPU per message much less. Every contender is started
# from this script's session (one scheduling group).
# All messages go to one channel or stream key, so one master and its replica
# do the cluster's work. Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, conns, rounds, ... are bench.sh's

scenario_cluster() {
    local port token w np c round p redis_pids=''
    cluster_up
    for ((p = CLUSTER_PORT_BASE; p < CLUSTER_PORT_BASE + 6; p++)); do
        redis_pids+="$(<"$CLUSTERCHAT_STATE/cluster/$p/redis.pid") "
    done
    local -A url pids
    port=$(free_port)
    start_chatd "$chatd" "$tmp/cluster-chatd-wait.log" "$port" "$CLUSTER_PORT_BASE" \
        --log-level warn || die "chatd did not start"
    url[chatd-wait]=http://127.0.0.1:$port/message/
    pids[chatd-wait]=$CHATD_PID
    port=$(free_port)
    start_chatd "$chatd" "$tmp/cluster-chatd-nowait.log" "$port" "$CLUSTER_PORT_BASE" \
        --log-level warn --min-replica-acks 0 || die "chatd did not start"
    url[chatd-nowait]=http://127.0.0.1:$port/message/
    pids[chatd-nowait]=$CHATD_PID
    port=$(free_port)
    start_chatds "$chatd" 2 "$tmp/cluster-chatd-x2-wait" "$port" "$CLUSTER_PORT_BASE" \
        --log-level warn || die "chatd x2 did not start"
    url[chatd-x2-wait]=http://127.0.0.1:$port/message/
    pids[chatd-x2-wait]="${CHATD_PIDS[*]}"
    token=$(register_user "${url[chatd-wait]%/message/}")
    for c in chatd-wait chatd-nowait chatd-x2-wait; do post_ok "${url[$c]}" "$token"; done
    local contenders=(chatd-wait chatd-nowait chatd-x2-wait)
    for w in $nchan_workers; do
        np=$(free_port)
        nchan_start "$tmp/cluster-nchan-w$w" "$np" "$w" "redis://127.0.0.1:$CLUSTER_PORT_BASE" ||
            die "nginx (nchan on the cluster) did not start"
        url[nchan-cluster-w$w]=http://127.0.0.1:$np/pub
        pids[nchan-cluster-w$w]=$(nginx_pids "$NCHAN_PID")
        contenders+=("nchan-cluster-w$w")
    done
    for ((round = 1; round <= rounds; round++)); do
        for c in $(round_order "$round" "${contenders[@]}"); do
            if [[ $c == chatd-* ]]; then
                wrk_run_cpu "${pids[$c]}" "$redis_pids" "$tmp/cluster-$c-$round" "$conns" \
                    "${url[$c]}" post_message.lua "$token"
            else
                wrk_run_cpu "${pids[$c]}" "$redis_pids" "$tmp/cluster-$c-$round" "$conns" \
                    "${url[$c]}" post_message.lua -
            fi
            wrk_record_cpu cluster "$c" "$round"
        done
    done
}
