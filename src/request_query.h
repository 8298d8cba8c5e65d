/*
 * request_query: the query parameters and the resume header of the message
 * routes, checked into a struct. Pure (no I/O): it only reads the decoded
 * pairs evhttp_parse_query_str() made, so fuzz/fuzz_query.c can feed it any
 * query string.
 */
#ifndef CHAT_REQUEST_QUERY_H
#define CHAT_REQUEST_QUERY_H

#include <event2/keyvalq_struct.h>

#include "validate.h"

#define QUERY_LIMIT_MAX 1000000     /* ?limit= of a history read */
#define QUERY_BEFORE_LIMIT_MAX 1000 /* ?limit= of a scroll-back page */
#define QUERY_WAIT_MAX_S 60         /* ?wait= of a long-poll */
#define QUERY_ROOMS_LIMIT_DEFAULT 100 /* rooms in a page of GET /room/ */
#define QUERY_ROOMS_LIMIT_MAX 1000    /* ?limit= of GET /room/ */

/* GET /message/: ?after=, ?before=, ?limit=, ?wait=. */
struct history_query {
    char after[CHAT_STREAM_ID_MAX + 1];  /* a valid stream id, "" when absent */
    char before[CHAT_STREAM_ID_MAX + 1]; /* a valid stream id, "" when absent */
    long limit;                          /* 1 .. QUERY_LIMIT_MAX, -1 when absent */
    int wait_s;                          /* 1 .. QUERY_WAIT_MAX_S, 0 when absent */
};

/* Fills out from the decoded query q. Returns NULL when the combination is
 * valid (before excludes after and wait and caps limit at 1000; wait needs
 * after), else the message of the 400 invalid_query reply. */
const char *request_query_history(const struct evkeyvalq *q, struct history_query *out);

/* GET /message/stream: the id the client already has, from the
 * Last-Event-ID header or else ?after= (either may be NULL; an empty one
 * counts as absent). Writes it, or "" for none, to out; -1 when it is not a
 * valid stream id. */
int request_query_cursor(const char *last_event_id, const char *after,
                         char out[CHAT_STREAM_ID_MAX + 1]);

/* GET /room/: ?after= (the last room name of the previous page) and
 * ?limit=. */
struct rooms_query {
    char after[CHAT_ROOM_MAX + 1]; /* a valid room name, "" when absent */
    int limit;                     /* 1 .. QUERY_ROOMS_LIMIT_MAX, the default when absent */
};

/* Fills out from the decoded query q. NULL when valid, else the message of
 * the 400 invalid_query reply. */
const char *request_query_rooms(const struct evkeyvalq *q, struct rooms_query *out);

#endif
