/* hub: one stream reader per room and its local subscribers, see hub.h. */
#include "hub.h"

#include <event2/event.h>
#include <inttypes.h>
#include <search.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "presence_merge.h"
#include "ephemeral.h"
#include "store.h"
#include "store_doorbell.h"

#define READ_COUNT 1000     /* messages per read at most */
#define RETRY_MS 200        /* after a failed read */
#define RECHECK_MS 1000     /* a room rung in the last period is read once more */

struct room;

struct hub_sub {
    struct room *room;
    hub_event_fn *on_event;
    hub_ready_fn *on_ready;
    hub_signal_fn *on_signal; /* the room's signals, or NULL */
    void *arg;
    bool ready_sent;          /* on_ready ran */
    bool removed;             /* unsubscribed during a delivery: freed after it */
    struct event *ready_ev;   /* runs on_ready outside hub_subscribe() */
    struct hub_sub *prev, *next;
};

struct room {
    char name[128];           /* first: the rooms tree's key, found again with offsetof */
    struct hub *hub;          /* NULL once the hub is gone */
    char last_id[64];         /* the reader continues after this id */
    bool started;             /* last_id is known */
    bool busy;                /* a Redis call is in flight */
    bool rang;                /* the doorbell rang during that call: read again after it */
    bool rung_lately;         /* rang since the last recheck */
    int delivering;           /* nested deliveries in progress */
    size_t nremoved;          /* subscribers marked removed, not yet unlinked */
    struct hub_sub *subs;
    size_t nsubs;
    struct store_doorbell *bell; /* the room's doorbell, watched while it has subscribers */
    struct event *retry_ev;
    struct presence_merge *presence; /* presence signals not yet handed out, or NULL */
    struct event *presence_ev;       /* hands them out; NULL before the first */
    long long presence_sent_ms;      /* when the last presence event went out */
    struct room *prev, *next;
};

struct hub {
    struct event_base *base;
    struct store *store;
    struct store_doorbells *bells;  /* one subscriber connection per master */
    struct room *rooms;
    void *by_name;                  /* tsearch tree of the rooms' names */
    struct event *recheck_ev;       /* reads the rooms rung lately once more */
    hub_delivered_fn *on_delivered; /* after every subscriber had a message, or NULL */
    void *delivered_arg;            /* its argument */
    hub_signal_fn *on_signal_delivered; /* after every subscriber had a signal, or NULL */
    void *signal_delivered_arg;         /* its argument */
};

static void catch_up(struct room *rm);
static void release_if_unused(struct room *rm);
static void start_reader(struct room *rm);

/* Reads the decimal number at *s (0 when there is none) and moves past it
 * and one '-' after it. Stream ids are validated before they get here. */
static uint64_t id_part(const char **s) {
    uint64_t v = 0;
    const char *p = *s;
    for (; *p >= '0' && *p <= '9'; p++) v = v * 10 + (uint64_t)(*p - '0');
    if (*p == '-') p++;
    *s = p;
    return v;
}

/* Runs for every subscriber of every message: no sscanf here. */
int hub_id_compare(const char *a, const char *b) {
    uint64_t ams = id_part(&a), aseq = id_part(&a);
    uint64_t bms = id_part(&b), bseq = id_part(&b);
    if (ams != bms) return ams < bms ? -1 : 1;
    return aseq < bseq ? -1 : aseq > bseq;
}

static int name_compare(const void *a, const void *b) { return strcmp(a, b); }

static void room_unlink(struct room *rm) {
    struct hub *h = rm->hub;
    if (!h) return;
    tdelete(rm->name, &h->by_name, name_compare);
    if (rm->prev) rm->prev->next = rm->next;
    else h->rooms = rm->next;
    if (rm->next) rm->next->prev = rm->prev;
}

static void room_free(struct room *rm) {
    room_unlink(rm);
    store_doorbell_unwatch(rm->bell);
    if (rm->retry_ev) event_free(rm->retry_ev);
    if (rm->presence_ev) event_free(rm->presence_ev);
    presence_merge_free(rm->presence);
    free(rm);
}

