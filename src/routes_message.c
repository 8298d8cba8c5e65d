/*
 * routes_message: sending (POST /message/) and reading the history
 * (GET /message/). The history is streamed: it is read from Redis in batches
 * and the next batch is fetched only when the previous one has left the
 * output buffer, so memory does not grow with the history's size.
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history_gap.h"
#include "hub.h"
#include "http.h"
#include "json.h"
#include "jwt_verify.h"
#include "metrics.h"
#include "request_body.h"
#include "room_access.h"
#include "request_query.h"
#include "ratelimit.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "token.h"
#include "validate.h"
#include "webhooks.h"

/* ---- POST /message/ ---- */

struct send_op {
    struct request *r;         /* the request to answer */
    json_t *body;              /* the body when jansson parsed it (then owns text), or NULL */
    const char *text;          /* the message text, text_len bytes (in body or the request) */
    size_t text_len;
    const char *client_msg_id; /* idempotency key (body, header or client_msg_id_copy), or NULL */
    char client_msg_id_copy[CHAT_CLIENT_MSG_ID_MAX + 1];
    const char *room;          /* the room (points into the request) */
    struct session_user user;  /* the author, from the session */
    char reply_to[CHAT_STREAM_ID_MAX + 1]; /* the message it answers, "" when none */
};

static void send_op_done(struct send_op *op, api_error e) {
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    json_decref(op->body);
    free(op);
}

static void on_appended(enum store_status st, const struct message *m, bool replayed,
                        void *arg) {
    struct send_op *op = arg;
    if (st == STORE_NOT_FOUND) { /* only a reply's target can be missing */
        send_op_done(op, API_E_REPLY_NOT_FOUND);
        return;
    }
    if (st != STORE_OK) {
        send_op_done(op, routes_store_error(st));
        return;
    }
    if (json_message_append(http_reply_body(op->r), m) < 0) { /* appends nothing then */
        send_op_done(op, API_E_INTERNAL);
        return;
    }
    if (replayed) http_add_header(op->r, "Idempotent-Replayed", "true");
    else metrics_message_sent(op->r->srv->metrics);
    routes_reply_message_created(op->r, op->room, m); /* a replay's too: a retried send reports it */
    send_op_done(op, API_E_OK);
}

static void on_send_allowed(enum rate_verdict verdict, int retry_after_s, void *arg);

static void on_session(enum store_status st, const struct session_user *u, void *arg) {
    struct send_op *op = arg;
    if (st == STORE_NOT_FOUND) {
        send_op_done(op, API_E_UNAUTHORIZED);
        return;
    }
    if (st != STORE_OK) {
        send_op_done(op, API_E_UNAVAILABLE);
        return;
    }
    if (!jwt_rooms_allow(u, op->room)) { /* a token's rooms claim names the rooms it may use */
        send_op_done(op, API_E_ROOM_NOT_ALLOWED);
        return;
    }
    op->user = *u;
    /* nothing to count: go on (in a callback) */
    if (!ratelimit_enabled(&op->r->srv->limits, RATE_MESSAGES_USER)) {
        on_send_allowed(RATE_ALLOWED, 0, op);
        return;
    }
    struct rate_check check = {RATE_MESSAGES_USER, op->user.id};
    if (ratelimit_check(&op->r->srv->limits, &check, 1, on_send_allowed,
                        op) < 0)
        send_op_done(op, API_E_INTERNAL);
}

static void append(struct send_op *op) {
    struct message m = {.user_id = op->user.id, .name = op->user.name, .text = op->text,
                        .text_len = op->text_len, .timestamp = http_received_ms(op->r),
                        .reply_to = op->reply_to[0] ? op->reply_to : NULL};
    if (store_message_append(op->r->srv->store, op->room, &m, op->client_msg_id,
                             on_appended, op) < 0)
        send_op_done(op, API_E_UNAVAILABLE);
}

