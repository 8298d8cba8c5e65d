/*
 * store_webhook: the webhook queue's commands (docs/STORAGE.md,
 * "Webhooks"). Each shard is one stream, webhook:{<n>}, read by one
 * consumer group whose consumers are the chatd; an entry leaves the
 * stream when it is delivered (acknowledged and deleted) or buried in the
 * shard's dead letters, so XLEN is what is still to deliver.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_keys.h"
#include "store_private.h"

#define DEAD_LETTERS_KEPT "100000" /* about this many per shard (MAXLEN ~) */

struct webhook_op {
    union {
        store_status_fn *status;
        store_webhook_entries_fn *entries;
        store_webhook_count_fn *count;
    } cb;
    void *arg;
};

static struct webhook_op *op_new(void *arg) {
    struct webhook_op *op = calloc(1, sizeof(*op));
    if (op) op->arg = arg;
    return op;
}

static int send_op(struct store *s, struct webhook_op *op, enum store_ack ack, const char *key,
                   cluster_reply_fn *done, int argc, const char **argv, const size_t *lens) {
    if (!op || store_command(s, ack, key, done, op, argc, argv, lens) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

static void on_status(redisReply *r, void *arg) {
    struct webhook_op *op = arg;
    op->cb.status(status_of(r), op->arg);
    free(op);
}

int store_webhook_enqueue(struct store *s, unsigned shard, const char *event_id, const char *url,
                          const char *body, size_t body_len, store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_webhook_shard(key, sizeof(key), shard) < 0) return -1;
    struct webhook_op *op = op_new(arg);
    if (op) op->cb.status = cb;
    const char *argv[] = {"XADD", key, "*", "id", event_id, "url", url, "body", body};
    size_t lens[9];
    for (int i = 0; i < 9; i++)
        lens[i] = i == 8 ? body_len : strlen(argv[i]);
    return send_op(s, op, STORE_ACK_DURABLE, key, on_status, 9, argv, lens);
}

static void on_group_created(redisReply *r, void *arg) {
    struct webhook_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_ERROR && strncmp(r->str, "BUSYGROUP", 9) == 0) st = STORE_EXISTS;
    op->cb.status(st, op->arg);
    free(op);
}

int store_webhook_group_create(struct store *s, unsigned shard, store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_webhook_shard(key, sizeof(key), shard) < 0) return -1;
    struct webhook_op *op = op_new(arg);
    if (op) op->cb.status = cb;
    const char *argv[] = {"XGROUP", "CREATE", key, STORE_WEBHOOK_GROUP, "0", "MKSTREAM"};
    return send_op(s, op, STORE_ACK_PLAIN, key, on_group_created, 6, argv, NULL);
}

/* Fills e from one stream entry [id, [field, value, ...]]; -1 when it is
 * not a whole delivery (a claimed entry deleted meanwhile has no fields). */
static int entry_parse(const redisReply *r, struct store_webhook_entry *e) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    memset(e, 0, sizeof(*e));
    e->stream_id = r->element[0]->str;
    const redisReply *f = r->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) return -1;
        if (strcmp(k->str, "id") == 0)
            e->event_id = v->str;
        else if (strcmp(k->str, "url") == 0)
            e->url = v->str;
        else if (strcmp(k->str, "body") == 0)
            e->body = v->str, e->body_len = v->len;
    }
    return e->event_id && e->url && e->body ? 0 : -1;
}

/* Hands the entries of an array of stream entries (NULL: none) over. */
static void deliver_entries(struct webhook_op *op, enum store_status st, const redisReply *list,
                            const char *cursor) {
    struct store_webhook_entry *entries = NULL;
    size_t n = 0;
    if (st == STORE_OK && list && list->type == REDIS_REPLY_ARRAY && list->elements > 0) {
        entries = calloc(list->elements, sizeof(*entries));
        if (!entries) st = STORE_ERROR;
        for (size_t i = 0; entries && i < list->elements; i++)
            if (entry_parse(list->element[i], &entries[n]) == 0) n++;
    }
    op->cb.entries(st, entries, n, cursor, op->arg);
    free(entries);
    free(op);
}

/* XREADGROUP answers nil, or [[key, [entries]]]. */
static void on_read(redisReply *r, void *arg) {
    enum store_status st = status_of(r);
    if (st == STORE_ERROR && strncmp(r->str, "NOGROUP", 7) == 0) st = STORE_NOT_FOUND;
    const redisReply *list = NULL;
    if (st == STORE_OK && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
        list = r->element[0]->element[1];
    else if (st == STORE_OK && r->type != REDIS_REPLY_NIL)
        st = STORE_ERROR;
    deliver_entries(arg, st, list, NULL);
}

int store_webhook_read(struct store *s, unsigned shard, const char *consumer, int count,
                       store_webhook_entries_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], n[16];
    if (store_key_webhook_shard(key, sizeof(key), shard) < 0) return -1;
    snprintf(n, sizeof(n), "%d", count);
    struct webhook_op *op = op_new(arg);
    if (op) op->cb.entries = cb;
    const char *argv[] = {
        "XREADGROUP", "GROUP", STORE_WEBHOOK_GROUP, consumer, "COUNT", n, "STREAMS", key, ">"};
    return send_op(s, op, STORE_ACK_PLAIN, key, on_read, 9, argv, NULL);
}

