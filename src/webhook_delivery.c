/*
 * webhook_delivery: this chatd's part in consuming the webhook queue. Each
 * shard is read (XREADGROUP, never blocking) when this chatd queued an
 * event there and every --webhook-poll while it is idle; entries idle past
 * --webhook-claim-after are taken over (XAUTOCLAIM) from a chatd that
 * died, and the entries held here are touched (XCLAIM JUSTID) before that,
 * so that a slow retry is not taken away. Each entry is POSTed signed, at
 * most --webhook-concurrency at a time; a 2xx acknowledges it, anything
 * else retries it after an exponential backoff with jitter, up to
 * --webhook-max-attempts, then it is buried in the dead letters.
 */
#include <event2/event.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "webhook_http.h"
#include "webhooks.h"
#include "webhooks_private.h"

static void dispatch(struct webhooks *w);
static void read_shard(struct webhook_shard *sh);

static long long now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void add_timer(struct event *ev, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(ev, &tv);
}

/* Deliveries held at most: a few rounds of the concurrency. */
static size_t held_max(const struct webhooks *w) { return (size_t)w->concurrency * 4; }

static int room_for(const struct webhooks *w) {
    size_t max = held_max(w);
    size_t room = w->held < max ? max - w->held : 0;
    return room < WEBHOOK_READ_MAX ? (int)room : WEBHOOK_READ_MAX;
}

/* ---- the deliveries held ---- */

/* Frees what d owns, and d. */
static void delivery_destroy(struct delivery *d) {
    if (d->retry) event_free(d->retry);
    free((char *)d->entry.stream_id);
    free((char *)d->entry.event_id);
    free((char *)d->entry.url);
    free((char *)d->entry.body);
    free(d);
}

static void delivery_free(struct delivery *d) {
    struct webhooks *w = d->w;
    struct webhook_shard *sh = &w->shards[d->shard];
    if (d->prev)
        d->prev->next = d->next;
    else
        sh->held = d->next;
    if (d->next) d->next->prev = d->prev;
    delivery_destroy(d);
    w->held--;
    if (!w->stopping) event_active(w->dispatch_ev, 0, 0); /* room for more: read again */
}

static bool holds(const struct webhook_shard *sh, const char *stream_id) {
    for (const struct delivery *d = sh->held; d; d = d->next)
        if (strcmp(d->entry.stream_id, stream_id) == 0) return true;
    return false;
}

static void make_ready(struct delivery *d) {
    struct webhooks *w = d->w;
    d->next_ready = NULL;
    if (w->ready_tail)
        w->ready_tail->next_ready = d;
    else
        w->ready = d;
    w->ready_tail = d;
}

static void on_retry_due(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct delivery *d = arg;
    make_ready(d);
    dispatch(d->w);
}

/* A copy of e to deliver, not held yet; NULL when out of memory. */
static struct delivery *delivery_new(struct webhook_shard *sh,
                                     const struct store_webhook_entry *e) {
    struct delivery *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->w = sh->w;
    d->shard = sh->n;
    d->entry = (struct store_webhook_entry){strdup(e->stream_id), strdup(e->event_id),
                                            strdup(e->url), malloc(e->body_len + 1), e->body_len};
    d->retry = evtimer_new(sh->w->base, on_retry_due, d);
    if (!d->entry.stream_id || !d->entry.event_id || !d->entry.url || !d->entry.body || !d->retry) {
        delivery_destroy(d);
        return NULL;
    }
    memcpy((char *)d->entry.body, e->body, e->body_len + 1);
    return d;
}

/* Takes an entry read or claimed: copied, held, queued for a slot (when
 * out of memory it stays pending in Redis and is taken over later). */
static void take(struct webhook_shard *sh, const struct store_webhook_entry *e) {
    if (holds(sh, e->stream_id)) return;
    struct delivery *d = delivery_new(sh, e);
    if (!d) return;
    d->next = sh->held;
    if (sh->held) sh->held->prev = d;
    sh->held = d;
    sh->w->held++;
    make_ready(d);
}

/* ---- finishing a delivery ---- */

static void on_stored(enum store_status st, void *arg) {
    struct delivery *d = arg;
    if (st != STORE_OK)
        log_warn("msg=\"webhook entry left pending\" id=%s status=%d", d->entry.event_id, st);
    delivery_free(d);
}

