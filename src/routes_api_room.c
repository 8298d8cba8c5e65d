/*
 * routes_api_room: rooms through the server API.
 *   POST /api/v1/room  {"name","kind"?,"ownerId"}  creates a public or
 *        private room owned by a user: 201, or 200 when that user's room of
 *        that kind exists already (a retry), else 409 room_taken
 *   GET  /api/v1/room?after=&limit=  the public rooms' names, a page
 *   GET  /api/v1/room/<name>/counts  its stream's entries, members, bans
 *        and users online (GET /api/v1/room/<name>/presence, in
 *        routes_presence.c, lists them)
 * The steps of a creation are those of POST /room/ (routes_room.c): the
 * room's kind and owner in its slot, a public room in the room list, the
 * room in its owner's rooms; a retry completes a step a failure left out.
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "member_rules.h"
#include "request_body.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "validate.h"

#define API_ROOMS_LIMIT_DEFAULT 100
#define API_ROOMS_LIMIT_MAX 1000

/* ---- POST: create ---- */

struct room_op {
    struct request *r;
    char name[CHAT_ROOM_MAX + 1];
    enum room_kind kind;
    char owner_id[CHAT_USER_ID_LEN + 1];
    int status; /* 201 created, 200 there already */
};

static void room_done(struct room_op *op, api_error e) {
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    free(op);
}

static void on_indexed(enum store_status st, void *arg) {
    struct room_op *op = arg;
    if (st != STORE_OK) {
        room_done(op, routes_store_error(st));
        return;
    }
    struct routes_room_report x = {op->name, room_kind_name(op->kind), "system", {op->owner_id},
                                   1};
    routes_reply_room_created(op->r, op->status,
                              json_pack("{s:s,s:s,s:s}", "name", op->name, "kind",
                                        room_kind_name(op->kind), "ownerId", op->owner_id),
                              &x);
    room_done(op, API_E_OK);
}

static void index_owner(struct room_op *op) {
    if (store_user_membership_set(op->r->srv->store, op->owner_id, op->name, op->kind,
                                  ROLE_OWNER, on_indexed, op) < 0)
        room_done(op, API_E_UNAVAILABLE);
}

static void on_listed(enum store_status st, void *arg) {
    struct room_op *op = arg;
    if (st == STORE_OK || st == STORE_EXISTS) index_owner(op);
    else room_done(op, routes_store_error(st));
}

static void on_created(enum store_status st, enum room_kind kind, enum member_role role,
                       void *arg) {
    struct room_op *op = arg;
    if (st != STORE_OK && st != STORE_EXISTS) {
        room_done(op, routes_store_error(st));
        return;
    }
    if (st == STORE_EXISTS && (kind != op->kind || role != ROLE_OWNER)) {
        room_done(op, API_E_ROOM_TAKEN); /* another's room, or another kind */
        return;
    }
    op->status = st == STORE_OK ? 201 : 200;
    if (op->kind != ROOM_PUBLIC) index_owner(op);
    else if (store_room_add(op->r->srv->store, op->name, on_listed, op) < 0)
        room_done(op, API_E_UNAVAILABLE);
}

static void on_owner(enum store_status st, const struct store_user *u, void *arg) {
    struct room_op *op = arg;
    if (st != STORE_OK)
        room_done(op, st == STORE_NOT_FOUND ? API_E_UNKNOWN_USER : routes_store_error(st));
    else if (store_room_create(op->r->srv->store, op->name, op->kind, u->id, u->name, on_created,
                               op) < 0)
        room_done(op, API_E_UNAVAILABLE);
}

static api_error read_room_body(struct request *r, struct room_op *op) {
    json_t *body = NULL;
    const char *owner;
    size_t len;
    api_error e = http_body_json(r, &body);
    if (e == API_E_OK) e = request_body_room(body, op->name, &op->kind);
    if (e == API_E_OK)
        e = json_get_string(body, "ownerId", true, API_E_INVALID_USER_ID, &owner, &len);
    if (e == API_E_OK && !validate_user_id(owner, len)) e = API_E_INVALID_USER_ID;
    if (e == API_E_OK) memcpy(op->owner_id, owner, len + 1);
    json_decref(body);
    return e;
}

static void create(struct request *r, const char *key_id) {
    (void)key_id;
    struct room_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    api_error e = read_room_body(r, op);
    if (e == API_E_OK && routes_room_is_lobby(op->name)) e = API_E_ROOM_TAKEN;
    if (e != API_E_OK) room_done(op, e);
    else if (store_user_get_by_id(r->srv->store, op->owner_id, on_owner, op) < 0)
        room_done(op, API_E_UNAVAILABLE);
}

void route_api_room_create(struct request *r) { routes_api_call(r, create); }

/* ---- GET: the public rooms ---- */

static void on_names(enum store_status st, const char *const *names, size_t n, void *arg) {
    struct request *r = arg;
    json_t *list = st == STORE_OK ? json_array() : NULL;
    for (size_t i = 0; list && i < n; i++) json_array_append_new(list, json_string(names[i]));
    if (!list) {
        http_reply_error(r, st == STORE_OK ? API_E_INTERNAL : routes_store_error(st), NULL);
        return;
    }
    if (n) http_add_header(r, "X-Next-After", names[n - 1]);
    http_reply_json(r, 200, list);
}

static void list_rooms(struct request *r, const char *key_id) {
    (void)key_id;
    const char *after = http_query(r, "after"), *l = http_query(r, "limit");
    long limit = API_ROOMS_LIMIT_DEFAULT;
    char *end = NULL;
    if (l) limit = strtol(l, &end, 10);
    if ((l && (end == l || *end || limit < 1 || limit > API_ROOMS_LIMIT_MAX)) ||
        (after && !validate_room_name(after))) {
        http_reply_error(r, API_E_INVALID_QUERY, "after is a room name, limit 1 to 1000.");
        return;
    }
    if (store_room_list(r->srv->store, after, (int)limit, on_names, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

void route_api_room_list(struct request *r) { routes_api_call(r, list_rooms); }

/* ---- GET /api/v1/room/<name>/counts ---- */

static void on_counts(enum store_status st, const struct store_counts *c, void *arg) {
    struct request *r = arg;
    if (st != STORE_OK) http_reply_error(r, routes_store_error(st), NULL);
    else
        http_reply_json(r, 200, json_pack("{s:s,s:I,s:I,s:I,s:I}", "room", r->param, "entries",
                                          (json_int_t)c->entries, "members",
                                          (json_int_t)c->members, "banned",
                                          (json_int_t)c->banned, "online",
                                          (json_int_t)c->online));
}

static void on_counts_room(enum store_status st, const struct store_access *a, void *arg) {
    (void)a;
    struct request *r = arg;
    if (st != STORE_OK) http_reply_error(r, routes_room_error(st), NULL);
    else if (store_room_counts(r->srv->store, r->param, on_counts, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

static void counts(struct request *r, const char *key_id) {
    (void)key_id;
    if (!routes_room_or_400(r)) return;
    if (store_room_access(r->srv->store, r->param, NULL, NULL, on_counts_room, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

void route_api_room_counts(struct request *r) { routes_api_call(r, counts); }
