/*
 * routes_user: registration (POST /user/), login (PUT /user/) and logout
 * (DELETE /user/session). Passwords are hashed and verified with Argon2id on
 * the worker threads; every login creates a new session.
 */
#include "routes.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "jwt_verify.h"
#include "log.h"
#include "member_rules.h"
#include "request_body.h"
#include "ratelimit.h"
#include "server.h"
#include "store.h"
#include "token.h"
#include "validate.h"
#include "webhooks.h"
#include "workers.h"

#define PWHASH_OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PWHASH_MEM crypto_pwhash_MEMLIMIT_INTERACTIVE

/* State of one registration or login, from the request to the reply. */
struct user_op {
    struct request *r;        /* the request to answer */
    bool registering;         /* POST /user/ rather than PUT /user/ */
    struct store_user user;   /* the new record, or the one found at login */
    bool user_found;          /* login: the e-mail is registered */
    char *password;           /* copy of the password, wiped after hashing */
    size_t password_len;
    bool hash_failed;         /* register: Argon2id could not run */
    bool password_ok;         /* login: the password matched */
    char token[TOKEN_LEN + 1]; /* the new session's token */
    bool plausible;           /* login: e-mail and password could be registered */
    char address[CLIENT_ADDR_MAX]; /* the client, as the limits count it */
    char known_subject[CHAT_EMAIL_MAX + CLIENT_ADDR_MAX + 2]; /* "<email>:<address>" */
};

static void user_op_free(struct user_op *op) {
    if (op->password) {
        sodium_memzero(op->password, op->password_len);
        free(op->password);
    }
    sodium_memzero(op->token, sizeof(op->token));
    free(op);
}

static struct user_op *user_op_new(struct request *r, const char *pw, size_t len) {
    struct user_op *op = calloc(1, sizeof(*op));
    if (!op) return NULL;
    op->r = r;
    op->password = malloc(len + 1);
    if (!op->password) {
        free(op);
        return NULL;
    }
    memcpy(op->password, pw, len);
    op->password[len] = '\0';
    op->password_len = len;
    return op;
}

static void reply_error(struct user_op *op, api_error e) {
    http_reply_error(op->r, e, NULL);
    user_op_free(op);
}

/* ---- the session that ends both registration and login ---- */

/* Sets the session cookie to token for max_age seconds ("" and 0 end it).
 * Over TLS it is __Host-authKey, Secure, so that the browser never sends it
 * over plain HTTP and no sibling subdomain can plant one of that name; over
 * plain HTTP it is authKey and cannot be Secure. */
void routes_add_session_cookie(struct request *r, const char *token, int max_age) {
    char cookie[160];
    bool tls = http_forwarded_https(r);
    snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=%d",
             tls ? TOKEN_COOKIE_HOST : TOKEN_COOKIE, token, tls ? "; Secure" : "", max_age);
    http_add_header(r, "Set-Cookie", cookie);
}

void routes_user_mark_admin(struct request *r, json_t *body, const char *email) {
    if (member_rules_is_admin(r->srv->cfg.admins, email))
        json_object_set_new(body, "admin", json_true());
}

const char *routes_public_email(const char *email) {
    return jwt_is_account_handle(email) ? "" : email;
}

/* Ends the session cookie of the request's transport; over TLS also a
 * plain authKey one that an earlier version of chatd set. */
