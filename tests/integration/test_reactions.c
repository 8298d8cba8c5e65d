/*
 * Integration tests of reactions (PUT and DELETE
 * /room/<name>/message/reaction?id=) and replies (POST with "replyTo"):
 * who may react (anonymous, non-member of a private room, banned,
 * member), the emoji forms refused, idempotent adds and removals, the
 * counts and "me" of history pages, the live "reaction" event, a
 * removal taking the reactions with it, the quote of a reply and the
 * errors of bad targets, and the per-user limits of edits and reactions
 * (CHAT_LIMITED_URL, see run.sh).
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

#include "chatclient.h"
#include "sse_client.h"
#include "testlib.h"

#define THUMBS "\xF0\x9F\x91\x8D"
#define HEART "\xE2\x9D\xA4\xEF\xB8\x8F"

/* alice owns the private room, bob is a member, carol is not, dave is banned. */
static chat_client *alice, *bob, *carol, *dave;
static chat_user alice_u, bob_u, carol_u, dave_u;
static char room[64], msgs[128], reactions[128];

static int add_member(const chat_user *u) {
    char body[256], path[128];
    snprintf(path, sizeof(path), "/room/%s/member", room);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", u->email);
    return test_call_as(alice, "POST", path, body, NULL) == 200 ? 0 : -1;
}

static int setup(void **state) {
    (void)state;
    if (!(alice = test_new_user("alice", &alice_u)) || !(bob = test_new_user("bob", &bob_u)) ||
        !(carol = test_new_user("carol", &carol_u)) || !(dave = test_new_user("dave", &dave_u)))
        return -1;
    char body[256], path[128];
    snprintf(room, sizeof(room), "reactions-%d", (int)getpid());
    snprintf(msgs, sizeof(msgs), "/room/%s/message/", room);
    snprintf(reactions, sizeof(reactions), "/room/%s/message/reaction", room);
    if (test_private_room(alice, room, bob_u.email) < 0 || add_member(&dave_u) < 0)
        return -1;
    snprintf(path, sizeof(path), "/room/%s/member", room);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"banned\"}", dave_u.id);
    return test_call_as(alice, "PUT", path, body, NULL) == 200 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    chat_user *users[] = {&alice_u, &bob_u, &carol_u, &dave_u};
    chat_client *clients[] = {alice, bob, carol, dave};
    for (int i = 0; i < 4; i++) {
        chat_user_cleanup(users[i]);
        chat_client_free(clients[i]);
    }
    return 0;
}

/* Sends body as c; the message's id in id. */
static void send_body(chat_client *c, const char *body, char id[48]) {
    struct http_result r;
    assert_int_equal(test_call_as(c, "POST", msgs, body, &r), 201);
    test_json_member(r.body, "id", id, 48);
    test_http_result_free(&r);
}

static void send_text(chat_client *c, const char *text, char id[48]) {
    char body[256];
    snprintf(body, sizeof(body), "{\"text\":\"%s\"}", text);
    send_body(c, body, id);
}

/* The reaction path of message id. */
static void reaction_path(char *out, size_t size, const char *id) {
    snprintf(out, size, "%s?id=%s", reactions, id);
}

/* Whether the page c reads has, in message id's object, the text want. */
static bool page_shows(chat_client *c, const char *id, const char *want) {
    struct http_result r;
    assert_int_equal(test_call_as(c, "GET", msgs, NULL, &r), 200);
    char at_place[96];
    snprintf(at_place, sizeof(at_place), "{\"id\":\"%s\",", id);
    const char *m = strstr(r.body, at_place);
    assert_non_null(m);
    const char *next = strstr(m + 1, ",{\"id\":"); /* the next message, not a quote */
    const char *found = strstr(m, want);
    bool shown = found && (!next || found < next);
    test_http_result_free(&r);
    return shown;
}

