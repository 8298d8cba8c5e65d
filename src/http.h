/*
 * http: chatd's HTTP/1.1 server. It accepts connections and reads requests
 * (http_conn.c, with http-parser), finds the route, and turns replies
 * (status, JSON, headers) into bytes; it knows nothing about users or
 * messages. A connection serves a request/response exchange, a stream (SSE,
 * a chunked reply, a long-poll's late reply) or, upgraded, a WebSocket: the
 * same object in different states, with one write path. A struct request lives from the handler's call until its one
 * final reply (http_reply_* or http_stream_end/abort), which frees it; a
 * handler that answers later keeps the pointer until then. When the client
 * goes away before that, the reply is simply dropped.
 */
#ifndef CHAT_HTTP_H
#define CHAT_HTTP_H

#include <event2/http.h> /* enum evhttp_cmd_type, the method of a route */
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "client_addr.h"
#include "errors.h"
#include "token.h"

struct server;
struct request;
struct http_conn;
struct evbuffer;
struct evhttp_connection;

typedef void route_fn(struct request *r);

/* One row of the routing table: a path (matched with or without a trailing
 * slash; one segment may be "*", which matches any single segment and is
 * copied to request.param) and its handler for one method. */
struct route {
    const char *path;
    enum evhttp_cmd_type method;
    route_fn *handler;
};

/* Request headers chatd reads on every request, found in one pass over the
 * headers when the request arrives (see http_known_header). */
enum http_known {
    HTTP_H_X_REQUEST_ID,
    HTTP_H_ORIGIN,
    HTTP_H_HOST,
    HTTP_H_CONTENT_TYPE,
    HTTP_H_COOKIE,
    HTTP_H_AUTHORIZATION,
    HTTP_H_IDEMPOTENCY_KEY,
    HTTP_H_COUNT
};

/* One request being served. */
struct request {
    struct http_conn *conn;     /* the connection it arrived on */
    struct server *srv;         /* the server it arrived at */
    char id[24];                /* request id for logs and X-Request-Id */
    const char *method;         /* method name, for logs */
    enum evhttp_cmd_type cmd;   /* the method (0 for one chatd does not know) */
    const char *route;          /* matched route's path or "unmatched", for metrics */
    char *param;                /* the segment a route's "*" matched, "" if none */
    char *path;                 /* printable path, for logs (at most 127 characters) */
    struct evkeyvalq query;     /* decoded query parameters */
    long long start_us;         /* receive time, microseconds since the epoch */
    bool streaming;             /* a chunked reply has started */
    bool chunked;               /* stream: its body is sent in chunks (HTTP/1.1) */
    bool bodyless;              /* stream: no body is sent (HEAD) */
    bool detached;              /* stream: the connection closes when it ends */
    bool has_cache_control;     /* a Cache-Control header was added */
    bool has_content_length;    /* a Content-Length header was added */
    void (*on_close)(struct request *r); /* stream: the client went away */
    void *stream_arg;           /* the streaming (or waiting, see http_on_client_gone) handler's state */
    struct stream_sock *sock;   /* stream: its connection's socket, else NULL */
    struct evbuffer *headers_out; /* headers added for the reply ("Name: value\r\n"), or NULL */
    struct evbuffer *body_out;    /* http_reply_body's buffer, or NULL */
};

/* Binds and starts serving routes on srv->base; the HTTP layer's state is
 * srv->http_state until http_stop. 0 or -1 (logged). */
int http_start(struct server *srv, const struct route *routes, size_t nroutes);

/* Closes the listener: no new connections (open ones go on). */
void http_stop_accepting(struct server *srv);

/* Requests received and not yet answered. */
size_t http_inflight(const struct server *srv);
/* Replies given whose bytes are not all written (a client that vanishes
 * meanwhile may leave one counted). */
size_t http_unflushed(const struct server *srv);

/* Aborts every open stream, closes every connection and frees
 * srv->http_state;
 * nothing without it is fine. Call after the workers and the Redis layer
 * are gone (their callbacks have run), so that no request has a callback
 * pending; the store and the hub are freed after it (server_stop in
 * main.c). */
void http_stop(struct server *srv);

/* Receive time in milliseconds since the epoch. */
long long http_received_ms(const struct request *r);

