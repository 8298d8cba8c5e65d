/*
 * test_retention: a chatd that keeps about 10 messages per room
 * (CHAT_RETENTION_URL, --history-max-messages 10, on a Redis of its own
 * whose stream nodes hold 4 entries) trims a room's history on append, by
 * both append paths (plain and with a client message id); a room's own
 * retention in Redis (room:{<room>}:retention) keeps more, everything, or
 * only messages younger than a second, instead; a client that
 * resumes from a trimmed position gets the gap signal on every read path:
 * the X-History-Gap header of a history page and of a long-poll, the
 * `event: gap` of the room's stream and of the multi-room stream, each
 * naming the oldest id kept, which comes next; a client at a kept position
 * gets none; chat_tail() resumes past the gap event. Then that Redis's
 * maxmemory is set just above what it holds: sends get 507 storage_full
 * while reads go on, every acknowledged message is there, /metrics counts
 * the refusals and /ready stays 200 saying "storage":"full"; once memory is
 * free again sends succeed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sse_client.h"
#include "testlib.h"

#define WAIT_MS 20000 /* the watchdog of every wait */
#define SENT 40       /* messages sent into the trimmed room */
#define KEEP 10       /* --history-max-messages of that chatd */
#define FILL_MAX 2000 /* sends at most while filling Redis's memory */

static const char *base(void) {
    const char *url = getenv("CHAT_RETENTION_URL");
    return url ? url : "http://127.0.0.1:8182";
}

/* A user on that chatd, a room with SENT messages and what it kept. */
struct fixture {
    chat_client *client;
    char room[64];
    char ids[SENT][48]; /* the ids of the messages sent, oldest first */
    char first[48];     /* the oldest id the room kept */
    int kept;           /* how many it kept */
};

/* The value of header name in raw headers ("" when absent). */
static void header(const char *headers, const char *name, char *out, size_t size) {
    char needle[64];
    snprintf(needle, sizeof(needle), "\n%s: ", name);
    const char *p = strstr(headers, needle);
    out[0] = '\0';
    if (!p) return;
    p += strlen(needle);
    snprintf(out, size, "%.*s", (int)strcspn(p, "\r\n"), p);
}

/* POSTs text into room (with an Idempotency-Key when key is not NULL);
 * returns the status and copies the new id into id. */
static long send_text(struct fixture *f, const char *room, const char *text, const char *key,
                      char id[48]) {
    char path[128], cookie[128], idem[96];
    snprintf(path, sizeof(path), "/room/%s/message/", room);
    snprintf(cookie, sizeof(cookie), "Cookie: authKey=%s", chat_client_token(f->client));
    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", key ? key : "");
    size_t len = strlen(text) + 16;
    char *body = malloc(len);
    int n = snprintf(body, len, "{\"text\":\"%s\"}", text);
    const char *headers[] = {cookie, "Content-Type: application/json", key ? idem : NULL, NULL};
    struct http_result res;
    assert_int_equal(test_http_at(base(), "POST", path, headers, body, (size_t)n, &res), 0);
    long status = res.status;
    if (id) test_json_member(res.body ? res.body : "", "id", id, 48);
    if (status != 201 && status != 507) fail_msg("send: %ld %s", status, res.body);
    if (status == 507 && !test_is_error(res.body, "storage_full")) fail_msg("507: %s", res.body);
    test_http_result_free(&res);
    free(body);
    return status;
}

/* Creates room with f's user (sends go only to rooms created): 201, or
 * 507 once Redis is full. */
static long make_room(struct fixture *f, const char *room) {
    long status = test_create_room_at(base(), f->client, room);
    if (status != 201 && status != 507) fail_msg("create %s: %ld", room, status);
    return status;
}

/* GETs path from that chatd into res, expecting 200. */
static void get_ok(const char *path, struct http_result *res) {
    assert_int_equal(test_http_at(base(), "GET", path, NULL, NULL, 0, res), 0);
    if (res->status != 200) fail_msg("GET %s: %ld %s", path, res->status, res->body);
}

/* Counts the messages of a JSON array reply (one "id" each). */
static int count_ids(const char *body) {
    int n = 0;
    for (const char *p = body; (p = strstr(p, "\"id\":")); p++) n++;
    return n;
}

