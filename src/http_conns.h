/*
 * http_conns: how many client connections are open (--max-connections) and
 * how many each peer address holds (--max-connections-per-address; not
 * counted for trusted proxies, behind which many clients share one address:
 * HAProxy caps those itself). A connection accepted over a limit is still
 * served the balancer's health checks and refused everything else, so that
 * the refusal is a clear reply, not a reset; far beyond the limit it is cut
 * at once.
 *
 * One table per HTTP server (owned by its http_state); loop thread only.
 */
#ifndef CHAT_HTTP_CONNS_H
#define CHAT_HTTP_CONNS_H

#include <stdbool.h>
#include <stddef.h>

struct metrics;
struct http_conns;

/* Limits of the connection table. */
struct http_conns_limits {
    int max_connections; /* open connections at most; more are answered 503 */
    int max_per_address; /* open connections per peer address (IPv6 by /64); 0: no cap */
    const char *trusted; /* peers not counted per address (proxies carry many clients) */
};

/* Whether a connection's requests may be served. */
enum http_conns_verdict {
    HTTP_CONNS_OK,           /* within every limit */
    HTTP_CONNS_OVER_TOTAL,   /* accepted over max_connections */
    HTTP_CONNS_OVER_ADDRESS, /* its peer held max_per_address connections already */
    HTTP_CONNS_CUT,          /* so far over max_connections that it is closed at once */
};

/* A table; the open and refused counts go to metrics. NULL when out of
 * memory. */
struct http_conns *http_conns_new(const struct http_conns_limits *limits, struct metrics *metrics);
/* Frees the table. NULL is fine. */
void http_conns_free(struct http_conns *t);

/* Counts a connection accepted on fd, and says whether it is within the
 * limits. *address is set to what http_conns_close must be given back
 * (NULL when the connection is not counted per address). Every call but
 * one answered HTTP_CONNS_CUT is matched by one http_conns_close. */
enum http_conns_verdict http_conns_open(struct http_conns *t, int fd, char **address);
/* A counted connection closed; frees address. */
void http_conns_close(struct http_conns *t, char *address);

#endif
