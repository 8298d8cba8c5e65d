/*
 * routes_multi_stream: GET /stream?rooms=a,b, several rooms as one stream
 * of Server-Sent Events, so that a browser tab (or all tabs of a browser)
 * follows every room it shows over one connection. Each event's data is the
 * message with its "room"; each event's id is the stream's position, the
 * last id sent of every room ("a:<id>,b:<id>", stream_rooms.h), which the
 * client sends back as Last-Event-ID to resume every room at once, on any
 * chatd.
 *
 * Each room is a hub subscription with the guarantees of the single-room
 * stream (routes_stream.c): a room with an id in the position replays what
 * came after it from the history, then goes live, with no gap and no
 * duplicate; a room without one starts where the hub's reader stands, and
 * once every room knows its start the stream sends its position (an `id:`
 * without data). Replays run one room at a time; rooms that are live
 * meanwhile keep receiving. Heartbeats, the slow-client rule and
 * --max-streams are those of the single-room stream.
 *
 * The single-room stream encodes an event once for all its streams; here
 * the id differs per stream, so the message part ("data: ...") is encoded
 * once per message and copied behind each stream's own id line, which goes
 * out with one send() (fanout_send_one), outside the single-room batch.
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
#include "routes.h"
#include "server.h"
#include "session_streams.h"
#include "sse_fanout.h"
#include "store.h"
#include "room_access.h"
#include "stream_rooms.h"
#include "user_feed.h"

#define RETRY_HINT_MS 2000 /* reconnection delay the stream asks for */
#define DRAIN_HINT_MS 250  /* the same when the server goes away */

struct multi_stream;

/* One room of a stream. */
struct stream_room_sub {
    struct multi_stream *stream;
    struct hub_sub *sub; /* its live messages */
    bool ready;          /* the hub told where it starts */
    bool live;           /* its replay is done, or it needs none */
    bool to_replay;      /* waits for its turn to replay */
    bool missed;         /* a live message came during its replay */
    bool revocable;      /* a private room: the stream ends when its user leaves it */
    bool present;        /* counts in the room's presence (presence_enter) */
};

/* One open multi-room stream. */
struct multi_stream {
    struct request *r;         /* the streaming request */
    struct multi_streams *all; /* the server's list */
    int nrooms, nready;
    int replaying;                /* the room whose history is read, -1 for none */
    bool fetching;                /* a history read is in flight */
    bool ending;                  /* end once the history read returns */
    bool awaiting_drain;          /* a replay chunk is on its way out */
    struct stream_room_sub *subs; /* nrooms of them */
    struct multi_stream *prev, *next;
    char address[CLIENT_ADDR_MAX]; /* its client, holding one of srv->stream_slots */
    char user_id[CHAT_USER_ID_LEN + 1]; /* the reader's, "" when anonymous */
    struct session_stream_link *session; /* its session's streams, when it has one */
    struct hub_sub *user_sub; /* the reader's own events (?user=1), or NULL */
    bool user_ready;          /* its start is known (or it has none) */
    bool signals;                 /* asked for typing and presence (?signals=1) */
    struct stream_room pos[]; /* names and the position, nrooms of them */
};

/* The server's multi-room streams (struct server owns it). */
struct multi_streams {
    struct fanout *fanout;                /* the server's, which writes to the streams */
    struct multi_stream *list;
    int count;
    struct event *heartbeat;              /* one timer pings every stream */
    struct evbuffer *out;                 /* an event on its way to one stream */
    struct evbuffer *scratch;             /* a message being encoded */
    struct evbuffer *data;                /* the last live message as "data: ...\n\n" */
    char data_room[CHAT_ROOM_MAX + 1];    /* its room */
    char data_id[CHAT_STREAM_ID_MAX + 1]; /* and id; "" when data holds none */
};