static void who_may_react_and_what_is_refused(void **state) {
    (void)state;
    char id[48], path[200];
    send_text(bob, "react to me", id);
    reaction_path(path, sizeof(path), id);
    const char *body = "{\"emoji\":\"" THUMBS "\"}";
    assert_int_equal(test_call_code(NULL, "PUT", path, body, "unauthorized"), 401);
    assert_int_equal(test_call_code(carol, "PUT", path, body, "not_found"), 404);
    assert_int_equal(test_call_code(dave, "PUT", path, body, "not_found"), 404); /* banned: not a member */
    assert_int_equal(test_call_code(bob, "PUT", path, "{\"emoji\":\"ok\"}", "invalid_emoji"), 400);
    assert_int_equal(test_call_code(bob, "PUT", path, "{\"emoji\":\"\"}", "invalid_emoji"), 400);
    assert_int_equal(test_call_code(bob, "PUT", path, "{\"emoji\":7}", "invalid_emoji"), 400);
    assert_int_equal(test_call_code(bob, "PUT", path, "{}", "invalid_emoji"), 400);
    assert_int_equal(
        test_call_code(bob, "PUT", path, "{\"emoji\":\"" THUMBS THUMBS "\"}", "invalid_emoji"), 400);
    char huge[9000] = "{\"emoji\":\"";
    for (int i = 0; i < 2000; i++) strcat(huge, THUMBS);
    strcat(huge, "\"}");
    assert_int_equal(test_call_code(bob, "PUT", path, huge, "invalid_emoji"), 400);
    assert_int_equal(test_call_code(bob, "PUT", path, "[1]", "bad_json"), 400);
    snprintf(path, sizeof(path), "%s?id=nope", reactions);
    assert_int_equal(test_call_code(bob, "PUT", path, body, "invalid_query"), 400);
    reaction_path(path, sizeof(path), "1-0");
    assert_int_equal(test_call_code(bob, "PUT", path, body, "not_found"), 404);
    reaction_path(path, sizeof(path), id);
    assert_int_equal(test_call_as(alice, "PUT", path, body, NULL), 200); /* the owner */
}

static void reactions_count_once_per_user_and_pages_say_whose(void **state) {
    (void)state;
    char id[48], path[200];
    send_text(alice, "nice weather", id);
    reaction_path(path, sizeof(path), id);
    const char *thumbs = "{\"emoji\":\"" THUMBS "\"}", *heart = "{\"emoji\":\"" HEART "\"}";
    struct http_result r;
    assert_int_equal(test_call_as(bob, "PUT", path, thumbs, &r), 200);
    assert_non_null(strstr(r.body, "\"changed\":true"));
    assert_non_null(strstr(r.body, "\"eventId\":"));
    test_http_result_free(&r);
    assert_int_equal(test_call_as(bob, "PUT", path, thumbs, &r), 200); /* again: nothing */
    assert_non_null(strstr(r.body, "\"changed\":false"));
    test_http_result_free(&r);
    assert_int_equal(test_call_as(alice, "PUT", path, thumbs, NULL), 200);
    assert_int_equal(test_call_as(alice, "PUT", path, heart, NULL), 200);
    assert_true(page_shows(bob, id, "\"reactions\":[{\"emoji\":\"" THUMBS
                                    "\",\"count\":2,\"me\":true},{\"emoji\":\"" HEART
                                    "\",\"count\":1,\"me\":false}]"));
    assert_true(page_shows(alice, id, "{\"emoji\":\"" HEART "\",\"count\":1,\"me\":true}"));
    /* scroll-back pages say the same */
    char before[240];
    snprintf(before, sizeof(before), "%s?before=99999999999999&limit=5", msgs);
    assert_int_equal(test_call_as(bob, "GET", before, NULL, &r), 200);
    assert_non_null(strstr(r.body, "{\"emoji\":\"" THUMBS "\",\"count\":2,\"me\":true}"));
    test_http_result_free(&r);
    /* taking it back: the count goes down, a repeat changes nothing */
    assert_int_equal(test_call_as(bob, "DELETE", path, thumbs, &r), 200);
    assert_non_null(strstr(r.body, "\"changed\":true"));
    test_http_result_free(&r);
    assert_int_equal(test_call_as(bob, "DELETE", path, thumbs, &r), 200);
    assert_non_null(strstr(r.body, "\"changed\":false"));
    test_http_result_free(&r);
    assert_true(page_shows(bob, id, "{\"emoji\":\"" THUMBS "\",\"count\":1,\"me\":false}"));
    assert_int_equal(test_call_as(alice, "DELETE", path, thumbs, NULL), 200);
    assert_int_equal(test_call_as(alice, "DELETE", path, heart, NULL), 200);
    assert_false(page_shows(bob, id, "\"reactions\""));
}