static void on_access(enum store_status st, const struct store_access *a, void *arg) {
    struct send_op *op = arg;
    api_error e = room_access_send_error(op->r->srv, st, a, &op->user);
    if (e == API_E_OK) append(op);
    else send_op_done(op, e);
}

/* A message goes only to a room created with POST /room/ (or the lobby),
 * from a member when it is private and from nobody it bans: one command on
 * the room's slot says both. */
static void on_send_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct send_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        send_op_done(op, API_E_OK);
        return;
    }
    if (routes_room_is_lobby(op->room)) append(op);
    else if (store_room_access(op->r->srv->store, op->room, op->user.id, NULL, on_access, op) < 0)
        send_op_done(op, API_E_UNAVAILABLE);
}

void route_message_send(struct request *r) {
    char hash[TOKEN_HASH_LEN + 1];
    const char *room = routes_room_or_400(r);
    if (!room || !routes_session_hash_or_401(r, hash)) return;
    struct send_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    op->room = room;
    struct message_body mb;
    const char *body;
    size_t len;
    api_error e = http_body_raw(r, &body, &len);
    if (e == API_E_OK)
        e = request_body_message_raw(body, len, http_known_header(r, HTTP_H_IDEMPOTENCY_KEY), &mb,
                                     op->client_msg_id_copy, &op->body);
    if (e == API_E_OK) {
        op->text = mb.text;
        op->text_len = mb.text_len;
        op->client_msg_id = mb.client_msg_id;
        memcpy(op->reply_to, mb.reply_to, sizeof(op->reply_to));
    }
    if (e != API_E_OK) {
        send_op_done(op, e);
        return;
    }
    if (store_session_get(r->srv->store, hash, r->srv->cfg.session_ttl, on_session, op) < 0)
        send_op_done(op, API_E_UNAVAILABLE);
}

/* ---- a private room's read racing its reader's removal ---- */

/* A history read of a private room by one of its members: a removal that
 * lands between the access check and the read shows in the read as an
 * event that revokes the reader, and nothing after it may go out. An
 * older such event (the reader left and came back) must not cut the read,
 * so the membership is read again when one is found: a member still, the
 * events read so far are old; a member no longer, the read ends after the
 * last of them. Each case then reads the same range again (a rare path:
 * only reads that meet such an event pay for it). */
struct read_guard {
    char user[CHAT_USER_ID_LEN + 1];        /* the reader, "" when unguarded */
    char seen[CHAT_STREAM_ID_MAX + 1];      /* the read's last id when rechecked */
    char confirmed[CHAT_STREAM_ID_MAX + 1]; /* revoking events up to this id are old */
    bool revoked;                           /* the recheck found no membership */
};

static void read_guard_init(struct read_guard *g, const char *user) {
    memset(g, 0, sizeof(*g));
    if (user) snprintf(g->user, sizeof(g->user), "%s", user);
}

/* How many of msgs[0..n) end at the last event revoking the reader that is
 * newer than g->confirmed; 0 when there is none. */
static size_t read_guard_cut(const struct read_guard *g, const struct message *msgs, size_t n) {
    for (size_t i = n; g->user[0] && i-- > 0;)
        if (member_rules_revokes(&msgs[i], g->user) &&
            (!g->confirmed[0] || hub_id_compare(msgs[i].id, g->confirmed) > 0))
            return i + 1;
    return 0;
}

/* True when msgs need the membership read again first (g->seen is set). */
static bool read_guard_needs_check(struct read_guard *g, const struct message *msgs, size_t n) {
    if (g->revoked || !read_guard_cut(g, msgs, n)) return false;
    snprintf(g->seen, sizeof(g->seen), "%s", msgs[n - 1].id);
    return true;
}

/* The recheck's answer: false when it failed (answer 503). */
static bool read_guard_checked(struct read_guard *g, enum store_status st,
                               const struct store_access *a) {
    if (st != STORE_OK && st != STORE_NOT_FOUND) return false;
    if (st == STORE_OK && member_rules_can_read(a->kind, a->actor))
        memcpy(g->confirmed, g->seen, sizeof(g->confirmed));
    else
        g->revoked = true;
    return true;
}

