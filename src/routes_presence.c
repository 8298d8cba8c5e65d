/*
 * routes_presence: the ephemeral state of a room (docs/API.md, "Typing and
 * presence"). POST /room/<name>/typing says "I am typing" (or, with
 * {"stopped": true}, "I stopped") to the room's other subscribers on every
 * chatd, as a signal that never enters the room's stream; whoever may send
 * to the room may, within --limit-typing-user. GET /room/<name>/presence
 * gives how many users are online in the room and a page of them, to
 * whoever may read it; GET /api/v1/room/<name>/presence gives the same to
 * the server API, in any room. The lobby has neither.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "jwt_verify.h"
#include "ratelimit.h"
#include "room_access.h"
#include "routes.h"
#include "server.h"
#include "ephemeral.h"
#include "store_presence.h"
#include "validate.h"

#define PRESENCE_LIMIT_DEFAULT 100
#define PRESENCE_LIMIT_MAX 1000

struct typing_op {
    struct request *r;
    const char *room;  /* points into the request */
    bool stopped;      /* {"stopped": true} */
    char *payload;     /* the signal, made once the user is known */
};

static void typing_done(struct typing_op *op, api_error e) {
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    free(op->payload);
    free(op);
}

static void on_published(enum store_status st, void *arg) {
    struct typing_op *op = arg;
    if (st != STORE_OK) {
        typing_done(op, routes_store_error(st));
        return;
    }
    http_reply_empty(op->r, 204);
    typing_done(op, API_E_OK);
}

static void on_typing_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct typing_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        typing_done(op, API_E_OK);
        return;
    }
    if (store_signal_publish(op->r->srv->store, op->room, op->payload, strlen(op->payload),
                             on_published, op) < 0)
        typing_done(op, API_E_UNAVAILABLE);
}

/* "typing {"room","userId","name","expiresIn"[,"stopped"]}" */
static char *typing_payload(const char *room, const struct session_user *u, bool stopped) {
    json_t *sig = json_pack("{s:s,s:s,s:s,s:i}", "room", room, "userId", u->id, "name", u->name,
                            "expiresIn", EPHEMERAL_TYPING_EXPIRES_MS);
    if (sig && stopped) json_object_set_new(sig, "stopped", json_true());
    char *data = sig ? json_dumps(sig, JSON_COMPACT) : NULL;
    json_decref(sig);
    char *payload = NULL;
    if (data && asprintf(&payload, "%s %s", ephemeral_kind_name(EPHEMERAL_TYPING), data) < 0)
        payload = NULL;
    free(data);
    return payload;
}

static void on_typing_access(const struct room_access *a, void *arg) {
    struct typing_op *op = arg;
    api_error e = a->error;
    if (e == API_E_OK && !jwt_rooms_allow(&a->user, op->room)) e = API_E_ROOM_NOT_ALLOWED;
    if (e == API_E_OK && !(op->payload = typing_payload(op->room, &a->user, op->stopped)))
        e = API_E_INTERNAL;
    if (e != API_E_OK) {
        typing_done(op, e);
        return;
    }
    struct rate_check check = {RATE_TYPING_USER, a->user.id};
    if (!ratelimit_enabled(&op->r->srv->limits, RATE_TYPING_USER))
        on_typing_allowed(RATE_ALLOWED, 0, op);
    else if (ratelimit_check(&op->r->srv->limits, &check, 1, on_typing_allowed, op) < 0)
        typing_done(op, API_E_INTERNAL);
}

/* The body: none, or {"stopped": <bool>}. */
static api_error read_stopped(struct request *r, bool *stopped) {
    const char *body;
    size_t len;
    api_error e = http_body_raw(r, &body, &len);
    if (e != API_E_OK || len == 0) return e;
    json_t *j = json_loadb(body, len, 0, NULL);
    json_t *v = json_object_get(j, "stopped");
    e = !json_is_object(j) ? API_E_BAD_JSON
        : v && !json_is_boolean(v) ? API_E_BAD_REQUEST
        : API_E_OK;
    *stopped = json_is_true(v);
    json_decref(j);
    return e;
}

bool routes_wants_signals(struct request *r) {
    const char *v = http_query(r, "signals");
    return v && strcmp(v, "1") == 0;
}

/* The room of a typing or presence route: 400 for a bad name, 404 for the
 * lobby (it has neither). */
static const char *ephemeral_room_or_4xx(struct request *r) {
    const char *room = routes_room_or_400(r);
    if (room && routes_room_is_lobby(room)) {
        http_reply_error(r, API_E_NOT_FOUND, "The lobby has no typing signals or presence.");
        return NULL;
    }
    return room;
}

