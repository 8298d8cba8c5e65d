/*
 * test_limits: the abuse limits, against a chatd started with low limits
 * (CHAT_LIMITED_URL, see run.sh: 3 logins per e-mail and 6 per address a
 * minute, 2 registrations per address a minute, 3 messages per user in 2 s,
 * 3 room creations per user and 5 per address a minute, 2 rooms per user,
 * 2 direct conversations and 2 invitations per user a minute).
 * Over a limit the answer is 429 rate_limited with Retry-After in whole
 * seconds and the usual error body; other e-mails, addresses and users are
 * not affected; /metrics counts the refusals. Different client addresses
 * come from X-Forwarded-For, which chatd believes because the peer
 * (127.0.0.1) is a trusted proxy by default. A second chatd on the same
 * Redis (CHAT_LIMITED2_URL) shares the counts.
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
#include "testlib.h"

#define PASSWORD "correct horse battery"

/* A fresh documentation address (TEST-NET-3) for each use, so that the
 * tests do not share per-address counters. */
static void fresh_address(char *header, size_t size) {
    static int n;
    snprintf(header, size, "X-Forwarded-For: 198.51.100.7, 203.0.113.%d", ++n);
}

/* One JSON request from the given X-Forwarded-For header (may be NULL). */
static long call(const char *method, const char *path, const char *xff, const char *auth,
                 const char *body, struct http_result *r) {
    const char *h[] = {"Content-Type: application/json", xff ? xff : "X-None: 1",
                       auth ? auth : "X-None: 2", NULL};
    assert_int_equal(test_http(method, path, h, body, strlen(body), r), 0);
    return r->status;
}

/* Checks a 429: the error body and a Retry-After of 1 to max seconds. */
static void assert_limited(const struct http_result *r, int max_s) {
    assert_int_equal(r->status, 429);
    assert_true(test_is_error(r->body, "rate_limited"));
    const char *ra = strstr(r->headers, "Retry-After: ");
    assert_non_null(ra);
    int s = atoi(ra + 13);
    if (s < 1 || s > max_s) fail_msg("Retry-After %d, want 1..%d", s, max_s);
}

static void register_user(const char *xff, char *email, size_t size, char *auth, size_t asize) {
    char body[256];
    struct http_result r;
    test_email(email, size, "limit");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"" PASSWORD "\"}", email);
    assert_int_equal(call("POST", "/user/", xff, NULL, body, &r), 201);
    if (auth) {
        const char *k = strstr(r.body, "\"authKey\":\"");
        assert_non_null(k);
        snprintf(auth, asize, "Authorization: Bearer %.43s", k + 11);
    }
    test_http_result_free(&r);
}

static void logins_per_email_are_limited(void **state) {
    (void)state;
    char xff[96], email[128], body[256];
    struct http_result r;
    fresh_address(xff, sizeof(xff));
    register_user(xff, email, sizeof(email), NULL, 0);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"wrong password\"}", email);
    for (int i = 0; i < 3; i++) { /* each from another address: only the e-mail counts */
        fresh_address(xff, sizeof(xff));
        assert_int_equal(call("PUT", "/user/", xff, NULL, body, &r), 401);
        test_http_result_free(&r);
    }
    fresh_address(xff, sizeof(xff));
    call("PUT", "/user/", xff, NULL, body, &r);
    assert_limited(&r, 60);
    test_http_result_free(&r);
    /* the right password too, from an address that never logged in to it */
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"" PASSWORD "\"}", email);
    call("PUT", "/user/", xff, NULL, body, &r);
    assert_limited(&r, 60);
    test_http_result_free(&r);
    /* another user logs in meanwhile */
    char other[128];
    register_user(xff, other, sizeof(other), NULL, 0);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"" PASSWORD "\"}", other);
    assert_int_equal(call("PUT", "/user/", xff, NULL, body, &r), 200);
    test_http_result_free(&r);
}

/* Wrong passwords from strangers fill the e-mail's allowance, but an
 * address that logged in to the account before keeps an allowance of its
 * own: the owner is not locked out, and is still limited when guessing. */
