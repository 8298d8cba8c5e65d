/*
 * routes_wait: long-poll, GET /message/?after=<id>&wait=<seconds>. It
 * answers at once when messages newer than after exist; otherwise it holds
 * the request until the hub reports one (then reads the history again) or
 * the wait ends (200 []). The subscription is made before the first read,
 * so a message stored in between is not missed.
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
#include "member_rules.h"
#include "metrics.h"
#include "routes.h"
#include "room_access.h"
#include "server.h"
#include "session_streams.h"
#include "store.h"
#include "validate.h"

struct waiter {
    struct server *srv;       /* outlives the request, answered before the waiter is freed */
    struct request *r;
    struct hub_sub *sub;
    const char *room;         /* points into the request */
    char after[CHAT_STREAM_ID_MAX + 1];
    int limit;
    int wait_s;               /* how long the long-poll may be held */
    bool reading;             /* a history read is in flight */
    bool again;               /* a message came during that read: read once more */
    bool closing;             /* the server stops: answer when that read returns */
    bool parked;              /* counted in chatd_long_polls_waiting */
    bool expired;             /* the wait ended during a read: answer when it returns */
    struct event *timeout;
    struct waiter *prev, *next;
    char address[CLIENT_ADDR_MAX]; /* its client, holding one of srv->long_poll_slots */
    char revoke_user[CHAT_USER_ID_LEN + 1]; /* a private room's reader, else "" */
    struct session_stream_link *session; /* its session's waits, when it has one */
};

/* The parked long-polls of one server (srv->long_polls). */
struct routes_wait {
    struct waiter *waiters;
};

static void set_parked(struct waiter *w, bool parked) {
    if (w->parked != parked) metrics_long_poll_parked(w->srv->metrics, parked ? 1 : -1);
    w->parked = parked;
}

static void waiter_free(struct waiter *w) {
    set_parked(w, false);
    hub_unsubscribe(w->sub);
    session_streams_remove(w->srv->session_streams, &w->session);
    if (w->timeout) event_free(w->timeout);
    if (w->prev) w->prev->next = w->next;
    else w->srv->long_polls->waiters = w->next;
    if (w->next) w->next->prev = w->prev;
    addr_slots_release(w->srv->long_poll_slots, w->address);
    free(w);
}

/* Answers msgs, up to the room event that ends the reader's membership of
 * a private room if one is among them: nothing after it goes out. */
static void answer(struct waiter *w, const struct message *msgs, size_t n) {
    for (size_t i = 0; w->revoke_user[0] && i < n; i++)
        if (member_rules_revokes(&msgs[i], w->revoke_user)) n = i + 1;
    struct evbuffer *out = evbuffer_new();
    if (out && json_message_array_append(out, msgs, n) == 0) http_reply_buffer(w->r, 200, out);
    else http_reply_error(w->r, API_E_INTERNAL, NULL);
    if (out) evbuffer_free(out);
    waiter_free(w);
}

static void read_history(struct waiter *w);

static void on_history(enum store_status st, const struct message *msgs, size_t n, void *arg) {
    struct waiter *w = arg;
    w->reading = false;
    if (st != STORE_OK) {
        http_reply_error(w->r, routes_store_error(st), NULL);
        waiter_free(w);
    } else if (n > 0 || w->closing || w->expired) {
        answer(w, msgs, n);
    } else if (w->again) {
        read_history(w);
    } else {
        set_parked(w, true);
    }
}

static void read_history(struct waiter *w) {
    w->again = false;
    w->reading = true;
    if (store_history_range(w->r->srv->store, w->room, w->after, w->limit, on_history,
                            w) < 0) {
        w->reading = false;
        http_reply_error(w->r, API_E_UNAVAILABLE, NULL);
        waiter_free(w);
    }
}

/* The gap check answered: the header when messages after the cursor were
 * trimmed, then the first read (or the answer, when the wait ended). */
