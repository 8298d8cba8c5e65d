/*
 * Integration tests of a room's ephemeral state (docs/API.md, "Typing and
 * presence"): a typing signal sent on one chatd reaches the streams that
 * asked for signals on another, with no id and never in the history;
 * presence follows streams on every chatd: joins, a clean close (at once),
 * a chatd killed with SIGKILL (its users go offline once their entries
 * expire), the count and the member list; who may type and read presence
 * in a private room; the typing limit and hostile input.
 *
 * Fixtures (tests/integration/run.sh): CHAT_URL (the main chatd),
 * CHAT_PRESENCE_URL (a chatd with --presence-ttl 2000 and a typing limit
 * of 3 a minute), CHAT_PRESENCE_VICTIM_URL and CHAT_PRESENCE_VICTIM_PID (a
 * chatd with --presence-ttl 2000 that the test kills), all on one Redis.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "chatclient.h"
#include "sse_client.h"
#include "testlib.h"

#define WAIT_MS 15000 /* a generous bound on every wait */

static const char *observer_url, *victim_url;

static int setup(void **state) {
    (void)state;
    observer_url = getenv("CHAT_PRESENCE_URL");
    victim_url = getenv("CHAT_PRESENCE_VICTIM_URL");
    return 0;
}

struct person {
    chat_client *c;
    chat_user u;
};

static void person_new(struct person *p, const char *tag) {
    p->c = test_new_user(tag, &p->u);
    assert_non_null(p->c);
}

static void person_free(struct person *p) {
    chat_user_cleanup(&p->u);
    chat_client_free(p->c);
}

/* method path at base (NULL: the main chatd) as p (NULL: anonymous). */
static long call_at(const char *base, const struct person *p, const char *method,
                    const char *path, const char *body, struct http_result *out) {
    return test_call_at(base, p ? p->c : NULL, method, path, body, out);
}

/* The status, asserting the error code when code is not NULL. */
static long call_code(const char *base, const struct person *p, const char *method,
                      const char *path, const char *body, const char *code) {
    struct http_result r;
    long status = call_at(base, p, method, path, body, &r);
    if (code && !test_is_error(r.body, code))
        fail_msg("%s %s: wanted %s, got %ld %s", method, path, code, status, r.body);
    test_http_result_free(&r);
    return status;
}

static void unique_room(char *out, size_t size, const char *tag) {
    static int n;
    snprintf(out, size, "%s-%d-%d", tag, (int)getpid(), ++n);
}

static void create(const struct person *p, const char *room, const char *kind) {
    char body[160];
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"kind\":\"%s\"}", room, kind);
    assert_int_equal(call_at(NULL, p, "POST", "/room/", body, NULL), 201);
}

/* p's event stream of room at base, with the signals. */
static struct sse_client *stream(const char *base, const struct person *p, const char *room) {
    char url[256];
    snprintf(url, sizeof(url), "%s/room/%s/message/stream?signals=1", base, room);
    struct sse_client *c = sse_open_as(url, NULL, p ? chat_client_token(p->c) : NULL);
    assert_non_null(c);
    return c;
}

/* Waits for the next event (from *next on) named kind whose data holds
 * needle; its data in data. Fails after WAIT_MS. */
static void wait_for(struct sse_client *c, size_t *next, const char *kind, const char *needle,
                     char *data, size_t size) {
    double until = test_now_ms() + WAIT_MS;
    while (test_now_ms() < until) {
        if (!sse_wait_events(c, *next + 1, (int)(until - test_now_ms()) + 1)) break;
        char id[48], event[64];
        assert_true(sse_get(c, *next, id, data, size));
        assert_true(sse_get_event(c, *next, event, sizeof(event)));
        (*next)++;
        if (strcmp(event, kind) == 0 && strstr(data, needle)) {
            assert_string_equal(id, ""); /* a signal moves no resume position */
            return;
        }
    }
    fail_msg("no %s event with %s", kind, needle);
}