static void clear_session_cookies(struct request *r) {
    routes_add_session_cookie(r, "", 0);
    if (http_forwarded_https(r))
        http_add_header(r, "Set-Cookie",
                        TOKEN_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0");
}

/* Answers 201 once the registration's event is queued. */
static void reply_registered(struct user_op *op, json_t *body) {
    json_t *data = NULL;
    if (routes_event_wanted(op->r, WEBHOOK_USER_REGISTERED))
        data = json_pack("{s:s,s:s,s:s}", "userId", op->user.id, "name", op->user.name, "email",
                         op->user.email);
    struct webhooks_event ev = {WEBHOOK_USER_REGISTERED, "", op->user.id,
                                http_received_ms(op->r), data};
    routes_reply_with_event(op->r, 201, body, &ev);
    json_decref(data);
}

static void on_session_created(enum store_status st, void *arg) {
    struct user_op *op = arg;
    if (st != STORE_OK) {
        reply_error(op, st == STORE_FULL ? API_E_STORAGE_FULL : API_E_UNAVAILABLE);
        return;
    }
    routes_add_session_cookie(op->r, op->token, op->r->srv->cfg.session_ttl);
    json_t *body = json_pack("{s:s, s:s, s:s}", "id", op->user.id, "email", op->user.email,
                             "name", op->user.name);
    if (body && op->registering) json_object_set_new(body, "authKey", json_string(op->token));
    if (body) routes_user_mark_admin(op->r, body, op->user.email);
    if (!body) {
        reply_error(op, API_E_INTERNAL);
        return;
    }
    if (op->registering) reply_registered(op, body);
    else http_reply_json(op->r, 200, body);
    user_op_free(op);
}

static void create_session(struct user_op *op) {
    struct session_user su = {.password_version = 0}; /* no end, no room list */
    char hash[TOKEN_HASH_LEN + 1];
    memcpy(su.id, op->user.id, sizeof(su.id));
    memcpy(su.email, op->user.email, sizeof(su.email));
    memcpy(su.name, op->user.name, sizeof(su.name));
    su.password_version = op->user.password_version; /* of the password just verified */
    token_generate(op->token);
    token_hash(op->token, hash);
    struct server *srv = op->r->srv;
    if (store_session_create(srv->store, hash, &su, srv->cfg.session_ttl, on_session_created,
                             op) < 0)
        reply_error(op, API_E_UNAVAILABLE);
}

/* The address is remembered whatever Redis says: at worst its owner is
 * counted with strangers by the per-e-mail limit next time. */
static void on_address_remembered(enum store_status st, void *arg) {
    (void)st;
    create_session(arg);
}

/* Remembers that this address logged in to the account (see
 * known_address_checked), then creates the session. */
static void remember_address(struct user_op *op) {
    struct server *srv = op->r->srv;
    if (!ratelimit_enabled(&srv->limits, RATE_LOGIN_EMAIL) ||
        store_login_remember(srv->store, op->user.email, op->address, srv->cfg.session_ttl,
                             on_address_remembered, op) < 0)
        create_session(op);
}

/* Whatever Redis says: a user missing from the index is found by e-mail. */
static void on_id_indexed(enum store_status st, void *arg) {
    (void)st;
    remember_address(arg);
}

/* Every registration and login (again) records the user's id, by which
 * the member routes find users (user-id:<id>, docs/STORAGE.md), then goes
 * on to the session. */
static void start_session(struct user_op *op) {
    if (store_user_id_index(op->r->srv->store, op->user.id, op->user.email, on_id_indexed, op) <
        0)
        remember_address(op);
}

/* ---- POST /user/ ---- */

static void hash_password(void *arg) {
    struct user_op *op = arg;
    op->hash_failed = crypto_pwhash_str(op->user.pwhash, op->password, op->password_len,
                                        PWHASH_OPS, PWHASH_MEM) != 0;
    sodium_memzero(op->password, op->password_len);
}

static void on_user_created(enum store_status st, void *arg) {
    struct user_op *op = arg;
    if (st == STORE_EXISTS) reply_error(op, API_E_EMAIL_TAKEN);
    else if (st != STORE_OK) reply_error(op, st == STORE_FULL ? API_E_STORAGE_FULL : API_E_UNAVAILABLE);
    else start_session(op);
}

static void on_password_hashed(void *arg, bool cancelled) {
    struct user_op *op = arg;
    if (cancelled || op->hash_failed) {
        if (op->hash_failed) log_error("req=%s msg=\"password hashing failed\"", op->r->id);
        reply_error(op, API_E_UNAVAILABLE);
        return;
    }
    unsigned char raw[CHAT_USER_ID_LEN / 2];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(op->user.id, sizeof(op->user.id), raw, sizeof(raw));
    if (store_user_create(op->r->srv->store, &op->user, on_user_created, op) < 0)
        reply_error(op, API_E_UNAVAILABLE);
}

/* Queues op's password work (routes_submit_hashing). */
static void submit_hashing(struct user_op *op, workers_work_fn *work, workers_done_fn *done) {
    api_error e = routes_submit_hashing(op->r, work, done, op);
    if (e != API_E_OK) reply_error(op, e);
}

static void on_register_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct user_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        user_op_free(op);
    } else {
        submit_hashing(op, hash_password, on_password_hashed);
    }
}

void route_user_register(struct request *r) {
    json_t *body;
    api_error e = http_body_json(r, &body);
    if (e != API_E_OK) {
        http_reply_error(r, e, NULL);
        return;
    }
    struct registration_body rb;
    e = request_body_registration(body, &rb);
    struct user_op *op = e == API_E_OK ? user_op_new(r, rb.password, rb.password_len) : NULL;
    json_decref(body);
    if (e != API_E_OK || !op) {
        http_reply_error(r, e != API_E_OK ? e : API_E_INTERNAL, NULL);
        return;
    }
    op->registering = true;
    memcpy(op->user.email, rb.email, sizeof(op->user.email));
    memcpy(op->user.name, rb.name, sizeof(op->user.name));
    http_client_address(r, op->address);
    struct rate_check check = {RATE_REGISTER_ADDRESS, op->address};
    if (ratelimit_check(&r->srv->limits, &check, 1, on_register_allowed, op) < 0)
        reply_error(op, API_E_INTERNAL);
}

/* ---- PUT /user/ ---- */

static void verify_password(void *arg) {
    struct user_op *op = arg;
    const char *hash = op->user_found ? op->user.pwhash : op->r->srv->dummy_hash;
    bool ok = crypto_pwhash_str_verify(hash, op->password, op->password_len) == 0;
    op->password_ok = ok && op->user_found;
    sodium_memzero(op->password, op->password_len);
}

