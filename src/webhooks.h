/*
 * webhooks: events reported to the application's URLs (docs/API.md,
 * "Webhooks"). Capture: a route that did an action queues its event in
 * Redis (store_webhook.c: a durable stream per shard) before it answers,
 * so an acknowledged action is a queued event. Delivery: every chatd
 * consumes the shards in one consumer group, POSTs each event signed
 * (webhook_event.h) through webhook_http, acknowledges it on a 2xx,
 * retries anything else with exponential backoff and jitter up to
 * --webhook-max-attempts and then buries it in the dead letters; the
 * entries a dead chatd held are taken over by another after
 * --webhook-claim-after. At least once: a receiver drops duplicates by id.
 *
 * Without any --webhook nothing of this runs: webhooks_new returns NULL
 * and webhooks_wanted says false, so the actions cost nothing more.
 */
#ifndef CHAT_WEBHOOKS_H
#define CHAT_WEBHOOKS_H

#include <jansson.h>
#include <stdbool.h>

#include "webhook_event.h"

struct config;
struct event_base;
struct store;
struct webhooks;

/* Sets up webhooks from cfg (*out stays NULL when none is configured) and
 * starts consuming. -1 with the reason in err on a bad setting. */
int webhooks_new(struct event_base *base, struct store *store, const struct config *cfg,
                 struct webhooks **out, char err[256]);
/* Stops consuming and delivering (the deliveries in flight end; their
 * entries stay pending for another chatd): before the Redis layer goes.
 * NULL is fine. */
void webhooks_stop(struct webhooks *w);
/* Frees, once no store callback is pending (after the Redis layer went).
 * NULL is fine. */
void webhooks_free(struct webhooks *w);

/* Whether an endpoint receives kind (false for w == NULL). */
bool webhooks_wanted(const struct webhooks *w, enum webhook_kind kind);

/* What an event reports: its kind, the room it happened in ("" for a user
 * event), the id of what it reports (makes the event's id), its time and
 * its data (borrowed). */
struct webhooks_event {
    enum webhook_kind kind;
    const char *scope;
    const char *ref;
    long long timestamp_ms;
    json_t *data;
};
/* Receives whether the event was queued durably for every endpoint. */
typedef void webhooks_done_fn(bool queued, void *arg);
/* Queues ev for every endpoint that wants it (one XADD each, durable, in
 * the shard of the room). 0 and done runs once, later; -1 (also when no
 * endpoint wants it) and done never runs. */
int webhooks_capture(struct webhooks *w, const struct webhooks_event *ev, webhooks_done_fn *done,
                     void *arg);

/* Counters for /metrics. */
struct webhooks_stats {
    unsigned long long enqueued;       /* entries queued (one per event and URL) */
    unsigned long long enqueue_failed; /* queueing failed: the action answered 503 */
    unsigned long long delivered;      /* answered 2xx */
    unsigned long long retried;        /* attempts that failed and were retried */
    unsigned long long failed;         /* entries buried in the dead letters */
    unsigned long long claimed;        /* entries taken over from another chatd */
    unsigned long long lag_ms_sum;     /* queued to delivered, over the delivered */
    long long lag_ms_last;             /* that of the latest one */
    unsigned long long in_flight;      /* POSTs running now */
    unsigned long long held;           /* deliveries this chatd holds now */
    unsigned long long queue_length;   /* XLEN over the shards as last read (every chatd's) */
};
/* The counters of w; false (and nothing filled) for NULL. */
bool webhooks_get_stats(const struct webhooks *w, struct webhooks_stats *out);

#endif
