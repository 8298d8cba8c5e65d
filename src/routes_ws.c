/*
 * routes_ws: GET /ws, the WebSocket endpoint (docs/API.md, "WebSocket").
 * The upgrade is checked like any request (Origin like the REST routes'
 * cross-site rule, the RFC 6455 headers, --max-streams and the
 * per-address cap: a WebSocket counts as an event stream), its session
 * cookie (or Bearer header) read before the 101 answers; then the socket
 * is upgraded (http_stream_upgrade) and ws_conn speaks WebSocket on it.
 * A client without a cookie authenticates with its first message
 * {"type":"auth","authKey":…}; messages that come while that session is
 * read wait for it. Then it subscribes to rooms (ws_subs.c) and sends
 * messages, each answered by an ack with the stored message or an error
 * with the REST API's code. One timer pings every client; on SIGTERM every
 * client is closed with 1001 and reconnects elsewhere.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "addr_slots.h"
#include "http.h"
#include "jwt_verify.h"
#include "log.h"
#include "metrics.h"
#include "origin.h"
#include "ratelimit.h"
#include "room_access.h"
#include "routes.h"
#include "routes_ws.h"
#include "server.h"
#include "session_streams.h"
#include "store.h"
#include "webhooks.h"
#include "ws_conn.h"
#include "ws_handshake.h"
#include "ws_protocol.h"

#define HELD_MAX 16 /* messages a client may send before its auth is answered */
#define AUTH_PERIODS 2 /* ping periods a client may stay unauthenticated */

/* A message that came while the client's session was being read. */
struct ws_held {
    struct ws_held *next;
    size_t len;
    char data[];
};

/* ---- the client ---- */

static bool free_if_idle(struct ws_client *c) {
    if (c->conn || c->pending > 0) return false;
    free(c);
    return true;
}

bool ws_client_release(struct ws_client *c) {
    c->pending--;
    return free_if_idle(c);
}

void ws_client_send(struct ws_client *c, struct evbuffer *out) {
    if (c->conn) ws_conn_send_buffer(c->conn, out);
    else evbuffer_drain(out, evbuffer_get_length(out));
}

void ws_client_error(struct ws_client *c, int api_err, const char *message,
                     const char *client_msg_id, const char *room, int retry_after_s) {
    struct evbuffer *out = c->owner->scratch;
    evbuffer_drain(out, evbuffer_get_length(out));
    if (ws_protocol_error_append(out, (api_error)api_err, message, client_msg_id, room,
                                 retry_after_s) == 0)
        ws_client_send(c, out);
}

static void drop_held(struct ws_client *c) {
    while (c->held) {
        struct ws_held *h = c->held;
        c->held = h->next;
        free(h);
    }
    c->nheld = 0;
}

/* The connection is over: the client leaves the server's list and its
 * rooms, and is freed once no store call holds it. */
static void on_end(void *arg, int code) {
    struct ws_client *c = arg;
    struct ws_server *ws = c->owner;
    log_info("req=%s msg=\"websocket closed\" code=%d", c->id, code);
    c->conn = NULL;
    if (c->prev) c->prev->next = c->next;
    else ws->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    ws->count--;
    session_streams_remove(ws->srv->session_streams, &c->session);
    addr_slots_release(ws->srv->stream_slots, c->address);
    ws_subs_drop_all(c);
    drop_held(c);
    free_if_idle(c);
}

/* Its session ended (a logout, a password change, a locked or deleted
 * account, on any chatd): closed with 4001, as a send would find. */
static void on_session_ended(void *arg) {
    struct ws_client *c = arg;
    if (c->conn) ws_conn_close(c->conn, WS_CLOSE_UNAUTHORIZED, "session ended");
}

const char *ws_client_session(const struct ws_client *c) { return c->session->hash; }

/* ---- send ---- */

/* A send on its way: session, rate limit, access check, append. */
struct send_op {
    struct ws_client *c;
    struct session_user user; /* the sender, as its session was read for this send */
    struct ws_msg m;     /* owns the text */
    struct evbuffer *ack; /* the ack, while the message's webhook event is queued */
};

static void send_done(struct send_op *op, api_error e, int retry_after_s) {
    struct ws_client *c = op->c;
    if (e != API_E_OK && c->conn)
        ws_client_error(c, e, NULL, op->m.client_msg_id, op->m.room, retry_after_s);
    ws_msg_cleanup(&op->m);
    free(op);
    ws_client_release(c);
}

static long long now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void on_event_queued(bool queued, void *arg) {
    struct send_op *op = arg;
    if (queued) ws_client_send(op->c, op->ack);
    evbuffer_free(op->ack);
    send_done(op, queued ? API_E_OK : API_E_UNAVAILABLE, 0);
}

