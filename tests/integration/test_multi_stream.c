/*
 * test_multi_stream: GET /stream?rooms=a,b, several rooms as one event
 * stream. Live messages of every room arrive, each naming its room, with the
 * stream's position (one id per room) as the event id; a stream that starts
 * without a position sends one as soon as every room knows its start, so
 * that a room without any event yet is resumed too; resuming with the last
 * position on another chatd (CHAT_URL2, the same Redis: a restarted chatd
 * knows no more) replays what every room missed, more than one history batch
 * of it, while live messages arrive, then goes on live, with no gap and no
 * duplicate in any room; bad lists and positions get a JSON 400.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sse_client.h"
#include "testlib.h"

#define WAIT_MS 20000  /* the watchdog of every wait */
#define MISSED_A 600   /* more than one history batch (--history-batch 500) */
#define MISSED_B 3
#define LIVE 20        /* live messages per room while the replay runs */

/* A user who sends, and two fresh room names. */
struct fixture {
    chat_client *client;
    char room_a[64], room_b[64];
};

static int setup(void **state) {
    static int n;
    struct fixture *f = calloc(1, sizeof(*f));
    f->client = test_new_user("multi", NULL);
    snprintf(f->room_a, sizeof(f->room_a), "multi-a-%d-%d", (int)getpid(), ++n);
    snprintf(f->room_b, sizeof(f->room_b), "multi-b-%d-%d", (int)getpid(), n);
    *state = f;
    if (!f->client) return -1;
    return test_create_room(f->client, f->room_a) == 201 &&
                   test_create_room(f->client, f->room_b) == 201
               ? 0
               : -1;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    chat_client_free(f->client);
    free(f);
    return 0;
}

static void send_to(struct fixture *f, const char *room, const char *text) {
    char path[128], cookie[128], body[128];
    snprintf(path, sizeof(path), "/room/%s/message/", room);
    snprintf(cookie, sizeof(cookie), "Cookie: authKey=%s", chat_client_token(f->client));
    int len = snprintf(body, sizeof(body), "{\"text\":\"%s\"}", text);
    const char *headers[] = {cookie, "Content-Type: application/json", NULL};
    struct http_result res;
    assert_int_equal(test_http("POST", path, headers, body, (size_t)len, &res), 0);
    if (res.status != 201) fail_msg("send to %s: %ld %s", room, res.status, res.body);
    test_http_result_free(&res);
}

static struct sse_client *open_stream(const char *base, struct fixture *f, const char *position) {
    char url[256];
    snprintf(url, sizeof(url), "%s/stream?rooms=%s,%s", base, f->room_a, f->room_b);
    struct sse_client *c = sse_open(url, position);
    assert_non_null(c);
    return c;
}

/* Waits until the stream has sent a position (every room knows its start). */
static void wait_position(struct sse_client *c, char *position, size_t size) {
    if (!sse_wait_id(c, WAIT_MS)) fail_msg("no position before the watchdog");
    sse_last_id(c, position, size);
}

/* Checks that events [from, to) of c are, room by room, "<tag> <k>" for k
 * = first..last of that room, in order: no gap, no duplicate. */
static void assert_sequence(struct sse_client *c, size_t from, size_t to, const char *room,
                            const char *tag, int first, int last) {
    int next = first;
    for (size_t i = from; i < to; i++) {
        char id[48], data[1024], in[80], text[80], want[80];
        assert_true(sse_get(c, i, id, data, sizeof(data)));
        test_json_member(data, "room", in, sizeof(in));
        if (strcmp(in, room) != 0) continue;
        test_json_member(data, "text", text, sizeof(text));
        snprintf(want, sizeof(want), "%s %d", tag, next);
        if (strcmp(text, want) != 0) fail_msg("room %s: event %zu is '%s', not '%s'", room, i, text, want);
        next++;
    }
    if (next != last + 1) fail_msg("room %s: %d events, not %d", room, next - first, last - first + 1);
}

static void live_messages_of_every_room_name_their_room(void **state) {
    struct fixture *f = *state;
    struct sse_client *c = open_stream(test_url(), f, NULL);
    char position[SSE_ID_MAX], id[SSE_ID_MAX], want[160];
    wait_position(c, position, sizeof(position));
    send_to(f, f->room_a, "a 0");
    send_to(f, f->room_b, "b 0");
    send_to(f, f->room_a, "a 1");
    assert_true(sse_wait_events(c, 3, WAIT_MS));
    assert_sequence(c, 0, 3, f->room_a, "a", 0, 1);
    assert_sequence(c, 0, 3, f->room_b, "b", 0, 0);
    /* the id is the position: both rooms, in the order of ?rooms= */
    assert_true(sse_get_id(c, 2, id, sizeof(id)));
    snprintf(want, sizeof(want), "%s:", f->room_a);
    assert_ptr_equal(strstr(id, want), id);
    snprintf(want, sizeof(want), ",%s:", f->room_b);
    assert_non_null(strstr(id, want));
    sse_close(c);
}

