/* store_token: the records of users who log in with an application's token
 * (user:jwt:<hex>, created on their first exchange, named by their latest
 * token) and the token ids already exchanged (jwt-used:<hex>); see
 * docs/STORAGE.md. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#include "store.h"
#include "store_keys.h"
#include "store_private.h"

/* Creates the user unless it exists, else renames it; answers {id, pv, locked}.
 * KEYS[1] user:jwt:<hex>; ARGV: id, handle, name, iss, sub, created. */
static const char token_user_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
    "  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'email', ARGV[2], 'name', ARGV[3],\n"
    "             'iss', ARGV[4], 'sub', ARGV[5], 'created', ARGV[6])\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], 'name', ARGV[3])\n"
    "end\n"
    "return redis.call('HMGET', KEYS[1], 'id', 'pv', 'locked')\n";

/* One upsert or one use in flight. */
struct token_op {
    store_user_fn *user_cb;  /* upsert: the caller's callback */
    store_status_fn *use_cb; /* use: the caller's callback */
    void *arg;
    struct store_user user;  /* upsert: the record as it will be answered */
};

static void on_token_user(redisReply *r, void *arg) {
    struct token_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
                           r->element[0]->type != REDIS_REPLY_STRING ||
                           r->element[0]->len != CHAT_USER_ID_LEN))
        st = STORE_ERROR;
    if (st == STORE_OK) {
        memcpy(op->user.id, r->element[0]->str, CHAT_USER_ID_LEN);
        op->user.id[CHAT_USER_ID_LEN] = '\0';
        op->user.password_version = store_password_version_of(r->element[1]);
        op->user.locked = r->element[2]->type == REDIS_REPLY_STRING;
    }
    op->user_cb(st, st == STORE_OK ? &op->user : NULL, op->arg);
    free(op);
}

int store_token_user_upsert(struct store *s, const struct store_user *u, const char *issuer,
                            const char *subject, store_user_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], created[24];
    if (store_key_user(key, sizeof(key), u->email) < 0) return -1;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(created, sizeof(created), "%lld", (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    struct token_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    op->user_cb = cb;
    op->arg = arg;
    op->user = *u;
    const char *argv[] = {"EVAL", token_user_script, "1", key, u->id, u->email,
                          u->name, issuer, subject, created};
    if (store_command(s, STORE_ACK_DURABLE, key, on_token_user, op, 10, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

static void on_token_used(redisReply *r, void *arg) {
    struct token_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type == REDIS_REPLY_NIL) st = STORE_EXISTS;
    op->use_cb(st, op->arg);
    free(op);
}

int store_token_use_once(struct store *s, const char *token_id_hash, long long until_s,
                         store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], until[24];
    if (store_key_token_used(key, sizeof(key), token_id_hash) < 0) return -1;
    snprintf(until, sizeof(until), "%lld", until_s);
    struct token_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    op->use_cb = cb;
    op->arg = arg;
    const char *argv[] = {"SET", key, "1", "NX", "EXAT", until};
    if (store_command(s, STORE_ACK_DURABLE, key, on_token_used, op, 6, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}
