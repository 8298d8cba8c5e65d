/*
 * cluster_map: slot-to-node table built from CLUSTER SLOTS, kept current by
 * MOVED redirects, and the parsers for cluster error replies (see
 * cluster_map.h for the contract). No I/O happens here.
 */
#include "cluster_map.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cluster_map {
    struct cluster_node *nodes; /* node table, count entries used, cap allocated */
    size_t count;               /* entries in use; indices 0 .. count - 1 */
    size_t cap;                 /* entries allocated */
    size_t served;              /* slots whose owner is not CLUSTER_NODE_NONE */
    int16_t owner[SLOT_COUNT];  /* per slot: index of its master or CLUSTER_NODE_NONE */
};

__attribute__((format(printf, 3, 4))) static int fail(char *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, CLUSTER_MAP_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* True when host[0 .. len) is usable as a host: short enough, no NUL, blank or control bytes. */
static bool host_valid(const char *host, size_t len) {
    if (len >= CLUSTER_HOST_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];

        if (c <= ' ' || c == 0x7f) return false;
    }
    return true;
}

static void map_clear_slots(struct cluster_map *map) {
    for (size_t i = 0; i < SLOT_COUNT; i++)
        map->owner[i] = CLUSTER_NODE_NONE;
    map->served = 0;
}

struct cluster_map *cluster_map_new(void) {
    struct cluster_map *map = calloc(1, sizeof(*map));

    if (map) map_clear_slots(map);
    return map;
}

void cluster_map_free(struct cluster_map *map) {
    if (!map) return;
    free(map->nodes);
    free(map);
}

static int find_node(const struct cluster_map *map, const char *host, size_t len, int port) {
    for (size_t i = 0; i < map->count; i++) {
        const struct cluster_node *n = &map->nodes[i];

        if (n->port == port && strlen(n->host) == len && memcmp(n->host, host, len) == 0)
            return (int)i;
    }
    return CLUSTER_NODE_NONE;
}

/* Returns the index of host:port, appending a node with no role when it is new. */
static int intern_node(struct cluster_map *map, const char *host, size_t len, int port) {
    int idx = find_node(map, host, len, port);
    struct cluster_node *n;

    if (idx != CLUSTER_NODE_NONE) return idx;
    if (map->count >= CLUSTER_MAP_MAX_NODES) return -ENOSPC;
    if (map->count == map->cap) {
        size_t cap = map->cap ? map->cap * 2 : 8;
        struct cluster_node *nodes;

        if (cap > CLUSTER_MAP_MAX_NODES) cap = CLUSTER_MAP_MAX_NODES;
        nodes = realloc(map->nodes, cap * sizeof(*nodes));
        if (!nodes) return -ENOMEM;
        map->nodes = nodes;
        map->cap = cap;
    }
    n = &map->nodes[map->count];
    memset(n, 0, sizeof(*n));
    memcpy(n->host, host, len);
    n->port = port;
    n->role = CLUSTER_ROLE_NONE;
    n->master = CLUSTER_NODE_NONE;
    return (int)map->count++;
}