static void multi_free(struct multi_stream *s) {
    for (int i = 0; i < s->nrooms; i++) {
        hub_unsubscribe(s->subs[i].sub);
        if (s->subs[i].present) presence_leave(s->r->srv->presence, s->pos[i].name, s->user_id);
    }
    session_streams_remove(s->r->srv->session_streams, &s->session);
    hub_unsubscribe(s->user_sub);
    if (s->prev)
        s->prev->next = s->next;
    else
        s->all->list = s->next;
    if (s->next) s->next->prev = s->prev;
    s->all->count--;
    addr_slots_release(s->r->srv->stream_slots, s->address);
    free(s->subs);
    free(s);
}

/* Ends the stream: a clean end, or cut when the client is too slow or the
 * history could not be read (it reconnects with its position either way). */
static void multi_end(struct multi_stream *s, bool cut) {
    struct request *r = s->r;
    multi_free(s);
    if (cut)
        http_stream_abort(r);
    else
        http_stream_end(r);
}

/* Appends m of room as "data: {"room":…,"id":…}\n\n"; -1 (nothing
 * appended) when it cannot be encoded. */
static int append_data(struct multi_streams *all, struct evbuffer *out, const char *room,
                       const struct message *m) {
    struct evbuffer *json = all->scratch;
    evbuffer_drain(json, evbuffer_get_length(json));
    if (json_message_append(json, m) < 0) return -1;
    evbuffer_drain(json, 1); /* its "{": the room goes first */
    evbuffer_add_printf(out, "data: {\"room\":\"%s\",", room);
    evbuffer_add_buffer(out, json);
    return evbuffer_add(out, "\n\n", 2);
}

/* Appends "id: <position>\n". */
static void append_position(struct evbuffer *out, const struct multi_stream *s) {
    char position[STREAM_POSITION_MAX + 1];
    size_t len = stream_rooms_position(s->pos, s->nrooms, position, sizeof(position));
    evbuffer_add(out, "id: ", 4);
    evbuffer_add(out, position, len);
    evbuffer_add(out, "\n", 1);
}

static void set_room_id(struct multi_stream *s, int i, const char *id) {
    snprintf(s->pos[i].id, sizeof(s->pos[i].id), "%s", id);
}

static void fetch_history(struct multi_stream *s);

/* The socket keeps one drained callback, and every write names it again:
 * only the first run after a replay chunk counts. */
static void on_replay_drained(struct evhttp_connection *evcon, void *arg) {
    (void)evcon;
    struct multi_stream *s = arg;
    if (!s->awaiting_drain) return;
    s->awaiting_drain = false;
    fetch_history(s);
}

/* Queues out's bytes on the stream, keeping a pending replay's callback. */
static void stream_write(struct multi_stream *s, struct evbuffer *out) {
    http_stream_send(s->r, out, s->awaiting_drain ? on_replay_drained : NULL, s);
}

/* The gap check of the room about to replay answered: the gap event when
 * messages after its id were trimmed, then its replay. */
static void on_gap_checked(enum store_status st, const char *first, void *arg) {
    struct multi_stream *s = arg;
    int i = s->replaying;
    s->fetching = false;
    if (s->ending || st != STORE_OK) {
        if (st != STORE_OK) log_warn("req=%s msg=\"stream gap check failed\"", s->r->id);
        multi_end(s, st != STORE_OK);
        return;
    }
    struct evbuffer *out = s->all->out;
    evbuffer_drain(out, evbuffer_get_length(out));
    if (first && history_gap_event_append(out, s->pos[i].name, first) == 0) stream_write(s, out);
    fetch_history(s);
}

static void check_gap(struct multi_stream *s) {
    int i = s->replaying;
    s->fetching = true;
    if (history_gap_check(s->r->srv->store, s->pos[i].name, s->pos[i].id, on_gap_checked, s) <
        0) {
        s->fetching = false;
        multi_end(s, true);
    }
}

/* The reader's membership of the private room about to replay, read again
 * after the hub's starting point was known: a removal before that point is
 * not among the live events, so it shows here. */
static void on_rechecked(enum store_status st, const struct store_access *a, void *arg) {
    struct multi_stream *s = arg;
    s->fetching = false;
    bool member = st == STORE_OK && member_rules_can_read(a->kind, a->actor);
    if (s->ending || !member) {
        if (!s->ending) log_info("req=%s msg=\"stream ended: membership revoked\"", s->r->id);
        multi_end(s, st != STORE_OK && st != STORE_NOT_FOUND);
        return;
    }
    check_gap(s);
}

