/*
 * http_refusal: chatd's JSON error in place of evhttp's own 413, and a
 * lingering close after it.
 *
 * A body larger than evhttp's limit (4 x --max-body) is refused by libevent
 * 2.1's evhttp before chatd sees the request, with a fixed HTML page and no
 * hook to change it. Watching a connection's output, this module replaces
 * that page, as it is written, by chatd's body_too_large error. evhttp then
 * closes the connection at once, while the client may still be sending a
 * chunked body: the kernel would answer the unread data with a reset, and
 * the client (or HAProxy in front) would often lose the reply. So the
 * socket is kept open past evhttp's close and read to the end of the
 * client's input (at most LINGER_IDLE_MS between two reads), then closed.
 *
 * Loop thread only. No state of its own: the connection table (http_conns)
 * calls it from its output watch on each connection, and each lingering
 * socket is carried by libevent's one-shot events.
 */
#ifndef CHAT_HTTP_REFUSAL_H
#define CHAT_HTTP_REFUSAL_H

#include <stdbool.h>

struct bufferevent;
struct evbuffer;
struct evbuffer_cb_info;
struct http_conns;

/* For an output callback on a client connection's bufferevent bev: when
 * what was just added to buf completes evhttp's 413 page, replaces it and
 * keeps the socket open (counted in conns) until the client is done. True
 * when the page came (the callback has nothing more to do then). */
bool http_refusal_replace(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                          struct bufferevent *bev, struct http_conns *conns);

#endif