/* ---- GET /message/ ---- */

struct history_op {
    struct request *r;                    /* the request being answered */
    const char *room;                     /* the room (points into the request) */
    char reader[CHAT_USER_ID_LEN + 1];    /* whose reactions are "me" ("" anonymous) */
    char after[CHAT_STREAM_ID_MAX + 1];   /* last id sent ("" before the first) */
    long remaining;                       /* messages still wanted, -1: all */
    size_t sent;                          /* messages read so far */
    size_t written;                       /* messages in the reply so far (some may be left out) */
    bool fetching;                        /* a Redis read is pending */
    bool closed;                          /* the client went away meanwhile */
    struct read_guard guard;              /* a private room's reader */
};

static void fetch_batch(struct history_op *op);
static void recheck_batch(struct history_op *op);

static void history_fail(struct history_op *op, enum store_status st) {
    if (op->r->streaming) http_stream_abort(op->r);
    else http_reply_error(op->r, routes_store_error(st), NULL);
    free(op);
}

static void on_drained(struct evhttp_connection *evcon, void *arg) {
    (void)evcon;
    fetch_batch(arg);
}

static void on_client_gone(struct request *r) {
    struct history_op *op = r->stream_arg;
    if (op->fetching) {
        op->closed = true; /* on_batch ends it */
        return;
    }
    http_stream_end(r);
    free(op);
}

static void on_batch(enum store_status st, const struct message *msgs, size_t n, void *arg) {
    struct history_op *op = arg;
    int wanted = op->r->srv->cfg.history_batch;
    if (op->remaining >= 0 && op->remaining < wanted) wanted = (int)op->remaining;
    op->fetching = false;
    if (op->closed) {
        http_stream_end(op->r);
        free(op);
        return;
    }
    if (st != STORE_OK) {
        history_fail(op, st);
        return;
    }
    if (read_guard_needs_check(&op->guard, msgs, n)) {
        recheck_batch(op);
        return;
    }
    size_t cut = op->guard.revoked ? read_guard_cut(&op->guard, msgs, n) : 0;
    if (cut) { /* the reader left the room there: that event is the last */
        n = cut;
        op->remaining = (long)n;
    }
    struct evbuffer *out = evbuffer_new();
    /* "[" before the first message of the reply, "," between two */
    int appended = out ? json_messages_append(out, msgs, n, op->written ? ',' : '[') : -1;
    if (appended < 0) {
        if (out) evbuffer_free(out);
        history_fail(op, STORE_ERROR);
        return;
    }
    op->sent += n;
    op->written += (size_t)appended;
    if (op->remaining > 0) op->remaining -= (long)n;
    if (n > 0) snprintf(op->after, sizeof(op->after), "%s", msgs[n - 1].id);
    bool done = n < (size_t)wanted || op->remaining == 0;
    if (done) evbuffer_add(out, op->written ? "]" : "[]", op->written ? 1 : 2);
    if (done && !op->r->streaming) { /* it all fits in one reply */
        if (op->sent) http_add_header(op->r, "X-Next-After", op->after);
        http_reply_buffer(op->r, 200, out);
        free(op);
    } else {
        if (!op->r->streaming) http_stream_start(op->r, 200, "application/json; charset=utf-8");
        http_stream_send(op->r, out, done ? NULL : on_drained, op);
        if (done) {
            http_stream_end(op->r);
            free(op);
        }
    }
    evbuffer_free(out);
}

static void fetch_batch(struct history_op *op) {
    int count = op->r->srv->cfg.history_batch;
    if (op->remaining >= 0 && op->remaining < count) count = (int)op->remaining;
    op->fetching = true;
    struct store_reader reader = {.user_id = op->reader};
    if (store_history_page(op->r->srv->store, op->room, &reader,
                           op->after[0] ? op->after : NULL, NULL, count, on_batch, op) < 0) {
        op->fetching = false;
        history_fail(op, STORE_UNAVAILABLE);
    }
}