/* Starts the replay of the next room waiting for one, if any: first (for
 * a private room, after its membership) asks whether messages after its id
 * are gone. */
static void replay_next(struct multi_stream *s) {
    for (int i = 0; i < s->nrooms; i++) {
        if (!s->subs[i].to_replay) continue;
        s->subs[i].to_replay = false;
        s->replaying = i;
        if (!s->subs[i].revocable) {
            check_gap(s);
            return;
        }
        s->fetching = true;
        if (store_room_access(s->r->srv->store, s->pos[i].name, s->user_id, NULL, on_rechecked,
                              s) < 0) {
            s->fetching = false;
            multi_end(s, true);
        }
        return;
    }
}

/* Appends one replayed batch of room i as events; the room's id follows. */
static void append_replayed(struct multi_stream *s, int i, struct evbuffer *buf,
                            const struct message *msgs, size_t n) {
    struct evbuffer *data = s->all->out;
    for (size_t k = 0; k < n; k++) {
        set_room_id(s, i, msgs[k].id);
        evbuffer_drain(data, evbuffer_get_length(data));
        if (append_data(s->all, data, s->pos[i].name, &msgs[k]) < 0) {
            log_warn("req=%s msg=\"message left out: not valid UTF-8\" id=%s", s->r->id,
                     msgs[k].id);
            continue;
        }
        append_position(buf, s);
        evbuffer_add_buffer(buf, data);
    }
}

