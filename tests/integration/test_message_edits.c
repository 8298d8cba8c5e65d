/*
 * Integration tests of edits and deletions of one's own message
 * (PATCH and DELETE /room/<name>/message/?id=): only the author edits,
 * through the room's access rule; history pages answer the latest text
 * with an "edited" time; live streams get an "edited" event; a
 * moderator's removal takes the edits with it; an author deletes their
 * own message, leaving the same tombstone as a moderator's removal.
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

/* alice owns the private room, bob is a member, carol is not. */
static chat_client *alice, *bob, *carol;
static chat_user alice_u, bob_u, carol_u;
static char room[64], msgs[128];

static int setup(void **state) {
    (void)state;
    if (!(alice = test_new_user("alice", &alice_u)) || !(bob = test_new_user("bob", &bob_u)) ||
        !(carol = test_new_user("carol", &carol_u)))
        return -1;
    snprintf(room, sizeof(room), "edits-%d", (int)getpid());
    snprintf(msgs, sizeof(msgs), "/room/%s/message/", room);
    return test_private_room(alice, room, bob_u.email);
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

/* Sends text as c; its id in id. */
static void send_text(chat_client *c, const char *text, char id[48]) {
    char body[256];
    struct http_result r;
    snprintf(body, sizeof(body), "{\"text\":\"%s\"}", text);
    assert_int_equal(test_call_as(c, "POST", msgs, body, &r), 201);
    test_json_member(r.body, "id", id, 48);
    test_http_result_free(&r);
}

static void only_the_author_edits_and_bad_edits_get_errors(void **state) {
    (void)state;
    char id[48], path[200];
    send_text(bob, "by bob", id);
    snprintf(path, sizeof(path), "%s?id=%s", msgs, id);
    const char *body = "{\"text\":\"changed\"}";
    assert_int_equal(test_call_code(NULL, "PATCH", path, body, "unauthorized"), 401);
    assert_int_equal(test_call_code(carol, "PATCH", path, body, "not_found"), 404);
    assert_int_equal(test_call_code(alice, "PATCH", path, body, "forbidden"), 403); /* even the owner */
    assert_int_equal(test_call_code(bob, "PATCH", path, "{\"text\":\"\"}", "invalid_text"), 400);
    assert_int_equal(test_call_code(bob, "PATCH", path, "[1]", "bad_json"), 400);
    snprintf(path, sizeof(path), "%s?id=nope", msgs);
    assert_int_equal(test_call_code(bob, "PATCH", path, body, "invalid_query"), 400);
    snprintf(path, sizeof(path), "%s?id=1-0", msgs);
    assert_int_equal(test_call_code(bob, "PATCH", path, body, "not_found"), 404);
}

static void history_answers_the_latest_text_and_streams_get_the_event(void **state) {
    (void)state;
    char id[48], path[200], event_id[48], url[256];
    send_text(alice, "first words", id);
    snprintf(url, sizeof(url), "%s/room/%s/message/stream", test_url(), room);
    struct sse_client *sse = sse_open_as(url, id, chat_client_token(bob));
    assert_non_null(sse);
    snprintf(path, sizeof(path), "%s?id=%s", msgs, id);
    struct http_result r;
    assert_int_equal(test_call_as(alice, "PATCH", path, "{\"text\":\"better words\"}", &r), 200);
    test_json_member(r.body, "eventId", event_id, sizeof(event_id));
    assert_non_null(strstr(r.body, "\"edited\":"));
    test_http_result_free(&r);
    /* the page: the latest text in the message's place, the first is gone */
    assert_int_equal(test_call_as(bob, "GET", msgs, NULL, &r), 200);
    char at_place[160];
    snprintf(at_place, sizeof(at_place), "{\"id\":\"%s\",", id);
    const char *m = strstr(r.body, at_place);
    assert_non_null(m);
    const char *end = strchr(m, '}');
    assert_non_null(end);
    assert_non_null(strstr(m, "\"text\":\"better words\""));
    assert_true(strstr(m, "\"edited\":") < end);
    assert_null(strstr(r.body, "first words"));
    test_http_result_free(&r);
    /* the live stream: the edited event, naming the message */
    assert_true(sse_wait_events(sse, 1, 10000));
    char got_id[48], data[1024], target[80];
    assert_true(sse_get(sse, 0, got_id, data, sizeof(data)));
    assert_string_equal(got_id, event_id);
    assert_non_null(strstr(data, "\"event\":\"edited\""));
    snprintf(target, sizeof(target), "\"target\":\"%s\"", id);
    assert_non_null(strstr(data, target));
    assert_non_null(strstr(data, "better words"));
    sse_close(sse);
    /* an event is not a message */
    snprintf(path, sizeof(path), "%s?id=%s", msgs, event_id);
    assert_int_equal(test_call_code(alice, "PATCH", path, "{\"text\":\"x\"}", "not_a_message"), 400);
}

static void a_removal_takes_the_edits_with_it(void **state) {
    (void)state;
    char id[48], path[200];
    send_text(bob, "rude", id);
    snprintf(path, sizeof(path), "%s?id=%s", msgs, id);
    assert_int_equal(test_call_as(bob, "PATCH", path, "{\"text\":\"ruder still\"}", NULL), 200);
    assert_int_equal(test_call_as(alice, "DELETE", path, NULL, NULL), 200);
    assert_int_equal(test_call_code(bob, "PATCH", path, "{\"text\":\"again\"}", "not_found"), 404);
    struct http_result r;
    assert_int_equal(test_call_as(bob, "GET", msgs, NULL, &r), 200);
    assert_null(strstr(r.body, "rude"));
    assert_non_null(strstr(r.body, "\"event\":\"message_removed\""));
    test_http_result_free(&r);
}

static void authors_delete_their_own_messages(void **state) {
    (void)state;
    char id[48], alices[48], path[200], event_id[48];
    send_text(bob, "regrettable", id);
    send_text(alice, "the owner's", alices);
    snprintf(path, sizeof(path), "%s?id=%s", msgs, alices);
    assert_int_equal(test_call_code(bob, "DELETE", path, NULL, "forbidden"), 403);
    snprintf(path, sizeof(path), "%s?id=%s", msgs, id);
    assert_int_equal(test_call_code(carol, "DELETE", path, NULL, "not_found"), 404);
    assert_int_equal(test_call_as(bob, "PATCH", path, "{\"text\":\"worse\"}", NULL), 200);
    struct http_result r;
    assert_int_equal(test_call_as(bob, "DELETE", path, NULL, &r), 200);
    test_json_member(r.body, "eventId", event_id, sizeof(event_id));
    test_http_result_free(&r);
    assert_int_equal(test_call_code(bob, "DELETE", path, NULL, "not_found"), 404);
    /* the tombstone: who deleted it, and that it was its author */
    assert_int_equal(test_call_as(alice, "GET", msgs, NULL, &r), 200);
    assert_null(strstr(r.body, "regrettable"));
    assert_null(strstr(r.body, "worse"));
    char tombstone[160];
    snprintf(tombstone, sizeof(tombstone), "{\"id\":\"%s\",\"userId\":\"%s\",", event_id,
             bob_u.id);
    const char *t = strstr(r.body, tombstone);
    assert_non_null(t);
    assert_non_null(strstr(t, "\"text\":\"deleted by its author\""));
    assert_non_null(strstr(t, "\"event\":\"message_removed\""));
    test_http_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_the_author_edits_and_bad_edits_get_errors),
        cmocka_unit_test(history_answers_the_latest_text_and_streams_get_the_event),
        cmocka_unit_test(a_removal_takes_the_edits_with_it),
        cmocka_unit_test(authors_delete_their_own_messages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