static void sub_free(struct hub_sub *sub) {
    if (sub->ready_ev) event_free(sub->ready_ev);
    free(sub);
}

/* The ready event runs once: freed then, not kept for the stream's life. */
static void drop_ready_event(struct hub_sub *sub) {
    if (!sub->ready_ev) return;
    event_free(sub->ready_ev);
    sub->ready_ev = NULL;
}

static void sub_unlink(struct hub_sub *sub) {
    struct room *rm = sub->room;
    if (sub->prev) sub->prev->next = sub->next;
    else rm->subs = sub->next;
    if (sub->next) sub->next->prev = sub->prev;
    rm->nsubs--;
    sub_free(sub);
}

/* Unlinks subscribers removed while a delivery was running (a walk over the
 * room only when there are some: a room of 10,000 must not be walked for
 * every subscriber that comes or goes). */
static void sweep(struct room *rm) {
    if (rm->nremoved == 0) return;
    struct hub_sub *sub = rm->subs, *next;
    for (; sub; sub = next) {
        next = sub->next;
        if (sub->removed) sub_unlink(sub);
    }
    rm->nremoved = 0;
}

static void tell_ready(struct hub_sub *sub) {
    if (sub->ready_sent || sub->removed) return;
    sub->ready_sent = true;
    drop_ready_event(sub);
    sub->on_ready(sub->arg);
}

static void on_ready_event(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct hub_sub *sub = arg;
    struct room *rm = sub->room;
    rm->delivering++;
    tell_ready(sub);
    if (--rm->delivering == 0) sweep(rm);
    release_if_unused(rm);
}

/* Hands one message to every subscriber that is ready. */
static void deliver(struct room *rm, const struct message *m) {
    struct hub_event ev = {m};
    for (struct hub_sub *sub = rm->subs; sub; sub = sub->next)
        if (sub->ready_sent && !sub->removed) sub->on_event(&ev, sub->arg);
    if (rm->hub && rm->hub->on_delivered) rm->hub->on_delivered(&ev, rm->hub->delivered_arg);
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct room *rm = arg;
    if (rm->started) catch_up(rm);
    else start_reader(rm);
}

static void retry_later(struct room *rm) {
    struct timeval tv = {0, RETRY_MS * 1000};
    evtimer_add(rm->retry_ev, &tv);
}

/* A room without subscribers is freed (its doorbell unwatched); a later
 * subscriber starts it afresh from the room's newest id. Called only where
 * no Redis call and no delivery of the room is running. */
static bool keep_reading(struct room *rm) {
    if (rm->hub && rm->nsubs > 0) return true;
    room_free(rm);
    return false;
}

static void on_read(enum store_status st, const struct message *msgs, size_t n, void *arg) {
    struct room *rm = arg;
    rm->busy = false;
    if (!keep_reading(rm)) return;
    if (st != STORE_OK) {
        log_warn("msg=\"room read failed, retrying\" room=%s after=%s", rm->name, rm->last_id);
        retry_later(rm);
        return;
    }
    rm->delivering++;
    for (size_t i = 0; i < n; i++) {
        deliver(rm, &msgs[i]);
        snprintf(rm->last_id, sizeof(rm->last_id), "%s", msgs[i].id);
    }
    if (--rm->delivering == 0) sweep(rm);
    if (!keep_reading(rm)) return;
    if (n == READ_COUNT || rm->rang) catch_up(rm); /* more, or rung meanwhile */
}

/* Reads what the room got after last_id (a non-blocking read on the pooled
 * connections); a ring while a read runs makes another read after it. */