/* The ms a stream id's entry was queued at ("<ms>-<seq>"). */
static long long queued_ms(const char *stream_id) { return strtoll(stream_id, NULL, 10); }

/* Up to STORE_WEBHOOK_BATCH deliveries acknowledged by one command. */
struct ack_batch {
    struct delivery *first; /* linked by next_ready */
};

static void on_acked(enum store_status st, void *arg) {
    struct ack_batch *b = arg;
    for (struct delivery *d = b->first, *next; d; d = next) {
        next = d->next_ready;
        if (st != STORE_OK)
            on_stored(st, d);
        else
            delivery_free(d);
    }
    free(b);
}

/* Sends the acknowledgements waiting in sh, a batch at a time; a batch
 * that cannot be sent stays pending in Redis (delivered again later). */
static void ack_shard(struct webhooks *w, struct webhook_shard *sh) {
    while (sh->to_ack) {
        const char *ids[STORE_WEBHOOK_BATCH];
        size_t n = 0;
        struct delivery *batch = NULL;
        while (sh->to_ack && n < STORE_WEBHOOK_BATCH) { /* moved from to_ack to batch */
            struct delivery *d = sh->to_ack;
            sh->to_ack = d->next_ready;
            d->next_ready = batch;
            batch = d;
            ids[n++] = d->entry.stream_id;
        }
        struct ack_batch *b = calloc(1, sizeof(*b));
        if (b) b->first = batch;
        if (b && store_webhook_ack(w->store, sh->n, ids, n, on_acked, b) == 0) continue;
        free(b);
        for (struct delivery *next; batch; batch = next) {
            next = batch->next_ready;
            delivery_free(batch);
        }
    }
}

static void on_ack_due(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct webhooks *w = arg;
    for (unsigned i = 0; i < w->shard_count; i++)
        ack_shard(w, &w->shards[i]);
}

static void delivered(struct delivery *d) {
    struct webhooks *w = d->w;
    struct webhook_shard *sh = &w->shards[d->shard];
    long long lag = now_ms() - queued_ms(d->entry.stream_id);
    w->stats.delivered++;
    w->stats.lag_ms_last = lag;
    if (lag > 0) w->stats.lag_ms_sum += (unsigned long long)lag;
    d->in_store = true;
    d->next_ready = sh->to_ack;
    sh->to_ack = d;
    event_active(w->ack_ev, 0, 0);
}

static void bury(struct delivery *d, const char *reason) {
    struct webhooks *w = d->w;
    w->stats.failed++;
    log_warn("msg=\"webhook delivery failed\" id=%s url=\"%s\" attempts=%d reason=\"%s\"",
             d->entry.event_id, d->entry.url, d->attempts, reason);
    d->in_store = true;
    if (store_webhook_bury(w->store, d->shard, &d->entry, reason, on_stored, d) < 0)
        delivery_free(d);
}

/* The delay before attempt n+1 after n failed: base * 2^(n-1), at most
 * the maximum, of which a random half is taken off (jitter). */
static int backoff_ms(const struct webhooks *w, int attempts) {
    long long delay = w->retry_base_ms;
    for (int i = 1; i < attempts && delay < w->retry_max_ms; i++)
        delay *= 2;
    if (delay > w->retry_max_ms) delay = w->retry_max_ms;
    long long half = delay / 2;
    return (int)(delay - (half > 0 ? randombytes_uniform((uint32_t)half + 1) : 0));
}

static void on_posted(int status, const char *error, void *arg) {
    struct delivery *d = arg;
    struct webhooks *w = d->w;
    w->in_flight--;
    d->posting = false;
    if (w->stopping) { /* it stays pending: another chatd takes it over */
        delivery_free(d);
        return;
    }
    if (status >= 200 && status < 300) {
        delivered(d);
    } else if (d->attempts >= w->max_attempts) {
        char reason[256];
        snprintf(reason, sizeof(reason), "%d attempts; last: %s%d", d->attempts,
                 error ? error : "HTTP ", error ? 0 : status);
        bury(d, reason);
    } else {
        w->stats.retried++;
        add_timer(d->retry, backoff_ms(w, d->attempts));
    }
    dispatch(w);
}

