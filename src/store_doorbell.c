/*
 * store_doorbell: the rooms' doorbell subscriptions, one connection per
 * master, see store_doorbell.h. A periodic local check (no Redis command)
 * puts every channel on the connection of its slot's current master and
 * renews the subscriptions a lost connection or a moved slot ended.
 */
#include "store_doorbell.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <search.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_map.h"
#include "log.h"
#include "resp.h"
#include "shard_conn.h"
#include "slot.h"
#include "store_keys.h"
#include "store_private.h"

#define CHECK_MS 500   /* the periodic check */
#define RESEND_MS 1000 /* an unconfirmed subscription is sent again after this */

enum bell_state { BELL_UNSUBSCRIBED, BELL_SUBSCRIBING, BELL_SUBSCRIBED };

struct store_doorbell {
    struct store_doorbells *d;
    void *owner;
    unsigned slot;            /* the channel's hash slot */
    int node;                 /* the node it is (being) subscribed on, or -1 */
    enum bell_state state;
    long long sent_ms;        /* when SSUBSCRIBE was last sent */
    struct store_doorbell *prev, *next;
    char channel[];           /* the tree's key: found again with offsetof */
};

/* The subscriber connection to one node. */
struct bell_node {
    struct store_doorbells *d;
    int index;                /* the node's index in the cluster layer */
    struct shard_conn *sc;    /* NULL when closed */
    size_t watching;          /* watches whose node this is */
};

struct store_doorbells {
    struct store *s;
    store_doorbell_fn *cb;
    void *by_channel;         /* tsearch tree of the watches' channel names */
    struct store_doorbell *all;
    struct bell_node *nodes[CLUSTER_MAP_MAX_NODES];
    struct event *check_ev;
};

static int channel_compare(const void *a, const void *b) { return strcmp(a, b); }

static struct store_doorbell *watch_of_channel(const char *channel) {
    return (struct store_doorbell *)(void *)(channel - offsetof(struct store_doorbell, channel));
}

static struct store_doorbell *find_watch(struct store_doorbells *d, const char *channel) {
    char *const *found = tfind(channel, &d->by_channel, channel_compare);
    return found ? watch_of_channel(*found) : NULL;
}

static void check_soon(struct store_doorbells *d) { event_active(d->check_ev, EV_TIMEOUT, 0); }

static void send_to(struct bell_node *n, const char *verb, const char *channel) {
    const char *argv[] = {verb, channel};
    size_t len;
    char *cmd = resp_format_argv(&len, 2, argv, NULL);
    if (cmd && n->sc) shard_conn_send(n->sc, cmd, len);
    free(cmd);
}