static void on_batch_rechecked(enum store_status st, const struct store_access *a, void *arg) {
    struct history_op *op = arg;
    op->fetching = false;
    if (op->closed) {
        http_stream_end(op->r);
        free(op);
    } else if (!read_guard_checked(&op->guard, st, a)) {
        history_fail(op, STORE_UNAVAILABLE);
    } else {
        fetch_batch(op); /* the same range again, now judged */
    }
}

static void recheck_batch(struct history_op *op) {
    op->fetching = true;
    if (store_room_access(op->r->srv->store, op->room, op->guard.user, NULL, on_batch_rechecked,
                          op) < 0) {
        op->fetching = false;
        history_fail(op, STORE_UNAVAILABLE);
    }
}

/* The gap check of a resuming read answered: the header when messages
 * after the cursor were trimmed, then the first batch. */
static void on_gap_checked(enum store_status st, const char *first, void *arg) {
    struct history_op *op = arg;
    op->fetching = false;
    if (op->closed) {
        http_stream_end(op->r);
        free(op);
    } else if (st != STORE_OK) {
        history_fail(op, st);
    } else {
        if (first) http_add_header(op->r, HISTORY_GAP_HEADER, history_gap_header_value(first));
        fetch_batch(op);
    }
}

/* A read from a cursor first asks whether messages after it are gone. */
static void start_history(struct history_op *op) {
    if (!op->after[0]) {
        fetch_batch(op);
        return;
    }
    op->fetching = true;
    if (history_gap_check(op->r->srv->store, op->room, op->after, on_gap_checked, op) < 0) {
        op->fetching = false;
        history_fail(op, STORE_UNAVAILABLE);
    }
}

#define WAIT_LIMIT_DEFAULT 100

#define BEFORE_LIMIT_DEFAULT 50

/* ---- GET /message/?before=<id>&limit=<n>: scroll-back ---- */

struct page_op {
    struct request *r;
    const char *room;                    /* points into the request */
    char before[CHAT_STREAM_ID_MAX + 1]; /* the page ends before this id */
    int limit;
    struct read_guard guard;             /* a private room's reader */
    char reader[CHAT_USER_ID_LEN + 1];   /* whose reactions are "me" ("" anonymous) */
};

static void read_page(struct page_op *op);

static void on_page_rechecked(enum store_status st, const struct store_access *a, void *arg) {
    struct page_op *op = arg;
    if (read_guard_checked(&op->guard, st, a)) {
        read_page(op); /* the same page again, now judged */
        return;
    }
    http_reply_error(op->r, API_E_UNAVAILABLE, NULL);
    free(op);
}

static void on_page(enum store_status st, const struct message *msgs, size_t n, void *arg) {
    struct page_op *op = arg;
    if (st == STORE_OK && read_guard_needs_check(&op->guard, msgs, n)) {
        if (store_room_access(op->r->srv->store, op->room, op->guard.user, NULL,
                              on_page_rechecked, op) == 0)
            return;
        st = STORE_UNAVAILABLE;
    }
    size_t full = n;
    size_t cut = st == STORE_OK && op->guard.revoked ? read_guard_cut(&op->guard, msgs, n) : 0;
    if (cut) n = cut; /* the reader left the room there: that event is the last */
    struct evbuffer *out = st == STORE_OK ? evbuffer_new() : NULL;
    if (!out) {
        http_reply_error(op->r, routes_store_error(st), NULL);
        free(op);
        return;
    }
    if (json_message_array_append(out, msgs, n) < 0) {
        evbuffer_free(out);
        http_reply_error(op->r, API_E_INTERNAL, NULL);
        free(op);
        return;
    }
    if (full == (size_t)op->limit) http_add_header(op->r, "X-Next-Before", msgs[0].id);
    http_reply_buffer(op->r, 200, out);
    evbuffer_free(out);
    free(op);
}

