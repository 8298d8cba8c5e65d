# shellcheck shell=bash
# Scenario "presence" of bench/bench.sh: a room with $presence_members users
# online (one event stream each, with ?signals=1, on chatd A) and
# $presence_rate presence changes a second (new users' streams opened on
# chatd B for half the run, then closed), then $presence_typing typing
# signals a second (sent to chatd B); standalone Redis. bench/presence_load (the streams on
# raw sockets) prints, per phase, the CPU of chatd A, chatd B and Redis (ms
# per second, from /proc), the bytes each member stream got per second, and
# the p50/p99 of a change reaching the observers. The users' sessions are
# written straight into Redis (registering 11,000 users would time Argon2id).
# Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, rounds, root are bench.sh's

presence_members=${BENCH_PRESENCE_MEMBERS:-10000}
presence_rate=${BENCH_PRESENCE_RATE:-100}
presence_seconds=${BENCH_PRESENCE_SECONDS:-20}
presence_typing=${BENCH_PRESENCE_TYPING:-10}
presence_load=${PRESENCE_LOAD:-$root/build/presence_load}

presence_run() {
    local round=$1 a b pid_a pid_b redis_pid out=$tmp/presence-$round.out line token
    local joins=$((presence_rate * presence_seconds / 2))
    redis-cli -p "$redis_port" flushall >/dev/null
    "$presence_load" sessions 0 $((presence_members + joins)) |
        redis-cli -p "$redis_port" --pipe >/dev/null || die "the sessions were not written"
    a=$(free_port)
    start_chatd "$chatd" "$tmp/presence-a-$round.log" "$a" "$redis_port" --log-level warn \
        --max-streams $((presence_members + 100)) || die "chatd did not start"
    pid_a=$CHATD_PID
    b=$(free_port)
    start_chatd "$chatd" "$tmp/presence-b-$round.log" "$b" "$redis_port" --log-level warn \
        --max-streams $((joins + 100)) || die "chatd did not start"
    pid_b=$CHATD_PID
    redis_pid=$(redis-cli -p "$redis_port" info server | awk -F: '/^process_id/ {print $2+0}')
    token=$(printf 'presencebench%030d' 0)
    curl -sS -o /dev/null -X POST "http://127.0.0.1:$a/room/" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{"name":"presence-bench"}' ||
        die "the room was not created"
    "$presence_load" run "http://127.0.0.1:$a" "http://127.0.0.1:$b" presence-bench \
        "$presence_members" "$presence_rate" "$presence_seconds" "$presence_typing" \
        "$pid_a" "$pid_b" "$redis_pid" >"$out" || die "presence_load failed (see $out)"
    while read -r line; do
        set -- $line
        case $1 in
        *_cpu_ms_per_s) record presence "${1%%_cpu*}" "$round" "cpu_ms_per_s_$2" "$3" ;;
        churn_* | typing_*) record presence "${1%%_*}" "$round" "${1#*_}" "$2" ;;
        presence_p*) record presence churn "$round" "${1#presence_}" "$2" ;;
        members_ready_s) record presence churn "$round" ready_s "$2" ;;
        esac
    done <"$out"
    kill "$pid_a" "$pid_b" 2>/dev/null
    wait "$pid_a" "$pid_b" 2>/dev/null || true
}

scenario_presence() {
    local round
    [[ -x $presence_load ]] || die "$presence_load not found: run 'make' first"
    start_redis_here presence-redis
    for round in $(seq 1 "$rounds"); do presence_run "$round"; done
}