static int setup(void **state) {
    static int round;
    struct fixture *f = calloc(1, sizeof(*f));
    char email[128];
    test_email(email, sizeof(email), "retention");
    f->client = chat_client_new(base());
    if (chat_register(f->client, email, "correct horse battery", "ret", NULL) != CHAT_OK)
        return -1;
    snprintf(f->room, sizeof(f->room), "ret-%d-%d", (int)getpid(), ++round);
    make_room(f, f->room);
    for (int k = 0; k < SENT; k++) {
        char text[32], key[32];
        snprintf(text, sizeof(text), "m %d", k);
        snprintf(key, sizeof(key), "key-%d", k);
        /* both append paths trim: half of them carry a client message id */
        send_text(f, f->room, text, k % 2 ? key : NULL, f->ids[k]);
    }
    char path[128];
    struct http_result res;
    snprintf(path, sizeof(path), "/room/%s/message/", f->room);
    get_ok(path, &res);
    f->kept = count_ids(res.body);
    test_json_member(res.body, "id", f->first, sizeof(f->first));
    test_http_result_free(&res);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    chat_client_free(f->client);
    free(f);
    return 0;
}

static void appends_trim_the_room_to_about_its_limit(void **state) {
    struct fixture *f = *state;
    if (f->kept < KEEP || f->kept > KEEP + 8)
        fail_msg("the room kept %d of %d messages, not about %d", f->kept, SENT, KEEP);
    /* what is kept is the newest: it ends with the last message sent */
    assert_string_equal(f->first, f->ids[SENT - f->kept]);
}

/* ---- a room's own retention ---- */

