/*
 * Unit tests for cluster_map.c: slot maps built from CLUSTER SLOTS replies,
 * MOVED updates, and the redirect and retry error parsers. Replies are made by
 * feeding RESP bytes to hiredis' reader; no server is involved.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster_map.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2"
#define ID_C "ccccccccccccccccccccccccccccccccccccccc3"
#define ID_D "ddddddddddddddddddddddddddddddddddddddd4"
#define ID_E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee5"
#define ID_F "fffffffffffffffffffffffffffffffffffffff6"

/* A growing RESP buffer for building replies. */
struct resp {
    char buf[16384]; /* the bytes, NUL-terminated */
    size_t len;      /* bytes used */
};

__attribute__((format(printf, 2, 3))) static void resp_add(struct resp *r, const char *fmt, ...) {
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(r->buf + r->len, sizeof(r->buf) - r->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(r->buf) - r->len);
    r->len += (size_t)n;
}

static void resp_str(struct resp *r, const char *s) { resp_add(r, "$%zu\r\n%s\r\n", strlen(s), s); }

/* A node as Redis 7 sends it: [host, port, id, {}] (an empty metadata map). */
static void resp_node(struct resp *r, const char *host, int port, const char *id) {
    resp_add(r, "*4\r\n");
    resp_str(r, host);
    resp_add(r, ":%d\r\n", port);
    resp_str(r, id);
    resp_add(r, "*0\r\n");
}

/* An entry [start, end, master, replica] on 127.0.0.1. */
static void resp_entry(struct resp *r, int start, int end, int mport, const char *mid, int rport,
                       const char *rid) {
    resp_add(r, "*4\r\n:%d\r\n:%d\r\n", start, end);
    resp_node(r, "127.0.0.1", mport, mid);
    resp_node(r, "127.0.0.1", rport, rid);
}

