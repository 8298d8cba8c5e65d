/* session_events: the "sessions ended" subscriber, see session_events.h. */
#include "session_events.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_conn.h"
#include "log.h"
#include "resp.h"
#include "session_cache.h"
#include "store_keys.h"

#define TICK_MS 100         /* how often attempts and their deadlines are looked at */
#define RETRY_MIN_MS 100    /* after a failed attempt; doubling up to */
#define RETRY_MAX_MS 2000

struct session_events {
    struct event_base *base;
    const struct cluster *cluster; /* where node addresses come from */
    struct session_cache *cache;   /* live while subscribed */
    int timeout_ms;                /* an attempt must be confirmed within this */
    struct conn *conn;             /* the subscriber connection, NULL between attempts */
    struct conn *lost;             /* one whose subscription ended, freed by the tick */
    struct event *tick_ev;         /* attempts, their deadlines, freeing lost */
    char *subscribe_fmt;           /* SUBSCRIBE <channel>, formatted */
    size_t subscribe_len;
    unsigned rotor;                /* the node the next attempt goes to */
    long long attempt_ms;          /* when the current attempt started */
    long long next_attempt_ms;     /* no attempt before this */
    int backoff_ms;                /* delay after the next failed attempt */
    bool subscribed;               /* the subscription is confirmed */
    bool closing;                  /* session_events_free() is running */
};

/* The subscription ended or an attempt failed: the cache stops answering
 * (flushed), and the next attempt goes to the next node, at once after a
 * subscription that worked, else after a growing delay. */
static void subscription_ended(struct session_events *ev) {
    long long now = conn_now_ms();
    if (ev->subscribed) {
        log_warn("msg=\"session events subscription lost, session cache flushed\"");
        session_cache_set_live(ev->cache, false);
        ev->subscribed = false;
        ev->backoff_ms = 0;
        event_active(ev->tick_ev, EV_TIMEOUT, 0);
    } else {
        ev->backoff_ms = ev->backoff_ms * 2 < RETRY_MIN_MS   ? RETRY_MIN_MS
                         : ev->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS
                                                             : ev->backoff_ms * 2;
    }
    ev->next_attempt_ms = now + ev->backoff_ms;
}

static bool reply_kind_is(const redisReply *r, const char *kind) {
    return r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
           r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, kind) == 0;
}

static void on_subscription(struct conn *conn, redisReply *reply, void *arg) {
    struct session_events *ev = arg;
    if (ev->closing || conn != ev->conn) return; /* one we let go of already */
    if (!reply) {
        subscription_ended(ev);
        ev->lost = conn; /* its context is still being torn down: freed by the tick */
        ev->conn = NULL;
        return;
    }
    if (reply_kind_is(reply, "subscribe")) {
        log_info("msg=\"session events subscribed\" node=%s:%d", conn_host(conn), conn_port(conn));
        ev->subscribed = true;
        ev->backoff_ms = 0;
        session_cache_set_live(ev->cache, true);
    } else if (reply_kind_is(reply, "message") && reply->element[2]->type == REDIS_REPLY_STRING) {
        if (session_cache_apply_message(ev->cache, reply->element[2]->str,
                                        reply->element[2]->len) < 0)
            log_warn("msg=\"unreadable session event, session cache flushed\"");
    }
}

/* Opens a connection to the next node and subscribes on it. */
static void attempt(struct session_events *ev, long long now) {
    char host[256];
    int port;
    ev->attempt_ms = now;
    if (cluster_node_address(ev->cluster, ev->rotor++, host, sizeof(host), &port) == 0)
        ev->conn = conn_new(ev->base, host, port, cluster_auth(ev->cluster), 0, NULL, NULL);
    if (ev->conn && conn_subscribe(ev->conn, ev->subscribe_fmt, ev->subscribe_len,
                                   on_subscription, ev) == 0) {
        log_debug("msg=\"session events subscribing\" node=%s:%d", host, port);
        return;
    }
    conn_free(ev->conn);
    ev->conn = NULL;
    subscription_ended(ev);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct session_events *ev = arg;
    long long now = conn_now_ms();
    conn_free(ev->lost);
    ev->lost = NULL;
    if (ev->conn && !ev->subscribed && now - ev->attempt_ms >= ev->timeout_ms) {
        struct conn *slow = ev->conn;
        log_debug("msg=\"session events subscription not confirmed in time\" node=%s:%d",
                  conn_host(slow), conn_port(slow));
        ev->conn = NULL;
        conn_free(slow);
        subscription_ended(ev);
    }
    if (!ev->conn && now >= ev->next_attempt_ms) attempt(ev, now);
}

struct session_events *session_events_new(struct event_base *base, const struct cluster *cluster,
                                          struct session_cache *cache, int timeout_ms) {
    struct session_events *ev = calloc(1, sizeof(*ev));
    if (!ev) return NULL;
    *ev = (struct session_events){.base = base, .cluster = cluster, .cache = cache,
                                  .timeout_ms = timeout_ms};
    const char *argv[] = {"SUBSCRIBE", STORE_CHANNEL_SESSIONS_ENDED};
    ev->subscribe_fmt = resp_format_argv(&ev->subscribe_len, 2, argv, NULL);
    ev->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, ev);
    struct timeval tick = {0, TICK_MS * 1000};
    if (!ev->subscribe_fmt || !ev->tick_ev || event_add(ev->tick_ev, &tick) < 0) {
        session_events_free(ev);
        return NULL;
    }
    attempt(ev, conn_now_ms());
    return ev;
}

void session_events_free(struct session_events *ev) {
    if (!ev) return;
    ev->closing = true;
    session_cache_set_live(ev->cache, false);
    conn_free(ev->conn);
    conn_free(ev->lost);
    if (ev->tick_ev) event_free(ev->tick_ev);
    free(ev->subscribe_fmt);
    free(ev);
}

bool session_events_subscribed(const struct session_events *ev) { return ev && ev->subscribed; }
