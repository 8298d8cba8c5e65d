/*
 * fuzz_query: any bytes as the request target or query string of the
 * message routes: libevent's URI and query parsers (as evhttp runs them),
 * then src/request_query.c for ?after, ?before, ?limit, ?wait and the
 * stream's Last-Event-ID, and src/stream_rooms.c for GET /stream's ?rooms
 * and position, and the ids of DELETE /room/<name>/message/?id= (message
 * removal) and DELETE /room/<name>/member?userId= (a member's removal).
 * What is accepted must keep the documented ranges (the routes copy those
 * ids into fixed buffers), and a position written back must read as the
 * same.
 */
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "fuzz.h"
#include "message.h"
#include "request_query.h"
#include "stream_rooms.h"

/* ?rooms= and a position (the Last-Event-ID or ?after=) of GET /stream. */
static void check_rooms(const char *list, const char *position) {
    struct stream_room rooms[STREAM_ROOMS_MAX], again[STREAM_ROOMS_MAX];
    int n = stream_rooms_parse(list, rooms, STREAM_ROOMS_MAX);
    FUZZ_ASSERT(n == STREAM_ROOMS_BAD_NAME || n == STREAM_ROOMS_BAD_LIST ||
                (n >= 1 && n <= STREAM_ROOMS_MAX));
    if (n < 1) return;
    for (int i = 0; i < n; i++) {
        FUZZ_ASSERT(validate_room_name(rooms[i].name));
        for (int j = 0; j < i; j++) FUZZ_ASSERT(strcmp(rooms[i].name, rooms[j].name) != 0);
    }
    if (stream_rooms_set_position(position, rooms, n) < 0) return;
    char text[STREAM_POSITION_MAX + 1];
    stream_rooms_position(rooms, n, text, sizeof(text));
    memcpy(again, rooms, sizeof(rooms[0]) * (size_t)n);
    for (int i = 0; i < n; i++) again[i].id[0] = '\0';
    FUZZ_ASSERT(!text[0] || stream_rooms_set_position(text, again, n) == 0);
    for (int i = 0; i < n; i++) {
        FUZZ_ASSERT(!rooms[i].id[0] || validate_stream_id(rooms[i].id));
        FUZZ_ASSERT(strcmp(rooms[i].id, again[i].id) == 0);
    }
}

static void check_history(const char *query) {
    struct evkeyvalq q;
    struct history_query hq;
    TAILQ_INIT(&q);
    if (evhttp_parse_query_str(query, &q) < 0) return;
    if (!request_query_history(&q, &hq)) {
        FUZZ_ASSERT(!hq.after[0] || validate_stream_id(hq.after));
        FUZZ_ASSERT(!hq.before[0] || validate_stream_id(hq.before));
        FUZZ_ASSERT(hq.limit == -1 || (hq.limit >= 1 && hq.limit <= QUERY_LIMIT_MAX));
        FUZZ_ASSERT(hq.wait_s >= 0 && hq.wait_s <= QUERY_WAIT_MAX_S);
        FUZZ_ASSERT(hq.wait_s == 0 || hq.after[0]);
        FUZZ_ASSERT(!hq.before[0] ||
                    (!hq.after[0] && hq.wait_s == 0 && hq.limit <= QUERY_BEFORE_LIMIT_MAX));
    }
    char cursor[CHAT_STREAM_ID_MAX + 1];
    if (request_query_cursor(NULL, evhttp_find_header(&q, "after"), cursor) == 0)
        FUZZ_ASSERT(!cursor[0] || validate_stream_id(cursor));
    check_rooms(evhttp_find_header(&q, "rooms"), evhttp_find_header(&q, "after"));
    const char *id = evhttp_find_header(&q, "id"), *user = evhttp_find_header(&q, "userId");
    FUZZ_ASSERT(!id || !validate_stream_id(id) || strlen(id) <= CHAT_STREAM_ID_MAX);
    FUZZ_ASSERT(!user || !validate_user_id(user, strlen(user)) ||
                strlen(user) == CHAT_USER_ID_LEN);
    struct rooms_query rq;
    if (!request_query_rooms(&q, &rq))
        FUZZ_ASSERT((!rq.after[0] || validate_room_name(rq.after)) && rq.limit >= 1 &&
                    rq.limit <= QUERY_ROOMS_LIMIT_MAX);
    evhttp_clear_headers(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = fuzz_cstring(data, size);
    check_history(s);
    struct evhttp_uri *uri = evhttp_uri_parse_with_flags(s, EVHTTP_URI_NONCONFORMANT);
    if (uri) {
        const char *query = evhttp_uri_get_query(uri);
        if (query) check_history(query);
        evhttp_uri_free(uri);
    }
    char cursor[CHAT_STREAM_ID_MAX + 1];
    if (request_query_cursor(s, NULL, cursor) == 0)
        FUZZ_ASSERT(!cursor[0] || (strcmp(cursor, s) == 0 && validate_stream_id(cursor)));
    free(s);
    return 0;
}