static void a_known_address_is_not_locked_out(void **state) {
    (void)state;
    char home[96], xff[96], email[128], wrong[256], right[256];
    struct http_result r;
    fresh_address(home, sizeof(home));
    register_user(home, email, sizeof(email), NULL, 0); /* the owner's address is known */
    snprintf(wrong, sizeof(wrong), "{\"email\":\"%s\",\"password\":\"wrong password\"}", email);
    snprintf(right, sizeof(right), "{\"email\":\"%s\",\"password\":\"" PASSWORD "\"}", email);
    for (int i = 0; i < 4; i++) {
        fresh_address(xff, sizeof(xff));
        call("PUT", "/user/", xff, NULL, wrong, &r);
        if (i < 3) assert_int_equal(r.status, 401);
        else assert_limited(&r, 60);
        test_http_result_free(&r);
    }
    assert_int_equal(call("PUT", "/user/", home, NULL, right, &r), 200);
    test_http_result_free(&r);
    /* the owner's address is limited too, on its own count */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(call("PUT", "/user/", home, NULL, wrong, &r), 401);
        test_http_result_free(&r);
    }
    call("PUT", "/user/", home, NULL, wrong, &r);
    assert_limited(&r, 60);
    test_http_result_free(&r);
}

static void logins_per_address_are_limited(void **state) {
    (void)state;
    char xff[96], email[128], body[256];
    struct http_result r;
    fresh_address(xff, sizeof(xff));
    for (int i = 0; i < 6; i++) { /* six unknown e-mails from one address */
        test_email(email, sizeof(email), "nobody");
        snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"whatever1\"}", email);
        assert_int_equal(call("PUT", "/user/", xff, NULL, body, &r), 401);
        test_http_result_free(&r);
    }
    test_email(email, sizeof(email), "nobody");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"whatever1\"}", email);
    call("PUT", "/user/", xff, NULL, body, &r);
    assert_limited(&r, 60);
    test_http_result_free(&r);
    /* also what could never be an account counts against the address */
    call("PUT", "/user/", xff, NULL, "{\"email\":\"x\",\"password\":\"y\"}", &r);
    assert_limited(&r, 60);
    test_http_result_free(&r);
    fresh_address(xff, sizeof(xff));
    assert_int_equal(call("PUT", "/user/", xff, NULL, body, &r), 401);
    test_http_result_free(&r);
}

static void registrations_per_address_are_limited(void **state) {
    (void)state;
    char xff[96], email[128], body[256];
    struct http_result r;
    fresh_address(xff, sizeof(xff));
    register_user(xff, email, sizeof(email), NULL, 0);
    register_user(xff, email, sizeof(email), NULL, 0);
    test_email(email, sizeof(email), "limit");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"" PASSWORD "\"}", email);
    call("POST", "/user/", xff, NULL, body, &r);
    assert_limited(&r, 60);
    test_http_result_free(&r);
    fresh_address(xff, sizeof(xff));
    assert_int_equal(call("POST", "/user/", xff, NULL, body, &r), 201);
    test_http_result_free(&r);
}

static void messages_per_user_are_limited(void **state) {
    (void)state;
    char xff[96], email[128], auth[96], other_auth[96];
    struct http_result r;
    fresh_address(xff, sizeof(xff));
    register_user(xff, email, sizeof(email), auth, sizeof(auth));
    fresh_address(xff, sizeof(xff));
    register_user(xff, email, sizeof(email), other_auth, sizeof(other_auth));
    /* the window starts with the first send: the first three always pass */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(call("POST", "/message/", NULL, auth, "{\"text\":\"hi\"}", &r), 201);
        test_http_result_free(&r);
    }
    bool limited = false;
    for (int i = 0; i < 10 && !limited; i++) { /* a slow machine may see a new window */
        if (call("POST", "/message/", NULL, auth, "{\"text\":\"hi\"}", &r) == 429) {
            assert_limited(&r, 2);
            limited = true;
        } else {
            assert_int_equal(r.status, 201);
        }
        test_http_result_free(&r);
    }
    assert_true(limited);
    assert_int_equal(call("POST", "/message/", NULL, other_auth, "{\"text\":\"me\"}", &r), 201);
    test_http_result_free(&r);
}