static void catch_up(struct room *rm) {
    if (rm->busy || !rm->started) {
        rm->rang = true;
        return;
    }
    rm->rang = false;
    if (store_history_range(rm->hub->store, rm->name, rm->last_id, READ_COUNT, on_read, rm) < 0) {
        retry_later(rm);
        return;
    }
    rm->busy = true;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Hands a signal to every ready subscriber that takes signals. */
static void deliver_signal(struct room *rm, const char *kind, const char *data, size_t len) {
    struct hub_signal sig = {rm->name, kind, data, len};
    rm->delivering++;
    for (struct hub_sub *sub = rm->subs; sub; sub = sub->next)
        if (sub->ready_sent && !sub->removed && sub->on_signal) sub->on_signal(&sig, sub->arg);
    if (--rm->delivering == 0) sweep(rm);
    struct hub *h = rm->hub;
    if (h && h->on_signal_delivered) h->on_signal_delivered(&sig, h->signal_delivered_arg);
}

static void on_presence_due(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct room *rm = arg;
    if (!presence_merge_pending(rm->presence)) return;
    char *data = presence_merge_take(rm->presence, rm->name);
    rm->presence_sent_ms = now_ms();
    if (data) deliver_signal(rm, ephemeral_kind_name(EPHEMERAL_PRESENCE), data, strlen(data));
    free(data);
    release_if_unused(rm);
}

/* Merges a presence signal; the merged event goes out at once when the
 * last one is an interval old, else when it will be. */
static void merge_presence(struct room *rm, const char *data, size_t len) {
    if (!rm->presence) rm->presence = presence_merge_new();
    if (!rm->presence_ev) rm->presence_ev = evtimer_new(rm->hub->base, on_presence_due, rm);
    if (!rm->presence || !rm->presence_ev || presence_merge_add(rm->presence, data, len) < 0)
        return;
    if (evtimer_pending(rm->presence_ev, NULL)) return;
    long long wait = rm->presence_sent_ms + HUB_PRESENCE_INTERVAL_MS - now_ms();
    if (wait < 0) wait = 0;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(rm->presence_ev, &tv);
}

static void on_signal(struct room *rm, const char *payload, size_t len) {
    const char *data;
    size_t data_len;
    enum ephemeral_kind kind = ephemeral_parse(payload, len, &data, &data_len);
    if (kind == EPHEMERAL_PRESENCE) merge_presence(rm, data, data_len);
    else if (kind != EPHEMERAL_NONE) deliver_signal(rm, ephemeral_kind_name(kind), data, data_len);
}

static void on_doorbell(void *owner, const char *payload, size_t len) {
    struct room *rm = owner;
    if (len > 0) {
        on_signal(rm, payload, len);
        return;
    }
    rm->rung_lately = true;
    catch_up(rm);
}

/* A ring can reach a reader before its message can be read (an append
 * resent after a redirect behind its ring): each room rung in the last
 * period is read once more, so such a message waits at most two periods.
 * Idle rooms cost nothing here. */
static void on_recheck(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct hub *h = arg;
    for (struct room *rm = h->rooms; rm; rm = rm->next) {
        if (!rm->rung_lately) continue;
        rm->rung_lately = false;
        catch_up(rm);
    }
}

static void on_latest(enum store_status st, const struct message *msgs, size_t n, void *arg) {
    struct room *rm = arg;
    rm->busy = false;
    if (!keep_reading(rm)) return;
    if (st != STORE_OK) {
        retry_later(rm);
        return;
    }
    snprintf(rm->last_id, sizeof(rm->last_id), "%s", n ? msgs[0].id : "0-0");
    rm->started = true;
    rm->delivering++;
    for (struct hub_sub *sub = rm->subs; sub; sub = sub->next) tell_ready(sub);
    if (--rm->delivering == 0) sweep(rm);
    if (keep_reading(rm)) catch_up(rm); /* whatever came while the doorbell was not yet heard */
}

/* Watches the doorbell first, then reads the newest id: a message after
 * that id rings a bell already watched, or comes with the catch-up that
 * follows the subscription's confirmation. */
static void start_reader(struct room *rm) {
    if (!rm->bell) rm->bell = store_doorbell_watch(rm->hub->bells, rm->name, rm);
    if (!rm->bell || store_room_latest(rm->hub->store, rm->name, on_latest, rm) < 0) {
        retry_later(rm);
        return;
    }
    rm->busy = true;
}

static struct room *room_new(struct hub *h, const char *name) {
    struct room *rm = calloc(1, sizeof(*rm));
    if (!rm || strlen(name) >= sizeof(rm->name)) {
        free(rm);
        return NULL;
    }
    rm->hub = h;
    memcpy(rm->name, name, strlen(name) + 1);
    rm->retry_ev = evtimer_new(h->base, on_retry, rm);
    if (!rm->retry_ev || !tsearch(rm->name, &h->by_name, name_compare)) {
        if (rm->retry_ev) event_free(rm->retry_ev);
        free(rm);
        return NULL;
    }
    rm->next = h->rooms;
    if (h->rooms) h->rooms->prev = rm;
    h->rooms = rm;
    return rm;
}

static struct room *room_get(struct hub *h, const char *name) {
    char *const *found = tfind(name, &h->by_name, name_compare);
    if (found) return (struct room *)(void *)(*found - offsetof(struct room, name));
    return room_new(h, name);
}

/* Frees the room when its last subscriber left and nothing of it runs. */
static void release_if_unused(struct room *rm) {
    if (rm->nsubs == 0 && !rm->busy && rm->delivering == 0) keep_reading(rm);
}

struct hub_sub *hub_subscribe(struct hub *h, const char *room, hub_event_fn *on_event,
                              hub_ready_fn *on_ready, void *arg) {
    struct room *rm = room_get(h, room);
    struct hub_sub *sub = rm ? calloc(1, sizeof(*sub)) : NULL;
    if (!sub) {
        if (rm) release_if_unused(rm);
        return NULL;
    }
    *sub = (struct hub_sub){.room = rm, .on_event = on_event, .on_ready = on_ready, .arg = arg};
    sub->ready_ev = evtimer_new(h->base, on_ready_event, sub);
    if (!sub->ready_ev) {
        free(sub);
        release_if_unused(rm);
        return NULL;
    }
    sub->next = rm->subs;
    if (rm->subs) rm->subs->prev = sub;
    rm->subs = sub;
    rm->nsubs++;
    if (rm->started) event_active(sub->ready_ev, EV_TIMEOUT, 0);
    else if (!rm->busy && !evtimer_pending(rm->retry_ev, NULL)) start_reader(rm);
    return sub;
}

const char *hub_ready_id(const struct hub_sub *sub) { return sub->room->last_id; }

void hub_sub_on_signal(struct hub_sub *sub, hub_signal_fn *fn) { sub->on_signal = fn; }

void hub_set_signal_delivered(struct hub *h, hub_signal_fn *fn, void *arg) {
    h->on_signal_delivered = fn;
    h->signal_delivered_arg = arg;
}

void hub_unsubscribe(struct hub_sub *sub) {
    if (!sub || sub->removed) return;
    struct room *rm = sub->room;
    sub->removed = true;
    if (sub->ready_ev) event_del(sub->ready_ev);
    if (rm->delivering > 0) { /* the delivery's sweep unlinks it */
        rm->nremoved++;
        return;
    }
    sub_unlink(sub);
    release_if_unused(rm);
}

struct hub *hub_new(struct event_base *base, struct store *store) {
    struct hub *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    *h = (struct hub){.base = base, .store = store};
    h->bells = store_doorbells_new(store, on_doorbell);
    h->recheck_ev = event_new(base, -1, EV_PERSIST, on_recheck, h);
    struct timeval tv = {RECHECK_MS / 1000, (RECHECK_MS % 1000) * 1000};
    if (!h->bells || !h->recheck_ev || event_add(h->recheck_ev, &tv) < 0) {
        if (h->recheck_ev) event_free(h->recheck_ev);
        store_doorbells_free(h->bells);
        free(h);
        return NULL;
    }
    return h;
}

void hub_set_delivered(struct hub *h, hub_delivered_fn *fn, void *arg) {
    h->on_delivered = fn;
    h->delivered_arg = arg;
}

void hub_free(struct hub *h) {
    if (!h) return;
    struct room *next;
    for (struct room *rm = h->rooms; rm; rm = next) {
        next = rm->next;
        room_unlink(rm);
        rm->prev = rm->next = NULL;
        rm->hub = NULL;
        store_doorbell_unwatch(rm->bell);
        rm->bell = NULL;
        if (!rm->busy) room_free(rm); /* else its pending read frees it */
    }
    store_doorbells_free(h->bells);
    event_free(h->recheck_ev);
    free(h);
}
