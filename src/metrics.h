/*
 * metrics: counters kept by the loop thread and rendered for GET /metrics in
 * the Prometheus text format: requests by route, method and status, a
 * latency histogram, messages sent, open streams, the Redis layer's counters
 * and the worker pool's queue depth.
 */
#ifndef CHAT_METRICS_H
#define CHAT_METRICS_H

struct evbuffer;
struct server;
struct metrics;

/* The counters of one server, all zero; NULL when out of memory. */
struct metrics *metrics_new(void);
/* NULL is fine. */
void metrics_free(struct metrics *m);

/* Counts one finished request. route is the matched route's path (a static
 * string) or "unmatched". */
void metrics_observe_request(struct metrics *m, const char *route, const char *method, int status,
                             double dur_ms);
/* Counts one message stored by POST /message/. */
void metrics_message_sent(struct metrics *m);
/* Long-polls parked until a message comes go up and down. */
void metrics_long_poll_parked(struct metrics *m, int delta);
/* Open streaming responses go up and down. */
void metrics_stream_opened(struct metrics *m);
void metrics_stream_closed(struct metrics *m);
/* Counts a request refused by the rate limit named limit (a static string). */
void metrics_rate_limited(struct metrics *m, const char *limit);
/* Counts a rate-limit hit that Redis could not count. */
void metrics_rate_unchecked(struct metrics *m, const char *limit);
/* Open client connections go up and down. */
void metrics_connections(struct metrics *m, long open, unsigned long long refused);
/* Appends every metric (srv->metrics and the other modules' counters) in
 * the Prometheus text format; 0 or -1. */
int metrics_render(struct evbuffer *out, struct server *srv);

#endif
