/*
 * session_streams: which open streams belong to which session, so that a
 * session's end (a logout, a password change, a locked or deleted
 * account, announced to every chatd on the "sessions ended" channel, see
 * session_events.h) ends its event streams, multi-room streams, long-polls
 * and WebSockets on this chatd at once, without looking at any other
 * stream.
 *
 * A chained hash table keyed by the session's token hash. A stream that
 * starts with a session adds itself and keeps the link it gets (an
 * anonymous stream has none, costs nothing here and is never ended here);
 * it removes the link when it ends, for whatever reason. A pure data
 * structure (no I/O), used by the loop thread only; the server owns one
 * (srv->session_streams).
 */
#ifndef CHAT_SESSION_STREAMS_H
#define CHAT_SESSION_STREAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "token.h"

struct session_streams;
struct session_stream_link;

/* Ends the stream arg: called once, after its link left the index (the
 * stream still removes it, which frees it). The stream may be freed
 * inside, or later. */
typedef void session_stream_end_fn(void *arg);

/* A stream's place in the index, held by the stream. */
struct session_stream_link {
    struct session_stream_link *prev, *next; /* the same bucket's links */
    session_stream_end_fn *end;              /* how its stream ends */
    void *arg;                               /* the stream, for end */
    bool linked;                             /* in the index now */
    char hash[TOKEN_HASH_LEN + 1];           /* its session's token hash */
};

/* An empty index sized for about expected streams. NULL when out of
 * memory. */
struct session_streams *session_streams_new(size_t expected);
/* Frees the index (not the streams, which must have left it). NULL is
 * fine. */
void session_streams_free(struct session_streams *ss);

/* Adds the stream arg, which belongs to the session of hash (64 hex
 * digits) and ends with end; its link, for session_streams_remove. NULL
 * (nothing added) for any other hash, a NULL index, or out of memory. */
struct session_stream_link *session_streams_add(struct session_streams *ss, const char *hash,
                                                session_stream_end_fn *end, void *arg);
/* Takes *link out of the index (if its session has not ended), frees it
 * and sets *link to NULL. A NULL *link is fine. */
void session_streams_remove(struct session_streams *ss, struct session_stream_link **link);

/* Ends every stream of the session of hash; the number ended. */
size_t session_streams_end(struct session_streams *ss, const char *hash);
/* Ends the streams of every session of a "sessions ended" message (hashes
 * separated by single spaces; anything else in it is skipped); the number
 * ended. */
size_t session_streams_end_listed(struct session_streams *ss, const char *msg, size_t len);

/* Streams in the index now. */
size_t session_streams_count(const struct session_streams *ss);

#endif