/* POST /room/ {"name"} from xff with auth; the status (r is freed). */
static long create_room(const char *xff, const char *auth, const char **code) {
    static int n;
    char body[96];
    struct http_result r;
    snprintf(body, sizeof(body), "{\"name\":\"limited-%d-%d\"}", (int)getpid(), ++n);
    long status = call("POST", "/room/", xff, auth, body, &r);
    *code = status == 429 ? "rate_limited" : status == 403 ? "too_many_rooms" : "";
    if (**code) assert_true(test_is_error(r.body, *code));
    if (status == 429) assert_limited(&r, 60);
    test_http_result_free(&r);
    return status;
}

static void room_creation_is_limited_and_capped(void **state) {
    (void)state;
    char xff[96], other_xff[96], email[128], auth_a[96], auth_b[96];
    const char *code;
    fresh_address(xff, sizeof(xff));
    register_user(xff, email, sizeof(email), auth_a, sizeof(auth_a));
    fresh_address(xff, sizeof(xff));
    register_user(xff, email, sizeof(email), auth_b, sizeof(auth_b));
    fresh_address(xff, sizeof(xff));
    fresh_address(other_xff, sizeof(other_xff));
    assert_int_equal(create_room(xff, auth_a, &code), 201);
    assert_int_equal(create_room(xff, auth_a, &code), 201);
    assert_int_equal(create_room(xff, auth_a, &code), 403); /* the cap: 2 rooms per user */
    assert_int_equal(create_room(xff, auth_a, &code), 429); /* 3 creations per user */
    assert_int_equal(create_room(xff, auth_b, &code), 201); /* the fifth from this address */
    assert_int_equal(create_room(xff, auth_b, &code), 429); /* 5 per address */
    assert_int_equal(create_room(other_xff, auth_b, &code), 201);
}

/* The user id in a reply to POST /user/ (r), into id[33]. */
static void user_id_of(const struct http_result *r, char id[33]) {
    const char *k = strstr(r->body, "\"id\":\"");
    assert_non_null(k);
    snprintf(id, 33, "%.32s", k + 6);
}

/* POST /dm/ and invitations count per user: the third within the minute
 * gets 429 rate_limited, even for the same other user. */
static void conversations_and_invitations_are_limited(void **state) {
    (void)state;
    char xff[96], email[128], auth[96], other_email[128], body[256];
    struct http_result r;
    fresh_address(xff, sizeof(xff));
    register_user(xff, email, sizeof(email), auth, sizeof(auth));
    fresh_address(xff, sizeof(xff));
    test_email(other_email, sizeof(other_email), "limit");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"" PASSWORD "\"}",
             other_email);
    assert_int_equal(call("POST", "/user/", xff, NULL, body, &r), 201);
    char other_id[33];
    user_id_of(&r, other_id);
    test_http_result_free(&r);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", other_id);
    assert_int_equal(call("POST", "/dm/", NULL, auth, body, &r), 201);
    test_http_result_free(&r);
    assert_int_equal(call("POST", "/dm/", NULL, auth, body, &r), 200);
    test_http_result_free(&r);
    call("POST", "/dm/", NULL, auth, body, &r);
    assert_limited(&r, 60);
    test_http_result_free(&r);
    char room[64], path[128], create[128];
    snprintf(room, sizeof(room), "invites-%d", (int)getpid());
    snprintf(create, sizeof(create), "{\"name\":\"%s\",\"kind\":\"private\"}", room);
    assert_int_equal(call("POST", "/room/", xff, auth, create, &r), 201);
    test_http_result_free(&r);
    snprintf(path, sizeof(path), "/room/%s/member", room);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(call("POST", path, NULL, auth, body, &r), 200);
        test_http_result_free(&r);
    }
    call("POST", path, NULL, auth, body, &r);
    assert_limited(&r, 60);
    test_http_result_free(&r);
    /* other changes of membership are no invitations */
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"moderator\"}", other_id);
    assert_int_equal(call("PUT", path, NULL, auth, body, &r), 200);
    test_http_result_free(&r);
}

/* libchatclient meets the message limit: a send over it waits for the
 * Retry-After and is repeated; without a retry budget the 429 is the
 * caller's, as CHAT_ERR_RATE_LIMITED. */
