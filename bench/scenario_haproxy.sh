# shellcheck shell=bash
# Scenario "haproxy" of bench/bench.sh: what HAProxy (deploy/haproxy.cfg)
# costs the sends, and what a second and third chatd behind it bring, all on
# the local 3+3 Redis Cluster (each send waits for a replica). Contenders,
# each for $duration seconds with $conns connections:
#   direct  one chatd, no HAProxy
#   h1 h2 h3  HAProxy with the shipped config and 1, 2 or 3 chatd UP
# Each HAProxy has three server lines; those without a chatd point at a port
# nothing listens on, so HAProxy marks them DOWN as it would a dead chatd: the
# runs start once its stats show exactly the expected servers UP, and a run
# during which that changed is refused. On 2 cores everything (wrk, HAProxy,
# the chatds, 6 redis-servers) shares the CPUs: scale-out is CPU-bound here.
# Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, conns, rounds are bench.sh's

# HAProxy refuses to start when its maxconn (2 descriptors each) exceeds the
# hard open-file limit; the shipped default of 9000 needs about 20000.
haproxy_maxconn() {
    local fd_limit
    [[ -z ${CHAT_LB_MAXCONN+set} ]] || return 0
    fd_limit=$(ulimit -Hn)
    if [[ $fd_limit != unlimited ]] && ((fd_limit < 20000)); then
        export CHAT_LB_MAXCONN=$(((fd_limit - 200) / 2))
        say "hard open-file limit $fd_limit: HAProxy runs with CHAT_LB_MAXCONN=$CHAT_LB_MAXCONN"
    fi
}

scenario_haproxy() {
    local i port dead token round c k lb_port
    local -a apps servers
    local -A url stats
    haproxy_maxconn
    cluster_up
    start_app_chatds "$chatd" "$tmp/haproxy-chatd" "$CLUSTER_PORT_BASE" --log-level warn ||
        die "the three chatd did not start"
    apps=("${APP_ADDRS[@]}")
    dead=127.0.0.1:$(free_port)
    url[direct]=http://${apps[0]}/message/
    for k in 1 2 3; do
        servers=("$dead" "$dead" "$dead")
        for ((i = 0; i < k; i++)); do servers[i]=${apps[i]}; done
        lb_port=$(free_port)
        port=$(free_port)
        [[ $port != "$lb_port" ]] || port=$(free_port)
        url[h$k]=http://127.0.0.1:$lb_port/message/
        stats[h$k]=127.0.0.1:$port
        CHAT_LB_BIND=127.0.0.1:$lb_port CHAT_LB_STATS=${stats[h$k]} \
            CHATD1=${servers[0]} CHATD2=${servers[1]} CHATD3=${servers[2]} \
            haproxy -db -f "$root/deploy/haproxy.cfg" >/dev/null 2>"$tmp/haproxy-h$k.log" &
        STARTED_PIDS+=("$!")
    done
    for k in 1 2 3; do
        wait_until 30 lb_ready "${stats[h$k]}" "$k" || {
            tail -n 20 "$tmp/haproxy-h$k.log" >&2
            die "HAProxy (h$k) does not show $k chatd UP (UP DOWN: $(lb_servers "${stats[h$k]}"))"
        }
    done
    token=$(register_user "http://${apps[0]}")
    for c in direct h1 h2 h3; do post_ok "${url[$c]}" "$token"; done
    for ((round = 1; round <= rounds; round++)); do
        for c in $(round_order "$round" direct h1 h2 h3); do
            wrk_run "$tmp/haproxy-$c-$round" "$conns" "${url[$c]}" post_message.lua "$token"
            [[ $c == direct ]] || lb_ready "${stats[$c]}" "${c#h}" ||
                die "HAProxy ($c) changed during the run (UP DOWN: $(lb_servers "${stats[$c]}"))"
            wrk_record haproxy "$c" "$round"
        done
    done
}