static bool is_string(const redisReply *r) {
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

/*
 * Parses one node array [host, port, id?, ...] of a CLUSTER SLOTS entry into
 * map (interning the node and recording its id). Returns its index or < 0.
 */
static int parse_node(struct cluster_map *map, const redisReply *r, const char *fallback,
                      char *err) {
    const redisReply *h, *p;
    const char *host;
    size_t hlen;
    int idx;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
        return fail(err, -EINVAL, "CLUSTER SLOTS: node is not an array [host, port, ...]");
    h = r->element[0];
    p = r->element[1];
    if (h->type != REDIS_REPLY_NIL && !is_string(h))
        return fail(err, -EINVAL, "CLUSTER SLOTS: node host is not a string");
    if (p->type != REDIS_REPLY_INTEGER || p->integer < 1 || p->integer > 65535)
        return fail(err, -EINVAL, "CLUSTER SLOTS: node port is not in 1..65535");
    host = h->type == REDIS_REPLY_NIL ? "" : h->str;
    hlen = h->type == REDIS_REPLY_NIL ? 0 : h->len;
    if (hlen == 0 || (hlen == 1 && host[0] == '?')) {
        /* Unknown endpoint: the node is reached through the host we used. */
        if (!fallback || !fallback[0])
            return fail(err, -EINVAL, "CLUSTER SLOTS: node without host and no fallback host");
        host = fallback;
        hlen = strlen(fallback);
    }
    if (!host_valid(host, hlen))
        return fail(err, -EINVAL, "CLUSTER SLOTS: invalid or too long node host");
    idx = intern_node(map, host, hlen, (int)p->integer);
    if (idx < 0)
        return fail(err, idx, "CLUSTER SLOTS: %s",
                    idx == -ENOSPC ? "too many nodes" : "out of memory");
    if (r->elements > 2 && is_string(r->element[2]) && r->element[2]->len > 0) {
        const redisReply *id = r->element[2];

        if (id->len != CLUSTER_NODE_ID_LEN)
            return fail(err, -EINVAL, "CLUSTER SLOTS: node id is not %d characters",
                        CLUSTER_NODE_ID_LEN);
        memcpy(map->nodes[idx].id, id->str, CLUSTER_NODE_ID_LEN);
        map->nodes[idx].id[CLUSTER_NODE_ID_LEN] = '\0';
    }
    return idx;
}

/* Gives node idx the role it has in one entry; a node must keep one role throughout a reply. */
static int assign_role(struct cluster_map *map, int idx, int master, char *err) {
    struct cluster_node *n = &map->nodes[idx];
    enum cluster_role role =
        master == CLUSTER_NODE_NONE ? CLUSTER_ROLE_MASTER : CLUSTER_ROLE_REPLICA;

    if (n->role != CLUSTER_ROLE_NONE && (n->role != role || n->master != master))
        return fail(err, -EINVAL, "CLUSTER SLOTS: node %s:%d listed with two roles", n->host,
                    n->port);
    n->role = role;
    n->master = master;
    return 0;
}

/* Parses one entry [start, end, master, replica...] into map. */
static int parse_entry(struct cluster_map *map, const redisReply *e, const char *fallback,
                       char *err) {
    long long start, end;
    int master, rc;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER)
        return fail(err, -EINVAL, "CLUSTER SLOTS: entry is not [start, end, master, ...]");
    start = e->element[0]->integer;
    end = e->element[1]->integer;
    if (start < 0 || end < start || end >= (long long)SLOT_COUNT)
        return fail(err, -EINVAL, "CLUSTER SLOTS: bad slot range %lld-%lld", start, end);
    master = parse_node(map, e->element[2], fallback, err);
    if (master < 0) return master;
    rc = assign_role(map, master, CLUSTER_NODE_NONE, err);
    for (size_t i = 3; rc == 0 && i < e->elements; i++) {
        int replica = parse_node(map, e->element[i], fallback, err);

        rc = replica < 0 ? replica : assign_role(map, replica, master, err);
    }
    if (rc < 0) return rc;
    for (long long s = start; s <= end; s++) {
        if (map->owner[s] != CLUSTER_NODE_NONE)
            return fail(err, -EINVAL, "CLUSTER SLOTS: slot %lld listed twice", s);
        map->owner[s] = (int16_t)master;
    }
    map->served += (size_t)(end - start + 1);
    return 0;
}

/* Makes a copy of map's node table with every role cleared, and no slot served. */
static struct cluster_map *stage_new(const struct cluster_map *map) {
    struct cluster_map *st = cluster_map_new();

