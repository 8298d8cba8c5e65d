/*
 * http_private: what the two halves of the HTTP layer share. http_conn.c
 * owns connections (accepting, reading, parsing, deadlines, writing) and
 * hands each complete request to http.c (http_serve), which routes it and
 * turns the route's reply into bytes. Nothing outside the layer includes it.
 */
#ifndef CHAT_HTTP_PRIVATE_H
#define CHAT_HTTP_PRIVATE_H

#include <http_parser.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "http.h"
#include "http_head.h"

#define HTTP_IO_TIMEOUT_S 60   /* idle between requests; a write making no progress */
#define HTTP_BODY_READ_FACTOR 4 /* bodies up to this many times --max-body are read */

/* Where a connection is in its life. */
enum http_phase {
    HTTP_READING,   /* waiting for (the rest of) a request */
    HTTP_SERVING,   /* a request is with its route; later ones wait in the input */
    HTTP_STREAMING, /* the reply is a stream (chunked reply, SSE) */
    HTTP_UPGRADED,  /* another protocol (WebSocket) reads and writes the socket */
    HTTP_CLOSING,   /* written out and closing; freed when the socket is done */
};

/* What the reader does at its end (closing inside it would pull the
 * socket from under it). */
enum http_pending { HTTP_PENDING_NONE, HTTP_PENDING_CLOSE, HTTP_PENDING_ABORT };

/* What a connection needs only while it reads requests; freed once it
 * carries a lasting stream, which keeps an idle one small. */
struct http_reading {
    http_parser parser;
    struct http_head_reader rd;  /* what the parser fills (parser.data points here) */
    struct event *deadline;      /* the request (or the next one) is overdue */
    long long since_ms;          /* reading since (accept, or the last reply) */
    long long first_byte_ms;     /* the awaited request's first byte; 0: none yet */
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } peer;                      /* the peer's address */
};

/* One client connection. */
struct http_conn {
    struct http_state *st;       /* its server's HTTP state */
    struct stream_sock *sock;    /* the socket */
    struct http_reading *reading; /* NULL once a lasting stream has started */
    enum http_phase phase;
    struct evbuffer *in;         /* input not parsed yet (pipelined, or held while serving) */
    char *address;               /* its key in the per-address count (http_conns) */
    uint8_t verdict;             /* enum http_conns_verdict of the connection */
    bool served;                 /* a reply was written */
    bool http10;                 /* the request at hand is HTTP/1.0 */
    bool keep_alive;             /* the request at hand lets the connection go on */
    bool input_ended;            /* the client's end of input came */
    bool gone;                   /* the socket is lost */
    bool close_after;            /* close once the request at hand is answered */
    uint8_t pending;             /* enum http_pending: asked for inside the reader */
    bool unflushed;              /* counted in st->unflushed */
    int reading_depth;           /* inside the reader: closing waits for its end */
    struct http_conn *prev, *next; /* every connection, for shutdown */
    struct request req;          /* the request being served (one at a time) */
};

/* What the HTTP layer keeps between requests: one per server
 * (srv->http_state), from http_start to http_stop. */
struct http_state {
    struct server *srv;                   /* handed to every request */
    const struct route *routes;           /* the routing table */
    size_t nroutes;
    struct evconnlistener *listener;      /* NULL once accepting stopped */
    struct event *accept_pause;           /* re-enables accepting after running out of fds */
    size_t inflight;                      /* requests not yet answered */
    size_t unflushed;                     /* answered, not yet written out */
    struct http_conn *conns_list;         /* every open connection */
    struct http_conns *conns;             /* the connection counts (http_conns.h) */
    struct stream_socks *socks;           /* sockets that ended and still write or linger */
    http_parser_settings parser_settings; /* the parser's callbacks, the same for all */
    int request_timeout_ms;               /* --request-timeout */
    time_t date_made;                     /* the second date_text was made for */
    char date_text[40];                   /* the Date header's value */
};

/* http.c: serves the complete request in c->rd.head (c->req is set up there). */
void http_serve(struct http_conn *c);
/* http.c: answers a request the parser refused (c->rd.refusal, or a syntax
 * error) and closes the connection after the reply. */
void http_refuse(struct http_conn *c, api_error e);

/* http_conn.c: starts accepting on the bound listener. 0 or -1. */
int http_conn_listen(struct http_state *st, struct evconnlistener *l);
/* The request at hand was answered and its bytes handed to the socket:
 * the connection reads the next request, or closes. c may be gone after. */
void http_conn_request_done(struct http_conn *c);
/* Whether the connection serves another request after the one at hand. */
bool http_conn_keeps_going(const struct http_conn *c);
/* The connection now carries a stream (or, upgraded, another protocol):
 * no deadline while it does. */
void http_conn_stream_started(struct http_conn *c, bool upgraded);
/* The stream lasts: the request's head, the timer and (unless upgraded:
 * the new protocol's first bytes may be there) the input are freed. */
void http_conn_detach(struct http_conn *c, bool upgraded);
/* Frees the parsed request's head, headers and body. */
void http_conn_drop_head(struct http_conn *c);
/* Writes out what is queued and closes; c is gone for the caller. */
void http_conn_close(struct http_conn *c);
/* Closes at once, dropping what is queued; c is gone. */
void http_conn_abort(struct http_conn *c);
/* Writes buf (emptied) to the connection, counted as unflushed until out. */
void http_conn_write(struct http_conn *c, struct evbuffer *buf);
/* Bytes of input read but not parsed (an upgraded connection's first
 * frames): up to len of them into buf; 0 when none. */
size_t http_conn_take_input(struct http_conn *c, void *buf, size_t len);
/* Closes every connection (http_stop). */
void http_conn_close_all(struct http_state *st);

#endif
