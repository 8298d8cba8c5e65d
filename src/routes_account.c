/*
 * routes_account: DELETE /user/ {"password"} deletes the session's own
 * account. The password is checked (Argon2id on a worker, under the login
 * rate limits, as for a password change); then every other session ends
 * (announced to every chatd), the user record and its id index go (the
 * address is free again), and last the asking session. The user's messages
 * stay in their rooms as they were sent (docs/API.md says why); a session
 * that survives a failure part-way is refused all the same, since its
 * user is gone (store_session_get).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "jwt_verify.h"
#include "log.h"
#include "ratelimit.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "workers.h"

struct delete_op {
    struct request *r;
    char session[TOKEN_HASH_LEN + 1]; /* the hash of the asking session */
    struct session_user who;          /* its user */
    struct store_user user;           /* the stored record */
    char *password;                   /* a copy, wiped once checked */
    size_t password_len;
    bool ok;                          /* the password matched */
};

static void delete_op_free(struct delete_op *op) {
    if (op->password) sodium_memzero(op->password, op->password_len);
    free(op->password);
    sodium_memzero(op->user.pwhash, sizeof(op->user.pwhash));
    free(op);
}

static void fail(struct delete_op *op, api_error e) {
    http_reply_error(op->r, e, NULL);
    delete_op_free(op);
}

static api_error status_error(enum store_status st) {
    return st == STORE_NOT_FOUND ? API_E_UNAUTHORIZED : routes_store_error(st);
}

static void on_own_session_ended(enum store_status st, void *arg) {
    struct delete_op *op = arg;
    (void)st; /* a session left behind is refused: its user is gone */
    log_info("req=%s msg=\"account deleted\"", op->r->id);
    routes_user_clear_cookies(op->r);
    http_reply_empty(op->r, 204);
    delete_op_free(op);
}

static void on_user_deleted(enum store_status st, void *arg) {
    struct delete_op *op = arg;
    if (st != STORE_OK) fail(op, routes_store_error(st));
    else if (store_session_delete(op->r->srv->store, op->session, on_own_session_ended, op) < 0)
        on_own_session_ended(STORE_UNAVAILABLE, op);
}

/* The other sessions first: while one is left, the account stays and a
 * retry can still prove the password. */
static void on_others_ended(enum store_status st, void *arg) {
    struct delete_op *op = arg;
    if (st != STORE_OK) fail(op, API_E_UNAVAILABLE);
    else if (store_user_delete(op->r->srv->store, op->user.email, op->user.id, on_user_deleted,
                               op) < 0)
        fail(op, API_E_UNAVAILABLE);
}

static void check_password(void *arg) {
    struct delete_op *op = arg;
    op->ok = crypto_pwhash_str_verify(op->user.pwhash, op->password, op->password_len) == 0;
    sodium_memzero(op->password, op->password_len);
}

static void on_checked(void *arg, bool cancelled) {
    struct delete_op *op = arg;
    if (cancelled) fail(op, API_E_UNAVAILABLE);
    else if (!op->ok) fail(op, API_E_WRONG_PASSWORD);
    else if (store_sessions_end_others(op->r->srv->store, op->who.id, op->session,
                                       on_others_ended, op) < 0)
        fail(op, API_E_UNAVAILABLE);
}

static void on_user(enum store_status st, const struct store_user *u, void *arg) {
    struct delete_op *op = arg;
    api_error e;
    if (st != STORE_OK) fail(op, status_error(st));
    else if (strcmp(u->id, op->who.id) != 0) fail(op, API_E_UNAUTHORIZED);
    else if (jwt_is_account_handle(u->email)) fail(op, API_E_NO_PASSWORD); /* a token user */
    else if (op->user = *u, (e = routes_submit_hashing(op->r, check_password, on_checked, op)) !=
                                API_E_OK)
        fail(op, e);
}

static void on_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct delete_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        delete_op_free(op);
    } else if (store_user_get(op->r->srv->store, op->who.email, on_user, op) < 0) {
        fail(op, API_E_UNAVAILABLE);
    }
}

/* The password check counts as a login attempt, for the e-mail and the address. */
static void on_session(enum store_status st, const struct session_user *u, void *arg) {
    struct delete_op *op = arg;
    if (st != STORE_OK) {
        fail(op, status_error(st));
        return;
    }
    op->who = *u;
    if (routes_count_password_attempt(op->r, op->who.email, on_allowed, op) < 0)
        fail(op, API_E_INTERNAL);
}

/* Reads {"password"} into op; API_E_OK or the error. */
static api_error read_body(struct request *r, struct delete_op *op) {
    json_t *body;
    api_error e = http_body_json(r, &body);
    if (e != API_E_OK) return e;
    const char *pw;
    e = json_get_string(body, "password", true, API_E_INVALID_PASSWORD, &pw, &op->password_len);
    if (e == API_E_OK && !(op->password = malloc(op->password_len + 1))) e = API_E_INTERNAL;
    if (e == API_E_OK) memcpy(op->password, pw, op->password_len + 1);
    json_decref(body);
    return e;
}

void route_user_delete(struct request *r) {
    struct delete_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    if (!routes_session_hash_or_401(r, op->session)) {
        delete_op_free(op);
        return;
    }
    api_error e = read_body(r, op);
    if (e != API_E_OK) fail(op, e);
    else if (store_session_get(r->srv->store, op->session, r->srv->cfg.session_ttl, on_session,
                               op) < 0)
        fail(op, API_E_UNAVAILABLE);
}