/* Sends the ack in out once the message's webhook event is queued, as
 * POST /message/ answers (routes_webhook.c); an error frame when it
 * cannot be. */
static void ack_after_event(struct send_op *op, const struct message *m, struct evbuffer *out) {
    json_t *data = routes_message_event_data(op->m.room, m);
    struct webhooks_event ev = {WEBHOOK_MESSAGE_CREATED, op->m.room, m->id, m->timestamp, data};
    op->ack = evbuffer_new();
    if (op->ack) evbuffer_add_buffer(op->ack, out);
    int rc = op->ack ? webhooks_capture(op->c->srv->webhooks, &ev, on_event_queued, op) : -1;
    json_decref(data);
    if (rc == 0) return;
    if (op->ack) evbuffer_free(op->ack);
    send_done(op, API_E_UNAVAILABLE, 0);
}

static void on_appended(enum store_status st, const struct message *m, bool replayed,
                        void *arg) {
    struct send_op *op = arg;
    struct ws_client *c = op->c;
    if (st != STORE_OK || !c->conn) { /* not found: only a reply's target can be missing */
        send_done(op, st == STORE_NOT_FOUND ? API_E_REPLY_NOT_FOUND
                      : st != STORE_OK      ? routes_store_error(st)
                                            : API_E_OK,
                  0);
        return;
    }
    struct evbuffer *out = c->owner->scratch;
    evbuffer_drain(out, evbuffer_get_length(out));
    if (ws_protocol_ack_append(out, op->m.client_msg_id, replayed, m) < 0) {
        send_done(op, API_E_INTERNAL, 0);
        return;
    }
    if (!replayed) metrics_message_sent(c->srv->metrics);
    if (webhooks_wanted(c->srv->webhooks, WEBHOOK_MESSAGE_CREATED)) {
        ack_after_event(op, m, out);
        return;
    }
    ws_client_send(c, out);
    send_done(op, API_E_OK, 0);
}

static void append(struct send_op *op) {
    struct ws_client *c = op->c;
    struct message msg = {.user_id = op->user.id, .name = op->user.name, .text = op->m.text,
                          .text_len = op->m.text_len, .timestamp = now_ms(),
                          .reply_to = op->m.reply_to[0] ? op->m.reply_to : NULL};
    const char *id = op->m.client_msg_id[0] ? op->m.client_msg_id : NULL;
    if (store_message_append(c->srv->store, op->m.room, &msg, id, on_appended, op) < 0)
        send_done(op, API_E_UNAVAILABLE, 0);
}

static void on_access(enum store_status st, const struct store_access *a, void *arg) {
    struct send_op *op = arg;
    api_error e = op->c->conn ? room_access_send_error(op->c->srv, st, a, &op->user) : API_E_OK;
    if (op->c->conn && e == API_E_OK) append(op);
    else send_done(op, e, 0);
}

/* A message goes only to a room created with POST /room/ (or the lobby),
 * from a member when it is private and from nobody it bans: the POST
 * path's check, whether or not the client follows the room. */
static void on_send_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct send_op *op = arg;
    struct ws_client *c = op->c;
    if (!c->conn) send_done(op, API_E_OK, 0);
    else if (verdict != RATE_ALLOWED)
        send_done(op, verdict == RATE_LIMITED ? API_E_RATE_LIMITED : API_E_UNAVAILABLE,
                  retry_after_s);
    else if (routes_room_is_lobby(op->m.room)) append(op);
    else if (store_room_access(c->srv->store, op->m.room, op->user.id, NULL, on_access, op) < 0)
        send_done(op, API_E_UNAVAILABLE, 0);
}

/* The session, read again as for every POST: a session ended since the
 * upgrade (a logout, a password change) sends no more. */
static void on_send_session(enum store_status st, const struct session_user *u, void *arg) {
    struct send_op *op = arg;
    struct ws_client *c = op->c;
    if (!c->conn || st != STORE_OK) {
        if (c->conn && st == STORE_NOT_FOUND) {
            ws_client_error(c, API_E_UNAUTHORIZED, NULL, op->m.client_msg_id, op->m.room, 0);
            ws_conn_close(c->conn, WS_CLOSE_UNAUTHORIZED, "session ended");
        }
        send_done(op, st == STORE_OK || st == STORE_NOT_FOUND ? API_E_OK : routes_store_error(st),
                  0);
        return;
    }
    op->user = *u;
    if (!jwt_rooms_allow(u, op->m.room)) { /* a token's rooms claim names the rooms it may use */
        send_done(op, API_E_ROOM_NOT_ALLOWED, 0);
        return;
    }
    if (!ratelimit_enabled(&c->srv->limits, RATE_MESSAGES_USER)) {
        on_send_allowed(RATE_ALLOWED, 0, op);
        return;
    }
    struct rate_check check = {RATE_MESSAGES_USER, op->user.id};
    if (ratelimit_check(&c->srv->limits, &check, 1, on_send_allowed, op) < 0)
        send_done(op, API_E_INTERNAL, 0);
}

