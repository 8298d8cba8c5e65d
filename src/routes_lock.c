/*
 * routes_lock: PUT and DELETE /user/<id>/lock, a site administrator
 * (--admins) locking or unlocking an account. A lock is stored on the user
 * record (with the password version advanced, store_user_set_locked), then
 * every session of the user ends and is announced to every chatd, as for a
 * deleted account; its logins and token exchanges answer 403
 * account_locked from then on. Unlocking lets the user log in again.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "member_rules.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "validate.h"

struct lock_op {
    struct request *r;
    bool locking;                             /* PUT rather than DELETE */
    char target[CHAT_USER_ID_LEN + 1];        /* the account's user id */
};

static void fail(struct lock_op *op, api_error e) {
    http_reply_error(op->r, e, NULL);
    free(op);
}

static void done(struct lock_op *op) {
    log_info("req=%s msg=\"account %s\" user=%s", op->r->id, op->locking ? "locked" : "unlocked",
             op->target);
    http_reply_empty(op->r, 204);
    free(op);
}

/* A failure leaves the lock in place and some sessions: a retry ends them. */
static void on_sessions_ended(enum store_status st, void *arg) {
    struct lock_op *op = arg;
    if (st != STORE_OK) fail(op, API_E_UNAVAILABLE);
    else done(op);
}

static void on_set(enum store_status st, void *arg) {
    struct lock_op *op = arg;
    if (st == STORE_NOT_FOUND) fail(op, API_E_UNKNOWN_USER);
    else if (st != STORE_OK) fail(op, routes_store_error(st));
    else if (!op->locking) done(op);
    else if (store_user_sessions_end_all(op->r->srv->store, op->target, on_sessions_ended,
                                         op) < 0)
        fail(op, API_E_UNAVAILABLE);
}

static void on_email(enum store_status st, const char *email, void *arg) {
    struct lock_op *op = arg;
    if (st == STORE_NOT_FOUND) fail(op, API_E_UNKNOWN_USER);
    else if (st != STORE_OK) fail(op, routes_store_error(st));
    else if (store_user_set_locked(op->r->srv->store, email, op->target, op->locking, on_set,
                                   op) < 0)
        fail(op, API_E_UNAVAILABLE);
}

static void on_session(enum store_status st, const struct session_user *u, void *arg) {
    struct lock_op *op = arg;
    if (st == STORE_NOT_FOUND) fail(op, API_E_UNAUTHORIZED);
    else if (st != STORE_OK) fail(op, routes_store_error(st));
    else if (!member_rules_is_admin(op->r->srv->cfg.admins, u->email)) fail(op, API_E_FORBIDDEN);
    else if (strcmp(u->id, op->target) == 0) fail(op, API_E_SELF_ACTION);
    else if (store_user_email_of(op->r->srv->store, op->target, on_email, op) < 0)
        fail(op, API_E_UNAVAILABLE);
}

static void lock_route(struct request *r, bool locking) {
    char hash[TOKEN_HASH_LEN + 1];
    if (!routes_session_hash_or_401(r, hash)) return;
    size_t len = strlen(r->param);
    if (!validate_user_id(r->param, len)) {
        http_reply_error(r, API_E_INVALID_USER_ID, NULL);
        return;
    }
    struct lock_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    *op = (struct lock_op){.r = r, .locking = locking};
    memcpy(op->target, r->param, len + 1);
    if (store_session_get(r->srv->store, hash, r->srv->cfg.session_ttl, on_session, op) < 0)
        fail(op, API_E_UNAVAILABLE);
}

void route_user_lock(struct request *r) { lock_route(r, true); }

void route_user_unlock(struct request *r) { lock_route(r, false); }