/* Waits until stream c (of room, as p) is live and hears the room's
 * signals: p says it is typing, on the main chatd (which counts no typing
 * limit), every 200 ms until c has the signal. A stream's own first
 * presence change may come before the stream hears the room's channel,
 * so it is no sign of that. */
static void wait_live(struct sse_client *c, size_t *next, const struct person *p,
                      const char *room) {
    char path[128], id[48], event[64], data[1024], who[96];
    snprintf(path, sizeof(path), "/room/%s/typing", room);
    snprintf(who, sizeof(who), "\"userId\":\"%s\"", p->u.id);
    double until = test_now_ms() + WAIT_MS;
    while (test_now_ms() < until) {
        assert_int_equal(test_call_at(NULL, p->c, "POST", path, NULL, NULL), 204);
        size_t seen = sse_count(c);
        sse_wait_events(c, seen + 1, 200);
        for (; *next < sse_count(c); (*next)++) {
            assert_true(sse_get(c, *next, id, data, sizeof(data)));
            assert_true(sse_get_event(c, *next, event, sizeof(event)));
            if (strcmp(event, "typing") == 0 && strstr(data, who)) {
                (*next)++;
                return;
            }
        }
    }
    fail_msg("the stream never heard the room's signals");
}

/* "\"userId\":\"<id>\"" */
static const char *user_field(const struct person *p, char *out, size_t size) {
    snprintf(out, size, "\"userId\":\"%s\"", p->u.id);
    return out;
}

static long long presence_count(const char *room, char *body, size_t size) {
    char path[160];
    struct http_result r;
    snprintf(path, sizeof(path), "/room/%s/presence", room);
    assert_int_equal(call_at(NULL, NULL, "GET", path, NULL, &r), 200);
    snprintf(body, size, "%s", r.body);
    const char *count = strstr(r.body, "\"count\":");
    long long n = count ? atoll(count + 8) : -1;
    test_http_result_free(&r);
    return n;
}

/* Alice types on the main chatd; Bob's stream on another chatd gets it
 * with its expiry, then the stop; a stream that did not ask for signals
 * and the history never see them. */
static void typing_reaches_another_chatd(void **state) {
    (void)state;
    if (!observer_url) skip();
    struct person alice, bob;
    person_new(&alice, "alice");
    person_new(&bob, "bob");
    char room[64], path[128], data[1024], who[96];
    unique_room(room, sizeof(room), "typing");
    create(&alice, room, "public");
    struct sse_client *watch = stream(observer_url, &bob, room);
    char plain_url[256];
    snprintf(plain_url, sizeof(plain_url), "%s/room/%s/message/stream", observer_url, room);
    struct sse_client *plain = sse_open_as(plain_url, NULL, chat_client_token(bob.c));
    size_t next = 0;
    wait_live(watch, &next, &bob, room);
    snprintf(path, sizeof(path), "/room/%s/typing", room);
    double sent = test_now_ms();
    assert_int_equal(call_code(NULL, &alice, "POST", path, NULL, NULL), 204);
    wait_for(watch, &next, "typing", user_field(&alice, who, sizeof(who)), data, sizeof(data));
    printf("# typing reached the other chatd's stream %.1f ms after its 204\n",
           test_now_ms() - sent);
    assert_non_null(strstr(data, "\"expiresIn\":6000"));
    assert_null(strstr(data, "\"stopped\""));
    assert_int_equal(call_code(NULL, &alice, "POST", path, "{\"stopped\":true}", NULL), 204);
    wait_for(watch, &next, "typing", "\"stopped\":true", data, sizeof(data));
    /* the plain stream's first event is the message sent after the signals */
    snprintf(path, sizeof(path), "/room/%s/message/", room);
    assert_int_equal(call_code(NULL, &alice, "POST", path, "{\"text\":\"hello\"}", NULL), 201);
    assert_true(sse_wait_events(plain, 1, WAIT_MS));
    char id[48];
    assert_true(sse_get(plain, 0, id, data, sizeof(data)));
    assert_non_null(strstr(data, "hello"));
    struct http_result r;
    assert_int_equal(call_at(NULL, &bob, "GET", path, NULL, &r), 200);
    assert_null(strstr(r.body, "typing"));
    assert_null(strstr(r.body, "expiresIn"));
    test_http_result_free(&r);
    sse_close(plain);
    sse_close(watch);
    person_free(&alice);
    person_free(&bob);
}