/* POSTs d signed with the time of this attempt. */
static void post(struct delivery *d) {
    struct webhooks *w = d->w;
    long long ts = now_ms() / 1000;
    char sig[WEBHOOK_SIGNATURE_LEN + 1], h_id[80], h_ts[64], h_sig[100], h_attempt[48];
    webhook_sign(sig, w->secret, w->secret_len, ts, d->entry.body, d->entry.body_len);
    snprintf(h_id, sizeof(h_id), "Webhook-Id: %s", d->entry.event_id);
    snprintf(h_ts, sizeof(h_ts), "Webhook-Timestamp: %lld", ts);
    snprintf(h_sig, sizeof(h_sig), "Webhook-Signature: %s", sig);
    snprintf(h_attempt, sizeof(h_attempt), "Webhook-Attempt: %d", d->attempts + 1);
    const char *headers[] = {
        "Content-Type: application/json", h_id, h_ts, h_sig, h_attempt, "Expect:", NULL};
    d->attempts++;
    if (webhook_http_post(w->http, d->entry.url, headers, d->entry.body, d->entry.body_len,
                          w->timeout_ms, on_posted, d) < 0) {
        w->stats.retried++;
        add_timer(d->retry, backoff_ms(w, d->attempts));
        return;
    }
    d->posting = true;
    w->in_flight++;
}

/* Starts POSTs while slots are free; reads more when there is room. */
static void dispatch(struct webhooks *w) {
    while (!w->stopping && w->ready && w->in_flight < (size_t)w->concurrency) {
        struct delivery *d = w->ready;
        w->ready = d->next_ready;
        if (!w->ready) w->ready_tail = NULL;
        post(d);
    }
}

static void on_dispatch(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct webhooks *w = arg;
    dispatch(w);
    for (unsigned i = 0; i < w->shard_count && room_for(w) > 0; i++)
        if (!w->shards[i].reading && evtimer_pending(w->shards[i].poll, NULL))
            read_shard(&w->shards[i]);
}

/* ---- reading the shards ---- */

static void on_group_made(enum store_status st, void *arg) {
    struct webhook_shard *sh = arg;
    sh->reading = false;
    if (sh->w->stopping) return;
    if (st == STORE_OK || st == STORE_EXISTS) {
        sh->grouped = true;
        read_shard(sh);
    } else {
        add_timer(sh->poll, sh->w->poll_ms);
    }
}

static void on_read(enum store_status st, const struct store_webhook_entry *entries, size_t n,
                    const char *cursor, void *arg) {
    (void)cursor;
    struct webhook_shard *sh = arg;
    struct webhooks *w = sh->w;
    sh->reading = false;
    if (w->stopping) return;
    if (st == STORE_NOT_FOUND) sh->grouped = false; /* the stream went: made again */
    for (size_t i = 0; i < n; i++)
        take(sh, &entries[i]);
    dispatch(w);
    bool more = (st == STORE_OK && n == WEBHOOK_READ_MAX) || sh->again;
    sh->again = false;
    if (more)
        event_active(sh->poll, 0, 0);
    else
        add_timer(sh->poll, w->poll_ms);
}

static void read_shard(struct webhook_shard *sh) {
    struct webhooks *w = sh->w;
    if (sh->reading || w->stopping) return;
    event_del(sh->poll);
    int count = room_for(w);
    if (count == 0) { /* full: a finished delivery reads again */
        add_timer(sh->poll, w->poll_ms);
        return;
    }
    sh->reading = true;
    int rc = sh->grouped ? store_webhook_read(w->store, sh->n, w->consumer, count, on_read, sh)
                         : store_webhook_group_create(w->store, sh->n, on_group_made, sh);
    if (rc < 0) {
        sh->reading = false;
        add_timer(sh->poll, w->poll_ms);
    }
}

static void on_poll(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    read_shard(arg);
}

void webhook_delivery_poke(struct webhooks *w, unsigned n) {
    struct webhook_shard *sh = &w->shards[n];
    if (sh->reading)
        sh->again = true;
    else
        event_active(sh->poll, 0, 0);
}

/* ---- taking over, touching, measuring ---- */

static void on_claimed(enum store_status st, const struct store_webhook_entry *entries, size_t n,
                       const char *cursor, void *arg) {
    struct webhook_shard *sh = arg;
    sh->claiming = false;
    if (sh->w->stopping || st != STORE_OK) return;
    for (size_t i = 0; i < n; i++) {
        if (holds(sh, entries[i].stream_id)) continue;
        sh->w->stats.claimed++;
        log_info("msg=\"webhook delivery taken over\" id=%s", entries[i].event_id);
        take(sh, &entries[i]);
    }
    snprintf(sh->cursor, sizeof(sh->cursor), "%s", cursor ? cursor : "0-0");
    dispatch(sh->w);
}

