/*
 * http_batch: many small JSON POSTs at once over kept-alive connections
 * (libcurl's multi interface), for the tests that set up thousands of
 * things through the real API, e.g. 100,000 rooms with POST /room/, where
 * one request after the other would take minutes.
 */
#ifndef CHAT_HTTP_BATCH_H
#define CHAT_HTTP_BATCH_H

#include <stddef.h>

/* Writes request i's path (e.g. "/room/") and JSON body into the buffers. */
typedef void (*http_batch_make_fn)(void *arg, int i, char *path, size_t path_size, char *body,
                                   size_t body_size);

/* POSTs requests 0 .. n-1, request i to bases[i % nbases], at most parallel
 * at a time, each with the header line extra (e.g. "Cookie: authKey=...",
 * or NULL). status[i] gets request i's HTTP status (0: no answer). Returns
 * how many answered 2xx, -1 when libcurl could not be set up. */
int http_batch_post(const char *const *bases, int nbases, int n, int parallel, const char *extra,
                    http_batch_make_fn make, void *arg, long *status);

#endif