static void streams_get_reaction_events_in_order(void **state) {
    (void)state;
    char id[48], path[200], event_id[48], url[256];
    send_text(alice, "live one", id);
    snprintf(url, sizeof(url), "%s/room/%s/message/stream", test_url(), room);
    struct sse_client *sse = sse_open_as(url, id, chat_client_token(bob));
    assert_non_null(sse);
    reaction_path(path, sizeof(path), id);
    struct http_result r;
    assert_int_equal(test_call_as(bob, "PUT", path, "{\"emoji\":\"" HEART "\"}", &r), 200);
    test_json_member(r.body, "eventId", event_id, sizeof(event_id));
    test_http_result_free(&r);
    assert_int_equal(test_call_as(bob, "DELETE", path, "{\"emoji\":\"" HEART "\"}", NULL), 200);
    assert_true(sse_wait_events(sse, 2, 10000));
    char got_id[48], data[1024], target[80];
    snprintf(target, sizeof(target), "\"target\":\"%s\"", id);
    assert_true(sse_get(sse, 0, got_id, data, sizeof(data)));
    assert_string_equal(got_id, event_id);
    assert_non_null(strstr(data, "\"event\":\"reaction\""));
    assert_non_null(strstr(data, "\"action\":\"added\""));
    assert_non_null(strstr(data, "\"emoji\":\"" HEART "\""));
    assert_non_null(strstr(data, target));
    assert_true(sse_get(sse, 1, got_id, data, sizeof(data)));
    assert_non_null(strstr(data, "\"action\":\"removed\""));
    sse_close(sse);
    /* a room event takes no reaction */
    reaction_path(path, sizeof(path), event_id);
    assert_int_equal(test_call_code(bob, "PUT", path, "{\"emoji\":\"" HEART "\"}", "not_a_message"),
                     400);
}

/* Whether Redis holds key (redis-cli on the test's Redis). */
static bool redis_has(const char *key) {
    char cmd[512], out[32] = "";
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d EXISTS '%s'", test_redis_port(), key);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (!fgets(out, sizeof(out), p)) out[0] = '\0';
    pclose(p);
    return atoi(out) == 1;
}

static void a_removal_takes_the_reactions_with_it(void **state) {
    (void)state;
    char id[48], path[200], rpath[200], key[256];
    send_text(bob, "soon gone", id);
    reaction_path(rpath, sizeof(rpath), id);
    assert_int_equal(test_call_as(alice, "PUT", rpath, "{\"emoji\":\"" THUMBS "\"}", NULL), 200);
    snprintf(key, sizeof(key), "room:{%s}:reactors:%s", room, id);
    assert_true(redis_has(key));
    snprintf(path, sizeof(path), "%s?id=%s", msgs, id);
    assert_int_equal(test_call_as(alice, "DELETE", path, NULL, NULL), 200);
    assert_false(redis_has(key));
    assert_int_equal(
        test_call_code(bob, "PUT", rpath, "{\"emoji\":\"" THUMBS "\"}", "not_found"), 404);
}

