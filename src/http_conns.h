/*
 * http_conns: what libevent 2.1's evhttp does not keep about its client
 * connections: how many are open (--max-connections), a deadline by which a
 * request must have arrived completely (--request-timeout: a client sending
 * a byte a second, "slowloris", is cut off), an idle limit between
 * requests, and which stream a connection carries (told when the client
 * goes away). A stream's connection that left evhttp (http_stream_detach)
 * is no longer tracked, only counted until it closes. Connections are also
 * counted per peer address (not for trusted proxies, behind which many
 * clients share one address: HAProxy caps those itself) while tracked.
 *
 * Connections are tracked from the moment evhttp accepts them: evhttp asks
 * us for each connection's bufferevent (evhttp_set_bevcb), and right after
 * it has set the connection up we take its close callback. A connection is
 * cut by shutting its socket down, after which evhttp sees the end of the
 * input and frees the connection itself.
 *
 * One table per HTTP server (owned by its http_state); loop thread only.
 */
#ifndef CHAT_HTTP_CONNS_H
#define CHAT_HTTP_CONNS_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct evhttp;
struct evhttp_connection;
struct metrics;
struct http_conns;

/* Limits of the connection table. */
struct http_conns_limits {
    int max_connections;    /* open connections at most; more are answered 503 */
    int request_timeout_ms; /* from a request's first byte to its last */
    int idle_timeout_ms;    /* between two requests on one connection */
    int first_timeout_ms;   /* from accept to the first byte */
    int max_per_address;    /* open connections per peer address (IPv6 by /64); 0: no cap */
    const char *trusted;    /* peers not counted per address (proxies carry many clients) */
};

/* Whether a connection's requests may be served (http_conns_request_read). */
enum http_conns_verdict {
    HTTP_CONNS_OK,           /* within every limit */
    HTTP_CONNS_OVER_TOTAL,   /* accepted over max_connections */
    HTTP_CONNS_OVER_ADDRESS, /* its peer held max_per_address connections already */
};

/* A table that takes over evhttp's connection set-up; fds up to max_fds
 * are tracked, and the open and refused counts go to metrics. NULL when out
 * of memory. */
struct http_conns *http_conns_new(struct event_base *base, struct evhttp *http, size_t max_fds,
                                  const struct http_conns_limits *limits,
                                  struct metrics *metrics);
/* Frees the table (after evhttp_free, which closes every connection). NULL
 * is fine. */
void http_conns_free(struct http_conns *t);

/* A request arrived completely on evcon: its deadline is off. Says whether
 * the connection was accepted over a limit (the caller refuses the request
 * unless it is a health check). */
enum http_conns_verdict http_conns_request_read(struct http_conns *t,
                                                struct evhttp_connection *evcon);
/* A reply was written out: the connection waits for the next request. */
void http_conns_reply_done(struct http_conns *t, struct evhttp_connection *evcon);
/* Sets (or with NULL clears) what runs when evcon's client goes away: when
 * the connection closes, or when its end of input arrives while a request is
 * being served (then fn runs once and the connection stays until the reply
 * is written). False when evcon is not tracked (nothing is set). */
bool http_conns_on_close(struct http_conns *t, struct evhttp_connection *evcon,
                         void (*fn)(void *arg), void *arg);
/* Lets go of the extra read interest held on evcon's socket while a request
 * is served. Before the socket leaves evhttp: libevent would otherwise keep
 * the descriptor registered with epoll after evhttp has let go of it. */
void http_conns_drop_read_hold(struct http_conns *t, struct evhttp_connection *evcon);
/* A tracked connection's socket went on without evhttp (an event stream,
 * http_stream_detach): freeing evcon released its slot, and this counts it
 * again as open until http_conns_detached_closed(). */
void http_conns_detached_opened(struct http_conns *t);
void http_conns_detached_closed(struct http_conns *t);

#endif