static void on_claim_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct webhooks *w = arg;
    for (unsigned i = 0; i < w->shard_count; i++) {
        struct webhook_shard *sh = &w->shards[i];
        int count = room_for(w);
        if (!sh->grouped || sh->claiming || count == 0) continue;
        sh->claiming = store_webhook_claim(w->store, sh->n, w->consumer, w->claim_ms, sh->cursor,
                                           count, on_claimed, sh) == 0;
    }
    add_timer(w->claim_timer, w->claim_ms / 2);
}

static void on_touched(enum store_status st, void *arg) { (void)st, (void)arg; }

/* Restarts the idle time of every entry held in sh, a batch a command. */
static void touch_shard(struct webhooks *w, struct webhook_shard *sh) {
    const char *ids[STORE_WEBHOOK_BATCH];
    size_t n = 0;
    for (struct delivery *d = sh->held; d; d = d->next) {
        ids[n++] = d->entry.stream_id;
        if (n == STORE_WEBHOOK_BATCH || !d->next) {
            store_webhook_touch(w->store, sh->n, w->consumer, ids, n, on_touched, NULL);
            n = 0;
        }
    }
}

static void on_touch_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct webhooks *w = arg;
    for (unsigned i = 0; i < w->shard_count; i++)
        touch_shard(w, &w->shards[i]);
    add_timer(w->touch_timer, w->claim_ms / 3);
}

static void on_length(enum store_status st, long long count, void *arg) {
    struct webhook_shard *sh = arg;
    if (st == STORE_OK) sh->length = count;
}

#define LENGTH_PERIOD_MS 1000

static void on_length_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct webhooks *w = arg;
    for (unsigned i = 0; i < w->shard_count; i++)
        store_webhook_length(w->store, i, on_length, &w->shards[i]);
    add_timer(w->length_timer, LENGTH_PERIOD_MS);
}

/* ---- start and stop ---- */

int webhook_delivery_start(struct webhooks *w) {
    w->shards = calloc(w->shard_count, sizeof(*w->shards));
    w->claim_timer = evtimer_new(w->base, on_claim_timer, w);
    w->touch_timer = evtimer_new(w->base, on_touch_timer, w);
    w->length_timer = evtimer_new(w->base, on_length_timer, w);
    w->dispatch_ev = event_new(w->base, -1, 0, on_dispatch, w);
    w->ack_ev = event_new(w->base, -1, 0, on_ack_due, w);
    if (!w->shards || !w->claim_timer || !w->touch_timer || !w->length_timer || !w->dispatch_ev ||
        !w->ack_ev)
        return -1;
    for (unsigned i = 0; i < w->shard_count; i++) {
        struct webhook_shard *sh = &w->shards[i];
        *sh = (struct webhook_shard){.w = w, .n = i, .length = -1, .cursor = "0-0"};
        if (!(sh->poll = evtimer_new(w->base, on_poll, sh))) return -1;
    }
    for (unsigned i = 0; i < w->shard_count; i++) /* no failure after a command went out */
        read_shard(&w->shards[i]);
    add_timer(w->claim_timer, w->claim_ms / 2);
    add_timer(w->touch_timer, w->claim_ms / 3);
    add_timer(w->length_timer, LENGTH_PERIOD_MS);
    return 0;
}

static void free_event(struct event **ev) {
    if (*ev) event_free(*ev);
    *ev = NULL;
}

void webhook_delivery_stop(struct webhooks *w) {
    if (w->ack_ev) on_ack_due(-1, 0, w); /* what was delivered is acknowledged still */
    free_event(&w->ack_ev);
    free_event(&w->claim_timer);
    free_event(&w->touch_timer);
    free_event(&w->length_timer);
    free_event(&w->dispatch_ev);
    for (unsigned i = 0; w->shards && i < w->shard_count; i++) {
        struct webhook_shard *sh = &w->shards[i];
        free_event(&sh->poll);
        for (struct delivery *d = sh->held, *next; d; d = next) {
            next = d->next;
            if (!d->in_store && !d->posting) delivery_free(d); /* waiting: stays pending */
        }
    }
    w->ready = w->ready_tail = NULL;
}
