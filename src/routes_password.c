/*
 * routes_password: PUT /user/password changes the password of the session's
 * user. The old password is checked (Argon2id on a worker, under the login
 * rate limits), the new one hashed, the record updated, and then every other
 * session of the user ends; the session that asked stays.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "jwt_verify.h"
#include "log.h"
#include "ratelimit.h"
#include "request_body.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "workers.h"

/* One password change, from the request to the reply. */
struct password_op {
    struct request *r;                  /* the request to answer */
    char session[TOKEN_HASH_LEN + 1];   /* the hash of the asking session */
    struct session_user who;            /* the session's user */
    struct store_user user;             /* the stored record, then the new hash */
    char *old_pw, *new_pw;              /* copies, wiped once hashed */
    size_t old_len, new_len;
    bool old_ok;                        /* the old password matched */
    bool hash_failed;                   /* Argon2id could not run */
};

static void password_op_free(struct password_op *op) {
    if (op->old_pw) sodium_memzero(op->old_pw, op->old_len);
    if (op->new_pw) sodium_memzero(op->new_pw, op->new_len);
    free(op->old_pw);
    free(op->new_pw);
    sodium_memzero(op->user.pwhash, sizeof(op->user.pwhash));
    free(op);
}

static void fail(struct password_op *op, api_error e) {
    http_reply_error(op->r, e, NULL);
    password_op_free(op);
}

/* No such session or user: the session ended meanwhile. */
static api_error status_error(enum store_status st) {
    return st == STORE_NOT_FOUND ? API_E_UNAUTHORIZED : routes_store_error(st);
}

static void on_others_ended(enum store_status st, void *arg) {
    struct password_op *op = arg;
    if (st != STORE_OK) {
        /* the new password is in place; a retry ends the sessions left */
        log_warn("req=%s msg=\"other sessions not all ended\"", op->r->id);
        fail(op, API_E_UNAVAILABLE);
        return;
    }
    http_reply_empty(op->r, 204);
    password_op_free(op);
}

static void on_session_kept(enum store_status st, void *arg) {
    struct password_op *op = arg;
    if (st != STORE_OK) fail(op, status_error(st));
    else if (store_sessions_end_others(op->r->srv->store, op->who.id, op->session,
                                       on_others_ended, op) < 0)
        fail(op, API_E_UNAVAILABLE);
}

/* The new password raised the user's version by one: the asking session
 * takes it, so that it stays valid while every other one is refused. */
static void on_password_stored(enum store_status st, void *arg) {
    struct password_op *op = arg;
    if (st != STORE_OK) fail(op, routes_store_error(st));
    else if (store_session_set_version(op->r->srv->store, op->session, &op->who,
                                       op->user.password_version + 1, on_session_kept, op) < 0)
        fail(op, API_E_UNAVAILABLE);
}

/* On a worker: checks the old password, then hashes the new one. */
static void check_and_hash(void *arg) {
    struct password_op *op = arg;
    op->old_ok = crypto_pwhash_str_verify(op->user.pwhash, op->old_pw, op->old_len) == 0;
    sodium_memzero(op->old_pw, op->old_len);
    if (op->old_ok)
        op->hash_failed = crypto_pwhash_str(op->user.pwhash, op->new_pw, op->new_len,
                                            crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                            crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
    sodium_memzero(op->new_pw, op->new_len);
}

static void on_checked(void *arg, bool cancelled) {
    struct password_op *op = arg;
    if (cancelled || op->hash_failed) fail(op, API_E_UNAVAILABLE);
    else if (!op->old_ok) fail(op, API_E_WRONG_PASSWORD);
    else if (store_user_set_password(op->r->srv->store, op->user.email, op->user.pwhash,
                                     on_password_stored, op) < 0)
        fail(op, API_E_UNAVAILABLE);
}

static void on_user(enum store_status st, const struct store_user *u, void *arg) {
    struct password_op *op = arg;
    if (st != STORE_OK) {
        fail(op, status_error(st));
        return;
    }
    op->user = *u;
    api_error e;
    if (strcmp(op->user.id, op->who.id) != 0) fail(op, API_E_UNAUTHORIZED);
    else if ((e = routes_submit_hashing(op->r, check_and_hash, on_checked, op)) != API_E_OK)
        fail(op, e);
}

static void on_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct password_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        password_op_free(op);
    } else if (store_user_get(op->r->srv->store, op->who.email, on_user, op) < 0) {
        fail(op, API_E_UNAVAILABLE);
    }
}

/* The old-password check counts as a login attempt, for the e-mail and the address. */
static void on_session(enum store_status st, const struct session_user *u, void *arg) {
    struct password_op *op = arg;
    if (st != STORE_OK) {
        fail(op, status_error(st));
        return;
    }
    if (jwt_is_account_handle(u->email)) { /* the application vouches for it: no password */
        fail(op, API_E_NO_PASSWORD);
        return;
    }
    op->who = *u;
    if (routes_count_password_attempt(op->r, op->who.email, on_allowed, op) < 0)
        fail(op, API_E_INTERNAL);
}

static char *copy(const char *s, size_t len) {
    char *c = malloc(len + 1);
    if (c) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

/* Reads {"oldPassword","newPassword"} (request_body.c) into op; API_E_OK or the error. */
static api_error read_body(struct request *r, struct password_op *op) {
    json_t *body;
    api_error e = http_body_json(r, &body);
    if (e != API_E_OK) return e;
    struct password_change_body pb;
    e = request_body_password_change(body, &pb);
    if (e == API_E_OK) {
        op->old_len = pb.current_len;
        op->new_len = pb.new_len;
        op->old_pw = copy(pb.current, pb.current_len);
        op->new_pw = copy(pb.new_password, pb.new_len);
        if (!op->old_pw || !op->new_pw) e = API_E_INTERNAL;
    }
    json_decref(body);
    return e;
}

void route_user_password(struct request *r) {
    struct password_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    if (!routes_session_hash_or_401(r, op->session)) {
        password_op_free(op);
        return;
    }
    api_error e = read_body(r, op);
    if (e != API_E_OK) fail(op, e);
    else if (store_session_get(r->srv->store, op->session, r->srv->cfg.session_ttl, on_session,
                               op) < 0)
        fail(op, API_E_UNAVAILABLE);
}
