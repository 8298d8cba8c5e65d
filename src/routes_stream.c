/*
 * routes_stream: GET /message/stream, the room as Server-Sent Events. A
 * client that names the last message it has (Last-Event-ID, or ?after=)
 * first gets what it missed from the history, then the live messages from
 * the hub, with no gap and no duplicate between the two: the replay starts
 * only once the hub's reader knows its starting point, and it repeats until
 * a history read completes with no live message having arrived meanwhile.
 * Every event carries `id:`; a comment every --stream-heartbeat ms (15 s)
 * keeps proxies from timing the stream out; a client that cannot keep up is
 * disconnected and resumes with its last id. Once started, a stream is
 * detached (http_stream_detach), which keeps an idle one small.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history_gap.h"
#include "addr_slots.h"
#include "http.h"
#include "hub.h"
#include "json.h"
#include "log.h"
#include "presence.h"
#include "request_query.h"
#include "room_access.h"
#include "routes.h"
#include "server.h"
#include "session_streams.h"
#include "sse_fanout.h"
#include "sse_frame.h"
#include "store.h"
#include "validate.h"

#define RETRY_HINT_MS 2000  /* reconnection delay the stream asks for */
#define DRAIN_HINT_MS 250   /* the same when the server goes away */

struct sse {
    struct request *r;        /* the streaming request */
    struct hub_sub *sub;      /* live messages */
    const char *room;         /* points into the request */
    char cursor[CHAT_STREAM_ID_MAX + 1]; /* last id sent, "" before the first */
    bool live;                /* the replay is done */
    bool fetching;            /* a history read is in flight */
    bool missed;              /* a live message came during the replay */
    bool ending;              /* end once the history read returns */
    bool awaiting_drain;      /* a replay chunk is on its way out */
    struct routes_stream *owner; /* the server's open streams */
    bool revocable;           /* a private room: it ends when its user leaves */
    char user_id[CHAT_USER_ID_LEN + 1]; /* the reader's, "" when anonymous */
    bool present;             /* counts in the room's presence (presence_enter) */
    bool signals;             /* asked for typing and presence (?signals=1) */
    char address[CLIENT_ADDR_MAX]; /* its client, holding one of srv->stream_slots */
    struct sse *prev, *next;  /* every open stream of this chatd */
    struct session_stream_link *session; /* its session's streams, when it has one */
};

/* The open streams of one server (srv->streams). */
struct routes_stream {
    struct server *srv;
    struct sse *streams;      /* every open stream */
    int nstreams;
    struct event *heartbeat;  /* one timer pings every stream */
    struct evbuffer *signal;  /* the signal being delivered, framed once for all */
};

static void sse_free(struct sse *s) {
    struct routes_stream *rs = s->owner;
    hub_unsubscribe(s->sub);
    session_streams_remove(rs->srv->session_streams, &s->session);
    if (s->present) presence_leave(rs->srv->presence, s->room, s->user_id);
    if (s->prev) s->prev->next = s->next;
    else rs->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    rs->nstreams--;
    addr_slots_release(rs->srv->stream_slots, s->address);
    free(s);
}

/* Ends the stream: a clean end, or cut when the client is too slow or the
 * history could not be read (it reconnects with its last id either way). */
static void sse_end(struct sse *s, bool cut) {
    struct request *r = s->r;
    fanout_flush(r->srv->fanout); /* nothing of this stream stays in a pending batch */
    sse_free(s);
    if (cut) http_stream_abort(r);
    else http_stream_end(r);
}

static void fetch_history(struct sse *s);

/* The socket keeps one drained callback, and every write names it again:
 * only the first run after a replay chunk counts. */
static void on_replay_drained(struct evhttp_connection *evcon, void *arg) {
    (void)evcon;
    struct sse *s = arg;
    if (!s->awaiting_drain) return;
    s->awaiting_drain = false;
    fetch_history(s);
}

/* How many of a replayed batch go out: all, or up to the event that ends
 * the reader's membership of a private room. (A resumed replay may pass
 * an old one, from before the reader came back: the stream ends there, and
 * the client's reconnection from that event goes on.) */
static size_t replay_kept(const struct sse *s, const struct message *msgs, size_t n) {
    for (size_t i = 0; s->revocable && i < n; i++)
        if (member_rules_revokes(&msgs[i], s->user_id)) return i + 1;
    return n;
}