/* Takes m over (its text). */
static void start_send(struct ws_client *c, struct ws_msg *m) {
    struct send_op *op = calloc(1, sizeof(*op));
    if (!op) {
        ws_client_error(c, API_E_INTERNAL, NULL, m->client_msg_id, m->room, 0);
        ws_msg_cleanup(m);
        return;
    }
    op->c = c;
    op->m = *m;
    c->pending++;
    if (store_session_get(c->srv->store, ws_client_session(c), c->srv->cfg.session_ttl,
                          on_send_session, op) < 0)
        send_done(op, API_E_UNAVAILABLE, 0);
}

/* ---- messages in ---- */

static void handle(struct ws_client *c, const char *data, size_t len);

/* c is authenticated as u with the session hash: the session's end
 * closes it (its link keeps the hash), and it is told who it is. False
 * when out of memory (c is closed). */
static bool authenticated(struct ws_client *c, const struct session_user *u, const char *hash) {
    c->session = session_streams_add(c->srv->session_streams, hash, on_session_ended, c);
    if (!c->session) {
        ws_conn_close(c->conn, WS_CLOSE_INTERNAL, NULL);
        return false;
    }
    snprintf(c->user_id, sizeof(c->user_id), "%s", u->id);
    c->authenticated = true;
    struct evbuffer *out = c->owner->scratch;
    evbuffer_drain(out, evbuffer_get_length(out));
    if (ws_protocol_ready_append(out, u) == 0) ws_client_send(c, out);
    return true;
}

/* An auth message's session being read. */
struct auth_op {
    struct ws_client *c;
    char hash[TOKEN_HASH_LEN + 1];
};

static void on_auth_session(enum store_status st, const struct session_user *u, void *arg) {
    struct auth_op *op = arg;
    struct ws_client *c = op->c;
    char hash[TOKEN_HASH_LEN + 1];
    memcpy(hash, op->hash, sizeof(hash));
    free(op);
    c->auth_pending = false;
    if (ws_client_release(c) || !c->conn) return;
    if (st == STORE_NOT_FOUND) {
        ws_conn_close(c->conn, WS_CLOSE_UNAUTHORIZED, "unauthorized");
        return;
    }
    if (st != STORE_OK) {
        ws_client_error(c, routes_store_error(st), NULL, NULL, NULL, 0);
        ws_conn_close(c->conn, WS_CLOSE_TRY_AGAIN, "session unreadable");
        return;
    }
    if (!authenticated(c, u, hash)) return;
    while (c->held && c->conn) { /* in the order they came */
        struct ws_held *h = c->held;
        c->held = h->next;
        c->nheld--;
        handle(c, h->data, h->len);
        free(h);
    }
}

static void start_auth(struct ws_client *c, const struct ws_msg *m) {
    struct auth_op *op = malloc(sizeof(*op));
    if (!op) {
        ws_client_error(c, API_E_INTERNAL, NULL, NULL, NULL, 0);
        return;
    }
    op->c = c;
    token_hash(m->token, op->hash);
    c->auth_pending = true;
    c->pending++;
    if (store_session_get(c->srv->store, op->hash, c->srv->cfg.session_ttl, on_auth_session,
                          op) < 0) {
        free(op);
        c->auth_pending = false;
        c->pending--;
        ws_client_error(c, API_E_UNAVAILABLE, NULL, NULL, NULL, 0);
    }
}

static void hold(struct ws_client *c, const char *data, size_t len) {
    struct ws_held *h = c->nheld < HELD_MAX ? malloc(sizeof(*h) + len) : NULL;
    if (!h) {
        ws_conn_close(c->conn, WS_CLOSE_POLICY, "too many messages before auth");
        return;
    }
    h->next = NULL;
    h->len = len;
    memcpy(h->data, data, len);
    struct ws_held **tail = &c->held;
    while (*tail) tail = &(*tail)->next;
    *tail = h;
    c->nheld++;
}