/* A request header, or NULL. */
const char *http_header(const struct request *r, const char *name);
/* The same for one of enum http_known, without a search. */
const char *http_known_header(const struct request *r, enum http_known h);

/* A query parameter, or NULL. */
const char *http_query(const struct request *r, const char *name);

/* Reads the body as a JSON object: checks the content type (415), the size
 * (413) and the syntax (400). On API_E_OK *out must be decref'd. */
api_error http_body_json(struct request *r, json_t **out);
/* The same checks of content type and size, and the body's bytes (len of
 * them, not NUL-terminated), which live as long as r. */
api_error http_body_raw(struct request *r, const char **data, size_t *len);

/* The address the request comes from (see client_addr.h), with the
 * configured trusted proxies, as the per-address limits count it: an IPv6
 * client by its /64 (client_addr_limit_key). */
void http_client_address(const struct request *r, char out[CLIENT_ADDR_MAX]);

/* Finds the session token in the Authorization header or the authKey cookie. */
bool http_session_token(const struct request *r, char out[TOKEN_LEN + 1]);

/* True when the client reached us over TLS: a trusted proxy (see
 * --trusted-proxies) said so with X-Forwarded-Proto: https. */
bool http_forwarded_https(const struct request *r);

/* Calls fn(r) when the client goes away before r is answered, so that
 * queued work for it can be dropped; r stays valid and must still be
 * answered once (the reply goes nowhere). The final reply clears it. Not
 * for streams, whose on_close is set by their handler. */
void http_on_client_gone(struct request *r, void (*fn)(struct request *r));

/* Whether the request is a HEAD (its reply has no body). */
bool http_is_head(const struct request *r);

/* Adds a response header. */
void http_add_header(struct request *r, const char *name, const char *value);

/* Final replies; each frees r. json_reply steals body. */
void http_reply_json(struct request *r, int status, json_t *body);
void http_reply_error(struct request *r, api_error e, const char *message);
void http_reply_empty(struct request *r, int status);
/* Sends body (JSON text, may be NULL) as it is; frees r, not body. */
void http_reply_buffer(struct request *r, int status, struct evbuffer *body);
/* Sends body with the given content type; frees r, not body. */
void http_reply_typed(struct request *r, int status, const char *content_type,
                      struct evbuffer *body);
/* The reply's own body buffer: what a handler appends to it goes out before
 * the body (if any) of its final http_reply_* call, without a buffer of its
 * own. Not for streams. */
struct evbuffer *http_reply_body(struct request *r);

/* Chunked replies: start once, send any number of chunks, end once. The
 * drained callback runs when a chunk has left the output buffer; on_close
 * (if set) runs instead when the client goes away, after which the handler
 * must call http_stream_end() once it has no callback pending. */
void http_stream_start(struct request *r, int status, const char *content_type);
void http_stream_send(struct request *r, struct evbuffer *chunk,
                      void (*drained)(struct evhttp_connection *, void *), void *arg);
void http_stream_end(struct request *r);
/* Bytes of a stream's reply not yet written to the socket. */
size_t http_stream_backlog(struct request *r);
/* Cuts the connection so the client sees an incomplete reply; frees r. */
void http_stream_abort(struct request *r);
/* A started stream that lasts (an event stream): the request's headers,
 * query and body are freed, so that an idle stream costs little
 * (http_header and http_query answer NULL after), and the connection
 * closes when the stream ends instead of serving another request. 0 (the
 * type is kept for callers that could once be refused). */
int http_stream_detach(struct request *r);

/* Takes r's connection over for another protocol (a WebSocket), without
 * an HTTP reply: head (the 101 response, emptied) is its first bytes, and
 * every later http_stream_send goes out as it is. The stream functions
 * above then work as for a detached stream. Read r's headers before: they
 * are gone after. -1 when it cannot (r is still unanswered, as it was). */
int http_stream_upgrade(struct request *r, struct evbuffer *head);
/* An upgraded stream: hands the client's bytes to fn (see
 * stream_sock_set_reader), or with NULL drops them. */
void http_stream_set_reader(struct request *r, int (*fn)(void *arg), void *arg);
/* An upgraded stream: reads what the client sent, as stream_sock_recv. */
ssize_t http_stream_recv(struct request *r, void *buf, size_t len);

#endif
