/*
 * ws_subs: the rooms a WebSocket client follows, each with the guarantees
 * of the SSE streams (routes_stream.c): a subscription that names the last
 * id its client has ("after") first gets the gap signal when messages
 * after it were trimmed, then what it missed from the history, then the
 * live messages from the hub, with no gap and no duplicate between the two
 * (the replay starts once the hub's reader knows its start, and repeats
 * until a history read completes with no live message having come
 * meanwhile). One subscription replays at a time, paced by the socket
 * (the next batch is read once the last one is out); the others go on
 * live meanwhile. A live message is framed once for every client
 * (ws_framer) and goes out with the hub's fan-out batch; a client whose
 * queue holds more than --stream-buffer bytes is closed with 1013 and
 * resumes from its last ids.
 *
 * A room other than the lobby is followed under the access rule of every
 * path (room_access.h): a private one by its members only (everyone else
 * gets not_found, as for a room never created). A member's subscription
 * to a private room ends at the room event that takes the member out
 * (left, removed, banned), live or replayed, once that event is sent; the
 * membership is read again once the hub's starting point is known, so a
 * removal before it ends the subscription too. The client is told
 * ("unsubscribed" with the reason "revoked") and keeps its other rooms.
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history_gap.h"
#include "hub.h"
#include "log.h"
#include "member_rules.h"
#include "presence.h"
#include "room_access.h"
#include "routes.h"
#include "routes_ws.h"
#include "server.h"
#include "sse_fanout.h"
#include "store.h"
#include "stream_rooms.h"
#include "user_feed.h"
#include "ws_conn.h"
#include "ws_protocol.h"

/* One room a client follows: what an idle one keeps, sized to its room's
 * name (the user it is about is its client's). */
struct ws_sub {
    struct ws_client *c;
    struct hub_sub *sub;                 /* its live messages */
    struct ws_sub *next;
    char cursor[CHAT_STREAM_ID_MAX + 1]; /* the last id the client has, "" before the first */
    bool live : 1;                       /* its replay is done, or it needs none */
    bool to_replay : 1;                  /* waits for its turn to replay */
    bool missed : 1;                     /* a live message came during its replay */
    bool fetching : 1;                   /* a store read of its own is in flight */
    bool dropped : 1;                    /* unsubscribed while fetching: freed on return */
    bool resumes : 1;                    /* it came with an "after" */
    bool revocable : 1;                  /* a private room: it ends when its user leaves */
    bool present : 1;                    /* it keeps its user online in the room */
    char room[];
};

/* A subscribe waiting for its room's access check. */
struct subscribe_op {
    struct ws_client *c;
    char room[CHAT_ROOM_MAX + 1];
    char after[CHAT_STREAM_ID_MAX + 1];
    bool signals; /* the subscribe asked for the room's signals */
};

static void set_cursor(struct ws_sub *s, const char *id) {
    snprintf(s->cursor, sizeof(s->cursor), "%s", id);
}

static void replay_next(struct ws_client *c);
static void drop(struct ws_client *c, struct ws_sub *s);
static void end_sub(struct ws_client *c, struct ws_sub *s, const char *reason);

/* s's user was taken out of its private room: the subscription ends
 * there, the connection and its other rooms go on. */
static void revoke(struct ws_sub *s) {
    log_info("req=%s msg=\"websocket subscription revoked\" room=%s", s->c->id, s->room);
    end_sub(s->c, s, "revoked");
}

/* A store read of s returned: false when the callback goes on; true when s
 * was dropped meanwhile (it is freed here, and the client's hold too). */
static bool sub_returned(struct ws_sub *s) {
    struct ws_client *c = s->c;
    s->fetching = false;
    if (!s->dropped) {
        c->pending--;
        return false;
    }
    if (c->replaying == s) c->replaying = NULL;
    free(s);
    if (!ws_client_release(c)) replay_next(c);
    return true;
}

