/* store_lock: a site administrator's lock on an account, the "locked"
 * field of the user record (docs/STORAGE.md). */
#include <stdlib.h>

#include "store.h"
#include "store_keys.h"
#include "store_private.h"

/* KEYS[1] user:<email>; ARGV: the user's id, "1" to lock or "0" to unlock.
 * 0 when the record is gone or another user's now. Locking advances the
 * password version, so that a login that raced the lock gets a session
 * that is refused. */
static const char set_locked_script[] =
    "if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end\n"
    "if ARGV[2] == '1' then\n"
    "  redis.call('HSET', KEYS[1], 'locked', '1')\n"
    "  redis.call('HINCRBY', KEYS[1], 'pv', 1)\n"
    "else\n"
    "  redis.call('HDEL', KEYS[1], 'locked')\n"
    "end\n"
    "return 1\n";

struct lock_op {
    store_status_fn *cb;
    void *arg;
};

static void on_locked(redisReply *r, void *arg) {
    struct lock_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type != REDIS_REPLY_INTEGER) st = STORE_ERROR;
    if (st == STORE_OK && r->integer == 0) st = STORE_NOT_FOUND;
    op->cb(st, op->arg);
    free(op);
}

int store_user_set_locked(struct store *s, const char *email, const char *user_id, bool locked,
                          store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_user(key, sizeof(key), email) < 0) return -1;
    struct lock_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct lock_op){cb, arg};
    const char *argv[] = {"EVAL", set_locked_script, "1", key, user_id, locked ? "1" : "0"};
    if (store_command(s, STORE_ACK_DURABLE, key, on_locked, op, 6, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}