/* Follows both rooms on the first chatd, then resumes on the second one. */
static void resume_on_another_chatd_has_no_gap_and_no_duplicate(void **state) {
    struct fixture *f = *state;
    char position[SSE_ID_MAX], text[32];
    struct sse_client *first = open_stream(test_url(), f, NULL);
    wait_position(first, position, sizeof(position));
    send_to(f, f->room_a, "a 0"); /* room b has no event before the stream goes */
    assert_true(sse_wait_events(first, 1, WAIT_MS));
    sse_last_id(first, position, sizeof(position));
    sse_close(first);

    for (int k = 1; k <= MISSED_A; k++) {
        snprintf(text, sizeof(text), "a %d", k);
        send_to(f, f->room_a, text);
    }
    for (int k = 0; k < MISSED_B; k++) {
        snprintf(text, sizeof(text), "b %d", k);
        send_to(f, f->room_b, text);
    }
    struct sse_client *second = open_stream(getenv("CHAT_URL2"), f, position);
    for (int k = 0; k < LIVE; k++) { /* during the replay, or after it */
        snprintf(text, sizeof(text), "a %d", MISSED_A + 1 + k);
        send_to(f, f->room_a, text);
        snprintf(text, sizeof(text), "b %d", MISSED_B + k);
        send_to(f, f->room_b, text);
    }
    size_t total = MISSED_A + MISSED_B + 2 * LIVE;
    assert_true(sse_wait_events(second, total, WAIT_MS));
    assert_sequence(second, 0, total, f->room_a, "a", 1, MISSED_A + LIVE);
    assert_sequence(second, 0, total, f->room_b, "b", 0, MISSED_B + LIVE - 1);

    /* and back on the first chatd from the second one's position: only new ones */
    sse_last_id(second, position, sizeof(position));
    sse_close(second);
    struct sse_client *third = open_stream(test_url(), f, position);
    wait_position(third, position, sizeof(position));
    snprintf(text, sizeof(text), "b %d", MISSED_B + LIVE);
    send_to(f, f->room_b, text);
    assert_true(sse_wait_events(third, 1, WAIT_MS));
    assert_sequence(third, 0, 1, f->room_b, "b", MISSED_B + LIVE, MISSED_B + LIVE);
    sse_close(third);
}

/* GET path with an optional Last-Event-ID; asserts a 400 with code. */
static void assert_refused(const char *path, const char *last_event_id, const char *code) {
    char header[256];
    snprintf(header, sizeof(header), "Last-Event-ID: %s", last_event_id ? last_event_id : "");
    const char *headers[] = {header, NULL};
    struct http_result res;
    assert_int_equal(test_http("GET", path, last_event_id ? headers : NULL, NULL, 0, &res), 0);
    if (res.status != 400 || !test_is_error(res.body, code))
        fail_msg("%s (%s): %ld %s, not 400 %s", path, last_event_id ? last_event_id : "-",
                 res.status, res.body, code);
    test_http_result_free(&res);
}

static void bad_lists_and_positions_get_a_json_400(void **state) {
    (void)state;
    char many[512] = "/stream?rooms=r0";
    for (int i = 1; i < 33; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), ",r%d", i);
    assert_refused("/stream", NULL, "invalid_query");
    assert_refused("/stream?rooms=", NULL, "invalid_query");
    assert_refused("/stream?rooms=a,a", NULL, "invalid_query");
    assert_refused(many, NULL, "invalid_query"); /* 33 rooms */
    assert_refused("/stream?rooms=a,,b", NULL, "invalid_room");
    assert_refused("/stream?rooms=Lobby", NULL, "invalid_room");
    assert_refused("/stream?rooms=a.b", NULL, "invalid_room");
    assert_refused("/stream?rooms=a", "a", "invalid_query");
    assert_refused("/stream?rooms=a", "a:x", "invalid_query");
    assert_refused("/stream?rooms=a", "a:1-0,", "invalid_query");
    assert_refused("/stream?rooms=a", "A:1-0", "invalid_query");
    assert_refused("/stream?rooms=a&after=1-0", NULL, "invalid_query");

    /* 32 rooms, and a position naming a room the stream does not have */
    many[strrchr(many, ',') - many] = '\0';
    chat_client *creator = test_new_user("many", NULL);
    assert_non_null(creator);
    for (int i = 0; i < 32; i++) {
        char room[8];
        snprintf(room, sizeof(room), "r%d", i);
        assert_int_equal(test_create_room(creator, room), 201);
    }
    chat_client_free(creator);
    char url[600], position[SSE_ID_MAX];
    snprintf(url, sizeof(url), "%s%s", test_url(), many);
    struct sse_client *c = sse_open(url, "zz:1-0,r0:0");
    wait_position(c, position, sizeof(position));
    assert_ptr_equal(strstr(position, "r0:0,r1:"), position);
    assert_non_null(strstr(position, ",r31:"));
    assert_null(strstr(position, "zz:"));
    sse_close(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(live_messages_of_every_room_name_their_room, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(resume_on_another_chatd_has_no_gap_and_no_duplicate,
                                        setup, teardown),
        cmocka_unit_test(bad_lists_and_positions_get_a_json_400),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
