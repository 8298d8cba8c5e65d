/*
 * routes_api_message: a room's messages through the server API.
 *   POST   /api/v1/room/<name>/message  {"text","clientMsgId","userId"?,"name"?}
 *          publishes as the system (userId "system") or as a user; the
 *          client message id is required, so a retry never doubles it
 *   GET    /api/v1/room/<name>/message?after=&limit=  one page of history
 *   DELETE /api/v1/room/<name>/message?id=  removes a message (tombstone)
 * The API key stands for the application, which decides who may do what:
 * no session and no role is asked for, but a room must exist, and a user
 * published as must be allowed to send there (not banned; a member of a
 * private room).
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "member_rules.h"
#include "metrics.h"
#include "request_body.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "validate.h"

#define API_HISTORY_LIMIT_DEFAULT 100
#define API_HISTORY_LIMIT_MAX 1000

/* ---- POST: publish ---- */

struct publish_op {
    struct request *r;
    json_t *body;                                   /* owns text and the ids */
    const char *room;                               /* points into the request */
    struct message_body mb;                         /* text and client message id */
    char user_id[CHAT_USER_ID_LEN + 1];             /* the author: a user's id or "system" */
    char name[CHAT_NAME_MAX_BYTES + 1];             /* the author's name */
    bool as_user;                                   /* userId given */
};

static void publish_done(struct publish_op *op, api_error e) {
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    json_decref(op->body);
    free(op);
}

static void on_appended(enum store_status st, const struct message *m, bool replayed,
                        void *arg) {
    struct publish_op *op = arg;
    if (st != STORE_OK) {
        publish_done(op, routes_store_error(st));
        return;
    }
    if (json_message_append(http_reply_body(op->r), m) < 0) {
        publish_done(op, API_E_INTERNAL);
        return;
    }
    if (replayed) http_add_header(op->r, "Idempotent-Replayed", "true");
    else metrics_message_sent(op->r->srv->metrics);
    routes_reply_message_created(op->r, op->room, m); /* a retry's too, under the same event id */
    publish_done(op, API_E_OK);
}

static void on_access(enum store_status st, const struct store_access *a, void *arg) {
    struct publish_op *op = arg;
    api_error e = st == STORE_OK ? API_E_OK : routes_room_error(st);
    if (e == API_E_OK && op->as_user && a->actor == ROLE_BANNED) e = API_E_USER_BANNED;
    else if (e == API_E_OK && op->as_user && a->kind != ROOM_PUBLIC && a->actor < ROLE_MEMBER)
        e = API_E_NOT_MEMBER;
    if (e != API_E_OK) {
        publish_done(op, e);
        return;
    }
    struct message m = {.user_id = op->user_id, .name = op->name, .text = op->mb.text,
                        .text_len = op->mb.text_len, .timestamp = http_received_ms(op->r)};
    if (store_message_append(op->r->srv->store, op->room, &m, op->mb.client_msg_id, on_appended,
                             op) < 0)
        publish_done(op, API_E_UNAVAILABLE);
}

static void check_room(struct publish_op *op) {
    if (store_room_access(op->r->srv->store, op->room, op->as_user ? op->user_id : NULL, NULL,
                          on_access, op) < 0)
        publish_done(op, API_E_UNAVAILABLE);
}

static void on_user(enum store_status st, const struct store_user *u, void *arg) {
    struct publish_op *op = arg;
    if (st != STORE_OK) {
        publish_done(op, st == STORE_NOT_FOUND ? API_E_UNKNOWN_USER : routes_store_error(st));
        return;
    }
    if (!op->name[0]) snprintf(op->name, sizeof(op->name), "%s", u->name);
    check_room(op);
}

/* The body's author fields: "userId" (a user's id; absent: the system)
 * and "name" (how the message shows its author). */
static api_error read_author(struct publish_op *op) {
    const char *id, *name;
    size_t id_len, name_len;
    api_error e = json_get_string(op->body, "userId", false, API_E_INVALID_USER_ID, &id, &id_len);
    if (e == API_E_OK)
        e = json_get_string(op->body, "name", false, API_E_INVALID_NAME, &name, &name_len);
    if (e != API_E_OK) return e;
    if (id && !validate_user_id(id, id_len)) return API_E_INVALID_USER_ID;
    if (name && validate_name(name, name_len) != API_E_OK) return API_E_INVALID_NAME;
    op->as_user = id != NULL;
    snprintf(op->user_id, sizeof(op->user_id), "%s", id ? id : "system");
    snprintf(op->name, sizeof(op->name), "%s", name ? name : id ? "" : "System");
    return API_E_OK;
}

