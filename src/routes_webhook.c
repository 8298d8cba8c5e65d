/*
 * routes_webhook: how a route reports its action to the webhooks: the
 * reply waits until the action's event is queued (webhooks.h), so an
 * action acknowledged is an event queued; when the queue fails, the
 * action is done but answered 503 (a retry with the same idempotency key
 * replays it and queues the event again, under the same event id).
 * Without a webhook for the kind, the reply goes at once.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "routes.h"
#include "server.h"
#include "webhooks.h"

/* A reply waiting for its event to be queued. */
struct pending_reply {
    struct request *r;
    int status;
    json_t *body; /* NULL: the reply's body is written already */
};

static void send_reply(struct request *r, int status, json_t *body) {
    if (body)
        http_reply_json(r, status, body);
    else
        http_reply_buffer(r, status, NULL);
}

/* The action is done but its event is not queued: 503, without the body
 * written for the success. */
static void reply_unqueued(struct request *r, json_t *body) {
    struct evbuffer *written = http_reply_body(r);
    evbuffer_drain(written, evbuffer_get_length(written));
    json_decref(body);
    http_reply_error(r, API_E_UNAVAILABLE, "The event of the action could not be queued.");
}

static void on_event_queued(bool queued, void *arg) {
    struct pending_reply *p = arg;
    if (queued)
        send_reply(p->r, p->status, p->body);
    else
        reply_unqueued(p->r, p->body);
    free(p);
}

void routes_reply_with_event(struct request *r, int status, json_t *body,
                             const struct webhooks_event *ev) {
    struct webhooks *w = r->srv->webhooks;
    if (!webhooks_wanted(w, ev->kind)) {
        send_reply(r, status, body);
        return;
    }
    struct pending_reply *p = calloc(1, sizeof(*p));
    if (p) *p = (struct pending_reply){.r = r, .status = status, .body = body};
    if (!p || webhooks_capture(w, ev, on_event_queued, p) < 0) {
        free(p);
        reply_unqueued(r, body);
    }
}

bool routes_event_wanted(const struct request *r, enum webhook_kind kind) {
    return webhooks_wanted(r->srv->webhooks, kind);
}

json_t *routes_message_event_data(const char *room, const struct message *m) {
    return json_pack("{s:s,s:{s:s,s:s,s:s,s:s%,s:I}}", "room", room, "message", "id", m->id,
                     "userId", m->user_id, "name", m->name, "text", m->text, m->text_len,
                     "timestamp", (json_int_t)m->timestamp);
}

void routes_reply_message_created(struct request *r, const char *room, const struct message *m) {
    json_t *data = NULL;
    if (routes_event_wanted(r, WEBHOOK_MESSAGE_CREATED)) data = routes_message_event_data(room, m);
    struct webhooks_event ev = {WEBHOOK_MESSAGE_CREATED, room, m->id, m->timestamp, data};
    routes_reply_with_event(r, 201, NULL, &ev);
    json_decref(data);
}

void routes_reply_message_removed(struct request *r, const struct routes_removal_report *x) {
    json_t *data = NULL;
    if (routes_event_wanted(r, WEBHOOK_MESSAGE_REMOVED))
        data = json_pack("{s:s,s:s,s:s,s:s,s:b}", "room", x->room, "id", x->id, "eventId",
                         x->event_id, "by", x->by, "own", x->own);
    struct webhooks_event ev = {WEBHOOK_MESSAGE_REMOVED, x->room, x->event_id, http_received_ms(r),
                                data};
    routes_reply_with_event(r, 200,
                            json_pack("{s:s,s:s,s:s}", "room", x->room, "id", x->id, "eventId",
                                      x->event_id),
                            &ev);
    json_decref(data);
}

/* The webhook kind of a room event, or -1 for one no webhook reports. */
static int member_event_kind(const char *event) {
    if (!event) return -1;
    if (strcmp(event, "joined") == 0 || strcmp(event, "invited") == 0)
        return WEBHOOK_MEMBER_JOINED;
    if (strcmp(event, "left") == 0 || strcmp(event, "removed") == 0) return WEBHOOK_MEMBER_LEFT;
    if (strcmp(event, "role") == 0) return WEBHOOK_MEMBER_ROLE;
    if (strcmp(event, "unbanned") == 0) return WEBHOOK_MEMBER_UNBANNED;
    return strcmp(event, "banned") == 0 ? WEBHOOK_MEMBER_BANNED : -1;
}

void routes_reply_member_change(struct request *r, json_t *body,
                                const struct routes_member_report *x) {
    int kind = x->event_id[0] ? member_event_kind(x->room_event) : -1;
    if (kind < 0 || !routes_event_wanted(r, (enum webhook_kind)kind)) {
        http_reply_json(r, 200, body);
        return;
    }
    json_t *data = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "room", x->room, "userId",
                             x->user_id, "name", x->name, "role", x->role, "eventId", x->event_id,
                             "roomEvent", x->room_event, "by", x->by);
    struct webhooks_event ev = {(enum webhook_kind)kind, x->room, x->event_id,
                                http_received_ms(r), data};
    routes_reply_with_event(r, 200, body, &ev);
    json_decref(data);
}

void routes_reply_room_created(struct request *r, int status, json_t *body,
                               const struct routes_room_report *x) {
    json_t *data = NULL, *members = NULL;
    if (routes_event_wanted(r, WEBHOOK_ROOM_CREATED) && (members = json_array()))
        for (size_t i = 0; i < x->member_count; i++)
            json_array_append_new(members, json_string(x->members[i]));
    if (members)
        data = json_pack("{s:s,s:s,s:s,s:o}", "room", x->room, "kind", x->kind, "by", x->by,
                         "members", members);
    struct webhooks_event ev = {WEBHOOK_ROOM_CREATED, x->room, x->room, http_received_ms(r),
                                data};
    routes_reply_with_event(r, status, body, &ev);
    json_decref(data);
}