static void on_history(enum store_status st, const struct message *msgs, size_t n, void *arg) {
    struct multi_stream *s = arg;
    int i = s->replaying;
    s->fetching = false;
    if (s->ending || st != STORE_OK) {
        if (st != STORE_OK) log_warn("req=%s msg=\"stream replay failed\"", s->r->id);
        multi_end(s, st != STORE_OK);
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    if (!buf) { /* out of memory: cut, the client resumes from its position */
        multi_end(s, true);
        return;
    }
    size_t kept = n;
    for (size_t k = 0; s->subs[i].revocable && kept == n && k < n; k++)
        if (member_rules_revokes(&msgs[k], s->user_id)) kept = k + 1;
    append_replayed(s, i, buf, msgs, kept);
    if (kept < n) { /* the reader left the room there: that event is the last */
        stream_write(s, buf);
        evbuffer_free(buf);
        multi_end(s, false);
        return;
    }
    bool more = n == (size_t)s->r->srv->cfg.history_batch || s->subs[i].missed;
    bool sent = evbuffer_get_length(buf) > 0;
    if (sent) {
        s->awaiting_drain = more;
        stream_write(s, buf);
    }
    evbuffer_free(buf);
    if (more) {
        if (!sent) fetch_history(s);
        return;
    }
    s->subs[i].live = true;
    s->replaying = -1;
    replay_next(s);
}

static void fetch_history(struct multi_stream *s) {
    int i = s->replaying;
    s->subs[i].missed = false;
    s->fetching = true;
    if (store_history_range(s->r->srv->store, s->pos[i].name, s->pos[i].id,
                            s->r->srv->cfg.history_batch, on_history, s) < 0) {
        s->fetching = false;
        multi_end(s, true);
    }
}

/* An `id:` without data: the client's Last-Event-ID now covers every room. */
static void write_position(struct multi_stream *s) {
    struct evbuffer *out = s->all->out;
    evbuffer_drain(out, evbuffer_get_length(out));
    append_position(out, s);
    evbuffer_add(out, "\n", 1);
    stream_write(s, out);
}

static void on_ready(void *arg) {
    struct stream_room_sub *sub = arg;
    struct multi_stream *s = sub->stream;
    int i = (int)(sub - s->subs);
    sub->ready = true;
    bool fresh = !s->pos[i].id[0];
    if (fresh) set_room_id(s, i, hub_ready_id(sub->sub)); /* it starts with what comes next */
    if (fresh && !sub->revocable) sub->live = true;
    else sub->to_replay = true; /* a private room replays from there after its recheck */
    if (++s->nready == s->nrooms && s->user_ready) write_position(s);
    if (sub->to_replay && s->replaying < 0) replay_next(s); /* last: it may end s */
}

/* The live message m of room as "data: ...", encoded once for every stream
 * it goes to; NULL when it cannot be encoded (the single-room streams skip
 * it too). */
static struct evbuffer *live_data(struct multi_streams *all, const char *room,
                                  const struct message *m) {
    if (strcmp(all->data_id, m->id) == 0 && strcmp(all->data_room, room) == 0) return all->data;
    evbuffer_drain(all->data, evbuffer_get_length(all->data));
    all->data_id[0] = '\0';
    if (append_data(all, all->data, room, m) < 0) return NULL;
    snprintf(all->data_room, sizeof(all->data_room), "%s", room);
    snprintf(all->data_id, sizeof(all->data_id), "%s", m->id);
    return all->data;
}

static void on_event(const struct hub_event *ev, void *arg) {
    struct stream_room_sub *sub = arg;
    struct multi_stream *s = sub->stream;
    int i = (int)(sub - s->subs);
    if (!sub->live) {
        sub->missed = true; /* its replay (now or to come) reads the history again */
        return;
    }
    if (hub_id_compare(ev->msg->id, s->pos[i].id) <= 0) return;
    if (http_stream_backlog(s->r) > (size_t)s->r->srv->cfg.stream_buffer) {
        log_info("req=%s msg=\"slow stream disconnected\" room=%s", s->r->id, s->pos[i].name);
        multi_end(s, true);
        return;
    }
    struct evbuffer *data = live_data(s->all, s->pos[i].name, ev->msg);
    if (!data) return;
    set_room_id(s, i, ev->msg->id);
    struct evbuffer *out = s->all->out;
    evbuffer_drain(out, evbuffer_get_length(out));
    append_position(out, s);
    evbuffer_add(out, evbuffer_pullup(data, -1), evbuffer_get_length(data));
    /* straight to the socket: not into the hub's batch of single-room streams */
    if (fanout_send_one(s->r, (const char *)evbuffer_pullup(out, -1), evbuffer_get_length(out)) < 0)
        multi_end(s, true); /* out of memory: the client resumes from its position */
    else if (sub->revocable && member_rules_revokes(ev->msg, s->user_id))
        multi_end(s, false); /* it said why; a reconnection with that room is refused */
}

/* The reader's own events (a marker moved) as "event: marker": no id line,
 * so the position stays; a client that resumes reads its markers again
 * (GET /room/) instead of replaying them. */
static void on_user_event(const struct hub_event *ev, void *arg) {
    struct multi_stream *s = arg;
    struct evbuffer *out = s->all->out;
    evbuffer_drain(out, evbuffer_get_length(out));
    evbuffer_add(out, "event: marker\ndata: ", 20);
    if (user_feed_event_append(out, ev->msg, false) < 0) return;
    evbuffer_add(out, "\n\n", 2);
    if (fanout_send_one(s->r, (const char *)evbuffer_pullup(out, -1), evbuffer_get_length(out)) < 0)
        multi_end(s, true);
}

/* A typing or presence signal of a live room: "event: <kind>" and its data
 * (which names the room), with no id, so the position stays as it is. */
static void on_signal(const struct hub_signal *sig, void *arg) {
    struct stream_room_sub *sub = arg;
    struct multi_stream *s = sub->stream;
    if (!sub->live || http_stream_backlog(s->r) > (size_t)s->r->srv->cfg.stream_buffer) return;
    struct evbuffer *out = s->all->out;
    evbuffer_drain(out, evbuffer_get_length(out));
    if (evbuffer_add_printf(out, "event: %s\ndata: ", sig->kind) < 0 ||
        evbuffer_add(out, sig->data, sig->len) < 0 || evbuffer_add(out, "\n\n", 2) < 0)
        return;
    if (fanout_send_one(s->r, (const char *)evbuffer_pullup(out, -1), evbuffer_get_length(out)) < 0)
        multi_end(s, true);
}

static void on_user_ready(void *arg) {
    struct multi_stream *s = arg;
    s->user_ready = true;
    if (s->nready == s->nrooms) write_position(s);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    static const char ping[] = ": ping\n\n";
    struct multi_streams *all = arg;
    for (struct multi_stream *s = all->list; s; s = s->next)
        fanout_add(all->fanout, s->r, ping, sizeof(ping) - 1);
    fanout_flush(all->fanout);
}

/* Its session ended (a logout, a password change, a locked or deleted
 * account, on any chatd): the stream ends as a clean end. */
static void on_session_ended(void *arg) {
    struct multi_stream *s = arg;
    log_info("req=%s msg=\"stream ended: session ended\"", s->r->id);
    if (s->fetching)
        s->ending = true; /* on_history ends it */
    else
        multi_end(s, false);
}

static void on_client_gone(struct request *r) {
    struct multi_stream *s = r->stream_arg;
    if (s->fetching)
        s->ending = true; /* on_history ends it */
    else
        multi_end(s, false);
}

static struct multi_streams *streams_new(struct server *srv) {
    struct multi_streams *all = calloc(1, sizeof(*all));
    if (!all) return NULL;
    all->fanout = srv->fanout;
    int ms = srv->cfg.stream_heartbeat_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    all->heartbeat = event_new(srv->base, -1, EV_PERSIST, on_heartbeat, all);
    all->out = evbuffer_new();
    all->scratch = evbuffer_new();
    all->data = evbuffer_new();
    if (all->heartbeat && all->out && all->scratch && all->data &&
        event_add(all->heartbeat, &tv) == 0)
        return all;
    srv->multi_streams = all;
    routes_multi_stream_free(srv);
    return NULL;
}

/* The server's multi-room streams, made with the first one. */
static struct multi_streams *streams_of(struct server *srv) {
    if (!srv->multi_streams) srv->multi_streams = streams_new(srv);
    return srv->multi_streams;
}

static struct multi_stream *multi_new(struct multi_streams *all, struct request *r,
                                      const struct stream_room *rooms, int n) {
    if (n < 1) return NULL; /* read_rooms gives 1 to STREAM_ROOMS_MAX */
    struct multi_stream *s = calloc(1, sizeof(*s) + (size_t)n * sizeof(rooms[0]));
    struct stream_room_sub *subs = calloc((size_t)n, sizeof(*subs));
    if (!s || !subs) {
        free(s);
        free(subs);
        return NULL;
    }
    *s = (struct multi_stream){.r = r, .all = all, .nrooms = n, .replaying = -1, .subs = subs};
    memcpy(s->pos, rooms, (size_t)n * sizeof(rooms[0]));
    for (int i = 0; i < n; i++)
        subs[i].stream = s;
    s->next = all->list;
    if (all->list) all->list->prev = s;
    all->list = s;
    all->count++;
    return s;
}

/* Subscribes every room, and the reader's own events when asked (with
 * user_id); false when one cannot be. */
static bool subscribe_rooms(struct multi_stream *s, struct hub *hub, const char *user_id) {
    s->user_ready = !user_id;
    if (user_id && !(s->user_sub = user_feed_subscribe(hub, user_id, on_user_event,
                                                       on_user_ready, s)))
        return false;
    for (int i = 0; i < s->nrooms; i++) {
        s->subs[i].sub = hub_subscribe(hub, s->pos[i].name, on_event, on_ready, &s->subs[i]);
        if (!s->subs[i].sub) return false;
        if (s->signals) hub_sub_on_signal(s->subs[i].sub, on_signal);
    }
    return true;
}

/* Reads ?rooms= and the position into rooms; answers 400 and returns -1
 * when either is invalid, else the number of rooms. */
static int read_rooms(struct request *r, struct stream_room rooms[STREAM_ROOMS_MAX]) {
    int n = stream_rooms_parse(http_query(r, "rooms"), rooms, STREAM_ROOMS_MAX);
    if (n == STREAM_ROOMS_BAD_NAME) {
        http_reply_error(r, API_E_INVALID_ROOM, NULL);
        return -1;
    }
    if (n < 0) {
        http_reply_error(r, API_E_INVALID_QUERY, "rooms must name 1 to 32 different rooms.");
        return -1;
    }
    const char *position = http_header(r, "Last-Event-ID");
    if (!position || !*position) position = http_query(r, "after");
    if (position && *position && stream_rooms_set_position(position, rooms, n) < 0) {
        http_reply_error(r, API_E_INVALID_QUERY,
                         "Last-Event-ID (or after) must be room:id pairs separated by commas.");
        return -1;
    }
    return n;
}

/* Marks the private rooms of s, whose streams end at their reader's
 * leaving; access names the checked rooms in order, the lobby left out. */
static void set_revocation(struct multi_stream *s, const struct room_access_many *access) {
    if (!access) return;
    if (access->has_user) memcpy(s->user_id, access->user.id, sizeof(s->user_id));
    for (int i = 0, k = 0; i < s->nrooms; i++)
        if (!routes_room_is_lobby(s->pos[i].name))
            s->subs[i].revocable = access->kinds[k++] != ROOM_PUBLIC && !access->admin;
}

/* The reader is online in each room of s but the lobby (which has no
 * presence), until the stream ends. */
static void enter_rooms(struct multi_stream *s, const struct room_access_many *access) {
    for (int i = 0; access && access->has_user && i < s->nrooms; i++) {
        if (routes_room_is_lobby(s->pos[i].name)) continue;
        presence_enter(s->r->srv->presence, s->pos[i].name, access->user.id, access->user.name);
        s->subs[i].present = true;
    }
}

/* 503 with Retry-After when the server takes no more streams. */
static bool slot_or_503(struct request *r, const struct multi_streams *all) {
    if (!all || (routes_stream_count(r->srv->streams) + all->count + routes_ws_count(r->srv) <
                     r->srv->cfg.max_streams &&
                 !r->srv->draining))
        return true;
    http_add_header(r, "Retry-After", "1");
    http_reply_error(r, API_E_TOO_MANY_STREAMS, NULL);
    return false;
}

/* Starts the stream of n rooms that exist and that access lets the client
 * read (NULL: the lobby only), with user_id's own events when not NULL. */
static void multi_start(struct request *r, const struct stream_room *rooms, int n,
                        const struct room_access_many *access, const char *user_id) {
    struct multi_streams *all = streams_of(r->srv);
    if (!slot_or_503(r, all)) return;
    char address[CLIENT_ADDR_MAX];
    if (!routes_take_address_slot(r, r->srv->stream_slots, address)) return;
    struct multi_stream *s = all ? multi_new(all, r, rooms, n) : NULL;
    if (!s) {
        addr_slots_release(r->srv->stream_slots, address);
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    memcpy(s->address, address, sizeof(address));
    s->signals = routes_wants_signals(r);
    set_revocation(s, access);
    char hash[TOKEN_HASH_LEN + 1];
    if (room_access_session_hash(r, hash))
        s->session = session_streams_add(r->srv->session_streams, hash, on_session_ended, s);
    enter_rooms(s, access);
    http_add_header(r, "X-Accel-Buffering", "no");
    http_stream_start(r, 200, "text/event-stream; charset=utf-8");
    r->stream_arg = s;
    r->on_close = on_client_gone;
    http_stream_detach(r); /* an idle stream keeps only what it needs */
    if (!subscribe_rooms(s, r->srv->hub, user_id)) {
        multi_end(s, true);
        return;
    }
    char hello[64];
    int len = snprintf(hello, sizeof(hello), "retry: %d\n: connected\n\n", RETRY_HINT_MS);
    fanout_write(r->srv->fanout, r, hello, (size_t)len);
}

/* The rooms of a stream while the store checks that they exist. */
struct rooms_check {
    struct request *r;
    int n;
    bool user;                          /* ?user=1: the reader's own events too */
    char user_id[CHAT_USER_ID_LEN + 1]; /* then the reader's */
    struct stream_room rooms[STREAM_ROOMS_MAX];
    const char *checked[STREAM_ROOMS_MAX]; /* the names checked: all but the lobby */
};

static void on_rooms_checked(const struct room_access_many *a, void *arg) {
    struct rooms_check *c = arg;
    if (!a || a->error == API_E_OK) multi_start(c->r, c->rooms, c->n, a, c->user ? c->user_id : NULL);
    else http_reply_error(c->r, a->error, NULL);
    free(c);
}

/* Checks the rooms: only rooms that exist and that the client may read
 * (room_access.h) get a stream and hub entries: names a client makes up
 * cost one round trip (one command per room, sent together) and no
 * state. */
static void check_rooms(struct rooms_check *c) {
    struct request *r = c->r;
    int unknown = 0;
    for (int i = 0; i < c->n; i++)
        if (!routes_room_is_lobby(c->rooms[i].name)) c->checked[unknown++] = c->rooms[i].name;
    char hash[TOKEN_HASH_LEN + 1];
    bool has_session = unknown && room_access_session_hash(r, hash);
    if (!unknown) {
        on_rooms_checked(NULL, c);
    } else if (room_access_check_many(r, c->checked, unknown, has_session ? hash : NULL,
                                      on_rooms_checked, c) < 0) {
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
        free(c);
    }
}

/* ?user=1: whose own events the stream carries. */
static void on_user_session(enum store_status st, const struct session_user *u, void *arg) {
    struct rooms_check *c = arg;
    if (st != STORE_OK) {
        http_reply_error(c->r, st == STORE_NOT_FOUND ? API_E_UNAUTHORIZED : routes_store_error(st),
                         NULL);
        free(c);
        return;
    }
    memcpy(c->user_id, u->id, sizeof(c->user_id));
    check_rooms(c);
}

/* ?user=1 (the reader's own events: a marker moved) needs a session,
 * read first; without it the stream is what it always was. */
void route_multi_stream(struct request *r) {
    struct rooms_check *c = calloc(1, sizeof(*c));
    if (!c) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    c->r = r;
    c->n = read_rooms(r, c->rooms);
    if (c->n < 0 || !slot_or_503(r, streams_of(r->srv))) {
        free(c);
        return;
    }
    const char *user = http_query(r, "user");
    c->user = user && strcmp(user, "1") == 0;
    if (user && !c->user) {
        http_reply_error(r, API_E_INVALID_QUERY, "user must be 1 when given.");
        free(c);
        return;
    }
    char hash[TOKEN_HASH_LEN + 1];
    if (!c->user) {
        check_rooms(c);
    } else if (!room_access_session_hash(r, hash)) {
        http_reply_error(r, API_E_UNAUTHORIZED, NULL);
        free(c);
    } else if (store_session_get(r->srv->store, hash, r->srv->cfg.session_ttl, on_user_session,
                                 c) < 0) {
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
        free(c);
    }
}

int routes_multi_stream_count(const struct server *srv) {
    return srv->multi_streams ? srv->multi_streams->count : 0;
}

void routes_multi_stream_close_all(struct server *srv) {
    struct multi_streams *all = srv->multi_streams;
    if (!all) return;
    char hint[64];
    int n = snprintf(hint, sizeof(hint), "retry: %d\n: server going away\n\n", DRAIN_HINT_MS);
    struct multi_stream *s = all->list, *next;
    for (; s; s = next) {
        next = s->next;
        fanout_write(s->r->srv->fanout, s->r, hint, (size_t)n);
        if (s->fetching)
            s->ending = true;
        else
            multi_end(s, false);
    }
    if (all->heartbeat) event_del(all->heartbeat); /* no new stream starts now */
}

void routes_multi_stream_free(struct server *srv) {
    struct multi_streams *all = srv->multi_streams;
    if (!all) return;
    if (all->heartbeat) event_free(all->heartbeat);
    if (all->out) evbuffer_free(all->out);
    if (all->scratch) evbuffer_free(all->scratch);
    if (all->data) evbuffer_free(all->data);
    free(all);
    srv->multi_streams = NULL;
}
