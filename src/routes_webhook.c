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
