/*
 * fuzz_cluster_slots: any bytes as what a Redis node sends back to CLUSTER
 * SLOTS: hiredis' reader (redisReader, as the async connection uses it)
 * turns them into replies, and each one goes through cluster_map_update()
 * in src/cluster_map.c, the way the cluster layer applies a topology. After
 * every update, accepted or not, the map must be consistent.
 */
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include "cluster_map.h"
#include "fuzz.h"

#define ARRAY_MAX 4096 /* larger arrays fail as if calloc had failed */

static redisReplyObjectFunctions real, capped;

/* hiredis 0.14 allocates an array of whatever length the peer announces
 * ("*2147483647\r\n"); chatd then just sees calloc fail. Here the fuzzer's
 * allocation limit would call that a crash, so it fails early instead. */
static void *create_array(const redisReadTask *task, int elements) {
    if (elements > ARRAY_MAX) return NULL;
    return real.createArray(task, elements);
}

/* Every slot's master is a known node that is a master; served adds up;
 * every replica's master is a master. */
static void check_map(const struct cluster_map *map) {
    size_t nodes = cluster_map_node_count(map), served = 0;
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        int m = cluster_map_master(map, s);
        if (m == CLUSTER_NODE_NONE) continue;
        served++;
        FUZZ_ASSERT(m >= 0 && (size_t)m < nodes);
        FUZZ_ASSERT(cluster_map_node(map, m)->role == CLUSTER_ROLE_MASTER);
    }
    FUZZ_ASSERT(served == cluster_map_slots_served(map));
    for (size_t i = 0; i < nodes; i++) {
        const struct cluster_node *n = cluster_map_node(map, (int)i);
        FUZZ_ASSERT(n->host[0] && n->port >= 1 && n->port <= 65535);
        FUZZ_ASSERT(cluster_map_find(map, n->host, n->port) == (int)i);
        if (n->role == CLUSTER_ROLE_REPLICA)
            FUZZ_ASSERT(cluster_map_node(map, n->master)->role == CLUSTER_ROLE_MASTER);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    redisReader *reader = redisReaderCreate();
    struct cluster_map *map = cluster_map_new();
    FUZZ_ASSERT(reader && map);
    real = *reader->fn;
    capped = real;
    capped.createArray = create_array;
    reader->fn = &capped;
    if (redisReaderFeed(reader, (const char *)data, size) == REDIS_OK) {
        void *reply;
        while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply) {
            char err[CLUSTER_MAP_ERR_LEN];
            size_t before = cluster_map_node_count(map);
            int rc = cluster_map_update(map, reply, "127.0.0.1", err);
            FUZZ_ASSERT(rc == 0 || cluster_map_node_count(map) == before);
            check_map(map);
            freeReplyObject(reply);
        }
    }
    cluster_map_free(map);
    redisReaderFree(reader);
    return 0;
}