static void dispatch(struct ws_client *c, struct ws_msg *m) {
    switch (m->type) {
    case WS_MSG_AUTH:
        ws_client_error(c, API_E_BAD_REQUEST, "This connection is authenticated already.", NULL,
                        NULL, 0);
        break;
    case WS_MSG_SUBSCRIBE: ws_subs_subscribe(c, m); break;
    case WS_MSG_UNSUBSCRIBE: ws_subs_unsubscribe(c, m->room); break;
    case WS_MSG_SEND: start_send(c, m); return; /* takes m */
    case WS_MSG_SUBSCRIBE_USER: ws_subs_user(c); break;
    }
    ws_msg_cleanup(m);
}

static void handle(struct ws_client *c, const char *data, size_t len) {
    if (c->auth_pending) {
        hold(c, data, len);
        return;
    }
    struct ws_msg m;
    const char *what;
    api_error e = ws_protocol_parse(data, len, &m, &what);
    if (!c->authenticated) {
        if (e == API_E_OK && m.type == WS_MSG_AUTH) start_auth(c, &m);
        else ws_conn_close(c->conn, WS_CLOSE_UNAUTHORIZED, "authenticate first");
        if (e == API_E_OK) ws_msg_cleanup(&m);
        return;
    }
    if (e != API_E_OK) { /* m keeps the members read before the bad one */
        ws_client_error(c, e, what, m.client_msg_id, m.room, 0);
        return;
    }
    dispatch(c, &m);
}

static void on_text(void *arg, const char *data, size_t len) { handle(arg, data, len); }

/* ---- the server's clients ---- */

static void on_heartbeat(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct ws_server *ws = arg;
    struct ws_client *c = ws->clients, *next;
    for (; c; c = next) {
        next = c->next;
        if (!c->authenticated && !c->auth_pending && ++c->unauth_periods >= AUTH_PERIODS)
            ws_conn_close(c->conn, WS_CLOSE_AUTH_TIMEOUT, "no auth message in time");
        else ws_conn_ping(c->conn);
    }
}

static int start_heartbeat(struct ws_server *ws) {
    if (ws->heartbeat) return 0;
    ws->heartbeat = event_new(ws->srv->base, -1, EV_PERSIST, on_heartbeat, ws);
    if (!ws->heartbeat) return -1;
    int period_ms = ws->srv->cfg.stream_heartbeat_ms;
    struct timeval tv = {period_ms / 1000, (period_ms % 1000) * 1000};
    return event_add(ws->heartbeat, &tv);
}

struct ws_server *routes_ws_new(struct server *srv) {
    struct ws_server *ws = calloc(1, sizeof(*ws));
    if (!ws) return NULL;
    ws->srv = srv;
    ws->framer = ws_framer_new();
    ws->frame = evbuffer_new();
    ws->scratch = evbuffer_new();
    if (!ws->framer || !ws->frame || !ws->scratch) {
        routes_ws_free(ws);
        return NULL;
    }
    return ws;
}

void routes_ws_close_all(struct ws_server *ws) {
    if (!ws) return;
    struct ws_client *c = ws->clients, *next;
    for (; c; c = next) {
        next = c->next;
        ws_conn_close(c->conn, WS_CLOSE_GOING_AWAY, "server going away");
    }
    if (ws->heartbeat) event_free(ws->heartbeat); /* no new client comes now */
    ws->heartbeat = NULL;
}

void routes_ws_free(struct ws_server *ws) {
    if (!ws) return;
    if (ws->heartbeat) event_free(ws->heartbeat);
    ws_framer_free(ws->framer);
    if (ws->frame) evbuffer_free(ws->frame);
    if (ws->scratch) evbuffer_free(ws->scratch);
    free(ws);
}

int routes_ws_count(const struct server *srv) { return srv->ws ? srv->ws->count : 0; }

/* ---- the upgrade ---- */

/* The request's upgrade, checked; answers it and returns false when it is
 * not one we take. */
static bool handshake_or_reply(struct request *r, char accept[WS_ACCEPT_LEN + 1]) {
    const char *origin = http_known_header(r, HTTP_H_ORIGIN);
    if (origin && !origin_matches_host(origin, http_known_header(r, HTTP_H_HOST))) {
        http_reply_error(r, API_E_CROSS_ORIGIN, NULL);
        return false;
    }
    struct ws_handshake h = {http_header(r, "Upgrade"), http_header(r, "Connection"),
                             http_header(r, "Sec-WebSocket-Version"),
                             http_header(r, "Sec-WebSocket-Key")};
    api_error e = ws_handshake_check(&h, accept);
    if (e == API_E_OK) return true;
    if (e == API_E_UPGRADE_REQUIRED) http_add_header(r, "Upgrade", "websocket");
    if (e == API_E_WS_VERSION) http_add_header(r, "Sec-WebSocket-Version", "13");
    http_reply_error(r, e, NULL);
    return false;
}