/* Presence over three chatd: joins reach Bob's stream with the count; a
 * chatd killed with SIGKILL takes its users offline once their entries
 * expire, but not a user who still has a stream elsewhere; a clean close
 * takes its user offline at once. */
static void presence_follows_streams_on_every_chatd(void **state) {
    (void)state;
    const char *victim_pid = getenv("CHAT_PRESENCE_VICTIM_PID");
    if (!observer_url || !victim_url || !victim_pid) skip();
    struct person alice, bob, carol;
    person_new(&alice, "alice");
    person_new(&bob, "bob");
    person_new(&carol, "carol");
    char room[64], data[2048], who[96], body[2048];
    unique_room(room, sizeof(room), "online");
    create(&alice, room, "public");
    struct sse_client *watch = stream(observer_url, &bob, room);
    size_t next = 0;
    wait_live(watch, &next, &bob, room);
    struct sse_client *alice_main = stream(test_url(), &alice, room);
    char multi_url[256];
    snprintf(multi_url, sizeof(multi_url), "%s/stream?rooms=lobby,%s&signals=1", victim_url, room);
    struct sse_client *alice_victim = sse_open_as(multi_url, NULL, chat_client_token(alice.c));
    wait_for(watch, &next, "presence", user_field(&alice, who, sizeof(who)), data, sizeof(data));
    struct sse_client *carol_victim = stream(victim_url, &carol, room);
    wait_for(watch, &next, "presence", user_field(&carol, who, sizeof(who)), data, sizeof(data));
    assert_non_null(strstr(data, "\"count\":3"));
    assert_int_equal(presence_count(room, body, sizeof(body)), 3);
    assert_non_null(strstr(body, alice.u.id));
    assert_non_null(strstr(body, carol.u.id));
    /* the victim's users go offline once their entries expire */
    assert_int_equal(kill(atoi(victim_pid), SIGKILL), 0);
    double killed = test_now_ms();
    wait_for(watch, &next, "presence", "\"left\":[{", data, sizeof(data));
    printf("# a killed chatd's user went offline %.0f ms after the kill (--presence-ttl 2000)\n",
           test_now_ms() - killed);
    assert_non_null(strstr(data, carol.u.id));
    assert_null(strstr(data, alice.u.id)); /* she still has a stream on the main chatd */
    assert_non_null(strstr(data, "\"count\":2"));
    assert_int_equal(presence_count(room, body, sizeof(body)), 2);
    assert_null(strstr(body, carol.u.id));
    /* a clean close: at once */
    double closed = test_now_ms();
    sse_close(alice_main);
    wait_for(watch, &next, "presence", "\"left\":[{", data, sizeof(data));
    printf("# a closed stream's user went offline %.0f ms after the close\n",
           test_now_ms() - closed);
    assert_non_null(strstr(data, alice.u.id));
    assert_non_null(strstr(data, "\"count\":1"));
    sse_close(alice_victim);
    sse_close(carol_victim);
    sse_close(watch);
    person_free(&alice);
    person_free(&bob);
    person_free(&carol);
}

