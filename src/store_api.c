/* store_api: what the server API reads beyond the other store files: an
 * API key's record (apikey:<id>), a room's counts (one script on the
 * room's slot) and a user's sessions (user-sessions:<userId>); see
 * docs/STORAGE.md, "The server API". */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_keys.h"
#include "store_private.h"

/* One command in flight. */
struct api_op {
    union {
        store_text_fn *text;
        store_counts_fn *counts;
        store_pairs_fn *pairs;
    } cb;
    void *arg;
};

static int send_op(struct store *s, store_text_fn *text, store_counts_fn *counts,
                   store_pairs_fn *pairs, void *arg, cluster_reply_fn *done, const char *key,
                   int argc, const char **argv) {
    struct api_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    if (text) op->cb.text = text;
    else if (counts) op->cb.counts = counts;
    else op->cb.pairs = pairs;
    op->arg = arg;
    if (store_command(s, STORE_ACK_PLAIN, key, done, op, argc, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* ---- an API key ---- */

static void on_key(redisReply *r, void *arg) {
    struct api_op *op = arg;
    enum store_status st = status_of(r);
    const char *hash = st == STORE_OK && r->type == REDIS_REPLY_STRING ? r->str : NULL;
    if (st == STORE_OK && !hash) st = r->type == REDIS_REPLY_NIL ? STORE_NOT_FOUND : STORE_ERROR;
    op->cb.text(st, hash, op->arg);
    free(op);
}

int store_apikey_hash(struct store *s, const char *key_id, store_text_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_apikey(key, sizeof(key), key_id) < 0) return -1;
    const char *argv[] = {"HGET", key, "hash"};
    return send_op(s, cb, NULL, NULL, arg, on_key, key, 3, argv);
}

/* ---- a room's counts ---- */

/* KEYS[1] the members hash, KEYS[2] the stream, KEYS[3] the users online
 * (store_presence.c): {entries, members, banned, online}. */
static const char counts_script[] =
    "local roles = redis.call('HGETALL', KEYS[1])\n"
    "local members, banned = 0, 0\n"
    "for i = 1, #roles, 2 do\n"
    "  if roles[i] ~= 'kind' then\n"
    "    if roles[i + 1] == 'banned' then banned = banned + 1\n"
    "    else members = members + 1 end\n"
    "  end\n"
    "end\n"
    "return {redis.call('XLEN', KEYS[2]), members, banned, redis.call('ZCARD', KEYS[3])}\n";

static void on_counts(redisReply *r, void *arg) {
    struct api_op *op = arg;
    enum store_status st = status_of(r);
    struct store_counts c = {0};
    if (st == STORE_OK && (r->type != REDIS_REPLY_ARRAY || r->elements != 4)) st = STORE_ERROR;
    if (st == STORE_OK) {
        c.entries = r->element[0]->integer;
        c.members = r->element[1]->integer;
        c.banned = r->element[2]->integer;
        c.online = r->element[3]->integer;
    }
    op->cb.counts(st, st == STORE_OK ? &c : NULL, op->arg);
    free(op);
}

int store_room_counts(struct store *s, const char *room, store_counts_fn *cb, void *arg) {
    char members[STORE_KEY_MAX], stream[STORE_KEY_MAX], online[STORE_KEY_MAX];
    if (store_key_room_members(members, sizeof(members), room) < 0 ||
        store_key_room_messages(stream, sizeof(stream), room) < 0 ||
        store_key_room_presence(online, sizeof(online), room, "online") < 0)
        return -1;
    const char *argv[] = {"EVAL", counts_script, "3", members, stream, online};
    return send_op(s, NULL, cb, NULL, arg, on_counts, members, 6, argv);
}

/* ---- a user's sessions ---- */

static void on_sessions(redisReply *r, void *arg) {
    struct api_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type != REDIS_REPLY_ARRAY) st = STORE_ERROR;
    size_t n = st == STORE_OK ? r->elements : 0;
    const char **fields = n ? calloc(n, sizeof(*fields)) : NULL;
    if (n && !fields) st = STORE_ERROR;
    for (size_t i = 0; st == STORE_OK && i < n; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) st = STORE_ERROR;
        else fields[i] = r->element[i]->str;
    }
    op->cb.pairs(st, st == STORE_OK ? fields : NULL, st == STORE_OK ? n / 2 : 0, op->arg);
    free(fields);
    free(op);
}

int store_user_sessions(struct store *s, const char *user_id, store_pairs_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_user_sessions(key, sizeof(key), user_id) < 0) return -1;
    const char *argv[] = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
    return send_op(s, NULL, NULL, cb, arg, on_sessions, key, 5, argv);
}

/* ---- a user by id ---- */

struct by_id_op {
    struct store *s;
    store_user_fn *cb;
    void *arg;
    char id[CHAT_USER_ID_LEN + 1];
};

static void on_user_by_id(enum store_status st, const struct store_user *u, void *arg) {
    struct by_id_op *op = arg;
    if (st == STORE_OK && strcmp(u->id, op->id) != 0) st = STORE_NOT_FOUND; /* deleted, address reused */
    op->cb(st, st == STORE_OK ? u : NULL, op->arg);
    free(op);
}

static void on_email_of(enum store_status st, const char *email, void *arg) {
    struct by_id_op *op = arg;
    if (st == STORE_OK && store_user_get(op->s, email, on_user_by_id, op) == 0) return;
    op->cb(st == STORE_OK ? STORE_UNAVAILABLE : st, NULL, op->arg);
    free(op);
}

int store_user_get_by_id(struct store *s, const char *user_id, store_user_fn *cb, void *arg) {
    struct by_id_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct by_id_op){.s = s, .cb = cb, .arg = arg};
    snprintf(op->id, sizeof(op->id), "%s", user_id);
    if (store_user_email_of(s, user_id, on_email_of, op) < 0) {
        free(op);
        return -1;
    }
    return 0;
}