/* An upgrade on its way: its session read, then the 101. */
struct upgrade_op {
    struct request *r;
    char accept[WS_ACCEPT_LEN + 1];
    char address[CLIENT_ADDR_MAX];
    char hash[TOKEN_HASH_LEN + 1]; /* the session's, "" when none came */
    bool gone; /* the client went away meanwhile */
    bool signals; /* ?signals=1: typing and presence too */
};

static void upgrade_refused(struct upgrade_op *op, api_error e) {
    addr_slots_release(op->r->srv->stream_slots, op->address);
    http_reply_error(op->r, e, NULL);
    free(op);
}

static struct evbuffer *head_of(const struct upgrade_op *op) {
    struct evbuffer *head = evbuffer_new();
    if (head)
        evbuffer_add_printf(head,
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                            "X-Request-Id: %s\r\n\r\n",
                            op->accept, op->r->id);
    return head;
}

static void new_client(struct ws_server *ws, struct request *r, struct ws_client *c,
                       const struct session_user *user, const char *hash) {
    static const struct ws_conn_handlers handlers = {on_text, on_end, ws_subs_on_drained};
    c->owner = ws;
    c->srv = ws->srv;
    snprintf(c->id, sizeof(c->id), "%s", r->id);
    c->conn = ws_conn_new(r, ws->srv->fanout, ws->framer, &handlers, c);
    c->next = ws->clients;
    if (ws->clients) ws->clients->prev = c;
    ws->clients = c;
    ws->count++;
    if (!c->conn) { /* out of memory: the stream ends, the client retries */
        on_end(c, WS_CLOSE_INTERNAL);
        http_stream_abort(r);
        return;
    }
    log_info("req=%s msg=\"websocket open\" authenticated=%d", c->id, user != NULL);
    if (user) authenticated(c, user, hash); /* c may be gone after it */
}

/* Answers 101 and hands the socket to a new client (user NULL: it
 * authenticates with its first message). */
static void upgrade(struct upgrade_op *op, const struct session_user *user) {
    struct ws_server *ws = op->r->srv->ws;
    size_t address_len = strlen(op->address) + 1;
    struct ws_client *c = calloc(1, sizeof(*c) + address_len);
    struct evbuffer *head = c ? head_of(op) : NULL;
    if (!head || start_heartbeat(ws) < 0 || http_stream_upgrade(op->r, head) < 0) {
        if (head) evbuffer_free(head);
        free(c);
        upgrade_refused(op, API_E_INTERNAL);
        return;
    }
    evbuffer_free(head);
    memcpy(c->address, op->address, address_len);
    c->signals = op->signals;
    new_client(ws, op->r, c, user, op->hash);
    free(op);
}

static void on_upgrade_gone(struct request *r) {
    struct upgrade_op *op = r->stream_arg;
    op->gone = true;
}

static void on_upgrade_session(enum store_status st, const struct session_user *u, void *arg) {
    struct upgrade_op *op = arg;
    if (op->gone) upgrade_refused(op, API_E_UNAVAILABLE); /* goes nowhere */
    else if (st == STORE_NOT_FOUND) upgrade_refused(op, API_E_UNAUTHORIZED);
    else if (st != STORE_OK) upgrade_refused(op, routes_store_error(st));
    else upgrade(op, u);
}

void route_ws(struct request *r) {
    struct upgrade_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    op->signals = routes_wants_signals(r);
    if (!handshake_or_reply(r, op->accept) || !routes_stream_slot_or_503(r) ||
        !routes_take_address_slot(r, r->srv->stream_slots, op->address)) {
        free(op);
        return;
    }
    char token[TOKEN_LEN + 1];
    if (!http_session_token(r, token)) {
        /* a token offered but malformed is refused, as on every route */
        if (token_offered(http_known_header(r, HTTP_H_COOKIE),
                          http_known_header(r, HTTP_H_AUTHORIZATION)))
            upgrade_refused(op, API_E_UNAUTHORIZED);
        else
            upgrade(op, NULL);
        return;
    }
    token_hash(token, op->hash);
    sodium_memzero(token, sizeof(token));
    r->stream_arg = op;
    http_on_client_gone(r, on_upgrade_gone);
    if (store_session_get(r->srv->store, op->hash, r->srv->cfg.session_ttl, on_upgrade_session,
                          op) < 0)
        upgrade_refused(op, API_E_UNAVAILABLE);
}
