# shellcheck shell=bash
# Scenario "failover" of bench/bench.sh: the lobby's master fails under
# paced sends, through HAProxy (deploy/haproxy.cfg, two loops) and to each of
# three chatd directly (one loop each), measured by bench/failover_probe.sh.
# It fails in two ways: kill -9 (a crashed process: its connections are
# reset at once) and SIGSTOP (a hung or vanished host: its connections stay
# open and silent). Contenders are the way and the cluster-node-timeout,
# e.g. kill1000 (BENCH_FAILOVER_TIMEOUTS, default "1000 2000 5000", 5000 is
# what make run and deploy/ ship; BENCH_FAILOVER_SIGNALS, "KILL STOP"). Per
# round and contender: when a surviving node showed the promotion, when the
# first and the last URL acknowledged a send again, the lag of both behind
# the promotion, the sends refused (503) and the connections dropped. After
# each round the killed node is started again and the cluster awaited.
# Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, rounds are bench.sh's

# haproxy_maxconn, lb_ready
# shellcheck source=bench/scenario_haproxy.sh disable=SC1091
. "$root/bench/scenario_haproxy.sh"

failover_metrics="promoted_ms first_write_ms slowest_url_ms lag_ms slowest_lag_ms refused dropped bad_answers"

# failover_round CONTENDER ROUND URL...: one kill under the probe, recorded.
failover_round() {
    local contender=$1 round=$2 name value
    shift 2
    "$root/bench/failover_probe.sh" "$@" >"$tmp/failover-$contender-$round.txt" ||
        die "the failover probe failed ($contender)"
    while read -r name value; do
        [[ " $failover_metrics " != *" $name "* ]] || record failover "$contender" "$round" "$name" "$value"
    done <"$tmp/failover-$contender-$round.txt"
    say "failover $contender round $round: $(tr '\n' ' ' <"$tmp/failover-$contender-$round.txt")"
    "$root/scripts/cluster" up >>"$tmp/cluster-up.log" 2>&1 || die "the killed node did not come back"
}

scenario_failover() {
    local timeout i round lb_port stats tokens signal
    local -a apps urls
    haproxy_maxconn
    for timeout in ${BENCH_FAILOVER_TIMEOUTS:-1000 2000 5000}; do
        export CLUSTER_NODE_TIMEOUT=$timeout # also for the "up" after each round
        cluster_up
        start_app_chatds "$chatd" "$tmp/failover-chatd" "$CLUSTER_PORT_BASE" --log-level warn ||
            die "the three chatd did not start"
        apps=("${APP_ADDRS[@]}")
        lb_port=$(free_port)
        stats=127.0.0.1:$(free_port)
        CHAT_LB_BIND=127.0.0.1:$lb_port CHAT_LB_STATS=$stats \
            CHATD1=${apps[0]} CHATD2=${apps[1]} CHATD3=${apps[2]} \
            haproxy -db -f "$root/deploy/haproxy.cfg" >/dev/null 2>"$tmp/failover-haproxy.log" &
        STARTED_PIDS+=("$!")
        wait_until 30 lb_ready "$stats" 3 || die "HAProxy does not show 3 chatd UP"
        tokens=""
        for i in 1 2 3 4 5; do
            tokens+=" $(register_user "http://${apps[0]}" "failover$i@example.com")"
        done
        urls=("http://127.0.0.1:$lb_port" "http://127.0.0.1:$lb_port")
        for i in 0 1 2; do urls+=("http://${apps[i]}"); done
        for ((round = 1; round <= rounds; round++)); do
            for signal in ${BENCH_FAILOVER_SIGNALS:-KILL STOP}; do
                PROBE_SIGNAL=$signal PROBE_TOKENS=$tokens \
                    failover_round "${signal,,}$timeout" "$round" "${urls[@]}"
            done
        done
        stop_started
        cluster_down
    done
    unset CLUSTER_NODE_TIMEOUT
}