/* A reply on node n's connection: [kind, channel, payload or count]. */
static void on_reply(struct shard_conn *sc, redisReply *r, void *arg) {
    (void)sc;
    struct bell_node *n = arg;
    if (r->type == REDIS_REPLY_ERROR) { /* a SSUBSCRIBE refused: MOVED, CLUSTERDOWN */
        log_debug("msg=\"doorbell subscribe refused\" err=\"%s\"", r->str);
        cluster_refresh_soon(n->d->s->cluster);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = r->element[0]->str;
    struct store_doorbell *w = find_watch(n->d, r->element[1]->str);
    if (!w || w->node != n->index) return; /* an old subscription's last words */
    if (strcmp(kind, "smessage") == 0) {
        const redisReply *p = r->element[2];
        bool has = p->type == REDIS_REPLY_STRING;
        n->d->cb(w->owner, has ? p->str : "", has ? (size_t)p->len : 0);
    } else if (strcmp(kind, "ssubscribe") == 0 && w->state == BELL_SUBSCRIBING) {
        w->state = BELL_SUBSCRIBED;
        n->d->cb(w->owner, "", 0);
    } else if (strcmp(kind, "sunsubscribe") == 0 && w->state == BELL_SUBSCRIBED) {
        w->state = BELL_UNSUBSCRIBED; /* the slot left the node: renew at its new master */
        cluster_refresh_soon(n->d->s->cluster);
        check_soon(n->d);
    }
}

static void on_down(struct shard_conn *sc, void *arg) {
    (void)sc;
    struct bell_node *n = arg;
    cluster_refresh_soon(n->d->s->cluster);
    check_soon(n->d); /* frees the connection, outside its callback */
}

static struct bell_node *node_get(struct store_doorbells *d, int index) {
    struct bell_node *n = d->nodes[index];
    if (!n && (n = calloc(1, sizeof(*n)))) {
        *n = (struct bell_node){.d = d, .index = index};
        d->nodes[index] = n;
    }
    if (n && !n->sc) {
        char host[CLUSTER_HOST_MAX];
        int port;
        if (cluster_node_at(d->s->cluster, index, host, sizeof(host), &port) == 0)
            n->sc = shard_conn_new(d->s->base, host, port, cluster_auth(d->s->cluster), on_reply,
                                   on_down, n);
    }
    return n && n->sc ? n : NULL;
}

/* Subscribes w at node index, leaving the node it was on. */
static void move_watch(struct store_doorbell *w, int index, long long now) {
    struct store_doorbells *d = w->d;
    struct bell_node *old = w->node >= 0 ? d->nodes[w->node] : NULL;
    if (old && w->node != index && w->state != BELL_UNSUBSCRIBED)
        send_to(old, "SUNSUBSCRIBE", w->channel);
    struct bell_node *n = node_get(d, index);
    if (!n) return; /* the next check tries again */
    if (old) old->watching--;
    w->node = index;
    n->watching++;
    w->state = BELL_SUBSCRIBING;
    w->sent_ms = now;
    send_to(n, "SSUBSCRIBE", w->channel);
}

/* Where w should be subscribed; -1 while its slot's master is unknown. */
static void place_watch(struct store_doorbell *w, long long now) {
    int want = cluster_slot_master(w->d->s->cluster, w->slot);
    if (want < 0) return;
    bool stale = w->state == BELL_SUBSCRIBING && now - w->sent_ms > RESEND_MS;
    if (w->node != want || w->state == BELL_UNSUBSCRIBED || stale) move_watch(w, want, now);
}

/* Closes lost connections (their subscriptions are gone) and idle ones. */
static void close_nodes(struct store_doorbells *d) {
    for (int i = 0; i < CLUSTER_MAP_MAX_NODES; i++) {
        struct bell_node *n = d->nodes[i];
        if (!n || !n->sc) continue;
        bool lost = !shard_conn_is_alive(n->sc);
        if (!lost && n->watching > 0) continue;
        shard_conn_free(n->sc);
        n->sc = NULL;
        for (struct store_doorbell *w = d->all; lost && w; w = w->next)
            if (w->node == i) w->state = BELL_UNSUBSCRIBED;
    }
}

static void on_check(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct store_doorbells *d = arg;
    close_nodes(d);
    long long now = conn_now_ms();
    for (struct store_doorbell *w = d->all; w; w = w->next) place_watch(w, now);
}

struct store_doorbells *store_doorbells_new(struct store *s, store_doorbell_fn *cb) {
    struct store_doorbells *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->s = s;
    d->cb = cb;
    d->check_ev = event_new(s->base, -1, EV_PERSIST, on_check, d);
    struct timeval tv = {0, CHECK_MS * 1000};
    if (!d->check_ev || event_add(d->check_ev, &tv) < 0) {
        store_doorbells_free(d);
        return NULL;
    }
    return d;
}

void store_doorbells_free(struct store_doorbells *d) {
    if (!d) return;
    for (int i = 0; i < CLUSTER_MAP_MAX_NODES; i++) {
        if (d->nodes[i]) shard_conn_free(d->nodes[i]->sc);
        free(d->nodes[i]);
    }
    if (d->check_ev) event_free(d->check_ev);
    free(d);
}

struct store_doorbell *store_doorbell_watch(struct store_doorbells *d, const char *room,
                                            void *owner) {
    char channel[STORE_KEY_MAX];
    int len = store_key_room_doorbell(channel, sizeof(channel), room);
    struct store_doorbell *w = len < 0 ? NULL : calloc(1, sizeof(*w) + (size_t)len + 1);
    if (!w) return NULL;
    *w = (struct store_doorbell){.d = d, .owner = owner, .node = -1};
    memcpy(w->channel, channel, (size_t)len + 1);
    w->slot = slot_for_key(w->channel, (size_t)len);
    if (!tsearch(w->channel, &d->by_channel, channel_compare)) {
        free(w);
        return NULL;
    }
    w->next = d->all;
    if (d->all) d->all->prev = w;
    d->all = w;
    place_watch(w, conn_now_ms());
    return w;
}

void store_doorbell_unwatch(struct store_doorbell *w) {
    if (!w) return;
    struct store_doorbells *d = w->d;
    struct bell_node *n = w->node >= 0 ? d->nodes[w->node] : NULL;
    if (n) {
        if (w->state != BELL_UNSUBSCRIBED) send_to(n, "SUNSUBSCRIBE", w->channel);
        if (--n->watching == 0) check_soon(d); /* closes the idle connection */
    }
    tdelete(w->channel, &d->by_channel, channel_compare);
    if (w->prev) w->prev->next = w->next;
    else d->all = w->next;
    if (w->next) w->next->prev = w->prev;
    free(w);
}
