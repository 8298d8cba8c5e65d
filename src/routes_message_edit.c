/*
 * routes_message_edit: an author edits their own message,
 * PATCH /room/<name>/message/?id=<message id> {"text"} (/room/lobby/message/
 * for the lobby). History pages answer the latest text with an "edited"
 * time, live streams and resumes get an "edited" event (docs/API.md,
 * "Edits"). Only the author may, and never once the message is removed.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "member_rules.h"
#include "ratelimit.h"
#include "request_body.h"
#include "room_access.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "webhooks.h"

struct edit_op {
    struct request *r;
    const char *room;                      /* points into the request */
    char id[CHAT_STREAM_ID_MAX + 1];       /* the message to edit */
    json_t *body;                          /* the parsed body (owns text), or NULL */
    struct message_body text;              /* the new text */
    long long timestamp;                   /* when the edit was received */
    struct session_user user;              /* the author, once the access check passed */
};

static void edit_done(struct edit_op *op, api_error e, const char *detail) {
    if (e != API_E_OK) http_reply_error(op->r, e, detail);
    json_decref(op->body);
    free(op);
}

/* Answers 200 once the edit's event is queued. */
static void reply_edited(struct edit_op *op, const char *event_id) {
    json_t *data = NULL;
    if (routes_event_wanted(op->r, WEBHOOK_MESSAGE_EDITED))
        data = json_pack("{s:s,s:s,s:s,s:s%,s:I,s:s,s:s}", "room", op->room, "id", op->id,
                         "eventId", event_id, "text", op->text.text, op->text.text_len, "edited",
                         (json_int_t)op->timestamp, "userId", op->user.id, "name",
                         op->user.name);
    struct webhooks_event ev = {WEBHOOK_MESSAGE_EDITED, op->room, event_id, op->timestamp, data};
    routes_reply_with_event(op->r, 200,
                            json_pack("{s:s,s:s,s:s,s:I}", "room", op->room, "id", op->id,
                                      "eventId", event_id, "edited", (json_int_t)op->timestamp),
                            &ev);
    json_decref(data);
}

static void on_edited(enum store_status st, enum store_change outcome, const char *event_id,
                      void *arg) {
    struct edit_op *op = arg;
    if (st == STORE_NOT_FOUND) edit_done(op, API_E_NOT_FOUND, NULL);
    else if (st != STORE_OK) edit_done(op, routes_store_error(st), NULL);
    else if (outcome == STORE_CHANGE_NOT_A_MESSAGE) edit_done(op, API_E_NOT_A_MESSAGE, NULL);
    else if (outcome != STORE_CHANGE_DONE)
        edit_done(op, API_E_FORBIDDEN, "Only its author may edit a message.");
    else {
        reply_edited(op, event_id);
        edit_done(op, API_E_OK, NULL);
    }
}

/* Within --limit-edits-user: the edit goes to the store. */
static void on_edit_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct edit_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        edit_done(op, API_E_OK, NULL);
        return;
    }
    struct store_message_edit m = {.room = op->room, .message_id = op->id,
                                   .author_id = op->user.id, .author_name = op->user.name,
                                   .text = op->text.text, .text_len = op->text.text_len,
                                   .timestamp = op->timestamp};
    if (store_message_edit(op->r->srv->store, &m, on_edited, op) < 0)
        edit_done(op, API_E_UNAVAILABLE, NULL);
}

static void on_access(const struct room_access *a, void *arg) {
    struct edit_op *op = arg;
    api_error e = a->error;
    if (e == API_E_OK) e = member_rules_send_error(a->kind, room_access_effective(a));
    if (e != API_E_OK) {
        edit_done(op, e, NULL);
        return;
    }
    op->user = a->user;
    struct rate_check check = {RATE_EDITS_USER, op->user.id};
    if (ratelimit_check(&op->r->srv->limits, &check, 1, on_edit_allowed, op) < 0)
        edit_done(op, API_E_INTERNAL, NULL);
}

void route_message_edit(struct request *r) {
    char hash[TOKEN_HASH_LEN + 1], id[CHAT_STREAM_ID_MAX + 1];
    const char *room;
    if (!routes_message_target_or_4xx(r, &room, hash, id)) return;
    struct edit_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    *op = (struct edit_op){.r = r, .room = room, .timestamp = http_received_ms(r)};
    memcpy(op->id, id, sizeof(op->id));
    const char *body;
    size_t len;
    api_error e = http_body_raw(r, &body, &len);
    if (e == API_E_OK) {
        char no_id[CHAT_CLIENT_MSG_ID_MAX + 1]; /* an edit takes no client message id */
        e = request_body_message_raw(body, len, NULL, &op->text, no_id, &op->body);
    }
    if (e != API_E_OK) edit_done(op, e, NULL);
    else if (room_access_check(r->srv, room, ROOM_ACCESS_MEMBER, hash, NULL, on_access, op) < 0)
        edit_done(op, API_E_UNAVAILABLE, NULL);
}
