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
 * Loop thread only. No state of its own: each lingering socket is carried
 * by libevent's one-shot events, which event_base_free releases.
 */
#ifndef CHAT_HTTP_REFUSAL_H
#define CHAT_HTTP_REFUSAL_H

struct bufferevent;

/* Watches the output of a client connection's bufferevent (before evhttp
 * writes to it). 0 or -1 (out of memory: the connection works without). */
int http_refusal_watch(struct bufferevent *bev);

#endif