/* Parses exactly one reply from the RESP bytes in s[0 .. len). */
static redisReply *reply_from(const char *s, size_t len) {
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;

    assert_non_null(reader);
    assert_int_equal(redisReaderFeed(reader, s, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(reader);
    return reply;
}

static redisReply *reply_from_str(const char *s) { return reply_from(s, strlen(s)); }

/* CLUSTER SLOTS of a 3+3 cluster: 7000/7004, 7001/7005, 7002/7003. */
static redisReply *three_ranges(void) {
    struct resp r = {.len = 0};

    resp_add(&r, "*3\r\n");
    resp_entry(&r, 0, 5460, 7000, ID_A, 7004, ID_E);
    resp_entry(&r, 5461, 10922, 7001, ID_B, 7005, ID_F);
    resp_entry(&r, 10923, 16383, 7002, ID_C, 7003, ID_D);
    return reply_from(r.buf, r.len);
}

/* The same cluster after 7002 failed and its replica 7003 took over. */
static redisReply *three_ranges_failed_over(void) {
    struct resp r = {.len = 0};

    resp_add(&r, "*3\r\n");
    resp_entry(&r, 0, 5460, 7000, ID_A, 7004, ID_E);
    resp_entry(&r, 5461, 10922, 7001, ID_B, 7005, ID_F);
    resp_add(&r, "*3\r\n:10923\r\n:16383\r\n");
    resp_node(&r, "127.0.0.1", 7003, ID_D);
    return reply_from(r.buf, r.len);
}

/* A map loaded with three_ranges(). */
static struct cluster_map *loaded_map(void) {
    struct cluster_map *map = cluster_map_new();
    redisReply *reply = three_ranges();
    char err[CLUSTER_MAP_ERR_LEN] = "";

    assert_non_null(map);
    assert_int_equal(cluster_map_update(map, reply, NULL, err), 0);
    assert_string_equal(err, "");
    freeReplyObject(reply);
    return map;
}

static int port_of(const struct cluster_map *map, int index) {
    const struct cluster_node *n = cluster_map_node(map, index);

    assert_non_null(n);
    return n->port;
}

static int master_port(const struct cluster_map *map, unsigned slot) {
    return port_of(map, cluster_map_master(map, slot));
}

static void test_new_map_is_empty(void **state) {
    struct cluster_map *map = cluster_map_new();

    (void)state;
    assert_non_null(map);
    assert_int_equal(cluster_map_node_count(map), 0);
    assert_int_equal(cluster_map_slots_served(map), 0);
    assert_int_equal(cluster_map_master(map, 0), CLUSTER_NODE_NONE);
    assert_int_equal(cluster_map_master(map, 16383), CLUSTER_NODE_NONE);
    assert_int_equal(cluster_map_master(map, 16384), CLUSTER_NODE_NONE);
    assert_null(cluster_map_node(map, 0));
    assert_null(cluster_map_node(map, -1));
    assert_int_equal(cluster_map_replicas(map, 0, NULL, 0), 0);
    cluster_map_free(map);
    cluster_map_free(NULL);
}

static void test_update_three_ranges(void **state) {
    struct cluster_map *map = loaded_map();
    const struct cluster_node *n;
    int replicas[4];

    (void)state;
    assert_int_equal(cluster_map_node_count(map), 6);
    assert_int_equal(cluster_map_slots_served(map), SLOT_COUNT);
    assert_int_equal(master_port(map, 0), 7000);
    assert_int_equal(master_port(map, 5460), 7000);
    assert_int_equal(master_port(map, 5461), 7001);
    assert_int_equal(master_port(map, 10922), 7001);
    assert_int_equal(master_port(map, 10923), 7002);
    assert_int_equal(master_port(map, 12182), 7002);
    assert_int_equal(master_port(map, 16383), 7002);
    assert_int_equal(cluster_map_master(map, 16384), CLUSTER_NODE_NONE);

    n = cluster_map_node(map, cluster_map_master(map, 0));
    assert_string_equal(n->host, "127.0.0.1");
    assert_string_equal(n->id, ID_A);
    assert_int_equal(n->role, CLUSTER_ROLE_MASTER);
    assert_int_equal(n->master, CLUSTER_NODE_NONE);

    assert_int_equal(cluster_map_replicas(map, 0, replicas, 4), 1);
    n = cluster_map_node(map, replicas[0]);
    assert_int_equal(n->port, 7004);
    assert_string_equal(n->id, ID_E);
    assert_int_equal(n->role, CLUSTER_ROLE_REPLICA);
    assert_int_equal(n->master, cluster_map_master(map, 0));
    assert_int_equal(cluster_map_replicas(map, 16383, replicas, 4), 1);
    assert_int_equal(port_of(map, replicas[0]), 7003);

    assert_int_equal(cluster_map_replicas(map, 6000, replicas, 4), 1);
    assert_int_equal(cluster_map_find(map, "127.0.0.1", 7005), replicas[0]);
    assert_int_equal(cluster_map_find(map, "127.0.0.1", 7009), CLUSTER_NODE_NONE);
    assert_int_equal(cluster_map_find(map, "localhost", 7000), CLUSTER_NODE_NONE);
    cluster_map_free(map);
}

static void test_replicas_snprintf_style(void **state) {
    struct cluster_map *map = cluster_map_new();
    redisReply *reply;
    struct resp r = {.len = 0};
    int out[2] = {-5, -5};

    (void)state;
    resp_add(&r, "*1\r\n*5\r\n:0\r\n:16383\r\n");
    resp_node(&r, "127.0.0.1", 7000, ID_A);
    resp_node(&r, "127.0.0.1", 7001, ID_B);
    resp_node(&r, "127.0.0.1", 7002, ID_C);
    reply = reply_from(r.buf, r.len);
    assert_int_equal(cluster_map_update(map, reply, NULL, NULL), 0);
    assert_int_equal(cluster_map_replicas(map, 42, out, 1), 2);
    assert_int_equal(port_of(map, out[0]), 7001);
    assert_int_equal(out[1], -5);
    assert_int_equal(cluster_map_replicas(map, 42, NULL, 0), 2);
    freeReplyObject(reply);
    cluster_map_free(map);
}

/* Durable writes ask for min(--min-replica-acks, replicas listed for the
 * master): after a failover whose old master is cut off (Redis lists no FAIL
 * replica), the promoted master needs none; others keep the full rule. */
static void test_required_acks(void **state) {
    struct cluster_map *map = loaded_map();
    redisReply *reply = three_ranges_failed_over();
    struct resp r = {.len = 0};
    int m7000 = cluster_map_master(map, 0), m7002 = cluster_map_master(map, 16383);

    (void)state;
    assert_int_equal(cluster_map_required_acks(map, m7000, 1), 1);
    assert_int_equal(cluster_map_required_acks(map, m7000, 2), 1); /* only one replica */
    assert_int_equal(cluster_map_required_acks(map, m7000, 0), 0);
    assert_int_equal(cluster_map_required_acks(map, m7002, 1), 1);
    assert_int_equal(cluster_map_update(map, reply, NULL, NULL), 0);
    freeReplyObject(reply);
    int m7003 = cluster_map_master(map, 16383);
    assert_int_equal(port_of(map, m7003), 7003);
    assert_int_equal(cluster_map_required_acks(map, m7003, 1), 0); /* degraded */
    assert_int_equal(cluster_map_required_acks(map, m7000, 1), 1);
    /* a replica, an unlisted node or a bad index: nothing known, the strict rule */
    int r7004 = cluster_map_find(map, "127.0.0.1", 7004);
    assert_int_equal(cluster_map_required_acks(map, r7004, 1), 1);
    assert_int_equal(cluster_map_required_acks(map, m7002, 1), 1); /* 7002 is no longer listed */
    assert_int_equal(cluster_map_required_acks(map, -1, 1), 1);
    assert_int_equal(cluster_map_required_acks(map, 4096, 1), 1);
    /* the old master rejoins as 7003's replica: the full rule again */
    resp_add(&r, "*3\r\n");
    resp_entry(&r, 0, 5460, 7000, ID_A, 7004, ID_E);
    resp_entry(&r, 5461, 10922, 7001, ID_B, 7005, ID_F);
    resp_entry(&r, 10923, 16383, 7003, ID_D, 7002, ID_C);
    reply = reply_from(r.buf, r.len);
    assert_int_equal(cluster_map_update(map, reply, NULL, NULL), 0);
    freeReplyObject(reply);
    assert_int_equal(cluster_map_required_acks(map, m7003, 1), 1);
    cluster_map_free(map);
}

static void test_moved_updates_one_slot(void **state) {
    struct cluster_map *map = loaded_map();
    struct cluster_redirect rd;
    const char *moved = "MOVED 12182 127.0.0.1:7003";
    int old_master = cluster_map_master(map, 12182);
    int idx;

    (void)state;
    assert_int_equal(cluster_redirect_parse(moved, strlen(moved), &rd), 0);
    assert_int_equal(rd.kind, CLUSTER_REDIRECT_MOVED);
    idx = cluster_map_set_slot(map, rd.slot, rd.host, rd.port);
    assert_true(idx >= 0);
    /* 7003 was a known replica: same index, now a master without a master. */
    assert_int_equal(idx, cluster_map_find(map, "127.0.0.1", 7003));
    assert_int_equal(cluster_map_node_count(map), 6);
    assert_int_equal(cluster_map_node(map, idx)->role, CLUSTER_ROLE_MASTER);
    assert_int_equal(cluster_map_node(map, idx)->master, CLUSTER_NODE_NONE);
    assert_int_equal(cluster_map_master(map, 12182), idx);
    assert_int_equal(cluster_map_replicas(map, 12182, NULL, 0), 0);
    /* Only that slot moved. */
    assert_int_equal(cluster_map_master(map, 12181), old_master);
    assert_int_equal(cluster_map_master(map, 12183), old_master);
    assert_int_equal(cluster_map_slots_served(map), SLOT_COUNT);

    /* A node never seen before is appended. */
    idx = cluster_map_set_slot(map, 0, "10.0.0.9", 7010);
    assert_int_equal(idx, 6);
    assert_int_equal(cluster_map_node_count(map), 7);
    assert_string_equal(cluster_map_node(map, 6)->id, "");
    assert_int_equal(master_port(map, 0), 7010);
    assert_int_equal(master_port(map, 1), 7000);

    assert_int_equal(cluster_map_set_slot(map, 16384, "h", 1), -EINVAL);
    assert_int_equal(cluster_map_set_slot(map, 1, "", 1), -EINVAL);
    assert_int_equal(cluster_map_set_slot(map, 1, NULL, 1), -EINVAL);
    assert_int_equal(cluster_map_set_slot(map, 1, "h", 0), -EINVAL);
    assert_int_equal(cluster_map_set_slot(map, 1, "h", 65536), -EINVAL);
    assert_int_equal(cluster_map_set_slot(map, 1, "a b", 1), -EINVAL);
    assert_int_equal(master_port(map, 1), 7000);
    cluster_map_free(map);
}

static void test_set_slot_on_empty_map(void **state) {
    struct cluster_map *map = cluster_map_new();

    (void)state;
    assert_int_equal(cluster_map_set_slot(map, 5, "127.0.0.1", 7000), 0);
    assert_int_equal(cluster_map_set_slot(map, 5, "127.0.0.1", 7000), 0);
    assert_int_equal(cluster_map_slots_served(map), 1);
    assert_int_equal(cluster_map_master(map, 5), 0);
    assert_int_equal(cluster_map_master(map, 4), CLUSTER_NODE_NONE);
    cluster_map_free(map);
}

static void test_indices_stable_across_updates(void **state) {
    struct cluster_map *map = loaded_map();
    redisReply *reply = three_ranges_failed_over();
    int i7002 = cluster_map_find(map, "127.0.0.1", 7002);
    int i7003 = cluster_map_find(map, "127.0.0.1", 7003);
    int i7000 = cluster_map_find(map, "127.0.0.1", 7000);

    (void)state;
    assert_int_equal(cluster_map_update(map, reply, NULL, NULL), 0);
    assert_int_equal(cluster_map_node_count(map), 6);
    assert_int_equal(cluster_map_find(map, "127.0.0.1", 7002), i7002);
    assert_int_equal(cluster_map_find(map, "127.0.0.1", 7003), i7003);
    assert_int_equal(cluster_map_find(map, "127.0.0.1", 7000), i7000);
    assert_int_equal(cluster_map_master(map, 16383), i7003);
    assert_int_equal(cluster_map_master(map, 0), i7000);
    /* The failed master is no longer listed but keeps its entry. */
    assert_int_equal(cluster_map_node(map, i7002)->role, CLUSTER_ROLE_NONE);
    assert_string_equal(cluster_map_node(map, i7002)->id, ID_C);
    assert_int_equal(cluster_map_node(map, i7003)->role, CLUSTER_ROLE_MASTER);
    freeReplyObject(reply);

    /* And back: the same indices again. */
    reply = three_ranges();
    assert_int_equal(cluster_map_update(map, reply, NULL, NULL), 0);
    assert_int_equal(cluster_map_node_count(map), 6);
    assert_int_equal(cluster_map_master(map, 16383), i7002);
    assert_int_equal(cluster_map_node(map, i7003)->role, CLUSTER_ROLE_REPLICA);
    assert_int_equal(cluster_map_node(map, i7003)->master, i7002);
    freeReplyObject(reply);
    cluster_map_free(map);
}

static void test_partial_coverage(void **state) {
    struct cluster_map *map = loaded_map();
    struct resp r = {.len = 0};
    redisReply *reply;

    (void)state;
    resp_add(&r, "*2\r\n*3\r\n:0\r\n:100\r\n");
    resp_node(&r, "127.0.0.1", 7000, ID_A);
    resp_add(&r, "*3\r\n:16383\r\n:16383\r\n");
    resp_node(&r, "127.0.0.1", 7001, ID_B);
    reply = reply_from(r.buf, r.len);
    assert_int_equal(cluster_map_update(map, reply, NULL, NULL), 0);
    assert_int_equal(cluster_map_slots_served(map), 102);
    assert_int_equal(master_port(map, 100), 7000);
    assert_int_equal(cluster_map_master(map, 101), CLUSTER_NODE_NONE);
    assert_int_equal(cluster_map_master(map, 16382), CLUSTER_NODE_NONE);
    assert_int_equal(master_port(map, 16383), 7001);
    freeReplyObject(reply);

    /* An empty array (no slot assigned yet) is a valid, empty assignment. */
    reply = reply_from_str("*0\r\n");
    assert_int_equal(cluster_map_update(map, reply, NULL, NULL), 0);
    assert_int_equal(cluster_map_slots_served(map), 0);
    assert_int_equal(cluster_map_node_count(map), 6);
    freeReplyObject(reply);
    cluster_map_free(map);
}

static void test_unknown_host_uses_fallback(void **state) {
    /* Byte for byte what redis-server 7.0.15 sends: a one-node cluster (""),
     * then the same with cluster-preferred-endpoint-type unknown-endpoint
     * (NULL host and an "ip" metadata entry), then hostname without one ("?"). */
    static const char empty_host[] = "*1\r\n*3\r\n:0\r\n:100\r\n*4\r\n$0\r\n\r\n:17099\r\n"
                                     "$40\r\nef7f0e20414e1c3f894de461f56ded78a7370a3e\r\n*0\r\n";
    static const char null_host[] =
        "*1\r\n*3\r\n:0\r\n:100\r\n*4\r\n$-1\r\n:17099\r\n"
        "$40\r\nef7f0e20414e1c3f894de461f56ded78a7370a3e\r\n*2\r\n$2\r\nip\r\n$0\r\n\r\n";
    static const char question_host[] =
        "*1\r\n*3\r\n:0\r\n:100\r\n*4\r\n$1\r\n?\r\n:17099\r\n"
        "$40\r\nef7f0e20414e1c3f894de461f56ded78a7370a3e\r\n*2\r\n$2\r\nip\r\n$0\r\n\r\n";
    const char *const cases[] = {empty_host, null_host, question_host};
    char err[CLUSTER_MAP_ERR_LEN];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cluster_map *map = cluster_map_new();
        redisReply *reply = reply_from_str(cases[i]);
        const struct cluster_node *n;

        err[0] = '\0';
        assert_int_equal(cluster_map_update(map, reply, NULL, err), -EINVAL);
        assert_true(strlen(err) > 0);
        assert_int_equal(cluster_map_update(map, reply, "", NULL), -EINVAL);
        assert_int_equal(cluster_map_node_count(map), 0);
        assert_int_equal(cluster_map_update(map, reply, "::1", err), 0);
        n = cluster_map_node(map, cluster_map_master(map, 50));
        assert_non_null(n);
        assert_string_equal(n->host, "::1");
        assert_int_equal(n->port, 17099);
        assert_string_equal(n->id, "ef7f0e20414e1c3f894de461f56ded78a7370a3e");
        assert_int_equal(cluster_map_slots_served(map), 101);
        freeReplyObject(reply);
        cluster_map_free(map);
    }
}

static void test_node_without_id(void **state) {
    struct cluster_map *map = cluster_map_new();
    redisReply *reply =
        reply_from_str("*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n");

    (void)state;
    assert_int_equal(cluster_map_update(map, reply, NULL, NULL), 0);
    assert_string_equal(cluster_map_node(map, 0)->id, "");
    assert_int_equal(cluster_map_slots_served(map), SLOT_COUNT);
    freeReplyObject(reply);
    cluster_map_free(map);
}

/* Each malformed reply must fail with -EINVAL, a message, and no change. */
static void test_malformed_replies(void **state) {
    char long_host[300];
    char resp_long_host[512];
    const char *const cases[] = {
        "+OK\r\n",
        ":1\r\n",
        "$-1\r\n",
        "*1\r\n:1\r\n",
        "*1\r\n*2\r\n:0\r\n:1\r\n",
        "*1\r\n*3\r\n$1\r\n0\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n",
        "*1\r\n*3\r\n:5\r\n:4\r\n*2\r\n$1\r\nh\r\n:1\r\n",
        "*1\r\n*3\r\n:-1\r\n:4\r\n*2\r\n$1\r\nh\r\n:1\r\n",
        "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n",
        "*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\nh\r\n",
        "*1\r\n*3\r\n:0\r\n:1\r\n$1\r\nh\r\n",
        "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:0\r\n",
        "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:65536\r\n",
        "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n$4\r\n7000\r\n",
        "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n:1\r\n:7000\r\n",
        "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$3\r\na b\r\n:7000\r\n",
        "*1\r\n*3\r\n:0\r\n:1\r\n*3\r\n$1\r\nh\r\n:7000\r\n$3\r\nabc\r\n",
        /* overlapping ranges */
        "*2\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n:1\r\n"
        "*3\r\n:10\r\n:20\r\n*2\r\n$1\r\nh\r\n:2\r\n",
        /* a node that is master in one entry and replica in another */
        "*2\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n:1\r\n"
        "*4\r\n:11\r\n:20\r\n*2\r\n$1\r\nh\r\n:2\r\n*2\r\n$1\r\nh\r\n:1\r\n",
        /* a replica of two masters */
        "*2\r\n*4\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n:1\r\n*2\r\n$1\r\nh\r\n:3\r\n"
        "*4\r\n:11\r\n:20\r\n*2\r\n$1\r\nh\r\n:2\r\n*2\r\n$1\r\nh\r\n:3\r\n",
        resp_long_host,
        /* a valid first entry, then garbage: nothing of the first may stick */
        "*2\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$1\r\nn\r\n:9\r\n:7\r\n",
    };
    struct cluster_map *map = loaded_map();
    int m0 = cluster_map_master(map, 0);

    (void)state;
    memset(long_host, 'h', sizeof(long_host) - 1);
    long_host[sizeof(long_host) - 1] = '\0';
    snprintf(resp_long_host, sizeof(resp_long_host),
             "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$%zu\r\n%s\r\n:1\r\n", strlen(long_host), long_host);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        redisReply *reply = reply_from_str(cases[i]);
        char err[CLUSTER_MAP_ERR_LEN] = "";
        int rc = cluster_map_update(map, reply, "fallback", err);

        if (rc != -EINVAL) print_message("malformed reply case %zu was accepted\n", i);
        assert_int_equal(rc, -EINVAL);
        assert_true(strlen(err) > 0);
        assert_int_equal(cluster_map_node_count(map), 6);
        assert_int_equal(cluster_map_master(map, 0), m0);
        assert_int_equal(cluster_map_slots_served(map), SLOT_COUNT);
        assert_int_equal(cluster_map_node(map, m0)->role, CLUSTER_ROLE_MASTER);
        freeReplyObject(reply);
    }
    assert_int_equal(cluster_map_update(map, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(cluster_map_update(NULL, NULL, NULL, NULL), -EINVAL);
    cluster_map_free(map);
}

static void test_error_reply(void **state) {
    struct cluster_map *map = cluster_map_new();
    redisReply *reply = reply_from_str("-ERR This instance has cluster support disabled\r\n");
    char err[CLUSTER_MAP_ERR_LEN] = "";

    (void)state;
    assert_int_equal(cluster_map_update(map, reply, NULL, err), -EINVAL);
    assert_non_null(strstr(err, "cluster support disabled"));
    freeReplyObject(reply);
    cluster_map_free(map);
}

static void test_node_table_limit(void **state) {
    struct cluster_map *map = cluster_map_new();

    (void)state;
    for (int i = 0; i < CLUSTER_MAP_MAX_NODES; i++)
        assert_int_equal(cluster_map_set_slot(map, (unsigned)i, "127.0.0.1", 1000 + i), i);
    assert_int_equal(cluster_map_set_slot(map, 0, "127.0.0.1", 60000), -ENOSPC);
    /* A known node still works. */
    assert_int_equal(cluster_map_set_slot(map, 0, "127.0.0.1", 1005), 5);
    assert_int_equal(cluster_map_node_count(map), CLUSTER_MAP_MAX_NODES);
    cluster_map_free(map);
}

static void expect_redirect(const char *err, enum cluster_redirect_kind kind, unsigned slot,
                            const char *host, int port) {
    struct cluster_redirect rd;
    int rc = cluster_redirect_parse(err, strlen(err), &rd);

    if (rc != 0) print_message("redirect \"%s\" was refused\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(rd.kind, kind);
    assert_int_equal(rd.slot, slot);
    assert_string_equal(rd.host, host);
    assert_int_equal(rd.port, port);
}

static void test_redirect_parse(void **state) {
    (void)state;
    expect_redirect("MOVED 3999 127.0.0.1:6381", CLUSTER_REDIRECT_MOVED, 3999, "127.0.0.1", 6381);
    expect_redirect("ASK 3999 127.0.0.1:6381", CLUSTER_REDIRECT_ASK, 3999, "127.0.0.1", 6381);
    expect_redirect("MOVED 0 redis-1.example.com:7000", CLUSTER_REDIRECT_MOVED, 0,
                    "redis-1.example.com", 7000);
    expect_redirect("MOVED 16383 ::1:7000", CLUSTER_REDIRECT_MOVED, 16383, "::1", 7000);
    expect_redirect("ASK 1 fe80::1:2:65535", CLUSTER_REDIRECT_ASK, 1, "fe80::1:2", 65535);
    expect_redirect("MOVED 12 [::1]:7000", CLUSTER_REDIRECT_MOVED, 12, "::1", 7000);
    expect_redirect("MOVED 12182 :7000", CLUSTER_REDIRECT_MOVED, 12182, "", 7000);
    expect_redirect("ASK 12182 ?:7000", CLUSTER_REDIRECT_ASK, 12182, "", 7000);
    expect_redirect("MOVED 00012 h:1", CLUSTER_REDIRECT_MOVED, 12, "h", 1);
}

static void test_redirect_parse_len(void **state) {
    struct cluster_redirect rd;
    const char *s = "MOVED 5 h:7000trailing";

    (void)state;
    /* Only len bytes are read; the text need not be NUL-terminated there. */
    assert_int_equal(cluster_redirect_parse(s, 14, &rd), 0);
    assert_int_equal(rd.port, 7000);
    assert_int_equal(cluster_redirect_parse(s, 13, &rd), 0);
    assert_int_equal(rd.port, 700);
    assert_int_equal(cluster_redirect_parse(s, strlen(s), &rd), -EINVAL);
    assert_int_equal(cluster_redirect_parse(s, 5, &rd), -EINVAL);
}

static void test_redirect_parse_malformed(void **state) {
    static const char nul_host[] = "MOVED 1 a\0b:7000";
    const char *const bad[] = {
        "",
        "MOVED",
        "MOVED ",
        "MOVED 1",
        "MOVED 1 ",
        "MOVED 1 h",
        "MOVED 1 h:",
        "MOVED 1 h:0",
        "MOVED 1 h:65536",
        "MOVED 1 h:123456",
        "MOVED 1 h:70x",
        "MOVED 1 h:-1",
        "MOVED 1 h:+1",
        "MOVED 1 h:7000 ",
        "MOVED 1 h :7000",
        "MOVED 1 a b:7000",
        "MOVED 1  h:7000",
        "MOVED  1 h:7000",
        " MOVED 1 h:7000",
        "-MOVED 1 h:7000",
        "MOVED 16384 h:7000",
        "MOVED 99999 h:7000",
        "MOVED 123456 h:7000",
        "MOVED 4294967301 h:7000", /* 2^32 + 5: must not wrap around to 5 */
        "MOVED 1 h:4294967297",    /* 2^32 + 1 */
        "MOVED -1 h:7000",
        "MOVED +1 h:7000",
        "MOVED x h:7000",
        "MOVED 1x h:7000",
        "MOVED\t1 h:7000",
        "MOVEDX 1 h:7000",
        "moved 1 h:7000",
        "ASKING 1 h:7000",
        "ASK",
        "ASK 1",
        "ERR unknown command",
        "CLUSTERDOWN The cluster is down",
        "MOVED 1 h\r\n:7000",
    };
    struct cluster_redirect rd;
    char long_host[400];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = cluster_redirect_parse(bad[i], strlen(bad[i]), &rd);

        if (rc != -EINVAL) print_message("malformed redirect \"%s\" was accepted\n", bad[i]);
        assert_int_equal(rc, -EINVAL);
    }
    assert_int_equal(cluster_redirect_parse(nul_host, sizeof(nul_host) - 1, &rd), -EINVAL);
    assert_int_equal(cluster_redirect_parse(NULL, 0, &rd), -EINVAL);
    assert_int_equal(cluster_redirect_parse("MOVED 1 h:1", 11, NULL), -EINVAL);

    /* The longest host that fits is accepted, one more byte is not. */
    memset(long_host, 'h', sizeof(long_host));
    memcpy(long_host, "MOVED 1 ", 8);
    memcpy(long_host + 8 + CLUSTER_HOST_MAX - 1, ":1", 2);
    assert_int_equal(cluster_redirect_parse(long_host, 8 + CLUSTER_HOST_MAX - 1 + 2, &rd), 0);
    assert_int_equal(strlen(rd.host), CLUSTER_HOST_MAX - 1);
    memset(long_host, 'h', sizeof(long_host));
    memcpy(long_host, "MOVED 1 ", 8);
    memcpy(long_host + 8 + CLUSTER_HOST_MAX, ":1", 2);
    assert_int_equal(cluster_redirect_parse(long_host, 8 + CLUSTER_HOST_MAX + 2, &rd), -EINVAL);
}

static void test_error_classify(void **state) {
    static const struct {
        const char *err;
        enum cluster_error_kind kind;
        bool retry;
    } cases[] = {
        {"TRYAGAIN Multiple keys request during rehashing of slot", CLUSTER_ERROR_TRYAGAIN, true},
        {"CLUSTERDOWN The cluster is down", CLUSTER_ERROR_CLUSTERDOWN, true},
        {"CLUSTERDOWN Hash slot not served", CLUSTER_ERROR_CLUSTERDOWN, true},
        {"LOADING Redis is loading the dataset in memory", CLUSTER_ERROR_LOADING, true},
        {"LOADING", CLUSTER_ERROR_LOADING, true},
        {"MOVED 1 h:1", CLUSTER_ERROR_MOVED, false},
        {"ASK 1 h:1", CLUSTER_ERROR_ASK, false},
        {"LOADINGX", CLUSTER_ERROR_OTHER, false},
        {"loading", CLUSTER_ERROR_OTHER, false},
        {"ASKING", CLUSTER_ERROR_OTHER, false},
        {"ERR unknown command", CLUSTER_ERROR_OTHER, false},
        {"WRONGTYPE Operation against a key holding the wrong kind of value", CLUSTER_ERROR_OTHER,
         false},
        {"READONLY You can't write against a read only replica.", CLUSTER_ERROR_OTHER, false},
        {"", CLUSTER_ERROR_OTHER, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].err);

        if (cluster_error_classify(cases[i].err, len) != cases[i].kind)
            print_message("misclassified \"%s\"\n", cases[i].err);
        assert_int_equal(cluster_error_classify(cases[i].err, len), cases[i].kind);
        assert_int_equal(cluster_error_is_retryable(cases[i].err, len), cases[i].retry);
    }
    /* len is honoured: "TRYAGAI" is not "TRYAGAIN". */
    assert_int_equal(cluster_error_classify("TRYAGAIN", 7), CLUSTER_ERROR_OTHER);
    assert_int_equal(cluster_error_classify("LOADING now", 7), CLUSTER_ERROR_LOADING);
    assert_int_equal(cluster_error_classify(NULL, 0), CLUSTER_ERROR_OTHER);
    assert_false(cluster_error_is_retryable(NULL, 0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_map_is_empty),
        cmocka_unit_test(test_update_three_ranges),
        cmocka_unit_test(test_replicas_snprintf_style),
        cmocka_unit_test(test_required_acks),
        cmocka_unit_test(test_moved_updates_one_slot),
        cmocka_unit_test(test_set_slot_on_empty_map),
        cmocka_unit_test(test_indices_stable_across_updates),
        cmocka_unit_test(test_partial_coverage),
        cmocka_unit_test(test_unknown_host_uses_fallback),
        cmocka_unit_test(test_node_without_id),
        cmocka_unit_test(test_malformed_replies),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_node_table_limit),
        cmocka_unit_test(test_redirect_parse),
        cmocka_unit_test(test_redirect_parse_len),
        cmocka_unit_test(test_redirect_parse_malformed),
        cmocka_unit_test(test_error_classify),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