/* Sets the room's own retention (room:{<room>}:retention: field value). */
static void set_room_retention(const char *room, const char *field, const char *value) {
    const char *port = getenv("CHAT_RETENTION_REDIS_PORT");
    redisContext *rc = redisConnect("127.0.0.1", port ? atoi(port) : 6379);
    assert_true(rc && !rc->err);
    redisReply *r = redisCommand(rc, "HSET room:{%s}:retention %s %s", room, field, value);
    assert_true(r && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    redisFree(rc);
}

/* Sends n messages "<tag> <k>" into room (every other one with a client
 * message id: both append paths); copies the first id into first. */
static void send_many(struct fixture *f, const char *room, const char *tag, int n,
                      char first[48]) {
    for (int k = 0; k < n; k++) {
        char text[64], key[64], id[48];
        snprintf(text, sizeof(text), "%s %d", tag, k);
        snprintf(key, sizeof(key), "%s-%d", tag, k);
        send_text(f, room, text, k % 2 ? key : NULL, id);
        if (k == 0 && first) snprintf(first, 48, "%s", id);
    }
}

/* The number of messages room keeps and the oldest one's id. */
static int kept_in(const char *room, char first[48]) {
    char path[128];
    struct http_result res;
    snprintf(path, sizeof(path), "/room/%s/message/", room);
    get_ok(path, &res);
    int n = count_ids(res.body);
    test_json_member(res.body, "id", first, 48);
    test_http_result_free(&res);
    return n;
}

static void a_room_of_its_own_keeps_more_or_everything(void **state) {
    struct fixture *f = *state;
    char more[64], all[64], first[48];
    snprintf(more, sizeof(more), "ret-more-%d", (int)getpid());
    snprintf(all, sizeof(all), "ret-all-%d", (int)getpid());
    make_room(f, more);
    make_room(f, all);
    set_room_retention(more, "maxMessages", "20"); /* above the server's 10 */
    set_room_retention(all, "maxMessages", "0");   /* 0: everything */
    send_many(f, more, "more", SENT, NULL);
    send_many(f, all, "all", SENT, NULL);
    int n = kept_in(more, first);
    if (n < 20 || n > 20 + 8) fail_msg("the room kept %d of %d messages, not about 20", n, SENT);
    assert_int_equal(kept_in(all, first), SENT);
}

static void a_room_with_a_max_age_drops_older_messages(void **state) {
    struct fixture *f = *state;
    char room[64], first[48], young[48];
    snprintf(room, sizeof(room), "ret-age-%d", (int)getpid());
    make_room(f, room);
    set_room_retention(room, "maxMessages", "0");
    set_room_retention(room, "maxAge", "1"); /* seconds */
    send_many(f, room, "old", 8, NULL);      /* two whole stream nodes of 4 */
    usleep(1200 * 1000);                     /* they become older than 1 s: the condition tested */
    send_many(f, room, "young", 8, young);
    assert_int_equal(kept_in(room, first), 8);
    assert_string_equal(first, young);
}

/* GETs /room/<room>/message/?after=<after><extra> and checks the reply:
 * the X-History-Gap header names gap (none when gap is NULL), the first
 * message is first and there are count of them (-1: any number). */
static void assert_read_after(struct fixture *f, const char *after, const char *extra,
                              const char *gap, const char *first, int count) {
    char path[200], value[48];
    struct http_result res;
    snprintf(path, sizeof(path), "/room/%s/message/?after=%s%s", f->room, after, extra);
    get_ok(path, &res);
    header(res.headers, "X-History-Gap", value, sizeof(value));
    assert_string_equal(value, gap ? gap : "");
    test_json_member(res.body, "id", value, sizeof(value));
    assert_string_equal(value, first);
    if (count >= 0) assert_int_equal(count_ids(res.body), count);
    test_http_result_free(&res);
}

static void a_history_page_after_a_trimmed_id_says_where_history_starts(void **state) {
    struct fixture *f = *state;
    /* the page starts at the oldest id kept, which the header names */
    assert_read_after(f, f->ids[0], "", f->first, f->first, f->kept);
    /* from a kept id: nothing is missing, no header */
    assert_read_after(f, f->first, "", NULL, f->ids[SENT - f->kept + 1], f->kept - 1);
}

static void a_long_poll_after_a_trimmed_id_says_where_history_starts(void **state) {
    struct fixture *f = *state;
    assert_read_after(f, f->ids[1], "&wait=10", f->first, f->first, -1);
    assert_read_after(f, f->ids[SENT - 2], "&wait=10", NULL, f->ids[SENT - 1], 1);
}

/* Checks that event 0 of c is room's gap event naming f->first, and that
 * the replay that follows starts there. */
static void assert_gap_then_replay(struct fixture *f, struct sse_client *c) {
    char id[48], data[1024], value[64];
    assert_true(sse_wait_events(c, 2, WAIT_MS));
    assert_true(sse_get(c, 0, id, data, sizeof(data)));
    assert_string_equal(id, ""); /* the gap event moves no position */
    assert_non_null(strstr(data, "\"trimmed\":true"));
    test_json_member(data, "room", value, sizeof(value));
    assert_string_equal(value, f->room);
    test_json_member(data, "first", value, sizeof(value));
    assert_string_equal(value, f->first);
    assert_true(sse_get(c, 1, id, data, sizeof(data)));
    test_json_member(data, "id", value, sizeof(value));
    assert_string_equal(value, f->first);
}

static void the_room_stream_sends_a_gap_event_before_the_replay(void **state) {
    struct fixture *f = *state;
    char url[256], id[48], data[1024];
    snprintf(url, sizeof(url), "%s/room/%s/message/stream", base(), f->room);
    struct sse_client *c = sse_open(url, f->ids[0]);
    assert_non_null(c);
    assert_gap_then_replay(f, c);
    assert_true(sse_wait_events(c, 1 + (size_t)f->kept, WAIT_MS));
    sse_close(c);
    /* from the newest id: no gap event, the next event is the next message */
    c = sse_open(url, f->ids[SENT - 1]);
    assert_non_null(c);
    char next[48];
    send_text(f, f->room, "after the resume", NULL, next);
    assert_true(sse_wait_events(c, 1, WAIT_MS));
    assert_true(sse_get(c, 0, id, data, sizeof(data)));
    assert_string_equal(id, next);
    assert_null(strstr(data, "\"trimmed\""));
    sse_close(c);
}

static void the_multi_room_stream_sends_a_gap_event_for_that_room(void **state) {
    struct fixture *f = *state;
    char url[256], position[160], empty[64];
    snprintf(empty, sizeof(empty), "ret-empty-%d", (int)getpid());
    make_room(f, empty);
    snprintf(url, sizeof(url), "%s/stream?rooms=%s,ret-empty-%d", base(), f->room, (int)getpid());
    /* the other room has no messages: it misses nothing */
    snprintf(position, sizeof(position), "%s:%s,ret-empty-%d:0-0", f->room, f->ids[0],
             (int)getpid());
    struct sse_client *c = sse_open(url, position);
    assert_non_null(c);
    assert_gap_then_replay(f, c);
    assert_true(sse_wait_events(c, 1 + (size_t)f->kept, WAIT_MS));
    for (size_t i = 2; i < 1 + (size_t)f->kept; i++) {
        char id[SSE_ID_MAX], data[1024];
        assert_true(sse_get(c, i, id, data, sizeof(data)));
        assert_null(strstr(data, "\"trimmed\""));
    }
    sse_close(c);
}

/* chat_tail's callback: counts the messages until the last one sent. */
struct tail_count {
    const char *last;
    char first[48];
    int n;
};

static int count_until_last(const chat_message *m, void *arg) {
    struct tail_count *t = arg;
    if (t->n++ == 0) snprintf(t->first, sizeof(t->first), "%s", m->id);
    return strcmp(m->id, t->last) == 0;
}

static void chat_tail_resumes_past_the_gap_event(void **state) {
    struct fixture *f = *state;
    struct tail_count t = {.last = f->ids[SENT - 1]};
    chat_client *c = chat_client_new(base());
    assert_int_equal(chat_tail(c, f->room, f->ids[0], count_until_last, &t), CHAT_OK);
    assert_string_equal(t.first, f->first);
    assert_int_equal(t.n, f->kept);
    chat_client_free(c);
}

/* ---- a full Redis ---- */

static long long redis_memory_used(redisContext *rc) {
    redisReply *r = redisCommand(rc, "INFO memory");
    assert_non_null(r);
    const char *p = strstr(r->str, "used_memory:");
    long long used = p ? strtoll(p + 12, NULL, 10) : -1;
    freeReplyObject(r);
    return used;
}

static void redis_set(redisContext *rc, const char *name, const char *value) {
    redisReply *r = redisCommand(rc, "CONFIG SET %s %s", name, value);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

/* GETs /ready and checks 200 with the storage state named. */
static void assert_ready_with_storage(const char *storage) {
    struct http_result res;
    char want[64];
    get_ok("/ready", &res);
    snprintf(want, sizeof(want), "\"storage\":\"%s\"", storage);
    if (!strstr(res.body, want)) fail_msg("/ready says %s, not %s", res.body, want);
    test_http_result_free(&res);
}

static void a_full_redis_refuses_sends_keeps_reads_and_says_so(void **state) {
    struct fixture *f = *state;
    const char *port = getenv("CHAT_RETENTION_REDIS_PORT");
    redisContext *rc = redisConnect("127.0.0.1", port ? atoi(port) : 6379);
    assert_true(rc && !rc->err);
    char limit[32], text[4001], room[64], id[48];
    static char acked[FILL_MAX][2][64];
    snprintf(limit, sizeof(limit), "%lld", redis_memory_used(rc) + 256 * 1024);
    redis_set(rc, "maxmemory-policy", "noeviction");
    redis_set(rc, "maxmemory", limit);
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    long long refused_before = test_metric(base(), "chatd_storage_full_total");
    int n = 0;
    long status = 201;
    for (; n < FILL_MAX && status == 201; n++) { /* a room each: none is trimmed */
        snprintf(room, sizeof(room), "fill-%d-%d", (int)getpid(), n);
        status = make_room(f, room); /* a write too: Redis may refuse it as well */
        if (status == 201) status = send_text(f, room, text, NULL, id);
        snprintf(acked[n][0], 64, "%s", room);
        snprintf(acked[n][1], 64, "%s", id);
    }
    assert_int_equal(status, 507);
    assert_true(n > 1);
    /* reads go on, and every acknowledged message is there */
    for (int k = 0; k < n - 1; k++) {
        char path[160];
        struct http_result res;
        snprintf(path, sizeof(path), "/room/%.64s/message/", acked[k][0]);
        get_ok(path, &res);
        if (!strstr(res.body, acked[k][1])) fail_msg("acknowledged %s lost", acked[k][1]);
        test_http_result_free(&res);
    }
    assert_true(test_metric(base(), "chatd_storage_full_total") > refused_before);
    assert_int_equal(test_metric(base(), "chatd_storage_full"), 1);
    assert_ready_with_storage("full");
    /* memory again: sends succeed, and the state says so */
    redis_set(rc, "maxmemory", "0");
    assert_int_equal(send_text(f, f->room, "room again", NULL, id), 201);
    assert_int_equal(test_metric(base(), "chatd_storage_full"), 0);
    assert_ready_with_storage("ok");
    redisFree(rc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_trim_the_room_to_about_its_limit),
        cmocka_unit_test(a_room_of_its_own_keeps_more_or_everything),
        cmocka_unit_test(a_room_with_a_max_age_drops_older_messages),
        cmocka_unit_test(a_history_page_after_a_trimmed_id_says_where_history_starts),
        cmocka_unit_test(a_long_poll_after_a_trimmed_id_says_where_history_starts),
        cmocka_unit_test(the_room_stream_sends_a_gap_event_before_the_replay),
        cmocka_unit_test(the_multi_room_stream_sends_a_gap_event_for_that_room),
        cmocka_unit_test(chat_tail_resumes_past_the_gap_event),
        cmocka_unit_test(a_full_redis_refuses_sends_keeps_reads_and_says_so),
    };
    return cmocka_run_group_tests_name("retention", tests, setup, teardown);
}