static void read_page(struct page_op *op) {
    struct store_reader reader = {.user_id = op->reader[0] ? op->reader : NULL};
    if (store_history_page(op->r->srv->store, op->room, &reader, NULL, op->before, op->limit,
                           on_page, op) < 0) {
        http_reply_error(op->r, API_E_UNAVAILABLE, NULL);
        free(op);
    }
}

static void list_before(struct request *r, const char *room, const char *before, long limit,
                        const char *revoke_user, const char *reader_id) {
    struct page_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    op->room = room;
    snprintf(op->before, sizeof(op->before), "%s", before);
    op->limit = limit > 0 ? (int)limit : BEFORE_LIMIT_DEFAULT;
    if (reader_id) snprintf(op->reader, sizeof(op->reader), "%s", reader_id);
    read_guard_init(&op->guard, revoke_user);
    read_page(op);
}

/* Serves a history read (page, scroll-back or long-poll) that may go on;
 * revoke_user as for route_message_wait; reader_id (NULL: anonymous) is
 * whose reactions a page marks "me". */
static void list_room(struct request *r, const char *room, const char *revoke_user,
                      const char *reader_id) {
    struct history_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    op->room = room;
    if (reader_id) snprintf(op->reader, sizeof(op->reader), "%s", reader_id);
    struct history_query q;
    const char *invalid = request_query_history(&r->query, &q);
    if (invalid) {
        free(op);
        http_reply_error(r, API_E_INVALID_QUERY, invalid);
        return;
    }
    memcpy(op->after, q.after, sizeof(op->after));
    op->remaining = q.limit;
    int wait_s = q.wait_s;
    if (q.before[0]) {
        free(op);
        list_before(r, room, q.before, q.limit, revoke_user, reader_id);
        return;
    }
    if (wait_s > 0) { /* long-poll */
        int limit = op->remaining > 0 && op->remaining < WAIT_LIMIT_DEFAULT * 10
                        ? (int)op->remaining
                        : WAIT_LIMIT_DEFAULT;
        route_message_wait(r, room, op->after, limit, wait_s, revoke_user);
        free(op);
        return;
    }
    read_guard_init(&op->guard, revoke_user);
    r->stream_arg = op;
    r->on_close = on_client_gone;
    start_history(op);
}

static void on_read_access(const struct room_access *a, void *arg) {
    struct request *r = arg;
    if (a->error != API_E_OK) http_reply_error(r, a->error, NULL);
    else list_room(r, r->param, a->kind != ROOM_PUBLIC && !a->admin ? a->user.id : NULL,
                   a->has_user ? a->user.id : NULL);
}

/* The lobby's reader, for the "me" of its reactions: a stale session
 * reads as anyone does. */
static void on_lobby_reader(enum store_status st, const struct session_user *u, void *arg) {
    struct request *r = arg;
    list_room(r, STORE_ROOM_LOBBY, NULL, st == STORE_OK ? u->id : NULL);
}

/* The lobby is read by anyone at once; another room after the access
 * check (room_access.h): a private one only by its members. */
void route_message_list(struct request *r) {
    const char *room = routes_room_or_400(r);
    if (!room) return;
    char hash[TOKEN_HASH_LEN + 1];
    bool has_session = room_access_session_hash(r, hash);
    if (routes_room_is_lobby(room)) {
        if (!has_session) list_room(r, room, NULL, NULL);
        else if (store_session_get(r->srv->store, hash, r->srv->cfg.session_ttl, on_lobby_reader,
                                   r) < 0)
            http_reply_error(r, API_E_UNAVAILABLE, NULL);
        return;
    }
    if (room_access_check(r->srv, room, ROOM_ACCESS_READ, has_session ? hash : NULL, NULL,
                          on_read_access, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}
