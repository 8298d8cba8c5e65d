/*
 * test_sessions: the session cache on the cluster, with two chatd (CHAT_URL,
 * "A", and CHAT_URL2, "B"). A's announcement of an ended session goes to
 * the master of the channel's slot; B's subscriber is made to sit on
 * another node (subscribers there are killed until none is left, and the
 * chatd move on), so the announcement reaches B over the cluster bus. A
 * session B answers from memory then ends on B when A logs it out. The
 * suite's third and fourth chatd (CHAT_URL3, test_rooms'; CHAT_URL4, the
 * server API's) have a subscriber too, which the kills may hit as well.
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
#include "clusterlib.h"
#include "sessionlib.h"
#include "store_keys.h"
#include "testlib.h"

#define MOVES 12 /* kills of the subscribers on the channel's node, at most */

static const char *url_b(void) { return getenv("CHAT_URL2"); }

/* Subscriber connections open on the node at port. */
static int subscribers_on(int port) {
    char out[32];
    assert_int_equal(cl_sh(out, sizeof(out), "redis-cli -p %d client list type pubsub | wc -l",
                           port),
                     0);
    return atoi(out);
}

/* The suite's chatd: A, B and the third and fourth when there are;
 * returns how many. */
static int suite_chatd(const char *urls[4]) {
    int n = 0;
    urls[n++] = test_url();
    urls[n++] = url_b();
    if (getenv("CHAT_URL3")) urls[n++] = getenv("CHAT_URL3");
    if (getenv("CHAT_URL4")) urls[n++] = getenv("CHAT_URL4");
    return n;
}

/* Flushes counted by all the suite's chatd: one per subscription lost. */
static long long flushes_of_all(void) {
    const char *urls[4];
    long long sum = 0;
    for (int i = 0, n = suite_chatd(urls); i < n; i++)
        sum += test_metric(urls[i], "chatd_session_cache_flushes_total");
    return sum;
}

/* Until no subscriber is left on the node at port: kills them there, waits
 * until the chatd concerned noticed (their flush counters) and until all
 * are subscribed again (each on its next node). */
static void move_subscribers_off(int port) {
    for (int i = 0; i < MOVES && subscribers_on(port) > 0; i++) {
        long long before = flushes_of_all();
        char out[32];
        assert_int_equal(cl_sh(out, sizeof(out), "redis-cli -p %d client kill type pubsub", port),
                         0);
        double start = test_now_ms();
        while (flushes_of_all() < before + atoi(out)) {
            assert_true(test_now_ms() - start < 20000);
            struct timespec ts = {0, 10000000}; /* between two readings of the counters */
            nanosleep(&ts, NULL);
        }
        const char *urls[4];
        for (int c = 0, n = suite_chatd(urls); c < n; c++)
            assert_true(session_wait_subscribed(urls[c]));
    }
    assert_int_equal(subscribers_on(port), 0);
}

static void logout_on_a_reaches_b_over_the_cluster_bus(void **state) {
    (void)state;
    assert_non_null(url_b());
    assert_true(session_wait_subscribed(test_url()));
    assert_true(session_wait_subscribed(url_b()));
    int publish_node = cl_master_of(STORE_CHANNEL_SESSIONS_ENDED);
    assert_true(publish_node > 0);
    move_subscribers_off(publish_node);
    printf("# announcements go to %d, no subscriber there\n", publish_node);

    chat_client *a = test_new_user("cluster-cache", NULL);
    assert_non_null(a);
    char token[128];
    snprintf(token, sizeof(token), "%s", chat_client_token(a));
    session_assert_cached(url_b(), token);
    session_assert_logout_reaches(url_b(), a, token);
    chat_client_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logout_on_a_reaches_b_over_the_cluster_bus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
