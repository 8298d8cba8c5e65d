/*
 * routes_token: POST /user/token, the exchange of an application's signed
 * token (JWT) for a session. The token comes in the body ({"token": ...})
 * or as "Authorization: Bearer <jwt>" on this route only; it is checked
 * (jwt_verify), its jti (when it has one) is recorded so that it is
 * exchanged once, its user is created or renamed (store_token_user_upsert)
 * and a session is made that ends with the token: the same reply and
 * cookie as PUT /user/. The token itself is never stored or logged.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "http.h"
#include "jwt_verify.h"
#include "log.h"
#include "ratelimit.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "token.h"

/* One exchange, from the request to the reply. */
struct token_op {
    struct request *r;               /* the request to answer */
    char *jwt;                       /* a copy of the token, until it is verified */
    size_t jwt_len;
    struct jwt_identity id;          /* what the token says */
    struct session_user user;        /* the session to make */
    char session[TOKEN_LEN + 1];     /* the new session's token */
    char address[CLIENT_ADDR_MAX];   /* the client, as the limits count it */
};

static void token_op_free(struct token_op *op) {
    if (op->jwt) {
        sodium_memzero(op->jwt, op->jwt_len);
        free(op->jwt);
    }
    sodium_memzero(op->session, sizeof(op->session));
    free(op);
}

static void reply_error(struct token_op *op, api_error e, const char *message) {
    http_reply_error(op->r, e, message);
    token_op_free(op);
}

static long long now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- the session ---- */

static void on_session_created(enum store_status st, void *arg) {
    struct token_op *op = arg;
    if (st != STORE_OK) {
        reply_error(op, st == STORE_FULL ? API_E_STORAGE_FULL : API_E_UNAVAILABLE, NULL);
        return;
    }
    long long left_s = (op->user.expires_ms - now_ms() + 999) / 1000;
    routes_add_session_cookie(op->r, op->session, left_s > 0 ? (int)left_s : 1);
    json_t *body = json_pack("{s:s, s:s, s:s, s:I}", "id", op->user.id, "email", "", "name",
                             op->user.name, "expires", (json_int_t)op->user.expires_ms);
    if (!body) {
        reply_error(op, API_E_INTERNAL, NULL);
        return;
    }
    http_reply_json(op->r, 200, body);
    token_op_free(op);
}

/* The session ends at the token's exp, or sooner by --jwt-session-max and
 * --session-ttl; its Redis TTL is what is left of that. */
static void create_session(struct token_op *op) {
    const struct config *cfg = &op->r->srv->cfg;
    long long now = now_ms(), end = op->id.exp * 1000;
    long long cap_s = cfg->jwt_session_max > 0 && cfg->jwt_session_max < cfg->session_ttl
                          ? cfg->jwt_session_max
                          : cfg->session_ttl;
    if (end > now + cap_s * 1000) end = now + cap_s * 1000;
    if (end <= now) end = now + 1000; /* exp within the leeway: a second */
    op->user.expires_ms = end;
    op->user.rooms_limited = op->id.rooms_limited;
    memcpy(op->user.rooms, op->id.rooms, sizeof(op->user.rooms));
    char hash[TOKEN_HASH_LEN + 1];
    token_generate(op->session);
    token_hash(op->session, hash);
    int ttl = (int)((end - now + 999) / 1000);
    if (store_session_create(op->r->srv->store, hash, &op->user, ttl, on_session_created, op) < 0)
        reply_error(op, API_E_UNAVAILABLE, NULL);
}

/* ---- the user ---- */

/* Whatever Redis says: the session goes on (a user missing from the
 * index is only not found by id). */
static void on_id_indexed(enum store_status st, void *arg) {
    (void)st;
    create_session(arg);
}

/* Every exchange records the user's id, as every login does
 * (routes_user.c), so that invitations and direct conversations find
 * token users by id (user-id:<id> names the account's handle). */
static void index_user_id(struct token_op *op) {
    if (store_user_id_index(op->r->srv->store, op->user.id, op->user.email, on_id_indexed, op) <
        0)
        create_session(op);
}

static void on_user_stored(enum store_status st, const struct store_user *u, void *arg) {
    struct token_op *op = arg;
    if (st != STORE_OK) {
        reply_error(op, st == STORE_FULL ? API_E_STORAGE_FULL : routes_store_error(st), NULL);
        return;
    }
    if (u->locked) {
        reply_error(op, API_E_ACCOUNT_LOCKED, NULL);
        return;
    }
    memcpy(op->user.id, u->id, sizeof(op->user.id));
    op->user.password_version = u->password_version;
    index_user_id(op);
}

