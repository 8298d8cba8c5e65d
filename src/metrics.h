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

/* Counts one finished request. route is the matched route's path (a static
 * string) or "unmatched". */
void metrics_observe_request(const char *route, const char *method, int status, double dur_ms);
/* Counts one message stored by POST /message/. */
void metrics_message_sent(void);
/* Long-polls parked until a message comes go up and down. */
void metrics_long_poll_parked(int delta);
/* Open streaming responses go up and down. */
void metrics_stream_opened(void);
void metrics_stream_closed(void);
/* Counts a request refused by the rate limit named limit (a static string). */
void metrics_rate_limited(const char *limit);
/* Counts a rate-limit hit that Redis could not count. */
void metrics_rate_unchecked(const char *limit);
/* Open client connections go up and down. */
void metrics_connections(long open, unsigned long long refused);
/* Appends every metric in the Prometheus text format; 0 or -1. */
int metrics_render(struct evbuffer *out, struct server *srv);

#endif
