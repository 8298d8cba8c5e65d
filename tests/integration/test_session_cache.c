/*
 * test_session_cache: the session cache across chatd on one Redis. Besides
 * the usual chatd (CHAT_URL, "A"), run.sh starts a second one with the
 * cache (CHAT_URL2, "B") and one without it (CHAT_NOCACHE_URL). A session
 * that B answers from memory ends on B as soon as A's announcement arrives
 * (B's invalidation counter is the event waited on): after a logout on A,
 * and after a password change on A for the user's other sessions. When B's
 * subscription is killed, B flushes its cache (counted), subscribes again
 * and keeps authenticating correctly. Without the cache every request
 * reads Redis, so a logout shows at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chatclient.h"
#include "sessionlib.h"
#include "testlib.h"

#define PASSWORD "correct horse battery"

static const char *url_b(void) { return getenv("CHAT_URL2"); }
static const char *url_nocache(void) { return getenv("CHAT_NOCACHE_URL"); }

static int group_setup(void **state) {
    (void)state;
    if (!url_b() || !url_nocache()) return -1;
    return session_wait_subscribed(url_b()) ? 0 : -1;
}

/* Registers a user on A; its token goes into token. */
static chat_client *new_user(const char *tag, chat_user *u, char token[128]) {
    chat_client *c = test_new_user(tag, u);
    assert_non_null(c);
    snprintf(token, 128, "%s", chat_client_token(c));
    return c;
}

static void logout_on_a_ends_the_session_on_b(void **state) {
    (void)state;
    char token[128];
    chat_client *a = new_user("cache-logout", NULL, token);
    session_assert_cached(url_b(), token);
    session_assert_logout_reaches(url_b(), a, token);
    chat_client_free(a);
}

static void password_change_on_a_ends_the_other_sessions_on_b(void **state) {
    (void)state;
    char token_a[128], token_b[128];
    chat_user u;
    chat_client *a = new_user("cache-pw", &u, token_a);
    chat_client *b = chat_client_new(test_url());
    assert_int_equal(chat_login(b, u.email, PASSWORD, NULL), CHAT_OK);
    snprintf(token_b, sizeof(token_b), "%s", chat_client_token(b));
    session_assert_cached(url_b(), token_b);
    session_assert_cached(url_b(), token_a);
    long long told = test_metric(url_b(), SESSION_INVALIDATIONS);
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token_a);
    const char *h[] = {"Content-Type: application/json", auth, NULL};
    const char *body = "{\"oldPassword\":\"" PASSWORD "\",\"newPassword\":\"a brand new secret\"}";
    struct http_result r;
    assert_int_equal(test_http("PUT", "/user/password", h, body, strlen(body), &r), 0);
    assert_int_equal(r.status, 204);
    test_http_result_free(&r);
    session_wait_metric_above(url_b(), SESSION_INVALIDATIONS, told);
    assert_int_equal(session_send(url_b(), token_b), 401);
    assert_int_equal(session_send(url_b(), token_a), 201); /* the session that changed it */
    chat_client_free(b);
    chat_client_free(a);
    chat_user_cleanup(&u);
}

/* Kills every subscriber connection of the test Redis. */
static void kill_subscribers(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d CLIENT KILL TYPE pubsub >/dev/null",
             test_redis_port());
    assert_int_equal(system(cmd), 0);
}

static void a_lost_subscription_flushes_and_sessions_still_authenticate(void **state) {
    (void)state;
    char token[128];
    chat_client *a = new_user("cache-flush", NULL, token);
    session_assert_cached(url_b(), token);
    long long flushes = test_metric(url_b(), "chatd_session_cache_flushes_total");
    kill_subscribers();
    session_wait_metric_above(url_b(), "chatd_session_cache_flushes_total", flushes);
    assert_true(session_wait_subscribed(url_b()));
    /* read from Redis again, then cached again; and a logout still reaches B */
    session_assert_cached(url_b(), token);
    session_assert_logout_reaches(url_b(), a, token);
    chat_client_free(a);
}

static void without_the_cache_every_request_reads_redis(void **state) {
    (void)state;
    char token[128];
    chat_client *a = new_user("no-cache", NULL, token);
    assert_int_equal(session_send(url_nocache(), token), 201);
    assert_int_equal(session_send(url_nocache(), token), 201);
    assert_int_equal(test_metric(url_nocache(), "chatd_session_cache_hits_total"), 0);
    assert_int_equal(test_metric(url_nocache(), "chatd_session_cache_entries"), 0);
    /* it still hears of ended sessions, for its open streams (session_streams.h) */
    assert_true(session_wait_subscribed(url_nocache()));
    assert_int_equal(chat_logout(a), CHAT_OK);
    assert_int_equal(session_send(url_nocache(), token), 401); /* no waiting needed */
    chat_client_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logout_on_a_ends_the_session_on_b),
        cmocka_unit_test(password_change_on_a_ends_the_other_sessions_on_b),
        cmocka_unit_test(a_lost_subscription_flushes_and_sessions_still_authenticate),
        cmocka_unit_test(without_the_cache_every_request_reads_redis),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