static void on_gap_checked(enum store_status st, const char *first, void *arg) {
    struct waiter *w = arg;
    w->reading = false;
    if (st != STORE_OK) {
        http_reply_error(w->r, routes_store_error(st), NULL);
        waiter_free(w);
        return;
    }
    if (first) http_add_header(w->r, HISTORY_GAP_HEADER, history_gap_header_value(first));
    if (w->closing || w->expired) answer(w, NULL, 0);
    else read_history(w);
}

/* The hub's reader stands: a wait from a cursor first asks whether
 * messages after it are gone (counted as a read: the timeout and the
 * shutdown wait for it). */
static void on_ready(void *arg) {
    struct waiter *w = arg;
    if (!w->after[0]) {
        read_history(w);
        return;
    }
    w->reading = true;
    if (history_gap_check(w->srv->store, w->room, w->after, on_gap_checked, w) < 0) {
        w->reading = false;
        http_reply_error(w->r, API_E_UNAVAILABLE, NULL);
        waiter_free(w);
    }
}

static void on_event(const struct hub_event *ev, void *arg) {
    struct waiter *w = arg;
    if (hub_id_compare(ev->msg->id, w->after) <= 0) return;
    if (w->reading) w->again = true;
    else read_history(w);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct waiter *w = arg;
    if (w->reading) w->expired = true; /* on_history answers */
    else answer(w, NULL, 0);
}

/* Its session ended (a logout, a password change, a locked or deleted
 * account, on any chatd): the wait ends at once, answered as when it
 * times out (the next request shows what the session's end changed). */
static void on_session_ended(void *arg) {
    struct waiter *w = arg;
    if (w->reading) w->expired = true; /* on_history answers */
    else answer(w, NULL, 0);
}

/* Parks w (a room that exists): it joins the server's long-polls and the
 * hub's room. */
static void wait_start(struct waiter *w) {
    struct request *r = w->r;
    struct routes_wait *rw = r->srv->long_polls;
    w->next = rw->waiters;
    if (rw->waiters) rw->waiters->prev = w;
    rw->waiters = w;
    char hash[TOKEN_HASH_LEN + 1];
    if (room_access_session_hash(r, hash))
        w->session = session_streams_add(r->srv->session_streams, hash, on_session_ended, w);
    w->timeout = evtimer_new(r->srv->base, on_timeout, w);
    w->sub = hub_subscribe(r->srv->hub, w->room, on_event, on_ready, w);
    if (!w->timeout || !w->sub) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        waiter_free(w);
        return;
    }
    struct timeval tv = {w->wait_s, 0};
    evtimer_add(w->timeout, &tv);
}

/* The caller checked the room (it exists, and the client may read it:
 * room_access.h), which costs one Redis read and no state for a name a
 * client makes up; only then does a waiter join the hub. */
void route_message_wait(struct request *r, const char *room, const char *after, int limit,
                        int wait_s, const char *revoke_user) {
    char address[CLIENT_ADDR_MAX];
    if (!routes_take_address_slot(r, r->srv->long_poll_slots, address)) return;
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w) {
        addr_slots_release(r->srv->long_poll_slots, address);
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    memcpy(w->address, address, sizeof(address));
    w->srv = r->srv;
    w->r = r;
    w->room = room;
    w->limit = limit;
    w->wait_s = wait_s;
    snprintf(w->after, sizeof(w->after), "%s", after);
    if (revoke_user) snprintf(w->revoke_user, sizeof(w->revoke_user), "%s", revoke_user);
    if (!routes_room_is_lobby(room) && r->srv->draining) { /* came after a Redis read */
        addr_slots_release(r->srv->long_poll_slots, w->address);
        http_reply_error(r, API_E_DRAINING, NULL);
        free(w);
        return;
    }
    wait_start(w);
}

struct routes_wait *routes_wait_new(void) { return calloc(1, sizeof(struct routes_wait)); }

void routes_wait_free(struct routes_wait *rw) { free(rw); }

void routes_wait_close_all(struct routes_wait *rw) {
    if (!rw) return;
    struct waiter *w = rw->waiters, *next;
    for (; w; w = next) {
        next = w->next;
        if (w->reading) w->closing = true; /* on_history answers */
        else answer(w, NULL, 0);
    }
}