static void client_waits_out_the_message_limit(void **state) {
    (void)state;
    char xff[96], email[128], auth[128];
    fresh_address(xff, sizeof(xff));
    register_user(xff, email, sizeof(email), auth, sizeof(auth));
    chat_client *c = chat_client_new(test_url());
    assert_non_null(c);
    assert_int_equal(chat_client_set_token(c, auth + strlen("Authorization: Bearer ")), CHAT_OK);
    chat_client_set_retry(c, 0);
    int rc = CHAT_OK;
    for (int i = 0; i < 10 && rc == CHAT_OK; i++) { /* 3 per window pass, then 429 */
        chat_message m;
        rc = chat_send(c, "no retry", &m);
        if (rc == CHAT_OK) chat_message_cleanup(&m);
    }
    assert_int_equal(rc, CHAT_ERR_RATE_LIMITED);
    assert_int_equal(chat_client_status(c), 429);
    assert_int_equal(chat_client_attempts(c), 1);
    chat_client_set_retry(c, 10000);
    unsigned retried = 0;
    for (int i = 0; i < 4; i++) { /* still limited at first: each send waits its turn */
        chat_message m;
        assert_int_equal(chat_send(c, "waits its turn", &m), CHAT_OK);
        chat_message_cleanup(&m);
        /* after the Retry-After, the window has passed: a second attempt
         * is enough (the 50 ms to 1 s backoff alone would take ~6) */
        assert_in_range(chat_client_attempts(c), 1, 2);
        if (chat_client_attempts(c) > 1) retried++;
    }
    assert_true(retried >= 1);
    chat_client_free(c);
}

/* Attempts on two chatd count together: the counters live in Redis. */
static void limits_are_shared_by_every_chatd(void **state) {
    (void)state;
    const char *second = getenv("CHAT_LIMITED2_URL");
    if (!second) skip();
    char xff[96], email[128], body[256];
    struct http_result r;
    fresh_address(xff, sizeof(xff));
    register_user(xff, email, sizeof(email), NULL, 0);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"wrong password\"}", email);
    char first[256], other[256];
    snprintf(first, sizeof(first), "%s", getenv("CHAT_URL"));
    snprintf(other, sizeof(other), "%s", second);
    const char *urls[] = {first, other, first, other};
    for (int i = 0; i < 4; i++) {
        setenv("CHAT_URL", urls[i], 1);
        fresh_address(xff, sizeof(xff));
        call("PUT", "/user/", xff, NULL, body, &r);
        if (i < 3) assert_int_equal(r.status, 401);
        else assert_limited(&r, 60);
        test_http_result_free(&r);
    }
    setenv("CHAT_URL", first, 1);
}

static void refusals_are_counted_in_metrics(void **state) {
    (void)state;
    struct http_result r;
    assert_int_equal(test_http("GET", "/metrics", NULL, NULL, 0, &r), 0);
    const char *names[] = {"login-email", "login-address", "register-address", "messages-user"};
    for (int i = 0; i < 4; i++) {
        char want[96];
        snprintf(want, sizeof(want), "chatd_rate_limited_total{limit=\"%s\"} ", names[i]);
        const char *line = strstr(r.body, want);
        if (!line || atoi(line + strlen(want)) < 1) fail_msg("no refusal counted: %s", want);
    }
    test_http_result_free(&r);
    assert_int_equal(test_http("GET", "/health", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    test_http_result_free(&r);
}

int main(void) {
    const char *limited = getenv("CHAT_LIMITED_URL");
    if (!limited) {
        printf("1..0 # SKIP CHAT_LIMITED_URL is not set\n");
        return 0;
    }
    setenv("CHAT_URL", limited, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logins_per_email_are_limited),
        cmocka_unit_test(a_known_address_is_not_locked_out),
        cmocka_unit_test(logins_per_address_are_limited),
        cmocka_unit_test(registrations_per_address_are_limited),
        cmocka_unit_test(messages_per_user_are_limited),
        cmocka_unit_test(room_creation_is_limited_and_capped),
        cmocka_unit_test(conversations_and_invitations_are_limited),
        cmocka_unit_test(client_waits_out_the_message_limit),
        cmocka_unit_test(limits_are_shared_by_every_chatd),
        cmocka_unit_test(refusals_are_counted_in_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