static void on_password_verified(void *arg, bool cancelled) {
    struct user_op *op = arg;
    if (cancelled) reply_error(op, API_E_UNAVAILABLE);
    else if (!op->password_ok) reply_error(op, API_E_BAD_CREDENTIALS);
    else if (op->user.locked) reply_error(op, API_E_ACCOUNT_LOCKED); /* told to its owner only */
    else start_session(op);
}

static void verify_in_worker(struct user_op *op) {
    submit_hashing(op, verify_password, on_password_verified);
}

static void on_user_found(enum store_status st, const struct store_user *u, void *arg) {
    struct user_op *op = arg;
    if (st == STORE_OK) {
        op->user = *u;
        op->user_found = true;
    } else if (st != STORE_NOT_FOUND) {
        reply_error(op, API_E_UNAVAILABLE);
        return;
    }
    verify_in_worker(op); /* also for unknown users: same time, same answer */
}

static void on_login_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct user_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        user_op_free(op);
    } else if (!op->plausible) {
        /* cannot be registered, as anyone can tell from the rules: no hash
         * to hide behind, and none to spend */
        reply_error(op, API_E_BAD_CREDENTIALS);
    } else if (store_user_get(op->r->srv->store, op->user.email, on_user_found, op) < 0) {
        reply_error(op, API_E_UNAVAILABLE);
    }
}

/* An address that logged in to the account before has an allowance of its
 * own under the per-e-mail limit, so that wrong passwords sent from
 * elsewhere cannot lock the owner out; others share the e-mail's. A failed
 * lookup counts the address with the others. */
static void known_address_checked(enum store_status st, bool known, void *arg) {
    struct user_op *op = arg;
    const char *subject = op->user.email;
    if (st == STORE_OK && known) {
        snprintf(op->known_subject, sizeof(op->known_subject), "%s:%s", op->user.email,
                 op->address);
        subject = op->known_subject;
    }
    struct rate_check checks[] = {{RATE_LOGIN_ADDRESS, op->address},
                                  {RATE_LOGIN_EMAIL, subject},
                                  {RATE_LOGIN_GLOBAL, "all"}};
    if (ratelimit_check(&op->r->srv->limits, checks, 3, on_login_allowed, op) < 0)
        reply_error(op, API_E_INTERNAL);
}

void route_user_login(struct request *r) {
    json_t *body;
    api_error e = http_body_json(r, &body);
    if (e != API_E_OK) {
        http_reply_error(r, e, NULL);
        return;
    }
    struct login_body lb;
    e = request_body_login(body, &lb);
    if (e != API_E_OK) {
        json_decref(body);
        http_reply_error(r, e, NULL);
        return;
    }
    bool plausible = lb.plausible;
    struct user_op *op = user_op_new(r, lb.password, plausible ? lb.password_len : 0);
    json_decref(body);
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->plausible = plausible;
    if (plausible) memcpy(op->user.email, lb.email, sizeof(op->user.email));
    http_client_address(r, op->address);
    if (!plausible) {
        struct rate_check check = {RATE_LOGIN_ADDRESS, op->address};
        if (ratelimit_check(&r->srv->limits, &check, 1, on_login_allowed, op) < 0)
            reply_error(op, API_E_INTERNAL);
    } else if (!ratelimit_enabled(&r->srv->limits, RATE_LOGIN_EMAIL)) {
        known_address_checked(STORE_OK, false, op);
    } else if (store_login_known(r->srv->store, op->user.email, op->address,
                                 known_address_checked, op) < 0) {
        known_address_checked(STORE_UNAVAILABLE, false, op);
    }
}

/* ---- DELETE /user/session ---- */

static void on_session_deleted(enum store_status st, void *arg) {
    struct request *r = arg;
    if (st == STORE_NOT_FOUND) {
        http_reply_error(r, API_E_UNAUTHORIZED, NULL);
    } else if (st != STORE_OK) {
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
    } else {
        clear_session_cookies(r);
        http_reply_empty(r, 204);
    }
}

void route_user_logout(struct request *r) {
    char hash[TOKEN_HASH_LEN + 1];
    if (!routes_session_hash_or_401(r, hash)) return;
    if (store_session_delete(r->srv->store, hash, on_session_deleted, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

/* ---- GET /user/ ---- */

static void on_me(enum store_status st, const struct session_user *u, void *arg) {
    struct request *r = arg;
    if (st == STORE_NOT_FOUND) {
        http_reply_error(r, API_E_UNAUTHORIZED, NULL);
    } else if (st != STORE_OK) {
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
    } else {
        json_t *body = json_pack("{s:s, s:s, s:s}", "id", u->id, "email",
                                 routes_public_email(u->email), "name", u->name);
        if (body) routes_user_mark_admin(r, body, u->email);
        http_reply_json(r, 200, body);
    }
}

void route_user_me(struct request *r) {
    char hash[TOKEN_HASH_LEN + 1];
    if (!routes_session_hash_or_401(r, hash)) return;
    if (store_session_get(r->srv->store, hash, r->srv->cfg.session_ttl, on_me, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

void routes_user_clear_cookies(struct request *r) { clear_session_cookies(r); }