    if (!st) return NULL;
    if (map->count) {
        st->nodes = malloc(map->cap * sizeof(*st->nodes));
        if (!st->nodes) {
            cluster_map_free(st);
            return NULL;
        }
        memcpy(st->nodes, map->nodes, map->count * sizeof(*st->nodes));
        st->count = map->count;
        st->cap = map->cap;
    }
    for (size_t i = 0; i < st->count; i++) {
        st->nodes[i].role = CLUSTER_ROLE_NONE;
        st->nodes[i].master = CLUSTER_NODE_NONE;
    }
    return st;
}

int cluster_map_update(struct cluster_map *map, const redisReply *reply, const char *fallback_host,
                       char *err) {
    struct cluster_map *st;
    struct cluster_node *old;
    int rc = 0;

    if (!map || !reply) return fail(err, -EINVAL, "CLUSTER SLOTS: no reply");
    if (reply->type == REDIS_REPLY_ERROR)
        return fail(err, -EINVAL, "CLUSTER SLOTS: %.*s", (int)(reply->len > 100 ? 100 : reply->len),
                    reply->str);
    if (reply->type != REDIS_REPLY_ARRAY)
        return fail(err, -EINVAL, "CLUSTER SLOTS: reply is not an array");
    st = stage_new(map);
    if (!st) return fail(err, -ENOMEM, "CLUSTER SLOTS: out of memory");
    for (size_t i = 0; rc == 0 && i < reply->elements; i++)
        rc = parse_entry(st, reply->element[i], fallback_host, err);
    if (rc == 0) {
        /* Commit: take the staged table and slots; the old table goes with st. */
        old = map->nodes;
        map->nodes = st->nodes;
        map->count = st->count;
        map->cap = st->cap;
        map->served = st->served;
        memcpy(map->owner, st->owner, sizeof(map->owner));
        st->nodes = old;
    }
    cluster_map_free(st);
    return rc;
}

int cluster_map_set_slot(struct cluster_map *map, unsigned slot, const char *host, int port) {
    size_t len = host ? strlen(host) : 0;
    struct cluster_node *n;
    int idx;

    if (!map || slot >= SLOT_COUNT || len == 0 || !host_valid(host, len) || port < 1 ||
        port > 65535)
        return -EINVAL;
    idx = intern_node(map, host, len, port);
    if (idx < 0) return idx;
    n = &map->nodes[idx];
    n->role = CLUSTER_ROLE_MASTER;
    n->master = CLUSTER_NODE_NONE;
    if (map->owner[slot] == CLUSTER_NODE_NONE) map->served++;
    map->owner[slot] = (int16_t)idx;
    return idx;
}

int cluster_map_master(const struct cluster_map *map, unsigned slot) {
    if (!map || slot >= SLOT_COUNT) return CLUSTER_NODE_NONE;
    return map->owner[slot];
}

size_t cluster_map_replicas(const struct cluster_map *map, unsigned slot, int *out, size_t max) {
    int master = cluster_map_master(map, slot);
    size_t found = 0;

    if (master == CLUSTER_NODE_NONE) return 0;
    for (size_t i = 0; i < map->count; i++) {
        if (map->nodes[i].role != CLUSTER_ROLE_REPLICA || map->nodes[i].master != master) continue;
        if (found < max) out[found] = (int)i;
        found++;
    }
    return found;
}

int cluster_map_required_acks(const struct cluster_map *map, int node, int min_acks) {
    int replicas = 0;

    if (min_acks <= 0) return 0;
    if (node < 0 || (size_t)node >= map->count || map->nodes[node].role != CLUSTER_ROLE_MASTER)
        return min_acks; /* nothing known about its replicas: the strict rule */
    for (size_t i = 0; i < map->count && replicas < min_acks; i++)
        if (map->nodes[i].role == CLUSTER_ROLE_REPLICA && map->nodes[i].master == node) replicas++;
    return replicas;
}

const struct cluster_node *cluster_map_node(const struct cluster_map *map, int index) {
    if (!map || index < 0 || (size_t)index >= map->count) return NULL;
    return &map->nodes[index];
}

