/*
 * test_login_storm: Argon2id runs on the worker pool, so a storm of logins
 * does not stall the event loop. The baseline is one login measured alone in
 * the same run (one hash); during a storm of concurrent logins the median
 * GET /health must answer in less than half that, which a loop busy hashing
 * could not do (every probe would wait for a hash). The median, not the
 * slowest: one probe may meet a scheduling hiccup on a loaded machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatclient.h"
#include "testlib.h"

#define STORM 16
#define MAX_PROBES 100000
#define PASSWORD "correct horse battery"

static char email[128];
static double probe_ms[MAX_PROBES];

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *login_once(void *arg) {
    int *result = arg;
    chat_client *c = chat_client_new(test_url());
    chat_client_set_timeout(c, 60000);
    *result = chat_login(c, email, PASSWORD, NULL);
    chat_client_free(c);
    return NULL;
}

static void login_storm_does_not_stall_health(void **state) {
    (void)state;
    chat_user u;
    chat_client *c = test_new_user("storm", &u);
    assert_non_null(c);
    snprintf(email, sizeof(email), "%s", u.email);
    chat_user_cleanup(&u);
    double t0 = test_now_ms();
    assert_int_equal(chat_login(c, email, PASSWORD, NULL), CHAT_OK);
    double one_login = test_now_ms() - t0;
    chat_client_free(c);

    pthread_t t[STORM];
    int results[STORM];
    for (int i = 0; i < STORM; i++) pthread_create(&t[i], NULL, login_once, &results[i]);
    /* measure /health while the logins queue up on the workers */
    double worst = 0;
    int probes = 0;
    double storm_start = test_now_ms();
    while (test_now_ms() - storm_start < one_login * STORM / 4 && probes < MAX_PROBES) {
        struct http_result r;
        double s = test_now_ms();
        test_http("GET", "/health", NULL, NULL, 0, &r);
        double took = test_now_ms() - s;
        assert_int_equal(r.status, 200);
        test_http_result_free(&r);
        if (took > worst) worst = took;
        probe_ms[probes++] = took;
    }
    for (int i = 0; i < STORM; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(results[i], CHAT_OK);
    }
    qsort(probe_ms, (size_t)probes, sizeof(probe_ms[0]), by_value);
    double median = probes ? probe_ms[probes / 2] : 0;
    printf("# one login %.1f ms; %d /health probes during %d logins, median %.2f ms, "
           "slowest %.1f ms\n", one_login, probes, STORM, median, worst);
    assert_true(probes >= 5);
    assert_true(median < one_login / 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(login_storm_does_not_stall_health),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
