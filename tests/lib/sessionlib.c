/* sessionlib: sends, cache checks and metric waits for the session cache tests. */
#include "sessionlib.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chatclient.h"
#include "testlib.h"

#define WAIT_MS 20000

long session_send(const char *base, const char *token) {
    char cookie[160];
    snprintf(cookie, sizeof(cookie), "Cookie: authKey=%s", token);
    const char *h[] = {"Content-Type: application/json", cookie, NULL};
    const char *body = "{\"text\":\"through the session cache\"}";
    struct http_result r;
    assert_int_equal(test_http_at(base, "POST", "/message/", h, body, strlen(body), &r), 0);
    long status = r.status;
    test_http_result_free(&r);
    return status;
}

void session_assert_cached(const char *base, const char *token) {
    assert_int_equal(session_send(base, token), 201);
    long long hits = test_metric(base, "chatd_session_cache_hits_total");
    assert_int_equal(session_send(base, token), 201);
    assert_true(test_metric(base, "chatd_session_cache_hits_total") > hits);
}

/* Polls until base's sample exceeds value; false after WAIT_MS. */
static bool poll_metric_above(const char *base, const char *sample, long long value) {
    double start = test_now_ms();
    while (test_metric(base, sample) <= value) {
        if (test_now_ms() - start > WAIT_MS) return false;
        struct timespec ts = {0, 10000000}; /* between two readings of the event counter */
        nanosleep(&ts, NULL);
    }
    return true;
}

void session_wait_metric_above(const char *base, const char *sample, long long value) {
    if (!poll_metric_above(base, sample, value))
        fail_msg("%s of %s stayed at %lld or below", sample, base, value);
}

bool session_wait_subscribed(const char *base) {
    return poll_metric_above(base, "chatd_session_events_subscribed", 0);
}

void session_assert_logout_reaches(const char *base, chat_client *client, const char *token) {
    long long told = test_metric(base, SESSION_INVALIDATIONS);
    assert_int_equal(chat_logout(client), CHAT_OK);
    session_wait_metric_above(base, SESSION_INVALIDATIONS, told);
    assert_int_equal(session_send(base, token), 401);
}
