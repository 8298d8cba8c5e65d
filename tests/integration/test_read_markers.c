/*
 * Integration tests of read markers and unread counts: PUT
 * /room/<name>/read moves the caller's marker forward only, refuses ids
 * beyond the room's newest and malformed ones, and checks the room like a
 * read (a private room is 404 to non-members); GET /room/ gives each room
 * the caller's marker and its unread count (others' messages after the
 * marker, room events not counted, capped at 100); a marker that moves
 * reaches the user's own multi-room stream that asked for user events
 * (?user=1), and never another user's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chatclient.h"
#include "sse_client.h"
#include "testlib.h"

/* alice owns the rooms, bob writes in them, carol is a stranger. */
static chat_client *alice, *bob, *carol;
static chat_user alice_u, bob_u, carol_u;
static char room[64], secret[64];

static int setup(void **state) {
    (void)state;
    if (!(alice = test_new_user("alice", &alice_u)) || !(bob = test_new_user("bob", &bob_u)) ||
        !(carol = test_new_user("carol", &carol_u)))
        return -1;
    snprintf(room, sizeof(room), "markers-%d", (int)getpid());
    snprintf(secret, sizeof(secret), "markers-private-%d", (int)getpid());
    if (test_create_room(alice, room) != 201) return -1;
    return test_private_room(alice, secret, bob_u.email);
}

static int teardown(void **state) {
    (void)state;
    chat_user_cleanup(&alice_u);
    chat_user_cleanup(&bob_u);
    chat_user_cleanup(&carol_u);
    chat_client_free(alice);
    chat_client_free(bob);
    chat_client_free(carol);
    return 0;
}

/* Sends text into r as c; its id in id. */
static void send_to(chat_client *c, const char *r, const char *text, char id[48]) {
    char body[256], path[128];
    struct http_result res;
    snprintf(path, sizeof(path), "/room/%s/message/", r);
    snprintf(body, sizeof(body), "{\"text\":\"%s\"}", text);
    assert_int_equal(test_call_as(c, "POST", path, body, &res), 201);
    test_json_member(res.body, "id", id, 48);
    test_http_result_free(&res);
}

/* PUT /room/<r>/read with body as c: the status; the reply in out (may be NULL). */
static long mark(chat_client *c, const char *r, const char *body, struct http_result *out) {
    char path[128];
    snprintf(path, sizeof(path), "/room/%s/read", r);
    return test_call_as(c, "PUT", path, body, out);
}

/* Marks r read up to id as c and checks the marker that stands after it. */
static void mark_id(chat_client *c, const char *r, const char *id, const char *want,
                    bool moved) {
    char body[128], got[48];
    struct http_result res;
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", id);
    assert_int_equal(mark(c, r, body, &res), 200);
    test_json_member(res.body, "id", got, sizeof(got));
    assert_string_equal(got, want);
    assert_non_null(strstr(res.body, moved ? "\"moved\":true" : "\"moved\":false"));
    test_http_result_free(&res);
}

/* The status of PUT /room/<r>/read with body as c, asserting the error code. */
static long mark_code(chat_client *c, const char *r, const char *body, const char *code) {
    struct http_result res;
    long status = mark(c, r, body, &res);
    if (!test_is_error(res.body, code))
        fail_msg("PUT /room/%s/read %s: wanted %s, got %ld %s", r, body, code, status, res.body);
    test_http_result_free(&res);
    return status;
}

/* The X-Next-After of an answer's headers into next ("" when none). */
static void next_after(const char *headers, char *next, size_t size) {
    const char *h = headers ? strcasestr(headers, "\nX-Next-After: ") : NULL;
    next[0] = '\0';
    if (h) snprintf(next, size, "%.*s", (int)strcspn(h + 15, "\r\n"), h + 15);
}

/* c's entry of r in GET /room/, page after page (other suites may have
 * made many public rooms): its marker (or "") and unread count (-1 when
 * absent). */