static void store_user(struct token_op *op) {
    struct store_user u = {.password_version = 0};
    unsigned char raw[CHAT_USER_ID_LEN / 2];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(u.id, sizeof(u.id), raw, sizeof(raw)); /* used only when it is new */
    jwt_account_handle(op->id.issuer, op->id.subject, u.email);
    memcpy(u.name, op->id.name, sizeof(u.name));
    memcpy(op->user.email, u.email, sizeof(op->user.email));
    memcpy(op->user.name, u.name, sizeof(op->user.name));
    if (store_token_user_upsert(op->r->srv->store, &u, op->id.issuer, op->id.subject,
                                on_user_stored, op) < 0)
        reply_error(op, API_E_UNAVAILABLE, NULL);
}

/* ---- the token ---- */

static void on_token_recorded(enum store_status st, void *arg) {
    struct token_op *op = arg;
    if (st == STORE_EXISTS) reply_error(op, API_E_INVALID_TOKEN, "the token was exchanged before");
    else if (st != STORE_OK) reply_error(op, routes_store_error(st), NULL);
    else store_user(op);
}

/* A token with a jti is exchanged once: its id is kept until it expires. */
static void record_token_id(struct token_op *op) {
    char text[JWT_ISSUER_MAX + JWT_ID_MAX + 2], hash[TOKEN_HASH_LEN + 1];
    snprintf(text, sizeof(text), "%s\n%s", op->id.issuer, op->id.jti);
    token_hash(text, hash);
    long long until = op->id.exp + op->r->srv->cfg.jwt_leeway;
    if (store_token_use_once(op->r->srv->store, hash, until, on_token_recorded, op) < 0)
        reply_error(op, API_E_UNAVAILABLE, NULL);
}

static void verify(struct token_op *op) {
    const struct config *cfg = &op->r->srv->cfg;
    struct jwt_policy policy = {cfg->jwt_issuer, cfg->jwt_audience, cfg->jwt_leeway};
    enum jwt_status st = jwt_verify(op->r->srv->jwt_keys, &policy, op->jwt, op->jwt_len,
                                    now_ms() / 1000, &op->id);
    sodium_memzero(op->jwt, op->jwt_len);
    if (st != JWT_OK) {
        log_info("req=%s msg=\"token refused\" reason=\"%s\"", op->r->id, jwt_status_reason(st));
        reply_error(op, API_E_INVALID_TOKEN, jwt_status_reason(st));
    } else if (op->id.jti[0]) {
        record_token_id(op);
    } else {
        store_user(op);
    }
}

static void on_exchange_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct token_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        token_op_free(op);
    } else {
        verify(op);
    }
}

/* ---- the request ---- */

/* The token of "Authorization: Bearer <jwt>", or NULL. */
static const char *bearer_of(struct request *r, size_t *len) {
    const char *h = http_known_header(r, HTTP_H_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
    h += 7;
    while (*h == ' ') h++;
    *len = strlen(h);
    while (*len && h[*len - 1] == ' ') (*len)--;
    return h;
}

/* Copies the token of the header or of the body into op; the error to
 * answer when there is none. */
static api_error take_token(struct request *r, struct token_op *op, const char **message) {
    size_t len = 0;
    const char *jwt = bearer_of(r, &len);
    json_t *body = NULL;
    if (!jwt) {
        api_error e = http_body_json(r, &body);
        if (e != API_E_OK) return e;
        json_t *t = json_object_get(body, "token");
        jwt = json_string_value(t);
        len = jwt ? json_string_length(t) : 0;
        if (!jwt) *message = "The body must be {\"token\": \"<JWT>\"}.";
    }
    api_error e = jwt ? API_E_OK : API_E_BAD_REQUEST;
    if (jwt && !(op->jwt = malloc(len + 1))) e = API_E_INTERNAL;
    if (e == API_E_OK) {
        memcpy(op->jwt, jwt, len);
        op->jwt[len] = '\0';
        op->jwt_len = len;
    }
    json_decref(body);
    return e;
}

void route_user_token(struct request *r) {
    if (!r->srv->jwt_keys) {
        http_reply_error(r, API_E_TOKEN_LOGIN_OFF, NULL);
        return;
    }
    struct token_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    const char *message = NULL;
    api_error e = take_token(r, op, &message);
    if (e != API_E_OK) {
        reply_error(op, e, message);
        return;
    }
    http_client_address(r, op->address);
    struct rate_check check = {RATE_LOGIN_ADDRESS, op->address};
    if (ratelimit_check(&r->srv->limits, &check, 1, on_exchange_allowed, op) < 0)
        reply_error(op, API_E_INTERNAL, NULL);
}
