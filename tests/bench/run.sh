#!/usr/bin/env bash
# The tools of `make bench` do what the benchmark report relies on: the floor
# fans a POST out to every subscriber, sse_load publishes with send times and
# checks completeness (also against chatd with a session cookie, over its
# WebSocket too with a ws:// URL, where the
# memory per idle stream is measured as the fan-out scenario does, and nchan
# through bench/nchan.sh), its --wait-signal handshake and --cdf file work,
# two chatd share a port as chatd x2 does,
# it fails when messages do not arrive, and bench/report.sh turns figures
# into the medians, the ratios against the targets, and JSON.
#
# usage: tests/bench/run.sh BUILD_DIR   (TAP; about 5 s)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: tests/bench/run.sh BUILD_DIR}
[[ $build == /* ]] || build=$top/$build
# shellcheck source=scripts/lib.sh disable=SC1091
. "$top/scripts/lib.sh"
# shellcheck source=bench/lib.sh disable=SC1091
. "$top/bench/lib.sh"
# shellcheck source=bench/nchan.sh disable=SC1091
. "$top/bench/nchan.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench-test.XXXXXX") || exit 1
load_pid=''
cleanup() {
    [[ -z $load_pid ]] || kill "$load_pid" 2>/dev/null
    stop_started
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "1..15"
n=0
failed=0
# ok CONDITION_STATUS DESCRIPTION
ok() {
    n=$((n + 1))
    if (($1 == 0)); then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
    fi
}

# load NAME ARGS...: sse_load with ARGS, its output in $tmp/NAME; its status.
load() {
    local name=$1
    shift
    "$build/sse_load" "$@" >"$tmp/$name" 2>"$tmp/$name.err"
    local rc=$?
    ((rc == 0)) || sed 's/^/# /' "$tmp/$name" "$tmp/$name.err"
    return "$rc"
}

# complete FILE N M: the summary says N streams got M events each, none missing.
complete() {
    grep -q "^events $(($2 * $3)) expected $(($2 * $3)) missing 0 out_of_order 0 malformed 0$" "$1" &&
        grep -q "^published $3$" "$1"
}

# ---- the floor ----

floor_port=$(free_port)
"$build/floor" --port "$floor_port" 2>"$tmp/floor.log" &
STARTED_PIDS+=("$!")
floor=http://127.0.0.1:$floor_port
wait_until 10 curl -sf "$floor/health"
ok $? "the floor answers /health"

load floor-run --url "$floor/message/stream" --subscribers 200 --messages 5 \
    --publish "$floor/message/" --gap-ms 5 --cdf "$tmp/cdf.txt" && complete "$tmp/floor-run" 200 5
ok $? "200 floor subscribers each get the 5 messages sse_load publishes, in order"

[[ $(wc -l <"$tmp/cdf.txt") == 1000 && $(tail -n 1 "$tmp/cdf.txt") == "1.000 "* ]]
ok $? "--cdf writes 1,000 quantiles ending at 1.000"

status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"txt":1}' "$floor/message/")
[[ $status == 400 ]]
ok $? "the floor answers a body without text with 400 (got $status)"

# The handshake of the fan-out scenario: ready, SIGUSR1, done, SIGUSR1, exit.
"$build/sse_load" --url "$floor/message/stream" --subscribers 50 --messages 3 \
    --publish "$floor/message/" --gap-ms 5 --wait-signal >"$tmp/signal" 2>&1 &
load_pid=$!
rc=1
if wait_until 10 grep -q '^ready' "$tmp/signal" && ! grep -q '^done' "$tmp/signal" &&
    kill -USR1 "$load_pid" && wait_until 10 grep -q '^done' "$tmp/signal" &&
    kill -0 "$load_pid" && kill -USR1 "$load_pid"; then
    wait "$load_pid" && complete "$tmp/signal" 50 3
    rc=$?
fi
load_pid=''
ok "$rc" "--wait-signal publishes after the first SIGUSR1 and closes after the second"

load no-post --url "$floor/message/stream" --subscribers 10 --messages 2 \
    --publish "http://127.0.0.1:$(free_port)/message/" --timeout 5 >/dev/null 2>&1
rc=$?
load none --url "$floor/message/stream" --subscribers 10 --messages 1 --timeout 1 >/dev/null 2>&1
rc2=$?
((rc == 1 && rc2 == 1))
ok $? "sse_load fails when a POST is refused ($rc) or no message comes ($rc2)"

# ---- chatd, with a session cookie ----

redis_port=$(free_port)
start_redis "$tmp/redis" "$redis_port" >/dev/null
chatd_port=$(free_port)
start_chatd "$build/chatd" "$tmp/chatd.log" "$chatd_port" "$redis_port" --log-level warn
base=http://127.0.0.1:$chatd_port
token=$(register_user "$base")

# chatd's memory per idle stream, measured as the fan-out scenario does (PSS
# before and with the streams open): below the 2 KB target. The margin is
# wide (0.9 to 1.4 KB here; 2.9 KB while streams stayed with evhttp). ASan's
# shadow memory makes the figure meaningless.
ulimit -Sn "$(ulimit -Hn)"
before=$(pss_kb "$CHATD_PID")
"$build/sse_load" --url "$base/message/stream" --subscribers 1000 --messages 1 \
    --publish "$base/message/" --header "Cookie: authKey=$token" --wait-signal >"$tmp/idle" 2>&1 &
load_pid=$!
rc=1
what="1,000 idle chatd streams cost less than 2 KB each (PSS) and all get a message"
if wait_until 60 grep -q '^ready' "$tmp/idle"; then
    idle=$(pss_kb "$CHATD_PID")
    kb=$(awk -v b="$before" -v i="$idle" 'BEGIN {printf "%.2f", (i - b) / 1000}')
    echo "# chatd PSS $before -> $idle KB with 1,000 idle streams: $kb KB each"
    if grep -q libasan <<<"$(ldd "$build/chatd")"; then
        rc=0 what="$what # SKIP the memory figure under ASan"
    else
        awk -v kb="$kb" 'BEGIN {exit !(kb > 0 && kb < 2)}'
        rc=$?
    fi
    kill -USR1 "$load_pid" && wait_until 30 grep -q '^done' "$tmp/idle" && kill -USR1 "$load_pid" &&
        wait "$load_pid" && complete "$tmp/idle" 1000 1 || { rc=1; sed "s/^/# /" "$tmp/idle" | tail -5; }
fi
load_pid=''
ok "$rc" "$what"

load chatd-run --url "$base/message/stream" --subscribers 100 --messages 3 \
    --publish "$base/message/" --header "Cookie: authKey=$token" --gap-ms 5 &&
    complete "$tmp/chatd-run" 100 3
ok $? "100 chatd subscribers each get the 3 messages sse_load sends with a session"

# The same over chatd's WebSocket (the ws scenario's load): the upgrade with
# the cookie, a subscribe to the lobby, each message frame an event.
load chatd-ws --url "ws://127.0.0.1:$chatd_port/ws" --subscribers 100 --messages 3 \
    --publish "$base/message/" --header "Cookie: authKey=$token" --gap-ms 5 &&
    complete "$tmp/chatd-ws" 100 3
ok $? "100 chatd WebSocket subscribers each get the 3 messages sse_load sends"

# A session chatd does not know: the upgrade is answered 401, not 101, and
# sse_load says so and fails.
"$build/sse_load" --url "ws://127.0.0.1:$chatd_port/ws" --subscribers 2 --messages 1 \
    --header "Cookie: authKey=$(printf 'A%.0s' {1..43})" --timeout 10 >"$tmp/ws-401" 2>&1
rc=$?
((rc == 1)) && grep -q 'answered "HTTP/1.1 401' "$tmp/ws-401"
ok $? "sse_load fails when chatd refuses the WebSocket upgrade (401; status $rc)"

# Two chatd on one port, as the send and cluster scenarios' chatd x2 runs.
shared_port=$(free_port)
start_chatds "$build/chatd" 2 "$tmp/pair" "$shared_port" "$redis_port" --log-level warn &&
    ((${#CHATD_PIDS[@]} == 2 && $(listeners "$shared_port") == 2)) &&
    post_ok "http://127.0.0.1:$shared_port/message/" "$token" &&
    workers_idle "http://127.0.0.1:$shared_port"
ok $? "start_chatds: two chatd listen on one port (--reuseport) and take messages"

# ---- nchan (bench/nchan.sh) ----

nchan_port=$(free_port)
if nchan_start "$tmp/nchan" "$nchan_port" 1 >/dev/null 2>&1; then
    nchan=http://127.0.0.1:$nchan_port
    load nchan-run --url "$nchan/sub" --subscribers 100 --messages 3 --publish "$nchan/pub" \
        --gap-ms 5 && complete "$tmp/nchan-run" 100 3
    ok $? "100 nchan subscribers each get the 3 messages (the mark in nchan's raw data line)"
else
    ok 1 "nginx with nchan starts from bench/nchan.sh's config"
fi

# ---- bench/report.sh ----

printf '%s\n' "send	chatd	1	rps	900" "send	chatd	2	rps	1000" "send	chatd	3	rps	950" \
    "send	chatd-x2	1	rps	1500" "send	chatd-x2	2	rps	1700" "send	chatd-x2	3	rps	1600" \
    "send	redis-xadd	1	rps	1000" "send	redis-xadd	2	rps	1100" "send	redis-xadd	3	rps	1000" \
    "fanout-10	chatd	1	p99_ms	9" "fanout-10	floor	1	p99_ms	5" \
    "fanout-10	chatd	1	kb_per_idle_sub	1.5" \
    "login	send	1	p99_ms	4" "login	send+logins	1	p99_ms	10" \
    "login	send	1	rps	1000" "login	send+logins	1	rps	800" \
    "login	send-paced	1	p99_ms	2" "login	send-paced+logins	1	p99_ms	2.2" \
    "login	send-paced	1	offered_rps	500" "login	logins	1	rps	1.5" \
    "login	logins-paced	1	rps	4" "login	logins-alone	1	rps	6" \
    "ws-10	chatd-ws	1	p99_ms	5.4" "ws-10	chatd-sse	1	p99_ms	4" "ws-10	floor	1	p99_ms	5" \
    "ws-10	chatd-ws	1	kb_rss_per_idle_sub	2.5" "ws-send	chatd-ws	1	rps	900" \
    "ws-send	chatd-post	1	rps	1000" >"$tmp/raw.tsv"
mkdir -p "$tmp/cdf"
# ratios FILE: the JSON's ratios as {name: [value, result]}.
ratios() { jq -c '.ratios | map({(.name): [.value, .result]}) | add' "$1"; }
counts=10 "$top/bench/report.sh" "$tmp/raw.tsv" "$tmp/cdf" "$tmp/report" "" >"$tmp/report.log" 2>&1 &&
    ratios "$tmp/report.json" | jq -e '
        .["send: chatd / redis-benchmark XADD (requests/s)"] ==
            ["chatd x2, one per core (judged): 1.60 (1600 vs 1000 /s); one chatd: 0.95 (950 vs 1000 /s)", "met"] and
        .["send: chatd x2 / one chatd (requests/s)"] == ["1.68", "-"] and
        .["fanout 10: chatd p99 / floor p99"] == ["1.80", "missed"] and
        .["fanout 10: chatd memory per idle subscriber"] == ["1.50 KB", "met"] and
        .["login: send p99 during a login storm / alone"] == ["at a fixed rate (about 500/s offered) (judged): 1.10 (2.20 vs 2.00 ms); saturated: 2.50 (10.00 vs 4.00 ms), requests/s 0.80", "met"] and
        .["login: logins/s in the storm alone; beside the paced sends; beside the saturated ones"] == ["6; 4; 1.5", "-"] and
        .["ws 10: chatd over WebSocket, p99 / floor p99"] == ["1.08", "met"] and
        .["ws 10: chatd over SSE, p99 / floor p99"] == ["0.80", "met"] and
        .["ws 10: chatd memory (RSS) per idle WebSocket"] == ["2.50 KB", "missed"] and
        .["ws-send: acks/s over one WebSocket (? in flight) / POST /message/ (wrk, ? keep-alive connections)"] == ["0.90", "-"]' >/dev/null &&
    jq -e '(.medians | map(select(.contender == "chatd" and .metric == "rps"))[0].median) == 950' \
        "$tmp/report.json" >/dev/null && grep -q '| chatd | 950 |' "$tmp/report.md"
ok $? "report.sh: medians of the rounds, ratios against the targets (the judged contender named), JSON and Markdown"

# A run from before chatd x2 and the paced sends: the targets judge what it has.
grep -vE 'chatd-x2|paced|logins-alone' "$tmp/raw.tsv" >"$tmp/raw-old.tsv"
counts=10 "$top/bench/report.sh" "$tmp/raw-old.tsv" "$tmp/cdf" "$tmp/old" "" >"$tmp/old.log" 2>&1 &&
    ratios "$tmp/old.json" | jq -e '
        .["send: chatd / redis-benchmark XADD (requests/s)"] ==
            ["chatd x2, one per core: —; one chatd (judged): 0.95 (950 vs 1000 /s)", "met"] and
        .["login: send p99 during a login storm / alone"] == ["at a fixed rate: —; saturated (judged): 2.50 (10.00 vs 4.00 ms), requests/s 0.80", "missed"] and
        .["login: logins/s in the storm alone; beside the paced sends; beside the saturated ones"] == ["—; —; 1.5", "-"]' >/dev/null &&
    cp "$tmp/old.json" "$tmp/again.json" && "$top/bench/report.sh" --from "$tmp/again.json" >"$tmp/again.log" 2>&1 &&
    [[ $(ratios "$tmp/again.json") == "$(ratios "$tmp/old.json")" ]]
ok $? "report.sh: an older run without chatd x2 or paced sends shows them as —, also through --from"

# Under ASan+UBSan, a report in a server's log is a failure (sse_load's own
# reports already made it exit non-zero).
stop_started
! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$tmp/floor.log" "$tmp/chatd.log" "$tmp"/pair-*.log
ok $? "the floor and chatd exit without a sanitizer report"
((failed == 0))