/* The history cannot be read: the client resumes later from its ids. */
static void cut(struct ws_client *c, const char *why) {
    log_warn("req=%s msg=\"websocket replay failed\" why=\"%s\"", c->id, why);
    ws_conn_close(c->conn, WS_CLOSE_TRY_AGAIN, why);
}

static void fetch_history(struct ws_sub *s);

void ws_subs_on_drained(void *arg) {
    struct ws_client *c = arg;
    if (!c->awaiting_drain) return;
    c->awaiting_drain = false;
    ws_conn_notify_drained(c->conn, false);
    if (c->replaying) fetch_history(c->replaying);
}

static void send_replayed(struct ws_sub *s, const struct message *msgs, size_t n) {
    struct ws_client *c = s->c;
    struct evbuffer *out = c->owner->scratch;
    for (size_t i = 0; i < n; i++) {
        evbuffer_drain(out, evbuffer_get_length(out));
        set_cursor(s, msgs[i].id);
        if (ws_protocol_message_append(out, s->room, &msgs[i]) < 0) {
            log_warn("req=%s msg=\"message left out: not valid UTF-8\" id=%s", c->id, msgs[i].id);
            continue;
        }
        ws_client_send(c, out);
        if (!c->conn) return;
    }
}

/* A history read of s returned with st: its client when the callback goes
 * on, NULL when s was dropped or the read failed (the client is cut). */
static struct ws_client *read_returned(struct ws_sub *s, enum store_status st) {
    if (sub_returned(s)) return NULL;
    if (st == STORE_OK) return s->c;
    cut(s->c, "history unreadable");
    return NULL;
}

static void on_history(enum store_status st, const struct message *msgs, size_t n, void *arg) {
    struct ws_sub *s = arg;
    struct ws_client *c = read_returned(s, st);
    if (!c) return;
    size_t kept = s->revocable ? member_rules_kept(msgs, n, c->user_id) : n;
    if (kept < n) { /* the user left the room there: that event is the last */
        send_replayed(s, msgs, kept);
        if (c->conn) revoke(s);
        return;
    }
    bool more = n == (size_t)c->srv->cfg.history_batch || s->missed;
    if (more && n > 0) { /* the next batch once this one is out */
        c->awaiting_drain = true;
        ws_conn_notify_drained(c->conn, true);
    }
    send_replayed(s, msgs, n);
    if (!c->conn || (more && n > 0)) return;
    if (more) {
        fetch_history(s);
        return;
    }
    s->live = true;
    c->replaying = NULL;
    replay_next(c);
}

static void fetch_history(struct ws_sub *s) {
    struct ws_client *c = s->c;
    s->missed = false;
    s->fetching = true;
    c->pending++;
    if (store_history_range(c->srv->store, s->room, s->cursor[0] ? s->cursor : NULL,
                            c->srv->cfg.history_batch, on_history, s) < 0) {
        s->fetching = false;
        c->pending--;
        cut(c, "history unreadable");
    }
}

static void on_gap_checked(enum store_status st, const char *first, void *arg) {
    struct ws_sub *s = arg;
    struct ws_client *c = read_returned(s, st);
    if (!c) return;
    struct evbuffer *out = c->owner->scratch;
    evbuffer_drain(out, evbuffer_get_length(out));
    if (first && ws_protocol_gap_append(out, s->room, first) == 0) ws_client_send(c, out);
    if (c->conn) fetch_history(s);
}

/* Starts the replay of the next subscription waiting for one, if none
 * replays: first asks whether messages after its cursor are gone. */
static void replay_next(struct ws_client *c) {
    if (c->replaying || !c->conn) return;
    struct ws_sub *s = c->subs;
    while (s && !s->to_replay) s = s->next;
    if (!s) return;
    s->to_replay = false;
    c->replaying = s;
    s->fetching = true;
    c->pending++;
    if (history_gap_check(c->srv->store, s->room, s->cursor, on_gap_checked, s) < 0) {
        s->fetching = false;
        c->pending--;
        cut(c, "history unreadable");
    }
}