/* XAUTOCLAIM answers [cursor, [entries], [deleted ids]]. */
static void on_claimed(redisReply *r, void *arg) {
    enum store_status st = status_of(r);
    if (st == STORE_ERROR && strncmp(r->str, "NOGROUP", 7) == 0) st = STORE_NOT_FOUND;
    bool whole = st == STORE_OK && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
                 r->element[0]->type == REDIS_REPLY_STRING;
    if (st == STORE_OK && !whole) st = STORE_ERROR;
    deliver_entries(arg, st, whole ? r->element[1] : NULL, whole ? r->element[0]->str : NULL);
}

int store_webhook_claim(struct store *s, unsigned shard, const char *consumer, int min_idle_ms,
                        const char *cursor, int count, store_webhook_entries_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], idle[16], n[16];
    if (store_key_webhook_shard(key, sizeof(key), shard) < 0) return -1;
    snprintf(idle, sizeof(idle), "%d", min_idle_ms);
    snprintf(n, sizeof(n), "%d", count);
    struct webhook_op *op = op_new(arg);
    if (op) op->cb.entries = cb;
    const char *argv[] = {"XAUTOCLAIM", key, STORE_WEBHOOK_GROUP, consumer, idle, cursor,
                          "COUNT",      n};
    return send_op(s, op, STORE_ACK_PLAIN, key, on_claimed, 8, argv, NULL);
}

int store_webhook_touch(struct store *s, unsigned shard, const char *consumer,
                        const char *const *ids, size_t n, store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (n == 0 || n > STORE_WEBHOOK_BATCH || store_key_webhook_shard(key, sizeof(key), shard) < 0)
        return -1;
    const char *argv[6 + STORE_WEBHOOK_BATCH] = {"XCLAIM", key, STORE_WEBHOOK_GROUP, consumer, "0"};
    memcpy(argv + 5, ids, n * sizeof(*ids));
    argv[5 + n] = "JUSTID";
    struct webhook_op *op = op_new(arg);
    if (op) op->cb.status = cb;
    return send_op(s, op, STORE_ACK_PLAIN, key, on_status, (int)(6 + n), argv, NULL);
}

/* ARGV: the group, then the entry ids. */
static const char ack_script[] = "redis.call('XACK', KEYS[1], unpack(ARGV))\n"
                                 "return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))\n";

int store_webhook_ack(struct store *s, unsigned shard, const char *const *ids, size_t n,
                      store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (n == 0 || n > STORE_WEBHOOK_BATCH || store_key_webhook_shard(key, sizeof(key), shard) < 0)
        return -1;
    const char *argv[5 + STORE_WEBHOOK_BATCH] = {"EVAL", ack_script, "1", key, STORE_WEBHOOK_GROUP};
    memcpy(argv + 5, ids, n * sizeof(*ids));
    struct webhook_op *op = op_new(arg);
    if (op) op->cb.status = cb;
    return send_op(s, op, STORE_ACK_PLAIN, key, on_status, (int)(5 + n), argv, NULL);
}

/* KEYS: the shard, its dead letters; ARGV: group, entry id, event id,
 * url, body, reason, how many dead letters to keep. */
static const char bury_script[] =
    "if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then\n"
    "  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', 'id', ARGV[3], 'url', ARGV[4],"
    " 'body', ARGV[5], 'reason', ARGV[6])\n"
    "end\n"
    "return redis.call('XDEL', KEYS[1], ARGV[2])\n";

int store_webhook_bury(struct store *s, unsigned shard, const struct store_webhook_entry *e,
                       const char *reason, store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], dead[STORE_KEY_MAX];
    if (store_key_webhook_shard(key, sizeof(key), shard) < 0 ||
        store_key_webhook_dead(dead, sizeof(dead), shard) < 0)
        return -1;
    struct webhook_op *op = op_new(arg);
    if (op) op->cb.status = cb;
    const char *argv[] = {"EVAL",       bury_script, "2",    key,     dead,   STORE_WEBHOOK_GROUP,
                          e->stream_id, e->event_id, e->url, e->body, reason, DEAD_LETTERS_KEPT};
    size_t lens[12];
    for (int i = 0; i < 12; i++)
        lens[i] = i == 9 ? e->body_len : strlen(argv[i]);
    return send_op(s, op, STORE_ACK_DURABLE, key, on_status, 12, argv, lens);
}

static void on_length(redisReply *r, void *arg) {
    struct webhook_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type != REDIS_REPLY_INTEGER) st = STORE_ERROR;
    op->cb.count(st, st == STORE_OK ? r->integer : 0, op->arg);
    free(op);
}

int store_webhook_length(struct store *s, unsigned shard, store_webhook_count_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_webhook_shard(key, sizeof(key), shard) < 0) return -1;
    struct webhook_op *op = op_new(arg);
    if (op) op->cb.count = cb;
    const char *argv[] = {"XLEN", key};
    return send_op(s, op, STORE_ACK_PLAIN, key, on_length, 2, argv, NULL);
}