static void on_history(enum store_status st, const struct message *msgs, size_t n, void *arg) {
    struct sse *s = arg;
    int batch = s->r->srv->cfg.history_batch;
    s->fetching = false;
    if (s->ending || st != STORE_OK) {
        if (st != STORE_OK) log_warn("req=%s msg=\"stream replay failed\"", s->r->id);
        sse_end(s, st != STORE_OK);
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    if (!buf) { /* out of memory: cut, the client resumes from its last id */
        sse_end(s, true);
        return;
    }
    size_t kept = replay_kept(s, msgs, n);
    for (size_t i = 0; i < kept; i++)
        if (json_message_event_append(buf, &msgs[i]) < 0) /* as the live events: left out */
            log_warn("req=%s msg=\"message left out: not valid UTF-8\" id=%s", s->r->id,
                     msgs[i].id);
    if (kept) snprintf(s->cursor, sizeof(s->cursor), "%s", msgs[kept - 1].id);
    if (kept < n) { /* the reader left the room there: that event is the last */
        fanout_flush(s->r->srv->fanout);
        http_stream_send(s->r, buf, NULL, NULL);
        evbuffer_free(buf);
        sse_end(s, false);
        return;
    }
    bool more = n == (size_t)batch || s->missed;
    if (evbuffer_get_length(buf)) {
        fanout_flush(s->r->srv->fanout); /* after what was written before */
        s->awaiting_drain = more;
        http_stream_send(s->r, buf, more ? on_replay_drained : NULL, s);
    } else if (more)
        fetch_history(s);
    evbuffer_free(buf);
    if (!more) s->live = true;
}

static void fetch_history(struct sse *s) {
    s->missed = false;
    s->fetching = true;
    if (store_history_range(s->r->srv->store, s->room, s->cursor[0] ? s->cursor : NULL,
                            s->r->srv->cfg.history_batch, on_history, s) < 0) {
        s->fetching = false;
        sse_end(s, true);
    }
}

/* The gap check answered: the gap event when messages after the cursor
 * were trimmed, then the replay. */
static void on_gap_checked(enum store_status st, const char *first, void *arg) {
    struct sse *s = arg;
    s->fetching = false;
    if (s->ending || st != STORE_OK) {
        if (st != STORE_OK) log_warn("req=%s msg=\"stream gap check failed\"", s->r->id);
        sse_end(s, st != STORE_OK);
        return;
    }
    struct evbuffer *buf = first ? evbuffer_new() : NULL;
    if (buf && history_gap_event_append(buf, s->room, first) == 0) {
        fanout_flush(s->r->srv->fanout); /* after what was written before */
        http_stream_send(s->r, buf, NULL, NULL);
    }
    if (buf) evbuffer_free(buf);
    fetch_history(s);
}

static void go_live(struct sse *s) {
    if (!s->cursor[0]) {
        s->live = true; /* a new client starts with what comes next */
        return;
    }
    s->fetching = true; /* a resuming client first learns whether it misses messages */
    if (history_gap_check(s->r->srv->store, s->room, s->cursor, on_gap_checked, s) < 0) {
        s->fetching = false;
        sse_end(s, true);
    }
}

/* The membership read again once the hub's starting point was known: a
 * removal before that point is not among the live events, so it shows
 * here; one after it reaches on_event (or the replay). */
static void on_rechecked(enum store_status st, const struct store_access *a, void *arg) {
    struct sse *s = arg;
    s->fetching = false;
    bool member = st == STORE_OK && member_rules_can_read(a->kind, a->actor);
    if (s->ending || !member) {
        if (!s->ending) log_info("req=%s msg=\"stream ended: membership revoked\"", s->r->id);
        sse_end(s, st != STORE_OK && st != STORE_NOT_FOUND);
        return;
    }
    go_live(s);
}

/* A private room's stream checks the membership again from the hub's
 * starting point (which it takes as its cursor when it has none, so that
 * what arrives meanwhile is replayed); another goes live at once. */
static void on_ready(void *arg) {
    struct sse *s = arg;
    if (!s->revocable) {
        go_live(s);
        return;
    }
    if (!s->cursor[0]) snprintf(s->cursor, sizeof(s->cursor), "%s", hub_ready_id(s->sub));
    s->fetching = true;
    if (store_room_access(s->r->srv->store, s->room, s->user_id, NULL, on_rechecked, s) < 0) {
        s->fetching = false;
        sse_end(s, true);
    }
}

static void on_event(const struct hub_event *ev, void *arg) {
    struct sse *s = arg;
    size_t len;
    const char *frame = sse_frame_of(s->r->srv->sse_frame, ev->msg, &len);
    if (!frame) return; /* cannot be encoded: left out, as in the replay */
    if (!s->live) {
        s->missed = true; /* the replay reads the history once more */
        return;
    }
    if (s->cursor[0] && hub_id_compare(ev->msg->id, s->cursor) <= 0) return;
    if (http_stream_backlog(s->r) > (size_t)s->r->srv->cfg.stream_buffer) {
        log_info("req=%s msg=\"slow stream disconnected\" cursor=%s", s->r->id, s->cursor);
        sse_end(s, true);
        return;
    }
    fanout_add(s->r->srv->fanout, s->r, frame, len); /* sent once the hub's batch ends */
    size_t id_len = strnlen(ev->msg->id, sizeof(s->cursor) - 1);
    memcpy(s->cursor, ev->msg->id, id_len);
    s->cursor[id_len] = '\0';
    if (s->revocable && member_rules_revokes(ev->msg, s->user_id)) {
        log_info("req=%s msg=\"stream ended: membership revoked\"", s->r->id);
        sse_end(s, false); /* the event that says why goes out first */
    }
}

/* The message reached every stream: its frame goes out and is forgotten. */
static void on_delivered(const struct hub_event *ev, void *arg) {
    struct routes_stream *rs = arg;
    (void)ev;
    fanout_flush(rs->srv->fanout);
    sse_frame_clear(rs->srv->sse_frame);
}

/* A typing or presence signal: "event: <kind>\ndata: <json>\n\n", with no
 * id (the client's resume position stays where it is), framed at the
 * first stream and shared by the others until the delivery ends. Only
 * for live streams: a replaying one would get it amid its history. */
static void on_signal(const struct hub_signal *sig, void *arg) {
    struct sse *s = arg;
    struct evbuffer *frame = s->owner->signal;
    if (!s->live || http_stream_backlog(s->r) > (size_t)s->r->srv->cfg.stream_buffer) return;
    if (evbuffer_get_length(frame) == 0 &&
        (evbuffer_add_printf(frame, "event: %s\ndata: ", sig->kind) < 0 ||
         evbuffer_add(frame, sig->data, sig->len) < 0 || evbuffer_add(frame, "\n\n", 2) < 0))
        return;
    fanout_add(s->r->srv->fanout, s->r, (const char *)evbuffer_pullup(frame, -1),
               evbuffer_get_length(frame));
}

static void on_signal_delivered(const struct hub_signal *sig, void *arg) {
    (void)sig;
    struct routes_stream *rs = arg;
    fanout_flush(rs->srv->fanout);
    evbuffer_drain(rs->signal, evbuffer_get_length(rs->signal));
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    static const char ping[] = ": ping\n\n";
    struct routes_stream *rs = arg;
    for (struct sse *s = rs->streams; s; s = s->next)
        fanout_add(rs->srv->fanout, s->r, ping, sizeof(ping) - 1);
    fanout_flush(rs->srv->fanout);
}

/* The shared heartbeat timer runs while the server serves streams. */
static int start_heartbeat(struct routes_stream *rs) {
    if (rs->heartbeat) return 0;
    rs->heartbeat = event_new(rs->srv->base, -1, EV_PERSIST, on_heartbeat, rs);
    if (!rs->heartbeat) return -1;
    int period_ms = rs->srv->cfg.stream_heartbeat_ms;
    struct timeval tv = {period_ms / 1000, (period_ms % 1000) * 1000};
    return event_add(rs->heartbeat, &tv);
}

/* Its session ended (a logout, a password change, a locked or deleted
 * account, on any chatd): the stream ends as a clean end. */
static void on_session_ended(void *arg) {
    struct sse *s = arg;
    log_info("req=%s msg=\"stream ended: session ended\"", s->r->id);
    if (s->fetching) s->ending = true; /* on_history ends it */
    else sse_end(s, false);
}

static void on_client_gone(struct request *r) {
    struct sse *s = r->stream_arg;
    if (s->fetching) s->ending = true; /* on_history ends it */
    else sse_end(s, false);
}

bool routes_stream_slot_or_503(struct request *r) {
    if (routes_stream_count(r->srv->streams) + routes_multi_stream_count(r->srv) +
                routes_ws_count(r->srv) <
            r->srv->cfg.max_streams &&
        !r->srv->draining)
        return true;
    http_add_header(r, "Retry-After", "1");
    http_reply_error(r, API_E_TOO_MANY_STREAMS, NULL);
    return false;
}

/* Starts s, whose room exists: it joins the open streams and the hub. */
static void stream_start(struct sse *s) {
    struct request *r = s->r;
    struct routes_stream *rs = s->owner;
    const char *room = s->room;
    s->next = rs->streams;
    if (rs->streams) rs->streams->prev = s;
    rs->streams = s;
    rs->nstreams++;
    char hash[TOKEN_HASH_LEN + 1];
    if (room_access_session_hash(r, hash))
        s->session = session_streams_add(r->srv->session_streams, hash, on_session_ended, s);
    http_add_header(r, "X-Accel-Buffering", "no");
    http_stream_start(r, 200, "text/event-stream; charset=utf-8");
    r->stream_arg = s;
    r->on_close = on_client_gone;
    /* before the stream joins the hub: no fan-out batch has its socket yet */
    http_stream_detach(r); /* an idle stream keeps only what it needs */
    s->sub = hub_subscribe(r->srv->hub, room, on_event, on_ready, s);
    if (start_heartbeat(rs) < 0 || !s->sub) {
        sse_end(s, true);
        return;
    }
    if (s->signals) hub_sub_on_signal(s->sub, on_signal);
    char hello[64];
    int n = snprintf(hello, sizeof(hello), "retry: %d\n: connected\n\n", RETRY_HINT_MS);
    fanout_write(r->srv->fanout, r, hello, (size_t)n);
}

static void on_access(const struct room_access *a, void *arg) {
    struct sse *s = arg; /* not started yet: nothing else knows it */
    struct addr_slots *slots = s->r->srv->stream_slots; /* a reply frees the request */
    if (a->error != API_E_OK) http_reply_error(s->r, a->error, NULL);
    else if (routes_stream_slot_or_503(s->r)) {
        s->revocable = a->kind != ROOM_PUBLIC && !a->admin; /* an admin reads every room */
        if (a->has_user) memcpy(s->user_id, a->user.id, sizeof(s->user_id));
        if (a->has_user) presence_enter(s->r->srv->presence, s->room, a->user.id, a->user.name);
        s->present = a->has_user;
        stream_start(s);
        return;
    }
    addr_slots_release(slots, s->address);
    free(s);
}

/* Only a room that exists, and that the client may read (room_access.h),
 * gets a stream and a hub entry: a name a client makes up costs one Redis
 * read and no state. */
void route_message_stream(struct request *r) {
    char cursor[CHAT_STREAM_ID_MAX + 1];
    const char *room = routes_room_or_400(r);
    if (!room) return;
    if (request_query_cursor(http_header(r, "Last-Event-ID"), http_query(r, "after"),
                             cursor) < 0) {
        http_reply_error(r, API_E_INVALID_QUERY, "Last-Event-ID (or after) must be a message id.");
        return;
    }
    if (!routes_stream_slot_or_503(r)) return;
    char address[CLIENT_ADDR_MAX];
    if (!routes_take_address_slot(r, r->srv->stream_slots, address)) return;
    struct sse *s = calloc(1, sizeof(*s));
    if (!s) {
        addr_slots_release(r->srv->stream_slots, address);
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    memcpy(s->address, address, sizeof(address));
    s->r = r;
    s->room = room;
    s->signals = routes_wants_signals(r);
    memcpy(s->cursor, cursor, sizeof(cursor));
    s->owner = r->srv->streams;
    char hash[TOKEN_HASH_LEN + 1];
    bool has_session = !routes_room_is_lobby(room) && room_access_session_hash(r, hash);
    if (routes_room_is_lobby(room)) {
        stream_start(s);
    } else if (room_access_check(r->srv, room, ROOM_ACCESS_READ, has_session ? hash : NULL, NULL,
                                 on_access, s) < 0) {
        addr_slots_release(r->srv->stream_slots, s->address);
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
        free(s);
    }
}

int routes_stream_count(const struct routes_stream *rs) { return rs ? rs->nstreams : 0; }

struct routes_stream *routes_stream_new(struct server *srv) {
    struct routes_stream *rs = calloc(1, sizeof(*rs));
    if (!rs) return NULL;
    rs->srv = srv;
    if (!(rs->signal = evbuffer_new())) {
        free(rs);
        return NULL;
    }
    hub_set_delivered(srv->hub, on_delivered, rs);
    hub_set_signal_delivered(srv->hub, on_signal_delivered, rs);
    return rs;
}

void routes_stream_close_all(struct routes_stream *rs) {
    if (!rs) return;
    char hint[64];
    int n = snprintf(hint, sizeof(hint), "retry: %d\n: server going away\n\n", DRAIN_HINT_MS);
    struct sse *s = rs->streams, *next;
    for (; s; s = next) {
        next = s->next;
        fanout_write(rs->srv->fanout, s->r, hint, (size_t)n);
        if (s->fetching) s->ending = true;
        else sse_end(s, false);
    }
    if (rs->heartbeat) event_free(rs->heartbeat); /* no new stream starts now */
    rs->heartbeat = NULL;
}

void routes_stream_free(struct routes_stream *rs) {
    if (!rs) return;
    if (rs->heartbeat) event_free(rs->heartbeat);
    if (rs->signal) evbuffer_free(rs->signal);
    free(rs);
}