/* The subscription's start is known (and, for a private room, the
 * membership still holds): a resuming one, or one that missed a live
 * message meanwhile, replays from its cursor; a new one is live at once. */
static void go_on(struct ws_sub *s) {
    if (!s->resumes && !s->missed) {
        s->live = true; /* a new subscription starts with what comes next */
        return;
    }
    s->to_replay = true;
    replay_next(s->c);
}

/* The membership read again once the hub's starting point was known: a
 * removal before that point is not among the live events, so it shows
 * here; one after it reaches on_event (or the replay). */
static void on_rechecked(enum store_status st, const struct store_access *a, void *arg) {
    struct ws_sub *s = arg;
    if (sub_returned(s)) return;
    if (st != STORE_OK && st != STORE_NOT_FOUND) cut(s->c, "membership unreadable");
    else if (st == STORE_NOT_FOUND || !member_rules_can_read(a->kind, a->actor)) revoke(s);
    else go_on(s);
}

static void recheck(struct ws_sub *s) {
    struct ws_client *c = s->c;
    s->fetching = true;
    c->pending++;
    if (store_room_access(c->srv->store, s->room, c->user_id, NULL, on_rechecked, s) < 0) {
        s->fetching = false;
        c->pending--;
        cut(c, "membership unreadable");
    }
}

static void on_ready(void *arg) {
    struct ws_sub *s = arg;
    struct ws_client *c = s->c;
    if (!s->resumes) set_cursor(s, hub_ready_id(s->sub));
    struct evbuffer *out = c->owner->scratch;
    evbuffer_drain(out, evbuffer_get_length(out));
    if (ws_protocol_subscribed_append(out, s->room, s->cursor) == 0) ws_client_send(c, out);
    if (!c->conn) return;
    if (s->revocable) recheck(s); /* live messages meanwhile are replayed after it */
    else go_on(s);
}

/* The live message m of room as one frame, made once for every client. */
static const char *live_frame(struct ws_server *ws, const char *room, const struct message *m,
                              size_t *len) {
    if (strcmp(ws->frame_id, m->id) != 0 || strcmp(ws->frame_room, room) != 0) {
        fanout_flush(ws->srv->fanout); /* the batch may hold the old frame's bytes */
        evbuffer_drain(ws->frame, evbuffer_get_length(ws->frame));
        evbuffer_drain(ws->scratch, evbuffer_get_length(ws->scratch));
        ws->frame_id[0] = '\0';
        if (ws_protocol_message_append(ws->scratch, room, m) < 0) return NULL;
        size_t n = evbuffer_get_length(ws->scratch);
        if (ws_framer_frame(ws->framer, ws->frame, 1, (const char *)evbuffer_pullup(ws->scratch, -1),
                            n) < 0)
            return NULL;
        snprintf(ws->frame_id, sizeof(ws->frame_id), "%s", m->id);
        snprintf(ws->frame_room, sizeof(ws->frame_room), "%s", room);
    }
    *len = evbuffer_get_length(ws->frame);
    return (const char *)evbuffer_pullup(ws->frame, -1);
}

static void on_event(const struct hub_event *ev, void *arg) {
    struct ws_sub *s = arg;
    struct ws_client *c = s->c;
    if (!s->live) {
        s->missed = true; /* the replay reads the history once more */
        return;
    }
    if (s->cursor[0] && hub_id_compare(ev->msg->id, s->cursor) <= 0) return;
    if (ws_conn_backlog(c->conn) > (size_t)c->srv->cfg.stream_buffer) {
        log_info("req=%s msg=\"slow websocket closed\" room=%s cursor=%s", c->id, s->room,
                 s->cursor);
        ws_conn_close(c->conn, WS_CLOSE_TRY_AGAIN, "too slow a reader");
        return;
    }
    size_t len;
    const char *frame = live_frame(c->owner, s->room, ev->msg, &len);
    if (frame) { /* else it cannot be encoded: left out, as in the replay */
        ws_conn_add_frame(c->conn, frame, len);
        set_cursor(s, ev->msg->id);
    }
    if (s->revocable && member_rules_revokes(ev->msg, c->user_id))
        revoke(s); /* the event that says why goes out first */
}