/* GET /room/<name>/presence pages: limit and cursor; the count is all. */
static void presence_list_pages(void **state) {
    (void)state;
    struct person owner, people[3];
    person_new(&owner, "owner");
    char room[64], path[200], data[1024], who[96];
    unique_room(room, sizeof(room), "pages");
    create(&owner, room, "public");
    struct sse_client *watch = stream(test_url(), &owner, room), *s[3];
    size_t next = 0;
    wait_live(watch, &next, &owner, room);
    for (int i = 0; i < 3; i++) {
        person_new(&people[i], "guest");
        s[i] = stream(test_url(), &people[i], room);
        wait_for(watch, &next, "presence", user_field(&people[i], who, sizeof(who)), data,
                 sizeof(data));
    }
    /* pages of 2 by id: 2, 2, then an empty last page; every user once */
    char after[64] = "", seen[1024] = "";
    int pages = 0;
    do {
        snprintf(path, sizeof(path), "/room/%s/presence?limit=2%s%s", room, after[0] ? "&after=" : "",
                 after);
        struct http_result r;
        assert_int_equal(call_at(NULL, NULL, "GET", path, NULL, &r), 200);
        assert_non_null(strstr(r.body, "\"count\":4"));
        strncat(seen, r.body, sizeof(seen) - strlen(seen) - 1);
        after[0] = '\0';
        if (!strstr(r.body, "\"next\":null")) test_json_member(r.body, "next", after, sizeof(after));
        test_http_result_free(&r);
        pages++;
    } while (after[0] && pages < 10);
    assert_int_equal(pages, 3);
    const struct person *all[] = {&owner, &people[0], &people[1], &people[2]};
    for (int i = 0; i < 4; i++) {
        const char *at = strstr(seen, user_field(all[i], who, sizeof(who)));
        assert_non_null(at);
        assert_null(strstr(at + 1, who)); /* once */
    }
    for (int i = 0; i < 3; i++) {
        sse_close(s[i]);
        person_free(&people[i]);
    }
    sse_close(watch);
    person_free(&owner);
}

/* A private room: its members type and read presence; an outsider (and a
 * banned member) gets 404 as for a room that does not exist, an anonymous
 * caller 401 (typing) or 404 (presence); in a public room a banned user
 * gets 403 banned; the lobby has neither. */
static void private_rooms_keep_their_rules(void **state) {
    (void)state;
    struct person owner, member, outsider;
    person_new(&owner, "owner");
    person_new(&member, "member");
    person_new(&outsider, "outsider");
    char room[64], typing[128], presence[128], members[128], body[256];
    unique_room(room, sizeof(room), "hidden");
    create(&owner, room, "private");
    snprintf(members, sizeof(members), "/room/%s/member", room);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", member.u.id);
    assert_int_equal(call_at(NULL, &owner, "POST", members, body, NULL), 200);
    snprintf(typing, sizeof(typing), "/room/%s/typing", room);
    snprintf(presence, sizeof(presence), "/room/%s/presence", room);
    assert_int_equal(call_code(NULL, &member, "POST", typing, NULL, NULL), 204);
    assert_int_equal(call_code(NULL, &owner, "POST", typing, "{}", NULL), 204);
    assert_int_equal(call_code(NULL, &member, "GET", presence, NULL, NULL), 200);
    assert_int_equal(call_code(NULL, &outsider, "POST", typing, NULL, "not_found"), 404);
    assert_int_equal(call_code(NULL, &outsider, "GET", presence, NULL, "not_found"), 404);
    assert_int_equal(call_code(NULL, NULL, "POST", typing, NULL, "unauthorized"), 401);
    assert_int_equal(call_code(NULL, NULL, "GET", presence, NULL, "not_found"), 404);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"banned\"}", member.u.id);
    assert_int_equal(call_at(NULL, &owner, "PUT", members, body, NULL), 200);
    assert_int_equal(call_code(NULL, &member, "POST", typing, NULL, "not_found"), 404);
    assert_int_equal(call_code(NULL, &member, "GET", presence, NULL, "not_found"), 404);
    unique_room(room, sizeof(room), "open");
    create(&owner, room, "public");
    snprintf(members, sizeof(members), "/room/%s/member", room);
    snprintf(typing, sizeof(typing), "/room/%s/typing", room);
    assert_int_equal(call_at(NULL, &owner, "PUT", members, body, NULL), 200);
    assert_int_equal(call_code(NULL, &member, "POST", typing, NULL, "banned"), 403);
    assert_int_equal(call_code(NULL, &outsider, "POST", typing, NULL, NULL), 204);
    assert_int_equal(call_code(NULL, &owner, "POST", "/room/lobby/typing", NULL, "not_found"),
                     404);
    assert_int_equal(call_code(NULL, NULL, "GET", "/room/lobby/presence", NULL, "not_found"), 404);
    assert_int_equal(call_code(NULL, &owner, "POST", "/room/no-such-room-here/typing", NULL,
                               "not_found"),
                     404);
    person_free(&owner);
    person_free(&member);
    person_free(&outsider);
}