static void replies_quote_their_target(void **state) {
    (void)state;
    char id[48], reply[48], body[512], long_text[300] = "";
    for (int i = 0; i < 15; i++) strcat(long_text, "0123456789"); /* 150 characters */
    send_text(alice, long_text, id);
    snprintf(body, sizeof(body), "{\"text\":\"agreed\",\"replyTo\":\"%s\"}", id);
    struct http_result r;
    assert_int_equal(test_call_as(bob, "POST", msgs, body, &r), 201);
    test_json_member(r.body, "id", reply, sizeof(reply));
    char quote[400];
    snprintf(quote, sizeof(quote), "\"replyTo\":{\"id\":\"%s\",\"name\":\"alice\",\"text\":\"%.100s\"}",
             id, long_text);
    if (!strstr(r.body, quote)) fail_msg("no quote in %s", r.body);
    test_http_result_free(&r);
    assert_true(page_shows(alice, reply, quote));
    /* an edit of the target later leaves the quote as it was sent */
    char path[200];
    snprintf(path, sizeof(path), "%s?id=%s", msgs, id);
    assert_int_equal(test_call_as(alice, "PATCH", path, "{\"text\":\"changed my mind\"}", NULL),
                     200);
    assert_true(page_shows(alice, reply, quote));
    /* a reply to the edited message quotes the latest text */
    char second[48];
    snprintf(body, sizeof(body), "{\"text\":\"oh\",\"replyTo\":\"%s\"}", id);
    send_body(bob, body, second);
    assert_true(page_shows(bob, second, "\"text\":\"changed my mind\"}"));
    /* bad targets */
    assert_int_equal(test_call_code(bob, "POST", msgs, "{\"text\":\"x\",\"replyTo\":\"nope\"}",
                               "invalid_reply_to"),
                     400);
    assert_int_equal(
        test_call_code(bob, "POST", msgs, "{\"text\":\"x\",\"replyTo\":5}", "invalid_reply_to"), 400);
    assert_int_equal(test_call_code(bob, "POST", msgs, "{\"text\":\"x\",\"replyTo\":\"1-0\"}",
                               "reply_not_found"),
                     404);
    /* a message of another room is foreign here */
    char lobby_id[48];
    assert_int_equal(test_call_as(bob, "POST", "/room/lobby/message/", "{\"text\":\"elsewhere\"}",
                                  &r),
                     201);
    test_json_member(r.body, "id", lobby_id, sizeof(lobby_id));
    test_http_result_free(&r);
    snprintf(body, sizeof(body), "{\"text\":\"x\",\"replyTo\":\"%s\"}", lobby_id);
    assert_int_equal(test_call_code(bob, "POST", msgs, body, "reply_not_found"), 404);
}

/* method path as c on the limited chatd: its status. */
static long limited_call(const char *base, chat_client *c, const char *method, const char *path,
                         const char *body) {
    char cookie[128];
    snprintf(cookie, sizeof(cookie), "Cookie: authKey=%s", chat_client_token(c));
    const char *h[] = {"Content-Type: application/json", cookie, NULL};
    struct http_result r;
    if (test_http_at(base, method, path, h, body, body ? strlen(body) : 0, &r) < 0) return -1;
    long status = r.status;
    test_http_result_free(&r);
    return status;
}

static void edits_and_reactions_are_limited_per_user(void **state) {
    (void)state;
    const char *limited = getenv("CHAT_LIMITED_URL");
    if (!limited) skip();
    char id[48], path[200];
    send_text(bob, "limited", id);
    snprintf(path, sizeof(path), "%s?id=%s", msgs, id);
    assert_int_equal(limited_call(limited, bob, "PATCH", path, "{\"text\":\"a\"}"), 200);
    assert_int_equal(limited_call(limited, bob, "PATCH", path, "{\"text\":\"b\"}"), 200);
    assert_int_equal(limited_call(limited, bob, "PATCH", path, "{\"text\":\"c\"}"), 429);
    reaction_path(path, sizeof(path), id);
    const char *body = "{\"emoji\":\"" THUMBS "\"}";
    assert_int_equal(limited_call(limited, bob, "PUT", path, body), 200);
    assert_int_equal(limited_call(limited, bob, "DELETE", path, body), 200);
    assert_int_equal(limited_call(limited, bob, "PUT", path, body), 429);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(who_may_react_and_what_is_refused),
        cmocka_unit_test(reactions_count_once_per_user_and_pages_say_whose),
        cmocka_unit_test(streams_get_reaction_events_in_order),
        cmocka_unit_test(a_removal_takes_the_reactions_with_it),
        cmocka_unit_test(replies_quote_their_target),
        cmocka_unit_test(edits_and_reactions_are_limited_per_user),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