/* A typing or presence signal of a live room: {"type":<kind>, "room", ...}. */
static void on_signal(const struct hub_signal *sig, void *arg) {
    struct ws_sub *s = arg;
    struct ws_client *c = s->c;
    if (!s->live || !c->conn || ws_conn_backlog(c->conn) > (size_t)c->srv->cfg.stream_buffer)
        return;
    struct evbuffer *out = c->owner->scratch;
    evbuffer_drain(out, evbuffer_get_length(out));
    if (ws_protocol_signal_append(out, sig->kind, sig->data, sig->len) == 0) ws_client_send(c, out);
}

/* The subscription keeps user u, its client's, online in its room
 * (presence.h). */
static void enter(struct ws_sub *s, const struct session_user *u) {
    presence_enter(s->c->srv->presence, s->room, u->id, u->name);
    s->present = true;
}

/* revocable: the client's user's removal from the private room ends it
 * (false for a public room, or a site administrator, who reads every
 * room). */
static void start_sub(struct ws_client *c, const char *room, const char *after, bool revocable,
                      bool signals) {
    size_t room_len = strlen(room) + 1;
    struct ws_sub *s = calloc(1, sizeof(*s) + room_len);
    if (!s) {
        ws_client_error(c, API_E_INTERNAL, NULL, NULL, room, 0);
        return;
    }
    s->c = c;
    memcpy(s->room, room, room_len);
    set_cursor(s, after);
    s->resumes = after[0] != '\0';
    s->revocable = revocable;
    s->next = c->subs;
    c->subs = s;
    c->nsubs++;
    s->sub = hub_subscribe(c->srv->hub, room, on_event, on_ready, s);
    if (!s->sub) {
        drop(c, s);
        ws_client_error(c, API_E_INTERNAL, NULL, NULL, room, 0);
        return;
    }
    if (signals || c->signals) hub_sub_on_signal(s->sub, on_signal);
}

static void on_access(const struct room_access *a, void *arg) {
    struct subscribe_op *op = arg;
    struct ws_client *c = op->c;
    if (!ws_client_release(c) && c->conn) {
        if (a->error != API_E_OK) ws_client_error(c, a->error, NULL, NULL, op->room, 0);
        else if (ws_subs_follows(c, op->room))
            ws_client_error(c, API_E_BAD_REQUEST, "This room is subscribed already.", NULL,
                            op->room, 0);
        else {
            start_sub(c, op->room, op->after, a->kind != ROOM_PUBLIC && !a->admin, op->signals);
            if (a->has_user && c->subs && strcmp(c->subs->room, op->room) == 0)
                enter(c->subs, &a->user); /* start_sub put it first */
        }
    }
    free(op);
}

void ws_subs_subscribe(struct ws_client *c, const struct ws_msg *m) {
    if (ws_subs_follows(c, m->room)) {
        ws_client_error(c, API_E_BAD_REQUEST, "This room is subscribed already.", NULL, m->room,
                        0);
        return;
    }
    if (c->nsubs >= STREAM_ROOMS_MAX) {
        ws_client_error(c, API_E_BAD_REQUEST, "A connection follows at most 32 rooms.", NULL,
                        m->room, 0);
        return;
    }
    if (routes_room_is_lobby(m->room)) {
        start_sub(c, m->room, m->after, false, m->signals);
        return;
    }
    struct subscribe_op *op = calloc(1, sizeof(*op));
    if (!op) {
        ws_client_error(c, API_E_INTERNAL, NULL, NULL, m->room, 0);
        return;
    }
    op->c = c;
    memcpy(op->room, m->room, sizeof(op->room));
    memcpy(op->after, m->after, sizeof(op->after));
    op->signals = m->signals;
    c->pending++;
    if (room_access_check(c->srv, op->room, ROOM_ACCESS_READ, ws_client_session(c), NULL,
                          on_access, op) < 0) {
        c->pending--;
        free(op);
        ws_client_error(c, API_E_UNAVAILABLE, NULL, NULL, m->room, 0);
    }
}

