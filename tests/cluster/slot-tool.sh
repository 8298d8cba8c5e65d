#!/usr/bin/env bash
# Small Redis Cluster operations for the cluster tests, on the local cluster
# of scripts/cluster (CLUSTER_PORT_BASE, six nodes):
#   slot-tool.sh master-of KEY            port of the master serving KEY
#   slot-tool.sh other-master PORT        port of another master
#   slot-tool.sh migrate-begin SLOT SRC DST   mark the slot migrating/importing
#                                         and move all its keys from SRC to DST
#   slot-tool.sh migrate-finish SLOT DST  give the slot to DST on every master
#   slot-tool.sh reshard SRC DST COUNT    move COUNT slots from SRC to DST with
#                                         redis-cli --cluster reshard, once
#                                         every node agrees on the slots (30 s)
set -euo pipefail
base=${CLUSTER_PORT_BASE:?}
cli() { redis-cli -h 127.0.0.1 -p "$@"; }

live_port() {
  local p
  for p in $(seq "$base" $(( base + 5 ))); do
    [[ $(cli "$p" ping 2>/dev/null) == PONG ]] && { echo "$p"; return 0; }
  done
  return 1
}

# Prints "port slot-ranges..." for each master, from CLUSTER NODES.
masters() {
  cli "$(live_port)" cluster nodes |
    awk '$3 ~ /master/ && $3 !~ /fail/ { split($2, a, "@"); n = split(a[1], hp, ":");
         printf "%s", hp[n]; for (i = 9; i <= NF; i++) printf " %s", $i; print "" }'
}

master_of_slot() {
  local slot=$1 line port range lo hi
  while read -r line; do
    port=${line%% *}
    for range in ${line#* }; do
      [[ $range == \[* ]] && continue
      lo=${range%-*}; hi=${range#*-}
      if (( slot >= lo && slot <= hi )); then echo "$port"; return 0; fi
    done
  done < <(masters)
  return 1
}

node_id() { cli "$1" cluster myid; }

case ${1:-} in
  master-of)
    master_of_slot "$(cli "$(live_port)" cluster keyslot "$2")" ;;
  other-master)
    masters | awk -v p="$2" '$1 != p && NF > 1 { print $1; exit }' ;;
  migrate-begin)
    slot=$2 src=$3 dst=$4
    cli "$dst" cluster setslot "$slot" importing "$(node_id "$src")" >/dev/null
    cli "$src" cluster setslot "$slot" migrating "$(node_id "$dst")" >/dev/null
    # Up to 5000 keys per MIGRATE: until the stream itself has moved, a write
    # to the slot (stream + new dedup key) gets TRYAGAIN, so the fewer
    # redis-cli round trips the shorter that window (chatd gives up after
    # --redis-timeout, 5 s in the cluster tests).
    for _ in $(seq 1 10000); do
      # redis-cli prints an empty line for an empty array: drop it
      mapfile -t keys < <(cli "$src" cluster getkeysinslot "$slot" 5000 | grep -v '^$')
      (( ${#keys[@]} == 0 )) && exit 0
      reply=$(cli "$src" migrate 127.0.0.1 "$dst" "" 0 10000 keys "${keys[@]}")
      [[ $reply == OK || $reply == NOKEY ]] || { echo "MIGRATE failed: $reply" >&2; exit 1; }
    done
    echo "slot $slot still has keys" >&2
    exit 1 ;;
  migrate-finish)
    slot=$2 dst=$3 id=$(node_id "$3")
    cli "$dst" cluster setslot "$slot" node "$id" >/dev/null
    while read -r line; do
      port=${line%% *}
      [[ $port == "$dst" ]] || cli "$port" cluster setslot "$slot" node "$id" >/dev/null
    done < <(masters) ;;
  reshard)
    src=$2 dst=$3 count=$4
    # --cluster reshard refuses to start while the nodes disagree (a node
    # that came back is still being told the news): wait for the check
    for _ in $(seq 1 300); do
      redis-cli --cluster check "127.0.0.1:$src" >/dev/null 2>&1 && break
      sleep 0.1
    done
    # its plan and progress (a line per slot) only when it fails
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    redis-cli --cluster reshard "127.0.0.1:$src" --cluster-from "$(node_id "$src")" \
      --cluster-to "$(node_id "$dst")" --cluster-slots "$count" --cluster-yes >"$log" 2>&1 ||
      { tail -n 20 "$log" >&2; exit 1; } ;;
  *)
    echo "usage: $0 master-of KEY | other-master PORT | migrate-begin SLOT SRC DST | migrate-finish SLOT DST | reshard SRC DST COUNT" >&2
    exit 2 ;;
esac
