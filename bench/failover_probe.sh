#!/usr/bin/env bash
# bench/failover_probe.sh: what the clients see while Redis fails over. Paced
# sends (POST /message/ to the lobby) go to every URL given, each from its
# own loop (one user per loop, so that no loop meets the per-user message
# limit: PROBE_TOKENS); after a quiet start the lobby's master gets
# PROBE_SIGNAL: KILL (default: a crashed process, its connections reset) or
# STOP (a hung or cut-off host: connections stay open and silent; it gets
# CONT at the end and rejoins as a replica), and every surviving node's
# CLUSTER NODES is polled until one of them shows another master for the
# lobby's slot. Once every URL has acknowledged a send after that, the loops
# stop.
#
#   PROBE_TOKENS="TOKEN..." bench/failover_probe.sh URL...
#   (the session tokens are used in turn, one per URL; CLUSTER_PORT_BASE and
#   the other variables of scripts/cluster say where the cluster is)
#
# Prints one "name value" line per figure (ms are counted from the kill):
#   promoted_ms        the promotion first visible on a surviving node
#   first_write_ms     the first acknowledgement after the stall, any URL
#   slowest_url_ms     the same for the URL that came back last
#   lag_ms             first_write_ms - promoted_ms (negative: the URL's
#                      chatd was faster than the poll)
#   slowest_lag_ms     slowest_url_ms - promoted_ms
#   sends, refused     sends made; answered 5xx (503: not stored, or maybe)
#   limited            answered 429 (the probe sent too fast for the limits)
#   bad_answers        error answers without Retry-After or a JSON body
#   dropped            sends that got no HTTP answer at all (reset, closed)
# The raw lines (url start end status retry-after content-type curl-exit)
# go to $PROBE_LOG when it is set.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
read -r -a tokens <<<"${PROBE_TOKENS:-}"
if (($# == 0 || ${#tokens[@]} == 0)); then
    echo "usage: PROBE_TOKENS=\"TOKEN...\" failover_probe.sh URL..." >&2
    exit 2
fi
pace=${PROBE_PACE:-0.15}          # seconds between two sends of one loop
quiet=${PROBE_QUIET:-1}           # seconds of sends before the kill
after=${PROBE_AFTER:-1}           # seconds of sends after every URL is back
signal=${PROBE_SIGNAL:-KILL}
[[ $signal == KILL || $signal == STOP ]] || { echo "PROBE_SIGNAL is KILL or STOP" >&2; exit 2; }
key='room:{lobby}:messages'
base=${CLUSTER_PORT_BASE:-7000}
work=$(mktemp -d "${TMPDIR:-/tmp}/failover-probe.XXXXXX")
stop=$work/stop
loops=()
trap 'touch "$stop"; for p in "${loops[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# send_loop URL TOKEN OUT: paced sends until $stop exists, a line each into OUT.
send_loop() {
    local url=$1 token=$2 out=$3 start answer rc code retry ctype
    while [[ ! -e $stop ]]; do
        start=$EPOCHREALTIME
        answer=$(curl -s -o /dev/null -m 20 -X POST "$url/message/" -b "authKey=$token" \
            -H 'Content-Type: application/json' -d '{"text":"failover probe"}' \
            -w '%{http_code} %header{retry-after} %header{content-type}' 2>/dev/null) &&
            rc=0 || rc=$?
        read -r code retry ctype <<<"$answer"
        ctype=${ctype%%;*} # one word: "application/json"
        printf '%s %s %s %s %s %s %s\n' "$url" "$start" "$EPOCHREALTIME" "${code:-000}" \
            "${retry:--}" "${ctype:--}" "$rc" >>"$out"
        sleep "$pace"
    done
}

# master_in_view PORT SLOT: the port of the live master that node PORT's
# CLUSTER NODES lists for SLOT; fails when there is none or no answer.
master_in_view() {
    timeout 2 redis-cli -p "$1" cluster nodes 2>/dev/null | awk -v slot="$2" '
        $3 ~ /master/ && $3 !~ /fail/ {
            split($2, a, "@"); n = split(a[1], b, ":")
            for (i = 9; i <= NF; i++) {
                if ($i ~ /^\[/) continue
                m = split($i, r, "-"); lo = r[1]; hi = (m == 2) ? r[2] : r[1]
                if (slot + 0 >= lo + 0 && slot + 0 <= hi + 0) { print b[n]; found = 1; exit }
            }
        }
        END { exit !found }'
}

# promoted SLOT DEAD: true when a surviving node lists a live master other
# than DEAD for SLOT.
promoted() {
    local slot=$1 dead=$2 port owner
    for ((port = base; port < base + 6; port++)); do
        ((port != dead)) || continue
        owner=$(master_in_view "$port" "$slot") && [[ $owner != "$dead" ]] && return 0
    done
    return 1
}

# back_after T: true when every URL acknowledged a send that ended after T.
back_after() {
    local url
    for url in "${urls[@]}"; do
        awk -v url="$url" -v t="$1" '$1 == url && $4 == 201 && $3 > t {f = 1} END {exit !f}' \
            "$work/sends" || return 1
    done
}

urls=("$@")
: >"$work/sends"
for i in "${!urls[@]}"; do
    send_loop "${urls[i]}" "${tokens[i % ${#tokens[@]}]}" "$work/sends" &
    loops+=("$!")
done
sleep "$quiet"
slot=$(redis-cli -p "$base" cluster keyslot "$key")
dead=$(master_in_view "$base" "$slot") || dead=$(master_in_view $((base + 1)) "$slot")
pidfile=${CLUSTERCHAT_STATE:-$root/.state}/cluster/$dead/redis.pid
dead_pid=$(<"$pidfile")
kill_t=$EPOCHREALTIME
kill "-$signal" "$dead_pid"
[[ $signal != STOP ]] || trap 'kill -CONT "$dead_pid"; touch "$stop"; for p in "${loops[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
deadline=$((SECONDS + 120))
until promoted "$slot" "$dead"; do
    ((SECONDS < deadline)) || { echo "failover_probe: no promotion within 120 s" >&2; exit 1; }
    sleep 0.02
done
promoted_t=$EPOCHREALTIME
until back_after "$promoted_t"; do
    ((SECONDS < deadline)) || { echo "failover_probe: a URL never acknowledged again" >&2; exit 1; }
    sleep 0.1
done
sleep "$after"
touch "$stop"
for p in "${loops[@]}"; do wait "$p" 2>/dev/null || true; done
loops=()
[[ -z ${PROBE_LOG:-} ]] || cp "$work/sends" "$PROBE_LOG"

# The first acknowledgement after the stall: the one ending the longest gap
# between two acknowledgements (of one URL, or of all of them).
sort -k3,3n "$work/sends" | awk -v kill="$kill_t" -v prom="$promoted_t" -v nurls="${#urls[@]}" '
    function ms(t) { return sprintf("%.0f", (t - kill) * 1000) }
    {
        sends++
        if ($4 == "000") dropped++
        else if ($4 != 201 && ($5 == "-" || $6 !~ /json/)) bad++
        if ($4 ~ /^5/) refused++
        if ($4 == 429) limited++
    }
    $4 == 201 {
        if ($1 in last && $3 - last[$1] > gap[$1]) { gap[$1] = $3 - last[$1]; back[$1] = $3 }
        if (any != "" && $3 - any > anygap) { anygap = $3 - any; anyback = $3 }
        last[$1] = $3; any = $3
    }
    END {
        slowest = anyback
        for (u in back) if (back[u] > slowest) slowest = back[u]
        print "promoted_ms", ms(prom)
        print "first_write_ms", ms(anyback)
        print "slowest_url_ms", ms(slowest)
        print "lag_ms", sprintf("%.0f", (anyback - prom) * 1000)
        print "slowest_lag_ms", sprintf("%.0f", (slowest - prom) * 1000)
        print "sends", sends + 0
        print "refused", refused + 0
        print "limited", limited + 0
        print "bad_answers", bad + 0
        print "dropped", dropped + 0
    }'
