/*
 * session_streams: which open streams belong to which session, so that a
 * session's end (a logout, a password change, a locked or deleted
 * account, announced to every chatd on the "sessions ended" channel, see
 * session_events.h) ends its event streams, multi-room streams, long-polls
 * and WebSockets on this chatd at once, without looking at any other
 * stream.
 *
 * A chained hash table keyed by the session's token hash. Each stream
 * embeds a struct session_stream_link and adds it when it starts with a
 * session (an anonymous stream has none and is never ended here); it
 * removes it when it ends for any other reason. A pure data structure (no
 * I/O), used by the loop thread only; the server owns one
 * (srv->session_streams).
 */
#ifndef CHAT_SESSION_STREAMS_H
#define CHAT_SESSION_STREAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "token.h"

struct session_streams;
struct session_stream_link;

/* Ends the stream that holds link: called once, after the link left the
 * index (removing it again is harmless). The stream may be freed inside. */
typedef void session_stream_end_fn(struct session_stream_link *link);

/* A stream's place in the index, embedded in the stream's own struct. */
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

/* Adds link, whose stream (arg) belongs to the session of hash (64 hex
 * digits; anything else is not added and false returned) and ends with
 * end. A NULL index adds nothing. */
bool session_streams_add(struct session_streams *ss, struct session_stream_link *link,
                         const char *hash, session_stream_end_fn *end, void *arg);
/* Takes link out of the index; a link not in it is left alone. */
void session_streams_remove(struct session_streams *ss, struct session_stream_link *link);

/* Ends every stream of the session of hash; the number ended. */
size_t session_streams_end(struct session_streams *ss, const char *hash);
/* Ends the streams of every session of a "sessions ended" message (hashes
 * separated by single spaces; anything else in it is skipped); the number
 * ended. */
size_t session_streams_end_listed(struct session_streams *ss, const char *msg, size_t len);

/* Streams in the index now. */
size_t session_streams_count(const struct session_streams *ss);

#endif