size_t cluster_map_node_count(const struct cluster_map *map) { return map ? map->count : 0; }

int cluster_map_find(const struct cluster_map *map, const char *host, int port) {
    if (!map || !host) return CLUSTER_NODE_NONE;
    return find_node(map, host, strlen(host), port);
}

size_t cluster_map_slots_served(const struct cluster_map *map) { return map ? map->served : 0; }

/* True when err[0 .. len) starts with word followed by a space or the end. */
static bool starts_with_word(const char *err, size_t len, const char *word) {
    size_t wlen = strlen(word);

    return len >= wlen && memcmp(err, word, wlen) == 0 && (len == wlen || err[wlen] == ' ');
}

/*
 * Parses 1 to 5 decimal digits at *p (before end) into *value, which must be
 * in min..max, and advances *p past them. Returns 0 or -EINVAL.
 */
static int parse_number(const char **p, const char *end, unsigned min, unsigned max,
                        unsigned *value) {
    const char *s = *p;
    unsigned v = 0;

    while (s < end && s - *p < 5 && *s >= '0' && *s <= '9')
        v = v * 10 + (unsigned)(*s++ - '0');
    if (s == *p || (s < end && *s >= '0' && *s <= '9') || v < min || v > max) return -EINVAL;
    *p = s;
    *value = v;
    return 0;
}

int cluster_redirect_parse(const char *err, size_t len, struct cluster_redirect *out) {
    const char *p, *end, *colon = NULL;
    unsigned slot, port;
    size_t hlen;

    if (!err || !out) return -EINVAL;
    end = err + len;
    if (starts_with_word(err, len, "MOVED")) {
        out->kind = CLUSTER_REDIRECT_MOVED;
        p = err + 5;
    } else if (starts_with_word(err, len, "ASK")) {
        out->kind = CLUSTER_REDIRECT_ASK;
        p = err + 3;
    } else {
        return -EINVAL;
    }
    /* p is at the space after the word, or at the end. */
    if (p == end || *p++ != ' ' || parse_number(&p, end, 0, SLOT_COUNT - 1, &slot) < 0 ||
        p == end || *p++ != ' ')
        return -EINVAL;
    for (const char *c = p; c < end; c++)
        if (*c == ':') colon = c;
    if (!colon) return -EINVAL;
    hlen = (size_t)(colon - p);
    if (hlen >= 2 && p[0] == '[' && p[hlen - 1] == ']') {
        p++;
        hlen -= 2;
    }
    if (hlen == 1 && p[0] == '?') hlen = 0;
    if (!host_valid(p, hlen)) return -EINVAL;
    memcpy(out->host, p, hlen);
    out->host[hlen] = '\0';
    p = colon + 1;
    if (parse_number(&p, end, 1, 65535, &port) < 0 || p != end) return -EINVAL;
    out->slot = slot;
    out->port = (int)port;
    return 0;
}

enum cluster_error_kind cluster_error_classify(const char *err, size_t len) {
    static const struct {
        const char *word;
        enum cluster_error_kind kind;
    } table[] = {
        {"MOVED", CLUSTER_ERROR_MOVED},       {"ASK", CLUSTER_ERROR_ASK},
        {"TRYAGAIN", CLUSTER_ERROR_TRYAGAIN}, {"CLUSTERDOWN", CLUSTER_ERROR_CLUSTERDOWN},
        {"LOADING", CLUSTER_ERROR_LOADING},
    };

    if (!err) return CLUSTER_ERROR_OTHER;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (starts_with_word(err, len, table[i].word)) return table[i].kind;
    return CLUSTER_ERROR_OTHER;
}

bool cluster_error_is_retryable(const char *err, size_t len) {
    enum cluster_error_kind kind = cluster_error_classify(err, len);

    return kind == CLUSTER_ERROR_TRYAGAIN || kind == CLUSTER_ERROR_CLUSTERDOWN ||
           kind == CLUSTER_ERROR_LOADING;
}
