# shellcheck shell=bash
# Shared by the benchmark scripts in bench/: messages, and reading wrk's
# output. Source it after scripts/lib.sh; do not run it.

die() {
    echo "bench: error: $*" >&2
    exit 1
}

say() { echo "bench: $*" >&2; }

# wrk_summary FILE: "requests/s p50_ms p99_ms errors" of wrk --latency output.
wrk_summary() {
    awk 'function ms(v) {
             if (v ~ /us$/) return v / 1000
             if (v ~ /ms$/) return v + 0
             if (v ~ /s$/) return v * 1000
             if (v ~ /m$/) return v * 60000
             return v + 0
         }
         $1 == "50%" {p50 = ms($2)}
         $1 == "99%" {p99 = ms($2)}
         /^Requests\/sec:/ {rps = $2}
         /Non-2xx or 3xx responses:/ {err += $NF}
         /Socket errors:/ {gsub(/,/, ""); err += $4 + $6 + $8 + $10}
         END {printf "%s %.2f %.2f %d\n", rps, p50, p99, err}' "$1"
}

# median FILE SETUP COLUMN: the median of a column of the results lines
# "setup rps p50 p99 errors" in FILE for one setup (2 rps, 3 p50, 4 p99).
median() {
    awk -v t="$2" -v c="$3" '$1 == t {print $c}' "$1" | sort -g |
        awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}