static void listed(chat_client *c, const char *r, char marker[48], long *unread) {
    char path[128] = "/room/?limit=1000", next[64];
    marker[0] = '\0';
    *unread = -1;
    bool found = false;
    do {
        struct http_result res;
        assert_int_equal(test_call_as(c, "GET", path, NULL, &res), 200);
        json_t *list = json_loads(res.body, 0, NULL);
        assert_non_null(list);
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
            if (strcmp(json_string_value(json_object_get(e, "name")), r) != 0) continue;
            found = true;
            const char *m = json_string_value(json_object_get(e, "marker"));
            if (m) snprintf(marker, 48, "%s", m);
            json_t *u = json_object_get(e, "unread");
            if (u) *unread = (long)json_integer_value(u);
        }
        json_decref(list);
        next_after(res.headers, next, sizeof(next));
        test_http_result_free(&res);
        snprintf(path, sizeof(path), "/room/?limit=1000&after=%s", next);
    } while (!found && next[0]);
    assert_true(found);
}

static void markers_move_forward_only(void **state) {
    (void)state;
    char a[48], b[48], c[48], older[64];
    send_to(bob, room, "one", a);
    send_to(bob, room, "two", b);
    send_to(bob, room, "three", c);
    mark_id(alice, room, b, b, true);
    mark_id(alice, room, a, b, false); /* older: nothing moves, still 200 */
    mark_id(alice, room, b, b, false); /* the same: a resend */
    snprintf(older, sizeof(older), "%.*s", (int)(strchr(a, '-') - a), a); /* "<ms>" alone */
    mark_id(alice, room, older, b, false);
    mark_id(alice, room, c, c, true);
    char marker[48];
    long unread;
    listed(alice, room, marker, &unread);
    assert_string_equal(marker, c);
    assert_int_equal(unread, 0);
}

static void bad_markers_get_clear_errors(void **state) {
    (void)state;
    char last[48], beyond[128], body[128];
    send_to(bob, room, "newest", last);
    unsigned long long ms = strtoull(last, NULL, 10);
    snprintf(beyond, sizeof(beyond), "{\"id\":\"%llu-0\"}", ms + 1000);
    assert_int_equal(mark_code(alice, room, beyond, "marker_ahead"), 400);
    assert_int_equal(mark_code(alice, room, "{\"id\":\"abc\"}", "invalid_message_id"), 400);
    assert_int_equal(mark_code(alice, room, "{\"id\":\"1-2-3\"}", "invalid_message_id"), 400);
    assert_int_equal(mark_code(alice, room, "{\"id\":12}", "invalid_message_id"), 400);
    assert_int_equal(mark_code(alice, room, "{}", "invalid_message_id"), 400);
    assert_int_equal(mark_code(alice, room, "{\"id\":", "bad_json"), 400);
    assert_int_equal(mark_code(alice, room, "[]", "bad_json"), 400);
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", last);
    assert_int_equal(mark_code(NULL, room, body, "unauthorized"), 401);
    assert_int_equal(mark_code(alice, "Bad.Room", body, "invalid_room"), 400);
    assert_int_equal(mark_code(alice, "never-created-here", "{\"id\":\"1-0\"}", "not_found"),
                     404);
    /* an empty room: any id above 0-0 is ahead of it */
    snprintf(beyond, sizeof(beyond), "%s-empty", room);
    assert_int_equal(test_create_room(alice, beyond), 201);
    assert_int_equal(mark_code(alice, beyond, "{\"id\":\"1-0\"}", "marker_ahead"), 400);
}

static void private_rooms_are_marked_by_members_only(void **state) {
    (void)state;
    char id[48], body[128], path[128];
    send_to(alice, secret, "secret", id);
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", id);
    assert_int_equal(mark_code(carol, secret, body, "not_found"), 404); /* as if none */
    mark_id(bob, secret, id, id, true);                                  /* a member */
    mark_id(alice, secret, id, id, true);                                /* the owner */
    char lobby[48];
    send_to(alice, "lobby", "in the lobby", lobby);
    mark_id(bob, "lobby", lobby, lobby, true); /* the lobby: anyone with a session */
    /* banned: reads nothing of the private room, marks nothing either */
    snprintf(path, sizeof(path), "/room/%s/member", secret);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"banned\"}", bob_u.id);
    assert_int_equal(test_call_as(alice, "PUT", path, body, NULL), 200);
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", id);
    assert_int_equal(mark_code(bob, secret, body, "not_found"), 404);
}

/* Others' messages after the marker count; one's own and room events
 * (a join) do not; without a marker every message counts. */
