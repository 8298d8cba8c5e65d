/* session_events: the "sessions ended" subscriber, see session_events.h. */
#include "session_events.h"

#include <event2/event.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "session_cache.h"
#include "session_streams.h"
#include "store.h"

#define TICK_MS 100         /* how often attempts and their deadlines are looked at */
#define RETRY_MIN_MS 100    /* after a failed attempt; doubling up to */
#define RETRY_MAX_MS 2000

struct session_events {
    struct event_base *base;
    struct store *store;           /* where the subscription comes from */
    struct session_cache *cache;   /* live while subscribed; NULL when off */
    struct session_streams *streams; /* open streams by session, ended with it */
    int timeout_ms;                /* an attempt must be confirmed within this */
    struct store_subscription *sub;  /* the subscription, NULL between attempts */
    struct store_subscription *lost; /* one that ended, freed by the tick */
    struct event *tick_ev;         /* attempts, their deadlines, freeing lost */
    unsigned rotor;                /* the node the next attempt goes to */
    long long attempt_ms;          /* when the current attempt started */
    long long next_attempt_ms;     /* no attempt before this */
    int backoff_ms;                /* delay after the next failed attempt */
    bool subscribed;               /* the subscription is confirmed */
    bool closing;                  /* session_events_free() is running */
};

/* Milliseconds on CLOCK_MONOTONIC. */
static long long monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The subscription ended or an attempt failed: the cache stops answering
 * (flushed), and the next attempt goes to the next node, at once after a
 * subscription that worked, else after a growing delay. */
static void subscription_ended(struct session_events *ev) {
    long long now = monotonic_ms();
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

static void on_announcement(struct store_subscription *sub, enum store_status st,
                            const char *payload, size_t len, void *arg) {
    struct session_events *ev = arg;
    if (ev->closing || sub != ev->sub) return; /* one we let go of already */
    if (st != STORE_OK) {
        subscription_ended(ev);
        ev->lost = sub; /* its connection is still being torn down: freed by the tick */
        ev->sub = NULL;
        return;
    }
    if (!payload) {
        log_info("msg=\"session events subscribed\" node=%s", store_subscription_node(sub));
        ev->subscribed = true;
        ev->backoff_ms = 0;
        session_cache_set_live(ev->cache, true);
    } else {
        if (session_cache_apply_message(ev->cache, payload, len) < 0)
            log_warn("msg=\"unreadable session event, session cache flushed\"");
        size_t ended = session_streams_end_listed(ev->streams, payload, len);
        if (ended) log_info("msg=\"streams ended with their session\" streams=%zu", ended);
    }
}

/* Subscribes on the next node. */
static void attempt(struct session_events *ev, long long now) {
    ev->attempt_ms = now;
    ev->sub = store_sessions_ended_subscribe(ev->store, ev->rotor++, on_announcement, ev);
    if (ev->sub) {
        log_debug("msg=\"session events subscribing\" node=%s", store_subscription_node(ev->sub));
        return;
    }
    subscription_ended(ev);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct session_events *ev = arg;
    long long now = monotonic_ms();
    store_subscription_free(ev->lost);
    ev->lost = NULL;
    if (ev->sub && !ev->subscribed && now - ev->attempt_ms >= ev->timeout_ms) {
        struct store_subscription *slow = ev->sub;
        log_debug("msg=\"session events subscription not confirmed in time\" node=%s",
                  store_subscription_node(slow));
        ev->sub = NULL;
        store_subscription_free(slow);
        subscription_ended(ev);
    }
    if (!ev->sub && now >= ev->next_attempt_ms) attempt(ev, now);
}

struct session_events *session_events_new(struct event_base *base, struct store *store,
                                          struct session_cache *cache,
                                          struct session_streams *streams, int timeout_ms) {
    struct session_events *ev = calloc(1, sizeof(*ev));
    if (!ev) return NULL;
    *ev = (struct session_events){.base = base, .store = store, .cache = cache,
                                  .streams = streams, .timeout_ms = timeout_ms};
    ev->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, ev);
    struct timeval tick = {0, TICK_MS * 1000};
    if (!ev->tick_ev || event_add(ev->tick_ev, &tick) < 0) {
        session_events_free(ev);
        return NULL;
    }
    attempt(ev, monotonic_ms());
    return ev;
}

void session_events_free(struct session_events *ev) {
    if (!ev) return;
    ev->closing = true;
    session_cache_set_live(ev->cache, false);
    store_subscription_free(ev->sub);
    store_subscription_free(ev->lost);
    if (ev->tick_ev) event_free(ev->tick_ev);
    free(ev);
}

bool session_events_subscribed(const struct session_events *ev) { return ev && ev->subscribed; }
