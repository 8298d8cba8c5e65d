/*
 * server: what every route needs, in one place: the configuration, the loop,
 * the store and the worker pool. Built by main.c, read by the routes.
 */
#ifndef CHAT_SERVER_H
#define CHAT_SERVER_H

#include <sodium.h>

#include "config.h"
#include "ratelimit.h"

struct event_base;
struct store;
struct workers;
struct cluster;
struct hub;
struct sse_frame;
struct webroot;
struct session_cache;
struct session_events;
struct multi_streams;
struct metrics;
struct http_state;
struct fanout;
struct routes_stream;
struct routes_wait;
struct ws_server;
struct addr_slots;
struct jwt_keys;
struct session_streams;
struct webhooks;
struct presence;

/* A graceful stop (main.c): the signals that start it and its timers,
 * each NULL until made. */
struct server_stopping {
    struct event *sigint, *sigterm; /* start the stop */
    struct event *delay;            /* drain delay over: stop accepting */
    struct event *poll;             /* waits for the last request to finish */
    struct event *grace;            /* grace period over: exit anyway */
    int lingered_ms;                /* waited so far for the last replies' bytes */
};

struct server {
    struct config cfg;                     /* settings, read-only after start */
    struct ratelimit limits;               /* the abuse limits, parsed from cfg */
    struct event_base *base;               /* the one event loop */
    struct http_state *http_state;         /* what http.c keeps between requests */
    struct cluster *cluster;               /* Redis connections */
    struct store *store;                   /* key schema on top of cluster */
    struct session_cache *session_cache;   /* sessions read lately; NULL when off */
    struct session_events *session_events; /* keeps the cache honest; NULL when off */
    struct workers *workers;               /* Argon2id hashing threads */
    struct hub *hub;                       /* room readers and live subscribers */
    struct multi_streams *multi_streams;   /* open multi-room event streams; NULL before the first */
    struct sse_frame *sse_frame;           /* live messages framed once for every SSE stream */
    struct fanout *fanout;                 /* writes one event to many streams */
    struct routes_stream *streams;         /* the open event streams */
    struct routes_wait *long_polls;        /* the parked long-polls */
    struct ws_server *ws;                  /* the open WebSockets */
    struct addr_slots *stream_slots;       /* open event streams (both kinds) per address */
    struct addr_slots *long_poll_slots;    /* waiting long-polls per address */
    struct webroot *web;                   /* the browser client's files */
    struct metrics *metrics;               /* counters for GET /metrics */
    struct jwt_keys *jwt_keys;             /* verify application tokens; NULL: none configured */
    struct session_streams *session_streams; /* open streams by session, ended with it */
    struct webhooks *webhooks;             /* webhook queue and deliveries; NULL: none */
    struct presence *presence;             /* users with streams here, per room, kept in Redis */
    char dummy_hash[crypto_pwhash_STRBYTES]; /* verified for unknown users */
    unsigned long long requests;           /* requests seen, for request ids */
    unsigned request_id_base;              /* random per process */
    int draining;                          /* SIGTERM seen: /ready says 503 */
    struct server_stopping stopping;       /* its signals and timers */
};

#endif