/* Unlinks s from its client and ends its hub subscription; frees it unless
 * a store read of its own is in flight (then that read's return does). */
static void drop(struct ws_client *c, struct ws_sub *s) {
    struct ws_sub **p = &c->subs;
    while (*p != s) p = &(*p)->next;
    *p = s->next;
    c->nsubs--;
    hub_unsubscribe(s->sub);
    s->sub = NULL;
    if (s->present) presence_leave(c->srv->presence, s->room, c->user_id);
    s->present = false;
    if (s->fetching) {
        s->dropped = true;
        return;
    }
    if (c->replaying == s) { /* waiting for its batch to go out */
        c->replaying = NULL;
        c->awaiting_drain = false;
        if (c->conn) ws_conn_notify_drained(c->conn, false);
    }
    free(s);
}

/* Ends s and tells the client (reason: NULL when it asked). */
static void end_sub(struct ws_client *c, struct ws_sub *s, const char *reason) {
    char room[CHAT_ROOM_MAX + 1];
    snprintf(room, sizeof(room), "%s", s->room); /* drop may free s */
    bool was_replaying = c->replaying == s;
    drop(c, s);
    struct evbuffer *out = c->owner->scratch;
    evbuffer_drain(out, evbuffer_get_length(out));
    if (ws_protocol_unsubscribed_append(out, room, reason) == 0) ws_client_send(c, out);
    if (was_replaying && !c->replaying) replay_next(c);
}

void ws_subs_unsubscribe(struct ws_client *c, const char *room) {
    struct ws_sub *s = c->subs;
    while (s && strcmp(s->room, room) != 0) s = s->next;
    if (!s) {
        ws_client_error(c, API_E_NOT_FOUND, "This room is not subscribed.", NULL, room, 0);
        return;
    }
    end_sub(c, s, NULL);
}

bool ws_subs_follows(const struct ws_client *c, const char *room) {
    for (const struct ws_sub *s = c->subs; s; s = s->next)
        if (strcmp(s->room, room) == 0) return true;
    return false;
}

void ws_subs_drop_all(struct ws_client *c) {
    while (c->subs) drop(c, c->subs);
    hub_unsubscribe(c->user_sub);
    c->user_sub = NULL;
    c->replaying = NULL;
    c->awaiting_drain = false;
}

/* ---- the user's own events ---- */

static void on_user_event(const struct hub_event *ev, void *arg) {
    struct ws_client *c = arg;
    struct evbuffer *out = c->owner->scratch;
    evbuffer_drain(out, evbuffer_get_length(out));
    if (user_feed_event_append(out, ev->msg, true) == 0) ws_client_send(c, out);
}

/* Its start is known: what happens from here on reaches the client. */
static void on_user_ready(void *arg) {
    struct ws_client *c = arg;
    struct evbuffer *out = c->owner->scratch;
    evbuffer_drain(out, evbuffer_get_length(out));
    if (ws_protocol_user_subscribed_append(out) == 0) ws_client_send(c, out);
}

void ws_subs_user(struct ws_client *c) {
    if (c->user_sub) {
        ws_client_error(c, API_E_BAD_REQUEST, "The user's events are followed already.", NULL,
                        NULL, 0);
        return;
    }
    c->user_sub = user_feed_subscribe(c->srv->hub, c->user_id, on_user_event, on_user_ready, c);
    if (!c->user_sub) ws_client_error(c, API_E_INTERNAL, NULL, NULL, NULL, 0);
}
