/*
 * webhooks_private: the state that webhooks.c (set-up, capture, metrics)
 * and webhook_delivery.c (consuming and delivering) share. Nothing else
 * includes it.
 */
#ifndef CHAT_WEBHOOKS_PRIVATE_H
#define CHAT_WEBHOOKS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"
#include "webhook_event.h"
#include "webhooks.h"

struct event;
struct event_base;
struct webhook_http;
struct webhooks;

#define WEBHOOK_SECRET_MAX 512
#define WEBHOOK_CONSUMER_MAX 96
#define WEBHOOK_READ_MAX 64 /* entries per read or claim */

/* One entry this chatd took and has not finished: in flight, waiting for
 * a slot, or waiting for its retry. */
struct delivery {
    struct webhooks *w;
    unsigned shard;
    struct store_webhook_entry entry; /* its strings are owned copies */
    int attempts;                     /* POSTs made (by this chatd) */
    struct event *retry;              /* the backoff timer */
    bool in_store;                    /* an ack or a burial is pending */
    bool posting;                     /* its POST is running */
    struct delivery *next_ready;      /* in w->ready, or in its shard's to_ack */
    struct delivery *prev, *next;     /* in its shard's held list */
};

/* One shard of the queue as this chatd consumes it. */
struct webhook_shard {
    struct webhooks *w;
    unsigned n;
    bool grouped;            /* the consumer group is known to exist */
    bool reading;            /* a read or a group creation is pending */
    bool claiming;           /* a claim is pending */
    bool again;              /* poked while reading: read once more */
    struct event *poll;      /* the next read */
    char cursor[64];         /* where the next claim starts */
    long long length;        /* XLEN as last read, -1 before */
    struct delivery *held;   /* the entries this chatd holds */
    struct delivery *to_ack; /* delivered, acknowledged together soon */
};

struct webhooks {
    struct event_base *base;
    struct store *store;
    struct webhook_http *http;
    struct webhook_endpoint endpoints[WEBHOOK_ENDPOINTS_MAX];
    int endpoint_count;
    unsigned wanted; /* kinds some endpoint receives (a bit each) */
    unsigned char secret[WEBHOOK_SECRET_MAX];
    size_t secret_len;
    char consumer[WEBHOOK_CONSUMER_MAX]; /* this chatd's name in the groups */
    struct webhook_shard *shards;
    unsigned shard_count;
    int concurrency, timeout_ms, max_attempts, retry_base_ms, retry_max_ms, claim_ms, poll_ms;
    size_t held;                         /* deliveries in memory */
    size_t in_flight;                    /* POSTs running */
    struct delivery *ready, *ready_tail; /* waiting for a slot, in order */
    struct event *claim_timer, *touch_timer, *length_timer, *dispatch_ev;
    struct event *ack_ev; /* acknowledges what was delivered, a batch per shard */
    bool stopping;        /* webhooks_stop ran */
    struct webhooks_stats stats;
};

/* Starts consuming every shard (webhook_delivery.c); -1 when out of memory. */
int webhook_delivery_start(struct webhooks *w);
/* Stops the timers and the POSTs; frees what no store call holds. */
void webhook_delivery_stop(struct webhooks *w);
/* Reads shard n soon (an event was just queued there by this chatd). */
void webhook_delivery_poke(struct webhooks *w, unsigned n);

#endif