static void unread_counts_follow_the_marker(void **state) {
    (void)state;
    char r[80], path[128], ids[5][48], marker[48];
    snprintf(r, sizeof(r), "%s-count", room);
    assert_int_equal(test_create_room(alice, r), 201);
    snprintf(path, sizeof(path), "/room/%s/member", r);
    assert_int_equal(test_call_as(carol, "POST", path, "{}", NULL), 200); /* an event */
    for (int i = 0; i < 5; i++) send_to(bob, r, "unread", ids[i]);
    char own[48];
    send_to(alice, r, "mine", own);
    long unread;
    listed(alice, r, marker, &unread);
    assert_string_equal(marker, "");
    assert_int_equal(unread, 5);
    mark_id(alice, r, ids[2], ids[2], true);
    listed(alice, r, marker, &unread);
    assert_string_equal(marker, ids[2]);
    assert_int_equal(unread, 2);
    listed(carol, r, marker, &unread); /* carol's own marker: none */
    assert_int_equal(unread, 5 + 1);
    /* anonymous: no markers, no counts */
    struct http_result res;
    assert_int_equal(test_call_as(NULL, "GET", "/room/", NULL, &res), 200);
    assert_null(strstr(res.body, "\"unread\""));
    test_http_result_free(&res);
}

/* Runs redis-cli with args against the test Redis; its exit status. */
static int redis(const char *args) {
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "redis-cli -c -p %d %s >/dev/null", test_redis_port(), args);
    return system(cmd);
}

static void unread_counts_stop_at_the_cap(void **state) {
    (void)state;
    char r[80], args[256], marker[48];
    snprintf(r, sizeof(r), "%s-cap", room);
    assert_int_equal(test_create_room(alice, r), 201);
    for (int i = 0; i < 130; i++) { /* written as chatd writes them, faster than sending */
        snprintf(args, sizeof(args),
                 "XADD 'room:{%s}:messages' '*' userId %s name Bob text n%d timestamp 1", r,
                 bob_u.id, i);
        assert_int_equal(redis(args), 0);
    }
    long unread;
    listed(alice, r, marker, &unread);
    assert_int_equal(unread, 100);
}

/* A marker that moves reaches the user's own stream with ?user=1 within
 * the bound, and no other user's stream. */
static void markers_reach_the_users_own_streams(void **state) {
    (void)state;
    char id[48], later[48], url[512], data[512], eid[48];
    send_to(bob, room, "to be read live", id);
    send_to(alice, room, "and one more", later);
    snprintf(url, sizeof(url), "%s/stream?rooms=%s&user=1", test_url(), room);
    struct sse_client *own = sse_open_as(url, NULL, chat_client_token(alice));
    struct sse_client *other = sse_open_as(url, NULL, chat_client_token(bob));
    assert_non_null(own);
    assert_non_null(other);
    assert_true(sse_wait_id(own, 5000)); /* the position: every subscription is ready */
    assert_true(sse_wait_id(other, 5000));
    double t0 = test_now_ms();
    mark_id(alice, room, id, id, true);
    assert_true(sse_wait_events(own, 1, 5000));
    printf("# marker reached the stream after %.1f ms\n", test_now_ms() - t0);
    assert_true(sse_get(own, 0, eid, data, sizeof(data)));
    char want[256];
    snprintf(want, sizeof(want), "{\"room\":\"%s\",\"id\":\"%s\"}", room, id);
    assert_string_equal(data, want);
    /* bob's stream carries bob's events only: his marker, never alice's */
    mark_id(bob, room, later, later, true);
    assert_true(sse_wait_events(other, 1, 5000));
    assert_true(sse_get(other, 0, eid, data, sizeof(data)));
    snprintf(want, sizeof(want), "{\"room\":\"%s\",\"id\":\"%s\"}", room, later);
    assert_string_equal(data, want);
    sse_close(own);
    sse_close(other);
    /* without a session, user events cannot be asked for */
    struct http_result res;
    snprintf(url, sizeof(url), "/stream?rooms=%s&user=1", room);
    test_http("GET", url, NULL, NULL, 0, &res);
    assert_int_equal(res.status, 401);
    assert_true(test_is_error(res.body, "unauthorized"));
    test_http_result_free(&res);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(markers_move_forward_only),
        cmocka_unit_test(bad_markers_get_clear_errors),
        cmocka_unit_test(private_rooms_are_marked_by_members_only),
        cmocka_unit_test(unread_counts_follow_the_marker),
        cmocka_unit_test(unread_counts_stop_at_the_cap),
        cmocka_unit_test(markers_reach_the_users_own_streams),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
