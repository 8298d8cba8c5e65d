# shellcheck shell=bash
# Scenario "history" of bench/bench.sh: reading the history. The lobby's
# stream gets $history messages straight into Redis (redis-benchmark XADD,
# the fields chatd writes), half before and half after a middle id. Then:
#   chatd-page     wrk GET /message/?after=<middle>&limit=100 (bench/get_messages.lua)
#   redis-xrange   redis-benchmark XRANGE <stream> (<middle> + COUNT 100, the
#                  command chatd sends for that page: the target is >= 0.5x this
#   chatd-full     one GET /message/ of the whole history (curl, as fast as it
#                  reads): its size and rate, and chatd's peak RSS growth meanwhile
#                  (VmHWM, reset through /proc/PID/clear_refs before)
#   chatd-tenth    the same for the first tenth of the history (limit=):
#                  streamed at constant RSS means the same growth for both
#   chatd-annotated, chatd-annotated-reader
#                  the page again once a tenth of its messages are edited and
#                  another tenth carry reactions, read anonymously and with a
#                  session (whose own reactions are read too); for these and
#                  chatd-page, chatd's and Redis's CPU per page (us), the
#                  figures to compare on a shared machine
# Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, conns, rounds, history are bench.sh's

# history_fill PORT KEY N: N messages into the stream, pipelined.
history_fill() {
    redis-benchmark -h 127.0.0.1 -p "$1" -c 16 -P 16 -n "$3" -q XADD "$2" '*' \
        userId 0123456789abcdef0123456789abcdef name bench \
        text 'Hello from the history bench: a message of ordinary length.' \
        timestamp 1795790000000 >/dev/null || die "filling the history failed"
}

# history_read PID URL: "bytes seconds rss_growth_kb" of reading URL at once.
history_read() {
    local pid=$1 url=$2 before got hwm
    before=$(rss_kb "$pid")
    echo 5 >"/proc/$pid/clear_refs" # VmHWM := VmRSS
    got=$(curl -sS -o /dev/null -w '%{size_download} %{time_total}' "$url") ||
        die "reading $url failed"
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
    echo "$got $((hwm - before))"
}

# history_annotate PORT PAGE_URL: edits every tenth message of the page and
# gives reactions to every tenth from the fifth, as chatd stores them.
history_annotate() {
    local i=0 id
    for id in $(curl -sS "$2" | grep -o '"id":"[0-9-]*"' | cut -d'"' -f4); do
        if ((i % 10 == 0)); then
            redis-cli -p "$1" HSET 'room:{lobby}:edits' "$id" "1795790000001:an edited text" >/dev/null
        elif ((i % 10 == 5)); then
            redis-cli -p "$1" HSET 'room:{lobby}:edits' "$id/r" "👍 3 ❤️ 1" >/dev/null
        fi
        i=$((i + 1))
    done
}

# history_page_run CONTENDER ROUND URL CHATD_PID REDIS_PID [TOKEN]: one wrk
# run of the page, recorded with chatd's and Redis's CPU per page.
history_page_run() {
    local c0 r0 pages
    c0=$(cpu_ms "$4") r0=$(cpu_ms "$5")
    wrk_run "$tmp/history-$1-$2" "$conns" "$3" get_messages.lua ${6:+"$6"}
    wrk_record history "$1" "$2"
    pages=$(awk -v r="$rps" -v d="$duration" 'BEGIN {printf "%d", r * d}')
    ((pages > 0)) || return 0
    record history "$1" "$2" chatd_us_per_page "$(awk -v c="$(($(cpu_ms "$4") - c0))" -v n="$pages" 'BEGIN {printf "%.1f", c * 1000 / n}')"
    record history "$1" "$2" redis_us_per_page "$(awk -v c="$(($(cpu_ms "$5") - r0))" -v n="$pages" 'BEGIN {printf "%.1f", c * 1000 / n}')"
}

scenario_history() {
    local key='room:{lobby}:messages' port base pid middle page round c bytes secs kb
    start_redis_here history-redis
    history_fill "$redis_port" "$key" $((history / 2))
    middle=$(redis-cli -p "$redis_port" XINFO STREAM "$key" | awk 'f {print; exit} /^last-generated-id$/ {f = 1}')
    history_fill "$redis_port" "$key" $((history - history / 2))
    [[ -n $middle ]] || die "no middle id"
    port=$(free_port)
    start_chatd "$chatd" "$tmp/history-chatd.log" "$port" "$redis_port" --log-level warn ||
        die "chatd did not start"
    pid=$CHATD_PID
    base=http://127.0.0.1:$port
    page="$base/message/?after=$middle&limit=100"
    [[ $(curl -sS "$page" | grep -o '"id":' | wc -l) == 100 ]] || die "a page does not hold 100 messages"
    say "history: $history messages; pages of 100 after $middle ($(curl -sS "$page" | wc -c) bytes)"
    local redis_pid token
    redis_pid=$(<"$tmp/history-redis/redis.pid")
    for ((round = 1; round <= rounds; round++)); do
        for c in $(round_order "$round" chatd-page redis-xrange chatd-full chatd-tenth); do
            case $c in
            chatd-page)
                history_page_run "$c" "$round" "$page" "$pid" "$redis_pid"
                ;;
            redis-xrange)
                rb_run "$redis_port" "$conns" XRANGE "$key" "($middle" + COUNT 100
                record history "$c" "$round" rps "$rps"
                say "history $c round $round: $rps requests/s"
                ;;
            chatd-full | chatd-tenth)
                local url=$base/message/
                [[ $c == chatd-tenth ]] && url="$url?limit=$((history / 10))"
                read -r bytes secs kb <<<"$(history_read "$pid" "$url")"
                record history "$c" "$round" body_mb "$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1048576}')"
                record history "$c" "$round" mb_per_s "$(awk -v b="$bytes" -v s="$secs" 'BEGIN {printf "%.1f", b / 1048576 / s}')"
                record history "$c" "$round" rss_growth_kb "$kb"
                say "history $c round $round: $bytes bytes in $secs s, chatd's peak RSS +$kb KB"
                ;;
            esac
        done
    done
    history_annotate "$redis_port" "$page"
    token=$(register_user "$base")
    for ((round = 1; round <= rounds; round++)); do
        for c in $(round_order "$round" chatd-annotated chatd-annotated-reader); do
            history_page_run "$c" "$round" "$page" "$pid" "$redis_pid" \
                "$([[ $c == chatd-annotated-reader ]] && echo "$token")"
        done
    done
}
