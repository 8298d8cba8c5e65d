/*
 * routes_read: PUT /room/<name>/read {"id"}, the caller's read marker of a
 * room (/room/lobby/read for the lobby). A marker only moves forward: an
 * id not after it is answered 200 with the marker as it stands. The id
 * must be a message id no higher than the room's newest (400
 * marker_ahead beyond it); the room is checked like a read (room_access:
 * a private room is 404 to non-members). When the marker moves, the
 * user's other streams hear of it through the user's own events
 * (docs/API.md, "Read markers").
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "hub.h"
#include "request_body.h"
#include "room_access.h"
#include "routes.h"
#include "server.h"
#include "store.h"

struct read_op {
    struct request *r;
    const char *room;                /* points into the request */
    char id[CHAT_STREAM_ID_MAX + 1]; /* the marker asked for, "<ms>-<seq>" */
    char user_id[CHAT_USER_ID_LEN + 1];
};

static void read_done(struct read_op *op, api_error e) {
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    free(op);
}

static void on_marker(enum store_status st, bool moved, const char *marker, void *arg) {
    struct read_op *op = arg;
    if (st != STORE_OK) {
        read_done(op, routes_store_error(st));
        return;
    }
    http_reply_json(op->r, 200, json_pack("{s:s,s:s,s:b}", "room", op->room, "id", marker,
                                          "moved", moved));
    read_done(op, API_E_OK);
}

/* The room's newest id bounds the marker: a client cannot mark read what
 * was never sent. */
static void on_latest(enum store_status st, const struct message *msgs, size_t n, void *arg) {
    struct read_op *op = arg;
    if (st != STORE_OK) {
        read_done(op, routes_store_error(st));
        return;
    }
    if (hub_id_compare(op->id, n ? msgs[0].id : "0-0") > 0) {
        read_done(op, API_E_MARKER_AHEAD);
        return;
    }
    if (store_marker_set(op->r->srv->store, op->user_id, op->room, op->id, http_received_ms(op->r),
                         on_marker, op) < 0)
        read_done(op, API_E_UNAVAILABLE);
}

static void mark_as(struct read_op *op, const struct session_user *u) {
    memcpy(op->user_id, u->id, sizeof(op->user_id));
    if (store_room_latest(op->r->srv->store, op->room, on_latest, op) < 0)
        read_done(op, API_E_UNAVAILABLE);
}

static void on_access(const struct room_access *a, void *arg) {
    struct read_op *op = arg;
    if (!a->has_user) read_done(op, API_E_UNAUTHORIZED); /* a stale session */
    else if (a->error != API_E_OK) read_done(op, a->error);
    else mark_as(op, &a->user);
}

/* The lobby is public and has no access check: only the session. */
static void on_lobby_session(enum store_status st, const struct session_user *u, void *arg) {
    struct read_op *op = arg;
    if (st == STORE_OK) mark_as(op, u);
    else read_done(op, st == STORE_NOT_FOUND ? API_E_UNAUTHORIZED : routes_store_error(st));
}

void route_room_read(struct request *r) {
    char hash[TOKEN_HASH_LEN + 1];
    const char *room = routes_room_or_400(r);
    if (!room || !routes_session_hash_or_401(r, hash)) return;
    json_t *body = NULL;
    struct read_op *op = calloc(1, sizeof(*op));
    api_error e = op ? http_body_json(r, &body) : API_E_INTERNAL;
    if (e == API_E_OK) e = request_body_marker(body, op->id);
    json_decref(body);
    if (e != API_E_OK) {
        http_reply_error(r, e, NULL);
        free(op);
        return;
    }
    op->r = r;
    op->room = room;
    int rc = routes_room_is_lobby(room)
                 ? store_session_get(r->srv->store, hash, r->srv->cfg.session_ttl,
                                     on_lobby_session, op)
                 : room_access_check(r->srv, room, ROOM_ACCESS_READ, hash, NULL, on_access, op);
    if (rc < 0) read_done(op, API_E_UNAVAILABLE);
}
