/* store_login: the addresses that logged in to an account before
 * (login-known:<email>:<address>), which the per-e-mail login limit counts
 * apart so that strangers cannot lock the owner out (docs/SECURITY.md). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "store.h"
#include "store_keys.h"
#include "store_private.h"

/* One EXISTS or SET in flight. */
struct login_op {
    store_known_fn *known; /* EXISTS: the caller's callback */
    store_status_fn *done; /* SET: the caller's callback */
    void *arg;
};

static void on_known(redisReply *r, void *arg) {
    struct login_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type != REDIS_REPLY_INTEGER) st = STORE_ERROR;
    op->known(st, st == STORE_OK && r->integer == 1, op->arg);
    free(op);
}

static void on_remembered(redisReply *r, void *arg) {
    struct login_op *op = arg;
    op->done(status_of(r), op->arg);
    free(op);
}

/* Sends argv for op on key; frees op when it cannot be sent. */
static int send_login_op(struct store *s, const char *key, cluster_reply_fn *done, struct login_op *op,
                int argc, const char **argv) {
    if (store_command(s, STORE_ACK_PLAIN, key, done, op, argc, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

int store_login_known(struct store *s, const char *email, const char *address,
                      store_known_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_login_known(key, sizeof(key), email, address) < 0) return -1;
    struct login_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct login_op){.known = cb, .arg = arg};
    const char *argv[] = {"EXISTS", key};
    return send_login_op(s, key, on_known, op, 2, argv);
}

int store_login_remember(struct store *s, const char *email, const char *address, int ttl_s,
                         store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], ttl[16];
    if (store_key_login_known(key, sizeof(key), email, address) < 0) return -1;
    snprintf(ttl, sizeof(ttl), "%d", ttl_s);
    struct login_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct login_op){.done = cb, .arg = arg};
    const char *argv[] = {"SET", key, "1", "EX", ttl};
    return send_login_op(s, key, on_remembered, op, 5, argv);
}
