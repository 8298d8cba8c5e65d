/* metrics: in-process counters and their Prometheus text rendering. */
#include "metrics.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "server.h"
#include "session_cache.h"
#include "session_events.h"
#include "webhooks.h"
#include "workers.h"

#define MAX_SERIES 128

/* One (route, method, status) request counter. */
struct request_series {
    const char *route;
    const char *method;
    int status;
    unsigned long long count;
};

static const double bucket_ms[] = {1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
#define NBUCKETS (sizeof(bucket_ms) / sizeof(bucket_ms[0]))

/* The counters; one per server (struct server's metrics). */
struct metrics {
    struct request_series series[MAX_SERIES];
    int nseries;
    unsigned long long overflow;           /* requests whose series did not fit */
    unsigned long long buckets[NBUCKETS];  /* requests at or under each bound */
    unsigned long long requests;
    double duration_sum_s;
    unsigned long long messages;
    long streams;
    long long_polls;
    struct limit_series {
        const char *limit;              /* the limit's name, a static string */
        unsigned long long limited;     /* requests refused with 429 */
        unsigned long long unchecked;   /* hits Redis could not count */
    } limits[8];
    int nlimits;
    long connections;                   /* open client connections */
    unsigned long long connections_refused; /* connections refused over the limit */
};

struct metrics *metrics_new(void) { return calloc(1, sizeof(struct metrics)); }

void metrics_free(struct metrics *m) { free(m); }

void metrics_observe_request(struct metrics *m, const char *route, const char *method, int status,
                             double dur_ms) {
    int i = 0;
    for (; i < m->nseries; i++)
        if (m->series[i].status == status && strcmp(m->series[i].route, route) == 0 &&
            strcmp(m->series[i].method, method) == 0)
            break;
    if (i == m->nseries && m->nseries < MAX_SERIES)
        m->series[m->nseries++] = (struct request_series){route, method, status, 0};
    if (i < m->nseries) m->series[i].count++;
    else m->overflow++;
    for (size_t b = 0; b < NBUCKETS; b++)
        if (dur_ms <= bucket_ms[b]) m->buckets[b]++;
    m->requests++;
    m->duration_sum_s += dur_ms / 1000.0;
}

void metrics_message_sent(struct metrics *m) { m->messages++; }
void metrics_long_poll_parked(struct metrics *m, int delta) { m->long_polls += delta; }
void metrics_stream_opened(struct metrics *m) { m->streams++; }
void metrics_stream_closed(struct metrics *m) { m->streams--; }

static struct limit_series *limit_series(struct metrics *m, const char *limit) {
    for (int i = 0; i < m->nlimits; i++)
        if (strcmp(m->limits[i].limit, limit) == 0) return &m->limits[i];
    if (m->nlimits == (int)(sizeof(m->limits) / sizeof(m->limits[0]))) return NULL;
    m->limits[m->nlimits] = (struct limit_series){limit, 0, 0};
    return &m->limits[m->nlimits++];
}

void metrics_rate_limited(struct metrics *m, const char *limit) {
    struct limit_series *s = limit_series(m, limit);
    if (s) s->limited++;
}

void metrics_rate_unchecked(struct metrics *m, const char *limit) {
    struct limit_series *s = limit_series(m, limit);
    if (s) s->unchecked++;
}

void metrics_connections(struct metrics *m, long open, unsigned long long refused) {
    m->connections = open;
    m->connections_refused = refused;
}

static void render_limits(struct evbuffer *out, const struct metrics *m) {
    evbuffer_add_printf(out, "# HELP chatd_rate_limited_total Requests refused with 429 by "
                             "limit.\n# TYPE chatd_rate_limited_total counter\n");
    for (int i = 0; i < m->nlimits; i++)
        evbuffer_add_printf(out, "chatd_rate_limited_total{limit=\"%s\"} %llu\n",
                            m->limits[i].limit, m->limits[i].limited);
    evbuffer_add_printf(out, "# HELP chatd_rate_unchecked_total Rate-limit hits Redis could not "
                             "count (fail-open limits let them pass).\n"
                             "# TYPE chatd_rate_unchecked_total counter\n");
    for (int i = 0; i < m->nlimits; i++)
        evbuffer_add_printf(out, "chatd_rate_unchecked_total{limit=\"%s\"} %llu\n",
                            m->limits[i].limit, m->limits[i].unchecked);
}

static void render_requests(struct evbuffer *out, const struct metrics *m) {
    evbuffer_add_printf(out, "# HELP chatd_http_requests_total HTTP requests by route, method "
                             "and status.\n# TYPE chatd_http_requests_total counter\n");
    for (int i = 0; i < m->nseries; i++)
        evbuffer_add_printf(out,
                            "chatd_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} "
                            "%llu\n",
                            m->series[i].route, m->series[i].method, m->series[i].status,
                            m->series[i].count);
    evbuffer_add_printf(out, "# HELP chatd_http_request_duration_seconds Time from request to "
                             "reply.\n# TYPE chatd_http_request_duration_seconds histogram\n");
    for (size_t b = 0; b < NBUCKETS; b++)
        evbuffer_add_printf(out, "chatd_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                            bucket_ms[b] / 1000.0, m->buckets[b]);
    evbuffer_add_printf(out,
                        "chatd_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                        "chatd_http_request_duration_seconds_sum %.6f\n"
                        "chatd_http_request_duration_seconds_count %llu\n",
                        m->requests, m->duration_sum_s, m->requests);
}

static void render_counter(struct evbuffer *out, const char *name, const char *help,
                           const char *type, unsigned long long value) {
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                        value);
}

static void render_redis(struct evbuffer *out, const struct cluster_stats *s) {
    render_counter(out, "chatd_redis_commands_total", "Redis commands submitted.", "counter",
                   s->commands);
    evbuffer_add_printf(out,
                        "# HELP chatd_redis_redirects_total Cluster redirects followed.\n"
                        "# TYPE chatd_redis_redirects_total counter\n"
                        "chatd_redis_redirects_total{kind=\"moved\"} %llu\n"
                        "chatd_redis_redirects_total{kind=\"ask\"} %llu\n",
                        s->moved, s->ask);
    render_counter(out, "chatd_redis_retries_total",
                   "Retries after TRYAGAIN, CLUSTERDOWN, LOADING or a lost connection.", "counter",
                   s->retries);
    render_counter(out, "chatd_redis_errors_total",
                   "Commands that failed for want of an answer in time.", "counter", s->failures);
    render_counter(out, "chatd_redis_not_durable_total",
                   "Writes refused because too few replicas acknowledged them->", "counter",
                   s->not_durable);
    render_counter(out, "chatd_durable_degraded_total",
                   "Writes acknowledged by fewer replicas than --min-replica-acks, because the"
                   " master had no more healthy replicas.", "counter", s->durable_degraded);
    render_counter(out, "chatd_redis_topology_refreshes_total", "CLUSTER SLOTS refreshes.",
                   "counter", s->refreshes);
    render_counter(out, "chatd_storage_full_total",
                   "Writes Redis refused because its memory is full (507 storage_full).",
                   "counter", s->refused_full);
    render_counter(out, "chatd_storage_full",
                   "1 while Redis refuses writes for memory (the last durable write was"
                   " refused so), else 0.", "gauge", s->storage_full ? 1ULL : 0ULL);
}

static void render_session_cache(struct evbuffer *out, const struct server *srv) {
    struct session_cache_stats st = session_cache_stats(srv->session_cache);
    render_counter(out, "chatd_session_cache_hits_total",
                   "Session reads answered from memory.", "counter", st.hits);
    render_counter(out, "chatd_session_cache_misses_total",
                   "Session reads sent to Redis while the cache is on.", "counter", st.misses);
    render_counter(out, "chatd_session_cache_invalidations_total",
                   "Ended sessions announced by any chatd and received here.", "counter",
                   st.invalidations);
    render_counter(out, "chatd_session_cache_flushes_total",
                   "Times the whole cache was dropped (subscription lost).", "counter",
                   st.flushes);
    render_counter(out, "chatd_session_cache_entries", "Sessions held in memory.", "gauge",
                   st.entries);
    render_counter(out, "chatd_session_events_subscribed",
                   "1 while the ended-sessions subscription is confirmed (the cache may answer).",
                   "gauge", session_events_subscribed(srv->session_events));
}

/* The webhook counters, when webhooks are configured. */
static void render_webhooks(struct evbuffer *out, const struct webhooks *w) {
    struct webhooks_stats s;
    if (!webhooks_get_stats(w, &s)) return;
    render_counter(out, "chatd_webhook_enqueued_total", "Webhook deliveries queued (event x URL).",
                   "counter", s.enqueued);
    render_counter(out, "chatd_webhook_enqueue_failed_total",
                   "Events that could not be queued (their action answered 503).", "counter",
                   s.enqueue_failed);
    render_counter(out, "chatd_webhook_delivered_total", "Webhook deliveries answered 2xx.",
                   "counter", s.delivered);
    render_counter(out, "chatd_webhook_retried_total",
                   "Webhook attempts that failed and were retried.", "counter", s.retried);
    render_counter(out, "chatd_webhook_failed_total",
                   "Webhook deliveries that failed every attempt (moved to the dead letters).",
                   "counter", s.failed);
    render_counter(out, "chatd_webhook_claimed_total",
                   "Webhook deliveries taken over from a chatd that stopped tending them.",
                   "counter", s.claimed);
    render_counter(out, "chatd_webhook_in_flight", "Webhook POSTs running.", "gauge",
                   s.in_flight);
    render_counter(out, "chatd_webhook_held", "Webhook deliveries this chatd holds.", "gauge",
                   s.held);
    render_counter(out, "chatd_webhook_queue_length",
                   "Webhook deliveries not acknowledged yet, of every chatd (XLEN of the shards).",
                   "gauge", s.queue_length);
    render_counter(out, "chatd_webhook_lag_ms_sum",
                   "Sum of the queued-to-delivered times of the delivered, ms.", "counter",
                   s.lag_ms_sum);
    render_counter(out, "chatd_webhook_lag_ms_last",
                   "Queued-to-delivered time of the latest delivered, ms.", "gauge",
                   (unsigned long long)(s.lag_ms_last > 0 ? s.lag_ms_last : 0));
}

int metrics_render(struct evbuffer *out, struct server *srv) {
    const struct metrics *m = srv->metrics;
    render_requests(out, m);
    render_counter(out, "chatd_messages_sent_total", "Messages stored by POST /message/.",
                   "counter", m->messages);
    render_counter(out, "chatd_open_streams", "Streaming responses in progress.", "gauge",
                   (unsigned long long)(m->streams > 0 ? m->streams : 0));
    render_counter(out, "chatd_long_polls_waiting", "Long-polls parked until a message comes.",
                   "gauge", (unsigned long long)(m->long_polls > 0 ? m->long_polls : 0));
    render_limits(out, m);
    render_counter(out, "chatd_connections", "Open client connections.", "gauge",
                   (unsigned long long)(m->connections > 0 ? m->connections : 0));
    render_counter(out, "chatd_connections_refused_total",
                   "Connections refused over --max-connections.", "counter",
                   m->connections_refused);
    render_redis(out, cluster_get_stats(srv->cluster));
    render_session_cache(out, srv);
    render_counter(out, "chatd_worker_queue_depth",
                   "Password-hashing jobs queued or running.", "gauge",
                   workers_pending(srv->workers));
    render_webhooks(out, srv->webhooks);
    return 0;
}
