/* webhooks: set-up from the configuration, capture of events, metrics. */
#include "webhooks.h"

#include <event2/event.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "webhook_http.h"
#include "webhooks_private.h"

/* Reads the secret file (a trailing newline is not part of it). */
static int load_secret(struct webhooks *w, const char *path, char err[256]) {
    FILE *f = path[0] ? fopen(path, "rb") : NULL;
    if (!f) {
        snprintf(err, 256, "--webhook needs --webhook-secret-file (a readable file)");
        return -1;
    }
    size_t n = fread(w->secret, 1, sizeof(w->secret), f);
    fclose(f);
    while (n > 0 && (w->secret[n - 1] == '\n' || w->secret[n - 1] == '\r'))
        n--;
    if (n < WEBHOOK_SECRET_MIN || n == sizeof(w->secret)) {
        snprintf(err, 256, "--webhook-secret-file: %d to %d bytes expected", WEBHOOK_SECRET_MIN,
                 WEBHOOK_SECRET_MAX - 1);
        return -1;
    }
    w->secret_len = n;
    return 0;
}

static void copy_settings(struct webhooks *w, const struct config *cfg) {
    w->shard_count = (unsigned)cfg->webhook_shards;
    w->concurrency = cfg->webhook_concurrency;
    w->timeout_ms = cfg->webhook_timeout_ms;
    w->max_attempts = cfg->webhook_max_attempts;
    w->retry_base_ms = cfg->webhook_retry_base_ms;
    w->retry_max_ms = cfg->webhook_retry_max_ms;
    w->claim_ms = cfg->webhook_claim_ms;
    w->poll_ms = cfg->webhook_poll_ms;
    char host[64] = "chatd";
    gethostname(host, sizeof(host) - 1);
    snprintf(w->consumer, sizeof(w->consumer), "%.63s-%ld-%08x", host, (long)getpid(),
             randombytes_random());
}

int webhooks_new(struct event_base *base, struct store *store, const struct config *cfg,
                 struct webhooks **out, char err[256]) {
    *out = NULL;
    err[0] = '\0';
    struct webhook_endpoint endpoints[WEBHOOK_ENDPOINTS_MAX];
    int n = webhook_endpoints_parse(cfg->webhooks, endpoints, err);
    if (n <= 0) return n;
    struct webhooks *w = calloc(1, sizeof(*w));
    if (!w) return snprintf(err, 256, "out of memory"), -1;
    *w = (struct webhooks){.base = base, .store = store, .endpoint_count = n};
    memcpy(w->endpoints, endpoints, sizeof(endpoints));
    for (int i = 0; i < n; i++)
        w->wanted |= endpoints[i].kinds;
    copy_settings(w, cfg);
    if (load_secret(w, cfg->webhook_secret_file, err) < 0 || !(w->http = webhook_http_new(base)) ||
        webhook_delivery_start(w) < 0) {
        if (!err[0]) snprintf(err, 256, "cannot start the webhook delivery");
        webhooks_stop(w);
        webhooks_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

void webhooks_stop(struct webhooks *w) {
    if (!w || w->stopping) return;
    w->stopping = true;
    webhook_delivery_stop(w);
    webhook_http_free(w->http); /* the POSTs in flight end here */
    w->http = NULL;
}

void webhooks_free(struct webhooks *w) {
    if (!w) return;
    webhooks_stop(w);
    free(w->shards);
    sodium_memzero(w->secret, sizeof(w->secret));
    free(w);
}

bool webhooks_wanted(const struct webhooks *w, enum webhook_kind kind) {
    return w && (w->wanted & (1u << kind));
}

/* One capture: the endpoints' XADDs, answered together. */
struct capture {
    struct webhooks *w;
    unsigned shard;
    int pending; /* XADDs not answered yet */
    bool failed; /* one of them failed */
    webhooks_done_fn *done;
    void *arg;
};

static void on_enqueued(enum store_status st, void *arg) {
    struct capture *c = arg;
    if (st != STORE_OK)
        c->failed = true;
    else
        c->w->stats.enqueued++;
    if (--c->pending > 0) return;
    if (c->failed)
        c->w->stats.enqueue_failed++;
    else if (!c->w->stopping)
        webhook_delivery_poke(c->w, c->shard);
    c->done(!c->failed, c->arg);
    free(c);
}

/* Sends the XADD of every endpoint that wants ev's kind; the count sent. */
static int enqueue_all(struct capture *c, const struct webhooks_event *ev, const char *id,
                       const char *body) {
    int sent = 0;
    for (int i = 0; i < c->w->endpoint_count; i++) {
        if (!(c->w->endpoints[i].kinds & (1u << ev->kind))) continue;
        c->pending++; /* counted first: an answer cannot come inside the call */
        if (store_webhook_enqueue(c->w->store, c->shard, id, c->w->endpoints[i].url, body,
                                  strlen(body), on_enqueued, c) < 0) {
            c->pending--;
            c->failed = true;
            continue;
        }
        sent++;
    }
    return sent;
}

int webhooks_capture(struct webhooks *w, const struct webhooks_event *ev, webhooks_done_fn *done,
                     void *arg) {
    if (!webhooks_wanted(w, ev->kind) || w->stopping) return -1;
    char id[WEBHOOK_ID_LEN + 1];
    webhook_event_id(id, ev->kind, ev->scope, ev->ref);
    char *body = webhook_event_body(ev->kind, id, ev->timestamp_ms, ev->data);
    struct capture *c = body ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        free(body);
        return -1;
    }
    *c = (struct capture){.w = w,
                          .done = done,
                          .arg = arg,
                          .shard =
                              webhook_shard_of(ev->scope[0] ? ev->scope : ev->ref, w->shard_count)};
    int sent = enqueue_all(c, ev, id, body);
    free(body);
    if (sent == 0) {
        free(c);
        return -1;
    }
    return 0;
}

bool webhooks_get_stats(const struct webhooks *w, struct webhooks_stats *out) {
    if (!w) return false;
    *out = w->stats;
    out->in_flight = w->in_flight;
    out->held = w->held;
    out->queue_length = 0;
    for (unsigned i = 0; i < w->shard_count; i++)
        if (w->shards[i].length > 0) out->queue_length += (unsigned long long)w->shards[i].length;
    return true;
}
