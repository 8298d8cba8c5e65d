/* request_query: checks of the message routes' query parameters. */
#include "request_query.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>

/* A decimal number in min..max, or -1 when s is not one. */
static long number_in(const char *s, long min, long max) {
    char *end;
    long v = strtol(s, &end, 10);
    return end == s || *end || v < min || v > max ? -1 : v;
}

/* Copies a valid stream id; false when id is not one. */
static bool copy_id(const char *id, char out[CHAT_STREAM_ID_MAX + 1]) {
    if (!validate_stream_id(id)) return false;
    snprintf(out, CHAT_STREAM_ID_MAX + 1, "%s", id);
    return true;
}

const char *request_query_history(const struct evkeyvalq *q, struct history_query *out) {
    const char *after = evhttp_find_header(q, "after"), *before = evhttp_find_header(q, "before");
    const char *limit = evhttp_find_header(q, "limit"), *wait = evhttp_find_header(q, "wait");
    out->after[0] = out->before[0] = '\0';
    out->limit = limit ? number_in(limit, 1, QUERY_LIMIT_MAX) : -1;
    out->wait_s = wait ? (int)number_in(wait, 1, QUERY_WAIT_MAX_S) : 0;
    if ((after && !copy_id(after, out->after)) || (limit && out->limit < 0) || out->wait_s < 0 ||
        (out->wait_s > 0 && !after))
        return "after must be a message id, limit a number from 1 to 1000000, and wait (which "
               "needs after) a number of seconds from 1 to 60.";
    if (before &&
        (!copy_id(before, out->before) || after || wait || out->limit > QUERY_BEFORE_LIMIT_MAX))
        return "before must be a message id, without after or wait, and limit at most 1000.";
    return NULL;
}

int request_query_cursor(const char *last_event_id, const char *after,
                         char out[CHAT_STREAM_ID_MAX + 1]) {
    const char *id = last_event_id && *last_event_id ? last_event_id : after;
    out[0] = '\0';
    if (!id || !*id) return 0;
    return copy_id(id, out) ? 0 : -1;
}

const char *request_query_rooms(const struct evkeyvalq *q, struct rooms_query *out) {
    const char *after = evhttp_find_header(q, "after"), *limit = evhttp_find_header(q, "limit");
    out->after[0] = '\0';
    out->limit = QUERY_ROOMS_LIMIT_DEFAULT;
    if (limit) out->limit = (int)number_in(limit, 1, QUERY_ROOMS_LIMIT_MAX);
    if ((after && !validate_room_name(after)) || out->limit < 0)
        return "after must be a room name and limit a number from 1 to 1000.";
    if (after) snprintf(out->after, sizeof(out->after), "%s", after);
    return NULL;
}
