/*
 * routes_reaction: a user reacts to a message with an emoji, or takes the
 * reaction back: PUT and DELETE /room/<name>/message/reaction?id=<message
 * id> {"emoji"} (/room/lobby/... for the lobby). One reaction per user,
 * emoji and message; both are idempotent (a repeat answers 200 with
 * "changed": false and records nothing). Whoever may send to the room may
 * react (room_access); live streams get a "reaction" event and history
 * pages the counts (docs/API.md, "Reactions").
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "emoji.h"
#include "http.h"
#include "member_rules.h"
#include "ratelimit.h"
#include "request_body.h"
#include "room_access.h"
#include "routes.h"
#include "server.h"
#include "store.h"

struct reaction_op {
    struct request *r;
    const char *room;                      /* points into the request */
    char id[CHAT_STREAM_ID_MAX + 1];       /* the message reacted to */
    char emoji[CHAT_EMOJI_MAX_BYTES + 1];  /* the reaction */
    bool add;                              /* PUT: add; DELETE: take back */
    struct session_user user;              /* who reacts */
};

static void reaction_done(struct reaction_op *op, api_error e, const char *detail) {
    if (e != API_E_OK) http_reply_error(op->r, e, detail);
    free(op);
}

static void on_reacted(enum store_status st, enum store_change outcome, const char *event_id,
                       void *arg) {
    struct reaction_op *op = arg;
    if (st == STORE_NOT_FOUND)
        reaction_done(op, API_E_NOT_FOUND, "No such message in this room (or it was removed).");
    else if (st != STORE_OK) reaction_done(op, routes_store_error(st), NULL);
    else if (outcome == STORE_CHANGE_NOT_A_MESSAGE) reaction_done(op, API_E_NOT_A_MESSAGE, NULL);
    else if (outcome == STORE_CHANGE_TOO_MANY) reaction_done(op, API_E_TOO_MANY_REACTIONS, NULL);
    else {
        bool changed = outcome == STORE_CHANGE_DONE;
        json_t *reply = json_pack("{s:s,s:s,s:s,s:b}", "room", op->room, "id", op->id, "emoji",
                                  op->emoji, "changed", changed);
        if (reply && changed) json_object_set_new(reply, "eventId", json_string(event_id));
        http_reply_json(op->r, 200, reply);
        reaction_done(op, API_E_OK, NULL);
    }
}

static void on_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct reaction_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        reaction_done(op, API_E_OK, NULL);
        return;
    }
    struct store_reaction m = {.room = op->room, .message_id = op->id, .user_id = op->user.id,
                               .user_name = op->user.name, .emoji = op->emoji, .add = op->add,
                               .timestamp = http_received_ms(op->r)};
    if (store_message_react(op->r->srv->store, &m, on_reacted, op) < 0)
        reaction_done(op, API_E_UNAVAILABLE, NULL);
}

static void on_access(const struct room_access *a, void *arg) {
    struct reaction_op *op = arg;
    api_error e = a->error;
    if (e == API_E_OK) e = member_rules_send_error(a->kind, room_access_effective(a));
    if (e != API_E_OK) {
        reaction_done(op, e, NULL);
        return;
    }
    op->user = a->user;
    struct rate_check check = {RATE_REACTIONS_USER, op->user.id};
    if (ratelimit_check(&op->r->srv->limits, &check, 1, on_allowed, op) < 0)
        reaction_done(op, API_E_INTERNAL, NULL);
}

static void react(struct request *r, bool add) {
    char hash[TOKEN_HASH_LEN + 1], id[CHAT_STREAM_ID_MAX + 1];
    const char *room;
    if (!routes_message_target_or_4xx(r, &room, hash, id)) return;
    struct reaction_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    *op = (struct reaction_op){.r = r, .room = room, .add = add};
    memcpy(op->id, id, sizeof(op->id));
    json_t *body = NULL;
    api_error e = http_body_json(r, &body);
    if (e == API_E_OK) e = request_body_reaction(body, op->emoji);
    json_decref(body);
    if (e != API_E_OK) reaction_done(op, e, NULL);
    else if (room_access_check(r->srv, room, ROOM_ACCESS_MEMBER, hash, NULL, on_access, op) < 0)
        reaction_done(op, API_E_UNAVAILABLE, NULL);
}

void route_reaction_add(struct request *r) { react(r, true); }

void route_reaction_remove(struct request *r) { react(r, false); }