/* Bad bodies, queries and names get JSON errors. */
static void hostile_input_gets_json_errors(void **state) {
    (void)state;
    struct person owner;
    person_new(&owner, "owner");
    char room[64], typing[128], path[256];
    unique_room(room, sizeof(room), "hostile");
    create(&owner, room, "public");
    snprintf(typing, sizeof(typing), "/room/%s/typing", room);
    static const char *const bad_bodies[][2] = {
        {"{\"stopped\":3}", "bad_request"}, {"{\"stopped\":\"yes\"}", "bad_request"},
        {"[true]", "bad_json"},             {"not json", "bad_json"},
        {"{\"stopped\":", "bad_json"},      {"\"stopped\"", "bad_json"},
    };
    for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++)
        assert_int_equal(call_code(NULL, &owner, "POST", typing, bad_bodies[i][0],
                                   bad_bodies[i][1]),
                         400);
    static const char *const bad_queries[] = {
        "limit=0", "limit=1001", "limit=abc", "limit=", "after=-1", "after=a%20b",
        "after=0123456789abcdef0123456789abcdef0", "after=",
    };
    for (size_t i = 0; i < sizeof(bad_queries) / sizeof(bad_queries[0]); i++) {
        snprintf(path, sizeof(path), "/room/%s/presence?%s", room, bad_queries[i]);
        assert_int_equal(call_code(NULL, &owner, "GET", path, NULL, "invalid_query"), 400);
    }
    assert_int_equal(call_code(NULL, &owner, "POST", "/room/BAD%20NAME/typing", NULL,
                               "invalid_room"),
                     400);
    assert_int_equal(call_code(NULL, &owner, "GET", "/room/BAD%20NAME/presence", NULL,
                               "invalid_room"),
                     400);
    assert_int_equal(call_code(NULL, &owner, "DELETE", typing, NULL, "method_not_allowed"), 405);
    person_free(&owner);
}

/* --limit-typing-user (3 a minute on the observer chatd): the fourth
 * signal gets 429 with Retry-After. */
static void typing_is_rate_limited(void **state) {
    (void)state;
    if (!observer_url) skip();
    struct person owner;
    person_new(&owner, "owner");
    char room[64], typing[128];
    unique_room(room, sizeof(room), "limited");
    create(&owner, room, "public");
    snprintf(typing, sizeof(typing), "/room/%s/typing", room);
    for (int i = 0; i < 3; i++)
        assert_int_equal(call_code(observer_url, &owner, "POST", typing, NULL, NULL), 204);
    struct http_result r;
    assert_int_equal(call_at(observer_url, &owner, "POST", typing, NULL, &r), 429);
    assert_true(test_is_error(r.body, "rate_limited"));
    assert_non_null(strstr(r.headers, "Retry-After: "));
    test_http_result_free(&r);
    person_free(&owner);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(typing_reaches_another_chatd),
        cmocka_unit_test(presence_follows_streams_on_every_chatd),
        cmocka_unit_test(presence_list_pages),
        cmocka_unit_test(private_rooms_keep_their_rules),
        cmocka_unit_test(hostile_input_gets_json_errors),
        cmocka_unit_test(typing_is_rate_limited),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
