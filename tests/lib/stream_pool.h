/*
 * stream_pool: many event streams at once on raw sockets, read with poll()
 * on the caller's thread, for the tests that need thousands of them (one
 * libcurl thread per stream, as sse_client does, would not scale). Each
 * stream is a plain HTTP/1.0 GET (the body comes unchunked); every complete
 * line of its answer, headers included, goes to the pool's line callback.
 */
#ifndef CHAT_STREAM_POOL_H
#define CHAT_STREAM_POOL_H

#include <stdbool.h>

struct stream_pool;

/* Called with each complete line (no "\n") of stream i. */
typedef void (*stream_line_fn)(void *arg, int i, const char *line);

/* A pool of count streams, none open yet. It raises the process's soft
 * open-file limit when the streams need more (up to the hard limit); NULL
 * when even that is too low, or when out of memory. */
struct stream_pool *stream_pool_new(int count, stream_line_fn on_line, void *arg);
/* Closes every open stream and frees the pool; NULL is fine. */
void stream_pool_free(struct stream_pool *p);

/* Opens stream i: connects to base ("http://127.0.0.1:PORT") and sends
 * GET path. 0 on success, -1 when the connection or the send failed. */
int stream_pool_open(struct stream_pool *p, int i, const char *base, const char *path);
/* The same as the user of a session token (NULL: none). */
int stream_pool_open_as(struct stream_pool *p, int i, const char *base, const char *path,
                        const char *token);
/* Closes stream i, as a client that goes away (not counted as ended). */
void stream_pool_close(struct stream_pool *p, int i);
/* Reads whatever the open streams have, waiting up to ms for some. */
void stream_pool_pump(struct stream_pool *p, int ms);
/* Marks stream i ready (the caller decides which line means that). */
void stream_pool_set_ready(struct stream_pool *p, int i);
/* Streams marked ready so far. */
int stream_pool_ready(const struct stream_pool *p);
/* Streams the server closed (or that failed) after they were opened. */
int stream_pool_ended(const struct stream_pool *p);

#endif
