/*
 * webhook_http: HTTP POSTs for the webhook deliveries, with libcurl's multi
 * interface driven by the event loop (curl tells which sockets to watch and
 * when its timer is due; the loop tells curl what happened). Nothing
 * blocks the loop and no thread is made per request; libcurl's resolver
 * may use a thread of its own for a name.
 *
 * Contract: webhook_http_post returns -1 and never calls done, or 0 and
 * calls done exactly once, later, on the loop thread (also when the client
 * is freed first, with status 0).
 */
#ifndef CHAT_WEBHOOK_HTTP_H
#define CHAT_WEBHOOK_HTTP_H

#include <stddef.h>

struct event_base;
struct webhook_http;

/* The answer: the HTTP status (0: none, such as a timeout or a refused
 * connection) and, then, curl's reason in words. */
typedef void webhook_http_fn(int status, const char *error, void *arg);

/* A client on base; NULL when libcurl cannot be set up. */
struct webhook_http *webhook_http_new(struct event_base *base);
/* Ends every request still running (each done gets status 0). NULL is fine. */
void webhook_http_free(struct webhook_http *h);

/* POSTs body (len bytes, copied) to url with the headers (NULL-terminated
 * "Name: value" lines), giving up after timeout_ms. */
int webhook_http_post(struct webhook_http *h, const char *url, const char *const *headers,
                      const char *body, size_t len, int timeout_ms, webhook_http_fn *done,
                      void *arg);
/* Requests running now. */
size_t webhook_http_running(const struct webhook_http *h);

#endif