void route_room_typing(struct request *r) {
    char hash[TOKEN_HASH_LEN + 1];
    const char *room = ephemeral_room_or_4xx(r);
    if (!room || !routes_session_hash_or_401(r, hash)) return;
    bool stopped = false;
    api_error e = read_stopped(r, &stopped);
    struct typing_op *op = e == API_E_OK ? calloc(1, sizeof(*op)) : NULL;
    if (!op) {
        http_reply_error(r, e == API_E_OK ? API_E_INTERNAL : e, NULL);
        return;
    }
    *op = (struct typing_op){.r = r, .room = room, .stopped = stopped};
    if (room_access_check(r->srv, room, ROOM_ACCESS_SEND, hash, NULL, on_typing_access, op) < 0)
        typing_done(op, API_E_UNAVAILABLE);
}

/* ---- GET /room/<name>/presence?limit=&after= ---- */

struct presence_op {
    struct request *r;
    const char *room;
    char after[CHAT_USER_ID_LEN + 1]; /* the last id of the page before, "" for none */
    int limit;
};

static void on_page(enum store_status st, const struct store_presence_page *p, void *arg) {
    struct presence_op *op = arg;
    if (st != STORE_OK) {
        http_reply_error(op->r, routes_store_error(st), NULL);
        free(op);
        return;
    }
    json_t *users = json_array();
    for (size_t i = 0; users && i < p->npairs; i++)
        json_array_append_new(users, json_pack("{s:s,s:s}", "userId", p->pairs[2 * i], "name",
                                               p->pairs[2 * i + 1]));
    bool full = p->npairs == (size_t)op->limit;
    json_t *next = full ? json_string(p->pairs[2 * (p->npairs - 1)]) : json_null();
    http_reply_json(op->r, 200, json_pack("{s:s,s:I,s:o,s:o}", "room", op->room, "count",
                                          (json_int_t)p->count, "users", users, "next", next));
    free(op);
}

static void read_page(struct presence_op *op) {
    if (store_presence_read(op->r->srv->store, op->room, op->after, op->limit, on_page, op) < 0) {
        http_reply_error(op->r, API_E_UNAVAILABLE, NULL);
        free(op);
    }
}

static void on_presence_access(const struct room_access *a, void *arg) {
    struct presence_op *op = arg;
    if (a->error != API_E_OK) {
        http_reply_error(op->r, a->error, NULL);
        free(op);
    } else {
        read_page(op);
    }
}

/* ?limit= (1..PRESENCE_LIMIT_MAX) and ?after= (a page's "next"); -1 when
 * one is malformed. */
static int read_page_query(struct request *r, struct presence_op *op) {
    const char *limit = http_query(r, "limit"), *after = http_query(r, "after");
    op->limit = PRESENCE_LIMIT_DEFAULT;
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (!*limit || *end || v < 1 || v > PRESENCE_LIMIT_MAX) return -1;
        op->limit = (int)v;
    }
    if (!after) return 0;
    size_t len = strlen(after);
    if (!validate_user_id(after, len)) return -1;
    memcpy(op->after, after, len + 1);
    return 0;
}

/* The room and page of a presence read, or NULL once the error is
 * answered. */
static struct presence_op *presence_op_new(struct request *r) {
    const char *room = ephemeral_room_or_4xx(r);
    if (!room) return NULL;
    struct presence_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return NULL;
    }
    op->r = r;
    op->room = room;
    if (read_page_query(r, op) < 0) {
        http_reply_error(r, API_E_INVALID_QUERY,
                         "limit must be 1 to 1000 and after a page's \"next\".");
        free(op);
        return NULL;
    }
    return op;
}

void route_room_presence(struct request *r) {
    struct presence_op *op = presence_op_new(r);
    if (!op) return;
    char hash[TOKEN_HASH_LEN + 1];
    bool has_session = room_access_session_hash(r, hash);
    if (room_access_check(r->srv, op->room, ROOM_ACCESS_READ, has_session ? hash : NULL, NULL,
                          on_presence_access, op) < 0) {
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
        free(op);
    }
}

/* ---- GET /api/v1/room/<name>/presence: the same page for the server API,
 * in any room that exists (the key stands for the application) ---- */

static void on_api_room(enum store_status st, const struct store_access *a, void *arg) {
    (void)a;
    struct presence_op *op = arg;
    if (st != STORE_OK) {
        http_reply_error(op->r, routes_room_error(st), NULL);
        free(op);
    } else {
        read_page(op);
    }
}

static void api_presence(struct request *r, const char *key_id) {
    (void)key_id;
    struct presence_op *op = presence_op_new(r);
    if (op && store_room_access(r->srv->store, op->room, NULL, NULL, on_api_room, op) < 0) {
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
        free(op);
    }
}

void route_api_room_presence(struct request *r) { routes_api_call(r, api_presence); }
