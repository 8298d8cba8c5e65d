/*
 * fuzz_cluster_redirect: any bytes as the text of a Redis error reply, as
 * the cluster layer (src/cluster.c) handles it: cluster_error_classify()
 * picks MOVED / ASK / TRYAGAIN / CLUSTERDOWN / LOADING, and a MOVED or ASK
 * goes through cluster_redirect_parse() and, like a MOVED, into the slot map
 * with cluster_map_set_slot(). A parsed redirect must be in range and must
 * land in the map where it says.
 */
#include "cluster_map.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *err = (const char *)data;
    enum cluster_error_kind kind = cluster_error_classify(err, size);
    bool retry = cluster_error_is_retryable(err, size);
    FUZZ_ASSERT(retry == (kind == CLUSTER_ERROR_TRYAGAIN || kind == CLUSTER_ERROR_CLUSTERDOWN ||
                          kind == CLUSTER_ERROR_LOADING));
    struct cluster_redirect rd;
    if (cluster_redirect_parse(err, size, &rd) < 0) return 0;
    FUZZ_ASSERT(kind == (rd.kind == CLUSTER_REDIRECT_MOVED ? CLUSTER_ERROR_MOVED
                                                           : CLUSTER_ERROR_ASK));
    FUZZ_ASSERT(rd.slot < SLOT_COUNT && rd.port >= 1 && rd.port <= 65535);
    FUZZ_ASSERT(strlen(rd.host) < CLUSTER_HOST_MAX && !strpbrk(rd.host, " \t\r\n"));
    /* an empty host means "the node that answered", as the cluster layer does */
    const char *host = rd.host[0] ? rd.host : "127.0.0.1";
    struct cluster_map *map = cluster_map_new();
    FUZZ_ASSERT(map);
    int idx = cluster_map_set_slot(map, rd.slot, host, rd.port);
    FUZZ_ASSERT(idx >= 0);
    FUZZ_ASSERT(cluster_map_master(map, rd.slot) == idx);
    FUZZ_ASSERT(cluster_map_find(map, host, rd.port) == idx);
    FUZZ_ASSERT(cluster_map_slots_served(map) == 1);
    cluster_map_free(map);
    return 0;
}
