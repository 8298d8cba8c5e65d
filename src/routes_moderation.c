/*
 * routes_moderation: a moderator removes a message, or its author deletes
 * it, DELETE /room/<name>/message/?id=<message id> (/room/lobby/message/
 * for the lobby). The message leaves the room's stream (its text is gone
 * from Redis) and a tombstone event takes its place in the order, so
 * history and live streams show "removed by a moderator" or "deleted by
 * its author" (docs/API.md, "Room events"). Owners and moderators of the
 * room may remove any message; anyone who may send there, their own.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "member_rules.h"
#include "room_access.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "validate.h"
#include "webhooks.h"

struct removal_op {
    struct request *r;
    const char *room;                      /* points into the request */
    char id[CHAT_STREAM_ID_MAX + 1];       /* the message to remove */
    bool own;                              /* the caller's own only (not a moderator) */
    char actor_id[CHAT_USER_ID_LEN + 1];   /* who removes it (for the webhook event) */
};

static void removal_done(struct removal_op *op, api_error e) {
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    free(op);
}

static void on_removed(enum store_status st, enum store_change outcome, const char *event_id,
                       void *arg) {
    struct removal_op *op = arg;
    if (st == STORE_NOT_FOUND) removal_done(op, API_E_NOT_FOUND);
    else if (st != STORE_OK) removal_done(op, routes_store_error(st));
    else if (outcome == STORE_CHANGE_NOT_A_MESSAGE) removal_done(op, API_E_NOT_A_MESSAGE);
    else if (outcome != STORE_CHANGE_DONE)
        removal_done(op, op->own ? API_E_FORBIDDEN : API_E_MEMBERSHIP_CHANGED);
    else {
        struct routes_removal_report x = {op->room, op->id, event_id, op->actor_id, op->own};
        routes_reply_message_removed(op->r, &x);
        removal_done(op, API_E_OK);
    }
}

static void on_access(const struct room_access *a, void *arg) {
    struct removal_op *op = arg;
    api_error e = a->error;
    if (e == API_E_OK) e = member_rules_remove_message_error(a->kind, room_access_effective(a));
    if (e == API_E_FORBIDDEN) { /* not a moderator: their own message, if they may send */
        op->own = true;
        e = member_rules_send_error(a->kind, room_access_effective(a));
    }
    if (e != API_E_OK) {
        removal_done(op, e);
        return;
    }
    snprintf(op->actor_id, sizeof(op->actor_id), "%s", a->user.id);
    struct store_message_removal m = {.room = op->room, .message_id = op->id,
                                      .actor_id = a->user.id, .actor_name = a->user.name,
                                      .actor = a->role, .timestamp = http_received_ms(op->r),
                                      .own = op->own};
    if (store_message_remove(op->r->srv->store, &m, on_removed, op) < 0)
        removal_done(op, API_E_UNAVAILABLE);
}

void route_message_remove(struct request *r) {
    char hash[TOKEN_HASH_LEN + 1], id[CHAT_STREAM_ID_MAX + 1];
    const char *room;
    if (!routes_message_target_or_4xx(r, &room, hash, id)) return;
    struct removal_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    op->room = room;
    memcpy(op->id, id, sizeof(op->id));
    if (room_access_check(r->srv, room, ROOM_ACCESS_MEMBER, hash, NULL, on_access, op) < 0)
        removal_done(op, API_E_UNAVAILABLE);
}
