# shellcheck shell=bash
# Scenario "unread" of bench/bench.sh: the room list of users in
# $unread_rooms rooms (100), each holding 150 messages of another user
# (straight into Redis, the fields chatd writes). Then:
#   chatd-list-anon    wrk GET /room/ without a session: the public list alone
#   chatd-list-read    wrk GET /room/ as a user who read every room up to its
#                      newest message (all counts 0: the usual list)
#   chatd-list-behind  wrk GET /room/ as a user with no marker in half the
#                      rooms and one in the middle of the others (counts 100
#                      and 75: the most a count reads)
# The ratios to the anonymous list are what the markers and counts cost; run
# it with CHATD set to an older chatd for the lists without them.
# Sourced by bench/bench.sh.
# shellcheck disable=SC2154  # tmp, chatd, conns, rounds are bench.sh's

unread_rooms=${BENCH_UNREAD_ROOMS:-100}

# unread_user BASE: registers a user at BASE and prints its session token.
unread_user() {
    curl -sS -X POST "$1/user/" -H 'Content-Type: application/json' \
        -d "{\"email\":\"unread-$$-$RANDOM@example.com\",\"password\":\"unread bench password\"}" |
        sed -n 's/.*"authKey":"\([A-Za-z0-9_-]*\)".*/\1/p'
}

# unread_mark BASE TOKEN ROOM ID: marks ROOM read up to ID.
unread_mark() {
    curl -sS -o /dev/null -X PUT "$1/room/$3/read" -b "authKey=$2" \
        -H 'Content-Type: application/json' -d "{\"id\":\"$4\"}"
}

# unread_fill PORT BASE BEHIND READ: the rooms (made by BEHIND, joined by
# READ), their messages, and the markers of both users.
unread_fill() {
    local port=$1 base=$2 behind=$3 read=$4 i room key middle newest
    for ((i = 0; i < unread_rooms; i++)); do
        printf -v room 'unread-%03d' "$i"
        key="room:{$room}:messages"
        curl -sS -o /dev/null -X POST "$base/room/" -b "authKey=$behind" \
            -H 'Content-Type: application/json' -d "{\"name\":\"$room\"}"
        curl -sS -o /dev/null -X POST "$base/room/$room/member" -b "authKey=$read" \
            -H 'Content-Type: application/json' -d '{}'
        redis-benchmark -h 127.0.0.1 -p "$port" -c 4 -P 16 -n 150 -q XADD "$key" '*' \
            userId 0123456789abcdef0123456789abcdef name bench \
            text 'Hello from the unread bench: a message of ordinary length.' \
            timestamp 1795790000000 >/dev/null || die "filling $room failed"
        newest=$(redis-cli -p "$port" XREVRANGE "$key" + - COUNT 1 | head -n 1)
        unread_mark "$base" "$read" "$room" "$newest"
        ((i % 2)) && continue
        middle=$(redis-cli -p "$port" XRANGE "$key" - + COUNT 75 | tail -n 9 | head -n 1)
        unread_mark "$base" "$behind" "$room" "$middle"
    done
}

scenario_unread() {
    local port base behind read round c
    start_redis_here unread-redis
    port=$(free_port)
    start_chatd "$chatd" "$tmp/unread-chatd.log" "$port" "$redis_port" --log-level warn ||
        die "chatd did not start"
    base=http://127.0.0.1:$port
    behind=$(unread_user "$base")
    read=$(unread_user "$base")
    [[ -n $behind && -n $read ]] || die "no sessions for the unread bench"
    unread_fill "$redis_port" "$base" "$behind" "$read"
    say "unread: users in $unread_rooms rooms of 150 messages; GET /room/ is" \
        "$(curl -sS "$base/room/" | wc -c) bytes anonymous," \
        "$(curl -sS -b "authKey=$read" "$base/room/" | wc -c) read up," \
        "$(curl -sS -b "authKey=$behind" "$base/room/" | wc -c) behind"
    for ((round = 1; round <= rounds; round++)); do
        for c in $(round_order "$round" chatd-list-anon chatd-list-read chatd-list-behind); do
            case $c in
            chatd-list-anon) wrk_run "$tmp/unread-$c-$round" "$conns" "$base/room/" list_rooms.lua ;;
            chatd-list-read) wrk_run "$tmp/unread-$c-$round" "$conns" "$base/room/" list_rooms.lua "$read" ;;
            chatd-list-behind) wrk_run "$tmp/unread-$c-$round" "$conns" "$base/room/" list_rooms.lua "$behind" ;;
            esac
            wrk_record unread "$c" "$round"
        done
    done
}