static void publish(struct request *r, const char *key_id) {
    (void)key_id;
    if (!routes_room_or_400(r)) return;
    struct publish_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    op->room = r->param;
    api_error e = http_body_json(r, &op->body);
    if (e == API_E_OK)
        e = request_body_message(op->body, http_known_header(r, HTTP_H_IDEMPOTENCY_KEY), &op->mb);
    if (e == API_E_OK && !op->mb.client_msg_id) e = API_E_INVALID_CLIENT_MSG_ID;
    if (e == API_E_OK) e = read_author(op);
    if (e != API_E_OK) publish_done(op, e);
    else if (!op->as_user) check_room(op);
    else if (store_user_get_by_id(r->srv->store, op->user_id, on_user, op) < 0)
        publish_done(op, API_E_UNAVAILABLE);
}

void route_api_message_publish(struct request *r) { routes_api_call(r, publish); }

/* ---- GET: a page of history ---- */

static void on_page(enum store_status st, const struct message *msgs, size_t n, void *arg) {
    struct request *r = arg;
    if (st != STORE_OK) {
        http_reply_error(r, routes_store_error(st), NULL);
        return;
    }
    if (json_message_array_append(http_reply_body(r), msgs, n) < 0) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    if (n) http_add_header(r, "X-Next-After", msgs[n - 1].id);
    http_reply_buffer(r, 200, NULL);
}

/* The query of a page: after (a message id, optional) and limit. */
static bool page_query(struct request *r, const char **after, int *limit) {
    const char *l = http_query(r, "limit");
    *after = http_query(r, "after");
    *limit = API_HISTORY_LIMIT_DEFAULT;
    if (l) {
        char *end;
        long v = strtol(l, &end, 10);
        if (end == l || *end || v < 1 || v > API_HISTORY_LIMIT_MAX) {
            http_reply_error(r, API_E_INVALID_QUERY, "limit must be 1 to 1000.");
            return false;
        }
        *limit = (int)v;
    }
    if (*after && !validate_stream_id(*after)) {
        http_reply_error(r, API_E_INVALID_QUERY, "after must be a message id.");
        return false;
    }
    return true;
}

static void on_history_room(enum store_status st, const struct store_access *a, void *arg) {
    (void)a;
    struct request *r = arg;
    const char *after;
    int limit;
    if (st != STORE_OK) http_reply_error(r, routes_room_error(st), NULL);
    else if (!page_query(r, &after, &limit)) return;
    else if (store_history_range(r->srv->store, r->param, after, limit, on_page, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

static void history(struct request *r, const char *key_id) {
    (void)key_id;
    const char *after;
    int limit;
    if (!routes_room_or_400(r) || !page_query(r, &after, &limit)) return;
    if (store_room_access(r->srv->store, r->param, NULL, NULL, on_history_room, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

void route_api_message_history(struct request *r) { routes_api_call(r, history); }

/* ---- DELETE: remove one message ---- */

static void on_removed(enum store_status st, enum store_change outcome, const char *event_id,
                       void *arg) {
    struct request *r = arg;
    if (st == STORE_NOT_FOUND) http_reply_error(r, API_E_NOT_FOUND, NULL);
    else if (st != STORE_OK) http_reply_error(r, routes_store_error(st), NULL);
    else if (outcome == STORE_CHANGE_NOT_A_MESSAGE) http_reply_error(r, API_E_NOT_A_MESSAGE, NULL);
    else if (outcome != STORE_CHANGE_DONE) http_reply_error(r, API_E_MEMBERSHIP_CHANGED, NULL);
    else {
        struct routes_removal_report x = {r->param, http_query(r, "id"), event_id, "system", false};
        routes_reply_message_removed(r, &x);
    }
}

static void remove_message(struct request *r, const char *key_id) {
    (void)key_id;
    const char *id = http_query(r, "id");
    if (!routes_room_or_400(r)) return;
    if (!id || !validate_stream_id(id)) {
        http_reply_error(r, API_E_INVALID_QUERY, "id must be a message id.");
        return;
    }
    struct store_message_removal m = {.room = r->param, .message_id = id,
                                      .actor_id = "system", .actor_name = "System",
                                      .actor = ROLE_NONE, .timestamp = http_received_ms(r)};
    if (store_message_remove(r->srv->store, &m, on_removed, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

void route_api_message_remove(struct request *r) { routes_api_call(r, remove_message); }
