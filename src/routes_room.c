/*
 * routes_room: the room list. GET /room/ lists the rooms a page at a time
 * (lobby always first on the first page, the others by name; ?after= the
 * last name of the previous page, ?limit=); POST /room/ {"name"} creates
 * one (a session is needed; limited per user and per client address, and
 * capped per user). Each room's messages live at /room/<name>/message/, in
 * a stream of its own hash slot, so rooms spread over the cluster's
 * masters; only rooms created here take messages and streams.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_addr.h"
#include "http.h"
#include "json.h"
#include "jwt_verify.h"
#include "ratelimit.h"
#include "request_body.h"
#include "request_query.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "token.h"
#include "validate.h"

struct list_op {
    struct request *r;
    struct rooms_query q;
};

static void on_list(enum store_status st, const char *const *names, size_t n, void *arg) {
    struct list_op *op = arg;
    struct request *r = op->r;
    json_t *list = st == STORE_OK ? json_array() : NULL;
    if (!list) {
        http_reply_error(r, routes_store_error(st == STORE_OK ? STORE_ERROR : st), NULL);
        free(op);
        return;
    }
    if (!op->q.after[0]) json_array_append_new(list, json_pack("{s:s}", "name", STORE_ROOM_LOBBY));
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], STORE_ROOM_LOBBY) != 0)
            json_array_append_new(list, json_pack("{s:s}", "name", names[i]));
    if (n == (size_t)op->q.limit) http_add_header(r, "X-Next-After", names[n - 1]);
    http_reply_json(r, 200, list);
    free(op);
}

void route_room_list(struct request *r) {
    struct list_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    const char *invalid = request_query_rooms(&r->query, &op->q);
    if (invalid) {
        http_reply_error(r, API_E_INVALID_QUERY, invalid);
        free(op);
        return;
    }
    if (store_room_list(r->srv->store, op->q.after[0] ? op->q.after : NULL, op->q.limit, on_list,
                        op) < 0) {
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
        free(op);
    }
}

/* POST /room/: the session, the limits, the user's count of rooms, then
 * the name goes into the list. */
struct create_op {
    struct request *r;
    char name[CHAT_ROOM_MAX + 1];
    char address[CLIENT_ADDR_MAX]; /* the client's, for the per-address limit */
    struct session_user user;      /* the creator */
    bool counted;                  /* the user's room count includes this room */
};

static void create_done(struct create_op *op, api_error e) {
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    free(op);
}

static void on_uncounted(enum store_status st, long long count, void *arg) {
    (void)st, (void)count, (void)arg; /* a count left too high only lowers the cap */
}

/* Takes the room back out of the user's count (it was not created). */
static void uncount(struct create_op *op) {
    if (op->counted) store_user_rooms_add(op->r->srv->store, op->user.id, -1, on_uncounted, NULL);
    op->counted = false;
}

static void on_added(enum store_status st, void *arg) {
    struct create_op *op = arg;
    if (st != STORE_OK) uncount(op);
    if (st == STORE_OK || st == STORE_EXISTS) {
        http_reply_json(op->r, st == STORE_OK ? 201 : 200, json_pack("{s:s}", "name", op->name));
        create_done(op, API_E_OK);
    } else {
        create_done(op, routes_store_error(st));
    }
}

static void add_room(struct create_op *op) {
    if (store_room_add(op->r->srv->store, op->name, on_added, op) < 0) {
        uncount(op);
        create_done(op, API_E_UNAVAILABLE);
    }
}

static void on_counted(enum store_status st, long long count, void *arg) {
    struct create_op *op = arg;
    if (st != STORE_OK) {
        create_done(op, routes_store_error(st));
        return;
    }
    op->counted = true;
    if (count > op->r->srv->cfg.max_rooms_per_user) {
        uncount(op);
        create_done(op, API_E_TOO_MANY_ROOMS);
        return;
    }
    add_room(op);
}

static void on_create_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct create_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        create_done(op, API_E_OK);
        return;
    }
    if (op->r->srv->cfg.max_rooms_per_user == 0) {
        add_room(op);
        return;
    }
    if (store_user_rooms_add(op->r->srv->store, op->user.id, 1, on_counted, op) < 0)
        create_done(op, API_E_UNAVAILABLE);
}

static void on_session(enum store_status st, const struct session_user *u, void *arg) {
    struct create_op *op = arg;
    if (st != STORE_OK) {
        create_done(op, st == STORE_NOT_FOUND ? API_E_UNAUTHORIZED : API_E_UNAVAILABLE);
        return;
    }
    if (!jwt_rooms_allow(u, op->name)) { /* a token's rooms claim names the rooms it may use */
        create_done(op, API_E_ROOM_NOT_ALLOWED);
        return;
    }
    op->user = *u;
    struct rate_check checks[] = {{RATE_ROOMS_USER, op->user.id},
                                  {RATE_ROOMS_ADDRESS, op->address}};
    if (ratelimit_check(&op->r->srv->limits, checks, 2, on_create_allowed, op) < 0)
        create_done(op, API_E_INTERNAL);
}

void route_room_create(struct request *r) {
    char hash[TOKEN_HASH_LEN + 1];
    if (!routes_session_hash_or_401(r, hash)) return;
    json_t *body = NULL; /* set only when the body parses */
    char name[CHAT_ROOM_MAX + 1];
    api_error e = http_body_json(r, &body);
    if (e == API_E_OK) e = request_body_room(body, name);
    struct create_op *op = e == API_E_OK ? calloc(1, sizeof(*op)) : NULL;
    if (op) memcpy(op->name, name, sizeof(name));
    json_decref(body);
    if (!op) {
        http_reply_error(r, e != API_E_OK ? e : API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    http_client_address(r, op->address);
    if (store_session_get(r->srv->store, hash, r->srv->cfg.session_ttl, on_session, op) < 0)
        create_done(op, API_E_UNAVAILABLE);
}
