/* store_rooms: the room list (a sorted set of names, so that it pages by
 * name), whether rooms exist, and how many rooms each user created. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_keys.h"
#include "store_private.h"

/* One command in flight: the caller's callback. */
struct rooms_op {
    union {
        store_status_fn *status;
        store_names_fn *names;
        store_count_fn *count;
    } cb;
    void *arg;
};

static struct rooms_op *op_new(void *arg) {
    struct rooms_op *op = calloc(1, sizeof(*op));
    if (op) op->arg = arg;
    return op;
}

static int send_op(struct store *s, struct rooms_op *op, cluster_reply_fn *done,
                   enum store_ack ack, const char *key, int argc, const char **argv) {
    if (store_command(s, ack, key, done, op, argc, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

static void on_room_added(redisReply *r, void *arg) {
    struct rooms_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type == REDIS_REPLY_INTEGER && r->integer == 0) st = STORE_EXISTS;
    op->cb.status(st, op->arg);
    free(op);
}

int store_room_add(struct store *s, const char *room, store_status_fn *cb, void *arg) {
    struct rooms_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.status = cb;
    const char *argv[] = {"ZADD", STORE_KEY_ROOMS, "NX", "0", room};
    return send_op(s, op, on_room_added, STORE_ACK_DURABLE, STORE_KEY_ROOMS, 5, argv);
}

static void on_room_list(redisReply *r, void *arg) {
    struct rooms_op *op = arg;
    enum store_status st = status_of(r);
    const char **names = NULL;
    size_t n = 0;
    if (st == STORE_OK && r->type != REDIS_REPLY_ARRAY) st = STORE_ERROR;
    if (st == STORE_OK && r->elements && !(names = calloc(r->elements, sizeof(*names))))
        st = STORE_ERROR;
    for (size_t i = 0; st == STORE_OK && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING) names[n++] = r->element[i]->str;
    op->cb.names(st, names, n, op->arg);
    free(names);
    free(op);
}

int store_room_list(struct store *s, const char *after, int count, store_names_fn *cb,
                    void *arg) {
    char from[CHAT_ROOM_MAX + 2], limit[16];
    int n = after ? snprintf(from, sizeof(from), "(%s", after) : snprintf(from, sizeof(from), "-");
    if (n < 0 || (size_t)n >= sizeof(from) || count < 1) return -1;
    snprintf(limit, sizeof(limit), "%d", count);
    struct rooms_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.names = cb;
    const char *argv[] = {"ZRANGE", STORE_KEY_ROOMS, from, "+", "BYLEX", "LIMIT", "0", limit};
    return send_op(s, op, on_room_list, STORE_ACK_PLAIN, STORE_KEY_ROOMS, 8, argv);
}

static void on_rooms_exist(redisReply *r, void *arg) {
    struct rooms_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type != REDIS_REPLY_ARRAY) st = STORE_ERROR;
    for (size_t i = 0; st == STORE_OK && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_NIL) st = STORE_NOT_FOUND;
    op->cb.status(st, op->arg);
    free(op);
}

int store_rooms_exist(struct store *s, const char *const *rooms, size_t n, store_status_fn *cb,
                      void *arg) {
    if (n < 1 || n > STORE_ROOMS_CHECK_MAX) return -1;
    const char *argv[2 + STORE_ROOMS_CHECK_MAX] = {"ZMSCORE", STORE_KEY_ROOMS};
    memcpy(argv + 2, rooms, n * sizeof(*rooms));
    struct rooms_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.status = cb;
    return send_op(s, op, on_rooms_exist, STORE_ACK_PLAIN, STORE_KEY_ROOMS, 2 + (int)n, argv);
}

static void on_counted(redisReply *r, void *arg) {
    struct rooms_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type != REDIS_REPLY_INTEGER) st = STORE_ERROR;
    op->cb.count(st, st == STORE_OK ? r->integer : 0, op->arg);
    free(op);
}

int store_user_rooms_add(struct store *s, const char *user_id, int delta, store_count_fn *cb,
                         void *arg) {
    char key[STORE_KEY_MAX], by[16];
    if (store_key_user_rooms(key, sizeof(key), user_id) < 0) return -1;
    snprintf(by, sizeof(by), "%d", delta);
    struct rooms_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.count = cb;
    const char *argv[] = {"INCRBY", key, by};
    return send_op(s, op, on_counted, STORE_ACK_PLAIN, key, 3, argv);
}
