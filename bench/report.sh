#!/usr/bin/env bash
# bench/report.sh: turns the figures of one bench/bench.sh run into its
# report: the medians, the ratios against the targets of the benchmark issue,
# PREFIX.json, PREFIX.md, the latency distributions beside them
# (PREFIX-cdf/), and the PNG plots (gnuplot) into PLOT_DIR.
#
# usage: bench/report.sh RAW.tsv CDF_DIR PREFIX [PLOT_DIR]
#        bench/report.sh --from PREFIX.json [PLOT_DIR]
#
# RAW.tsv has one figure a line: scenario, contender, round, metric, value
# (tab-separated); CDF_DIR holds sse_load's --cdf files, named
# fanout-<N>-<contender>-<round>.txt. The run's options come from the
# environment (bench.sh exports them). The median of an even number of
# rounds is the mean of the middle two. --from renders the report of an
# earlier run again from its JSON and kept distributions (e.g. after a change
# to this script), in place.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() {
    sed -n '6,8s/^# \{0,1\}//p' "$0" >&2
    exit 2
}
work=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench-report.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [[ ${1:-} == --from ]]; then
    (($# == 2 || $# == 3)) || usage
    json=$2 prefix=${2%.json} plot_dir=${3:-}
    raw=$work/raw.tsv cdf_dir=$work/cdf
    jq -r '.runs[] | [.scenario, .contender, .round, .metric, .value] | @tsv' "$json" >"$raw"
    eval "$(jq -r '.options as $o | .machine as $m | {started_at: .date, BENCH_COMMIT: .commit,
        load_at_start: ($m.loadavg_at_start // "?"), duration: $o.seconds_per_run, rounds: $o.rounds,
        conns: $o.connections, counts: $o.subscribers, nchan_workers: $o.nchan_workers,
        messages: $o.fanout_messages, gap_ms: $o.fanout_gap_ms, history: $o.history_messages,
        login_redis_group: ($o.login_redis_group // ""), login_chatd_args: ($o.login_chatd_args // "")}
        | to_entries[] | "\(.key)=\(.value | tostring | @sh)"' "$json")"
    mkdir -p "$cdf_dir"
    for f in "$prefix-cdf"/*.txt; do # the kept distribution stands for round 1
        [[ -e $f ]] && cp "$f" "$cdf_dir/$(basename "$f" .txt)-1.txt"
    done
else
    (($# == 3 || $# == 4)) || usage
    raw=$1 cdf_dir=$2 prefix=$3 plot_dir=${4:-}
fi

# ---- medians: scenario contender metric median n ----

sort -t$'\t' -k1,1 -k2,2 -k4,4 -k5,5g "$raw" | awk -F'\t' -v OFS='\t' '
    function flush() {
        if (n) print s, c, m, (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2), n
        n = 0
    }
    $1 != s || $2 != c || $4 != m {flush(); s = $1; c = $2; m = $4}
    {v[++n] = $5}
    END {flush()}' >"$work/medians.tsv"

# med SCENARIO CONTENDER METRIC: the median, or nothing.
med() { awk -F'\t' -v s="$1" -v c="$2" -v m="$3" '$1 == s && $2 == c && $3 == m {print $4}' "$work/medians.tsv"; }

# ---- ratios against the targets: name value target(op bound) note ----

: >"$work/ratios.tsv"
# ratio NAME A B OP BOUND: A/B against "OP BOUND" (OP >= or <=, or "-" for none).
ratio() {
    local name=$1 a=$2 b=$3 op=$4 bound=$5
    [[ -n $a && -n $b ]] || return 0
    awk -v OFS='\t' -v n="$name" -v a="$a" -v b="$b" -v op="$op" -v t="$bound" 'BEGIN {
        if (b == 0) exit
        r = a / b
        res = op == "-" ? "-" : ((op == ">=" ? r >= t : r <= t) ? "met" : "missed")
        print n, sprintf("%.2f", r), (op == "-" ? "-" : op " " t), res
    }' >>"$work/ratios.tsv"
}
# absolute NAME VALUE OP BOUND UNIT: a figure against a bound.
absolute() {
    local name=$1 v=$2 op=$3 bound=$4 unit=$5
    [[ -n $v ]] || return 0
    awk -v OFS='\t' -v n="$name" -v v="$v" -v op="$op" -v t="$bound" -v u="$unit" 'BEGIN {
        res = op == "-" ? "-" : ((op == ">=" ? v >= t : v <= t) ? "met" : "missed")
        print n, sprintf("%.2f %s", v, u), (op == "-" ? "-" : op " " t " " u), res
    }' >>"$work/ratios.tsv"
}

# div A B: A/B with two decimals, or nothing when either is missing.
div() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN {if (b != 0) printf "%.2f", a / b}'; }
# div_of A B UNIT: A/B and the two figures, e.g. "0.53 (26452 vs 50119 /s)";
# UNIT "ms" prints them with two decimals.
div_of() {
    [[ -n $1 && -n $2 ]] || return 0
    awk -v a="$1" -v b="$2" -v u="$3" 'BEGIN {
        if (b == 0) exit
        f = u == "ms" ? "%.2f (%.2f vs %.2f %s)" : "%.2f (%.0f vs %.0f %s)"
        printf f, a / b, a, b, u
    }'
}

# judged NAME OP BOUND LABEL1 RATIO1 LABEL2 RATIO2: a target row that shows
# two contenders' ratios (each text starting with the ratio) and says which
# one the target judges: the first, or the second when the run has no
# figure for the first (a run from before the first contender existed). A
# missing ratio shows as "—".
judged() {
    local name=$1 op=$2 bound=$3 l1=$4 r1=$5 l2=$6 r2=$7 v j
    [[ -n $r1 || -n $r2 ]] || return 0
    if [[ -n $r1 ]]; then
        v="$l1 (judged): $r1; $l2: ${r2:-—}" j=$r1
    else
        v="$l1: —; $l2 (judged): $r2" j=$r2
    fi
    awk -v OFS='\t' -v n="$name" -v v="$v" -v j="$j" -v op="$op" -v t="$bound" 'BEGIN {
        j += 0 # the ratio at the start of the text
        print n, v, op " " t, ((op == ">=" ? j >= t : j <= t) ? "met" : "missed")
    }' >>"$work/ratios.tsv"
}

# like_chatd SCENARIO ONE X2 WORKERS: chatd's contender to set beside nchan
# with that many nginx workers: one chatd beside one worker, chatd x2 (one
# per core) beside more; one chatd when the run has no chatd x2.
like_chatd() {
    if (($4 > 1)) && [[ -n $(med "$1" "$3" rps) ]]; then echo "$3"; else echo "$2"; fi
}
# chatd_label CONTENDER: how the rows name it.
chatd_label() { [[ $1 == *x2* ]] && echo "chatd x2" || echo "one chatd"; }
# nchan_like WANT PREFIX: of the nchan worker counts this run measured, WANT
# if measured, otherwise the nearest one.
nchan_like() {
    local want=$1 best='' w
    for w in ${nchan_workers:-1}; do
        [[ -n $(med "$2" "nchan-cluster-w$w" rps) ]] || continue
        if [[ -z $best ]] || (((w - want) ** 2 < (best - want) ** 2)); then best=$w; fi
    done
    echo "$best"
}

judged "send: chatd / redis-benchmark XADD (requests/s)" ">=" 0.8 \
    "chatd x2, one per core" "$(div_of "$(med send chatd-x2 rps)" "$(med send redis-xadd rps)" /s)" \
    "one chatd" "$(div_of "$(med send chatd rps)" "$(med send redis-xadd rps)" /s)"
ratio "send: chatd x2 / one chatd (requests/s)" "$(med send chatd-x2 rps)" "$(med send chatd rps)" - -
for c in chatd chatd-x2; do
    absolute "send: CPU per message of $c in its own process(es)" "$(med send "$c" server_us_per_req)" - - us
    absolute "send: CPU per message of $c in Redis" "$(med send "$c" redis_us_per_req)" - - us
done
for w in ${nchan_workers:-1}; do
    c=$(like_chatd send chatd chatd-x2 "$w")
    ratio "send: $(chatd_label "$c") / nchan via Redis, $w nginx worker(s) (requests/s)" \
        "$(med send "$c" rps)" "$(med send "nchan-redis-w$w" rps)" - -
    ratio "send: $(chatd_label "$c") / nchan in memory, $w nginx worker(s) (requests/s)" \
        "$(med send "$c" rps)" "$(med send "nchan-mem-w$w" rps)" - -
done
w2=$(nchan_like 2 cluster) w1=$(nchan_like 1 cluster)
if [[ -n $w1 ]]; then
    judged "cluster: chatd with WAIT / nchan on the cluster (requests/s)" ">=" 3 \
        "chatd x2 / nchan with $w2 nginx worker(s)" \
        "$(div_of "$(med cluster chatd-x2-wait rps)" "$(med cluster "nchan-cluster-w$w2" rps)" /s)" \
        "one chatd / nchan with $w1 nginx worker(s)" \
        "$(div_of "$(med cluster chatd-wait rps)" "$(med cluster "nchan-cluster-w$w1" rps)" /s)"
fi
if [[ -n $w1 ]]; then
    ratio "cluster: CPU per acknowledged message in chatd's process / in nginx + nchan's ($w1 worker(s))" \
        "$(med cluster chatd-wait server_us_per_req)" "$(med cluster "nchan-cluster-w$w1" server_us_per_req)" "<=" 1
    ratio "cluster: CPU per message in chatd + Redis / in nginx + nchan + Redis ($w1 worker(s))" \
        "$(awk -v a="$(med cluster chatd-wait server_us_per_req)" -v b="$(med cluster chatd-wait redis_us_per_req)" 'BEGIN {print a + b}')" \
        "$(awk -v a="$(med cluster "nchan-cluster-w$w1" server_us_per_req)" -v b="$(med cluster "nchan-cluster-w$w1" redis_us_per_req)" 'BEGIN {print a + b}')" - -
    for c in chatd-wait "nchan-cluster-w$w1"; do
        absolute "cluster: CPU per message of $c in its own process(es)" \
            "$(med cluster "$c" server_us_per_req)" - - us
        absolute "cluster: CPU per message of $c in the six Redis nodes" \
            "$(med cluster "$c" redis_us_per_req)" - - us
    done
fi
ratio "cluster: chatd x2 / one chatd, with WAIT (requests/s)" \
    "$(med cluster chatd-x2-wait rps)" "$(med cluster chatd-wait rps)" - -
ratio "cluster: chatd with WAIT / without (requests/s)" \
    "$(med cluster chatd-wait rps)" "$(med cluster chatd-nowait rps)" - -
for n in ${counts:-}; do
    s=fanout-$n
    [[ -n $(med "$s" chatd p99_ms) ]] || continue
    for w in ${nchan_workers:-1}; do
        ratio "fanout $n: chatd p99 / nchan via Redis p99, $w nginx worker(s)" \
            "$(med "$s" chatd p99_ms)" "$(med "$s" "nchan-redis-w$w" p99_ms)" "<=" 0.7
        ratio "fanout $n: chatd p99 / nchan in memory p99, $w nginx worker(s)" \
            "$(med "$s" chatd p99_ms)" "$(med "$s" "nchan-mem-w$w" p99_ms)" - -
    done
    ratio "fanout $n: chatd p99 / floor p99" "$(med "$s" chatd p99_ms)" "$(med "$s" floor p99_ms)" "<=" 1.1
    ratio "fanout $n: chatd two-room stream p99 / one-room stream p99" \
        "$(med "$s" chatd-rooms p99_ms)" "$(med "$s" chatd p99_ms)" - -
    ratio "fanout $n: chatd two-room stream CPU per delivery / one-room stream's" \
        "$(med "$s" chatd-rooms cpu_us_per_delivery)" "$(med "$s" chatd cpu_us_per_delivery)" - -
    ratio "fanout $n: through HAProxy, 3 chatd p99 / one chatd direct p99" \
        "$(med "$s" chatd-lb3 p99_ms)" "$(med "$s" chatd p99_ms)" "<=" 1.2
    ratio "fanout $n: through HAProxy, 3 chatd p50 / one chatd direct p50" \
        "$(med "$s" chatd-lb3 p50_ms)" "$(med "$s" chatd p50_ms)" - -
    ratio "fanout $n: chatd CPU per delivery / floor's" \
        "$(med "$s" chatd cpu_us_per_delivery)" "$(med "$s" floor cpu_us_per_delivery)" - -
    for w in ${nchan_workers:-1}; do
        ratio "fanout $n: chatd CPU per delivery / nchan's (Redis, $w nginx worker(s))" \
            "$(med "$s" chatd cpu_us_per_delivery)" "$(med "$s" "nchan-redis-w$w" cpu_us_per_delivery)" - -
    done
    absolute "fanout $n: chatd memory per idle subscriber" "$(med "$s" chatd kb_per_idle_sub)" "<=" 2 KB
    for w in ${nchan_workers:-1}; do
        absolute "fanout $n: nchan (Redis, $w nginx worker(s)) memory per idle subscriber" \
            "$(med "$s" "nchan-redis-w$w" kb_per_idle_sub)" - - KB
    done
    absolute "fanout $n: floor memory per idle subscriber" "$(med "$s" floor kb_per_idle_sub)" - - KB
    absolute "fanout $n: chatd two-room stream memory per idle subscriber" \
        "$(med "$s" chatd-rooms kb_per_idle_sub)" - - KB
done
# ws: chatd's WebSocket beside its SSE streams (and the floor), and its POST
for n in ${counts:-}; do
    s=ws-$n
    [[ -n $(med "$s" chatd-ws p99_ms) ]] || continue
    for c in chatd-ws chatd-sse; do
        how=WebSocket
        [[ $c == chatd-ws ]] || how=SSE
        ratio "ws $n: chatd over $how, p99 / floor p99" "$(med "$s" "$c" p99_ms)" "$(med "$s" floor p99_ms)" "<=" 1.1
        ratio "ws $n: chatd over $how, p50 / floor p50" "$(med "$s" "$c" p50_ms)" "$(med "$s" floor p50_ms)" - -
    done
    ratio "ws $n: WebSocket p99 / SSE p99" "$(med "$s" chatd-ws p99_ms)" "$(med "$s" chatd-sse p99_ms)" - -
    ratio "ws $n: chatd CPU per delivery, WebSocket / SSE" \
        "$(med "$s" chatd-ws cpu_us_per_delivery)" "$(med "$s" chatd-sse cpu_us_per_delivery)" - -
    absolute "ws $n: chatd CPU per delivery over WebSocket" "$(med "$s" chatd-ws cpu_us_per_delivery)" - - us
    absolute "ws $n: chatd memory (RSS) per idle WebSocket" "$(med "$s" chatd-ws kb_rss_per_idle_sub)" "<=" 1 KB
    absolute "ws $n: chatd memory (RSS) per idle SSE stream" "$(med "$s" chatd-sse kb_rss_per_idle_sub)" "<=" 1 KB
    printf '%s\t%s\t-\t-\n' "ws $n: sse_load's CPU per delivery, us (WebSocket; SSE; floor)" \
        "$(med "$s" chatd-ws load_cpu_us_per_delivery); $(med "$s" chatd-sse load_cpu_us_per_delivery); $(med "$s" floor load_cpu_us_per_delivery)" >>"$work/ratios.tsv"
done
ratio "ws-send: acks/s over one WebSocket (${conns:-?} in flight) / POST /message/ (wrk, ${conns:-?} keep-alive connections)" \
    "$(med ws-send chatd-ws rps)" "$(med ws-send chatd-post rps)" - -
ratio "ws-send: chatd CPU per acknowledged send, WebSocket / POST" \
    "$(med ws-send chatd-ws cpu_us_per_msg)" "$(med ws-send chatd-post cpu_us_per_msg)" - -
if [[ -n $(med ws-send chatd-ws rps) ]]; then
    printf '%s\t%s\t-\t-\n' "ws-send: the load tool's CPU per send, us (ws_load.mjs; wrk)" \
        "$(med ws-send chatd-ws load_cpu_us_per_msg); $(med ws-send chatd-post load_cpu_us_per_msg)" >>"$work/ratios.tsv"
fi
# ws-deflate: permessage-deflate on chatd's frames, against chatd's CPU per delivery
if [[ -n $(med ws-deflate plain bytes_per_frame) ]]; then
    printf '%s\t%s\t-\t-\n' "ws-deflate: bytes per frame: plain; context takeover, level 6 and 1; none, level 6 and 1" \
        "$(med ws-deflate plain bytes_per_frame); $(med ws-deflate takeover-l6 bytes_per_frame), $(med ws-deflate takeover-l1 bytes_per_frame); $(med ws-deflate no-takeover-l6 bytes_per_frame), $(med ws-deflate no-takeover-l1 bytes_per_frame)" >>"$work/ratios.tsv"
    printf '%s\t%s\t-\t-\n' "ws-deflate: compression CPU per frame, us: context takeover, level 6 and 1; none, level 6 and 1" \
        "$(med ws-deflate takeover-l6 us_per_frame), $(med ws-deflate takeover-l1 us_per_frame); $(med ws-deflate no-takeover-l6 us_per_frame), $(med ws-deflate no-takeover-l1 us_per_frame)" >>"$work/ratios.tsv"
    ratio "ws-deflate: bytes per frame, context takeover (level 6) / plain" \
        "$(med ws-deflate takeover-l6 bytes_per_frame)" "$(med ws-deflate plain bytes_per_frame)" - -
    ratio "ws-deflate: bytes per frame, no context takeover (level 6) / plain" \
        "$(med ws-deflate no-takeover-l6 bytes_per_frame)" "$(med ws-deflate plain bytes_per_frame)" - -
    for n in ${counts:-}; do
        for level in 6 1; do
            ratio "ws-deflate: compressing per connection (context takeover, level $level) / chatd's CPU per WebSocket delivery at $n" \
                "$(med ws-deflate "takeover-l$level" us_per_frame)" "$(med "ws-$n" chatd-ws cpu_us_per_delivery)" - -
        done
    done
    absolute "ws-deflate: zlib's deflate state per connection with context takeover (windowBits 15, memLevel 8)" \
        "$(med ws-deflate plain compressor_kb)" - - KB
fi
ratio "history: chatd page of 100 / redis-benchmark XRANGE COUNT 100 (requests/s)" \
    "$(med history chatd-page rps)" "$(med history redis-xrange rps)" ">=" 0.5
if [[ -n $(med history chatd-full rss_growth_kb) ]]; then
    absolute "history: chatd peak RSS growth, whole history ($(med history chatd-full body_mb) MB) minus a tenth" \
        "$(awk -v a="$(med history chatd-full rss_growth_kb)" -v b="$(med history chatd-tenth rss_growth_kb)" \
            'BEGIN {print (a - b) / 1024}')" "<=" 1 MB
fi
absolute "rooms: Redis clients with one stream on each of ${BENCH_ROOMS:-10000} rooms (2 x 1 master + the seed's and the sessions' connections)" \
    "$(med rooms Nrooms redis_clients)" "<=" 4 clients
ratio "rooms: delivery p99 into a random room of ${BENCH_ROOMS:-10000} / of 1 room" \
    "$(med rooms Nrooms p99_ms)" "$(med rooms 1room p99_ms)" "<=" 1.5
if [[ -n $(med rooms Nrooms rss_growth_kb) ]]; then
    absolute "rooms: chatd memory per idle room reader" \
        "$(awk -v a="$(med rooms Nrooms rss_growth_kb)" -v b="$(med rooms Nstreams rss_growth_kb)" \
            -v n="${BENCH_ROOMS:-10000}" 'BEGIN {print (a - b) / n}')" "<=" 1 KB
fi
absolute "rooms: clients added on the 3+3 cluster by ${BENCH_ROOMS_CLUSTER:-100000} rooms over 3 chatd (<= 3 chatd x 3 masters)" \
    "$(med rooms cluster-3x redis_clients_added)" "<=" 9 clients
absolute "rooms: delivery p99 into a random room of ${BENCH_ROOMS_CLUSTER:-100000} over 3 chatd on the cluster" \
    "$(med rooms cluster-3x p99_ms)" - - ms
# presence: a room of BENCH_PRESENCE_MEMBERS online, changes and typing
for phase in churn typing; do
    [[ -n $(med presence "$phase" cpu_ms_per_s_pid0) ]] || continue
    printf '%s\t%s\t-\t-\n' "presence ($phase): CPU ms per s of chatd A (members), chatd B, Redis" \
        "$(med presence "$phase" cpu_ms_per_s_pid0); $(med presence "$phase" cpu_ms_per_s_pid1); $(med presence "$phase" cpu_ms_per_s_pid2)" >>"$work/ratios.tsv"
    absolute "presence ($phase): bytes per subscriber per second" \
        "$(med presence "$phase" bytes_per_subscriber_per_s)" - - B/s
done
absolute "presence: events per subscriber per second during the changes" \
    "$(med presence churn events_per_subscriber_per_s)" "<=" 1.5 events/s
absolute "presence: a change reaching the others, p99" "$(med presence churn p99_ms)" "<=" 2000 ms
absolute "presence: a typing signal reaching the others, p99" "$(med presence typing p99_ms)" "<=" 500 ms
paced=$(med login send-paced offered_rps)
saturated=$(div_of "$(med login send+logins p99_ms)" "$(med login send p99_ms)" ms)
[[ -z $saturated ]] || saturated="$saturated, requests/s $(div "$(med login send+logins rps)" "$(med login send rps)")"
judged "login: send p99 during a login storm / alone" "<=" 1.2 \
    "at a fixed rate${paced:+ (about $(printf '%.0f' "$paced")/s offered)}" \
    "$(div_of "$(med login send-paced+logins p99_ms)" "$(med login send-paced p99_ms)" ms)" \
    "saturated" "$saturated"
# logins_rate CONTENDER: the logins per second counted beside it, or "—".
logins_rate() {
    local v
    v=$(med login "$1" rps)
    echo "${v:-—}"
}
if [[ -n $(med login logins rps) ]]; then
    printf '%s\t%s\t-\t-\n' "login: logins/s in the storm alone; beside the paced sends; beside the saturated ones" \
        "$(logins_rate logins-alone); $(logins_rate logins-paced); $(logins_rate logins)" >>"$work/ratios.tsv"
fi
ratio "haproxy: 1 chatd behind HAProxy / direct (requests/s)" \
    "$(med haproxy h1 rps)" "$(med haproxy direct rps)" - -
ratio "haproxy: 2 chatd / 1 behind HAProxy (requests/s)" "$(med haproxy h2 rps)" "$(med haproxy h1 rps)" - -
ratio "haproxy: 3 chatd / 1 behind HAProxy (requests/s)" "$(med haproxy h3 rps)" "$(med haproxy h1 rps)" - -
# shellcheck disable=SC2013  # contender names are single words (kill1000 ...)
for c in $(awk -F'\t' '$1 == "failover" {print $2}' "$work/medians.tsv" | sort -u -V); do
    how="kill -9, cluster-node-timeout ${c##*[a-z]} ms" # kill1000 (t1000 in the first runs)
    [[ $c != stop* ]] || how="SIGSTOP, cluster-node-timeout ${c#stop} ms"
    absolute "failover ($how): the last URL's first write after the promotion" \
        "$(med failover "$c" slowest_lag_ms)" "<=" 500 ms
    absolute "failover ($how): sends without an HTTP answer" "$(med failover "$c" dropped)" "<=" 0 sends
    printf '%s\t%s\t-\t-\n' "failover ($how): promotion; first write; last URL's first write; 503s" \
        "$(med failover "$c" promoted_ms) ms; $(med failover "$c" first_write_ms) ms; $(med failover "$c" slowest_url_ms) ms; $(med failover "$c" refused)" >>"$work/ratios.tsv"
done
ratio "webhooks: sends queueing their event / without webhooks (requests/s)" \
    "$(med webhooks chatd-queue rps)" "$(med webhooks chatd rps)" - -
ratio "webhooks: send p50 queueing the event / without webhooks" \
    "$(med webhooks chatd-queue p50_ms)" "$(med webhooks chatd p50_ms)" - -
ratio "webhooks: chatd CPU per send queueing the event / without webhooks" \
    "$(med webhooks chatd-queue cpu_us_per_msg)" "$(med webhooks chatd cpu_us_per_msg)" - -
ratio "webhooks: sends while delivering every event / without webhooks (requests/s)" \
    "$(med webhooks chatd-webhooks rps)" "$(med webhooks chatd rps)" - -
ratio "webhooks: chatd CPU per message, queued and delivered / without webhooks" \
    "$(med webhooks chatd-webhooks cpu_us_per_msg)" "$(med webhooks chatd cpu_us_per_msg)" - -

# ---- the machine and the versions ----

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
kernel=$(uname -r)
load=$(cut -d' ' -f1-3 /proc/loadavg)
v_redis=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
v_nginx=$(nginx -v 2>&1 | sed 's|.*nginx/||')
v_nchan=$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo unknown)
v_haproxy=$(haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p')
v_wrk=$(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo unknown)
v_libevent=$(pkg-config --modversion libevent 2>/dev/null || echo unknown)
commit=${BENCH_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
dirty=''
if [[ -z ${BENCH_COMMIT:-} ]] && git -C "$root" status --porcelain -- src bench 2>/dev/null | grep -q .; then dirty=' (with local changes)'; fi

# ---- JSON ----

tsv_json() { jq -R -s "$1" "$2"; }
jq -n \
    --arg date "${started_at:-}" --arg commit "$commit$dirty" \
    --arg nproc "$(nproc)" --arg cpu "$cpu" --arg kernel "$kernel" --arg load "$load" --arg load0 "${load_at_start:-}" \
    --arg redis "$v_redis" --arg nginx "$v_nginx" --arg nchan "$v_nchan" --arg haproxy "$v_haproxy" \
    --arg wrk "$v_wrk" --arg libevent "$v_libevent" \
    --arg duration "${duration:-}" --arg rounds "${rounds:-}" --arg conns "${conns:-}" \
    --arg counts "${counts:-}" --arg workers "${nchan_workers:-}" --arg messages "${messages:-}" \
    --arg gap "${gap_ms:-}" --arg history "${history:-}" --arg quick "${quick:-0}" \
    --arg login_group "${login_redis_group:-}" --arg login_args "${login_chatd_args:-}" \
    --argjson medians "$(tsv_json 'split("\n") | map(select(length > 0) | split("\t") |
        {scenario: .[0], contender: .[1], metric: .[2], median: (.[3] | tonumber), runs: (.[4] | tonumber)})' \
        "$work/medians.tsv")" \
    --argjson runs "$(tsv_json 'split("\n") | map(select(length > 0) | split("\t") |
        {scenario: .[0], contender: .[1], round: (.[2] | tonumber), metric: .[3], value: (.[4] | tonumber)})' \
        "$raw")" \
    --argjson ratios "$(tsv_json 'split("\n") | map(select(length > 0) | split("\t") |
        {name: .[0], value: .[1], target: .[2], result: .[3]})' "$work/ratios.tsv")" \
    '{date: $date, commit: $commit,
      machine: {nproc: ($nproc | tonumber), cpu: $cpu, kernel: $kernel, loadavg_at_start: $load0, loadavg_at_end: $load},
      versions: {"redis-server": $redis, nginx: $nginx, "libnginx-mod-nchan": $nchan,
                 haproxy: $haproxy, wrk: $wrk, libevent: $libevent},
      options: {seconds_per_run: $duration, rounds: $rounds, connections: $conns,
                subscribers: $counts, nchan_workers: $workers, fanout_messages: $messages,
                fanout_gap_ms: $gap, history_messages: $history, quick: ($quick == "1"),
                login_redis_group: $login_group, login_chatd_args: $login_args},
      ratios: $ratios, medians: $medians, runs: $runs}' >"$prefix.json"

# ---- Markdown ----

metric_order='rps offered_rps p50_ms p99_ms p999_ms max_ms errors kb_per_idle_sub kb_rss_per_idle_sub kb_per_sub_after cpu_us_per_delivery load_cpu_us_per_delivery cpu_us_per_msg load_cpu_us_per_msg bytes_per_frame us_per_frame text_chars compressor_kb body_mb mb_per_s rss_growth_kb'

{
    echo "# clusterchat benchmark run ${started_at:-}"
    echo
    echo "Commit $commit$dirty; $(nproc) CPUs ($cpu), Linux $kernel; load average at the start ${load_at_start:-?}, at the end $load."
    echo "redis-server $v_redis, nginx $v_nginx + nchan $v_nchan, HAProxy $v_haproxy, wrk $v_wrk."
    [[ ${quick:-0} != 1 ]] || echo "**A quick run** (-q): one short round, not figures to quote."
    if [[ -n ${login_redis_group:-} ]]; then
        where="a scheduling group of its own"
        [[ $login_redis_group != shared ]] || where="chatd's scheduling group (one session)"
        echo "login: Redis in $where${login_chatd_args:+; chatd with $login_chatd_args}."
    fi
    echo "${duration:-?} s per throughput run, ${rounds:-?} round(s) (medians), ${conns:-?} connections;" \
        "fan-out: ${messages:-?} messages ${gap_ms:-?} ms apart; nchan with ${nchan_workers:-1} nginx worker(s)."
    echo
    echo "## Ratios and targets"
    echo
    echo "| what | value | target | |"
    echo "|---|---:|---|---|"
    awk -F'\t' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}' "$work/ratios.tsv"
    echo
    echo "## Medians"
    for s in $(cut -f1 "$work/medians.tsv" | uniq); do
        metrics=$(awk -F'\t' -v s="$s" -v order="$metric_order" 'BEGIN {n = split(order, o, " "); for (i = 1; i <= n; i++) rank[o[i]] = i}
            $1 == s && !seen[$3]++ {print (rank[$3] ? rank[$3] : 99), $3}' "$work/medians.tsv" | sort -n | cut -d' ' -f2 | tr '\n' ' ')
        echo
        echo "### $s"
        echo
        printf '| contender |'
        for m in $metrics; do printf ' %s |' "$m"; done
        printf '\n|---|'
        for m in $metrics; do printf -- '---:|'; done
        echo
        awk -F'\t' -v s="$s" '$1 == s && !seen[$2]++ {print $2}' "$work/medians.tsv" | while read -r c; do
            printf '| %s |' "$c"
            for m in $metrics; do
                v=$(med "$s" "$c" "$m")
                printf ' %s |' "$(awk -v v="$v" 'BEGIN {if (v == "") print "-"; else if (v >= 1000) printf "%.0f", v; else printf "%.4g", v}')"
            done
            echo
        done
    done
} >"$prefix.md"

# ---- the latency distributions and the plots ----

# The run of a contender whose p99 is the median one: its CDF is the one kept.
mkdir -p "$prefix-cdf"
for f in "$cdf_dir"/fanout-*.txt "$cdf_dir"/ws-*.txt; do
    [[ -e $f ]] || continue
    base=${f##*/}
    key=${base%-*}                            # fanout-N-contender (or ws-N-...)
    sc=${key%%-*} n=$(cut -d- -f2 <<<"$key")
    c=${key#"$sc"-*-}
    m=$(med "$sc-$n" "$c" p99_ms)
    round=${base##*-}
    round=${round%.txt}
    p99=$(awk -F'\t' -v s="$sc-$n" -v c="$c" -v r="$round" '$1 == s && $2 == c && $3 == r && $4 == "p99_ms" {print $5}' "$raw")
    d=$(awk -v a="$p99" -v b="$m" 'BEGIN {d = a - b; print (d < 0 ? -d : d)}')
    if [[ ! -e $work/best-$key ]] || awk -v d="$d" -v b="$(<"$work/best-$key")" 'BEGIN {exit !(d < b)}'; then
        echo "$d" >"$work/best-$key"
        cp "$f" "$prefix-cdf/$key.txt"
    fi
done

[[ -n $plot_dir ]] || exit 0
command -v gnuplot >/dev/null || {
    echo "report: gnuplot is not installed; no plots" >&2
    exit 0
}
mkdir -p "$plot_dir"

# Throughput: one bar per scenario and contender (requests/s).
awk -F'\t' '$3 == "rps" && $2 !~ /^logins/ {
        if (!($1 in color)) color[$1] = ++ncolors
        printf "\"%s: %s\" %s %d\n", $1, $2, $4, color[$1]
    }' "$work/medians.tsv" >"$work/rps.dat"
if [[ -s $work/rps.dat ]]; then
    gnuplot <<EOF
set terminal pngcairo size 1100,560 font "sans,10"
set output "$plot_dir/throughput.png"
set title "Requests per second, median of ${rounds:-?} round(s), ${conns:-?} connections, $(nproc) CPUs"
set style fill solid 0.8 border -1
set boxwidth 0.7
set xrange [-0.6:*]
set xtics rotate by -40 left nomirror
set ytics nomirror
set grid ytics
set yrange [0:*]
set format y "%.0s%c"
set key off
set bmargin 9
set rmargin 10
plot "$work/rps.dat" using 0:2:3:xtic(1) with boxes linecolor variable
EOF
fi

# Delivery latency CDF, one plot per scenario and subscriber count.
for sn in $(for n in ${counts:-}; do echo "fanout-$n ws-$n"; done); do
    sc=${sn%-*} n=${sn##*-} what="SSE subscribers"
    [[ $sc == fanout ]] || what="WebSocket and SSE subscribers"
    plots=()
    for f in "$prefix-cdf/$sn-"*.txt; do
        [[ -e $f ]] || continue
        c=${f##*/"$sn"-}
        c=${c%.txt}
        plots+=("\"$f\" using 2:1 with lines linewidth 2 title \"$c\"")
    done
    ((${#plots[@]})) || continue
    joined=$(printf '%s, ' "${plots[@]}")
    gnuplot <<EOF
set terminal pngcairo size 800,500 font "sans,10"
set output "$plot_dir/$sc-cdf-$n.png"
set title "Delivery latency to $n $what (${messages:-?} messages, one server, $(nproc) CPUs)"
set xlabel "ms from the send to the subscriber reading it"
set ylabel "fraction of deliveries"
set grid
set key bottom right
set yrange [0:1]
set xrange [0:*]
plot ${joined%, }
EOF
done
