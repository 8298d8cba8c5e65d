/*
 * test_hang: the lobby's master stops answering without closing its
 * connections (SIGSTOP: a hung or vanished host, which resets nothing)
 * while a client keeps sending. chatd must notice the silence, learn of
 * the promoted replica and resend there; every send succeeds (the library
 * retries) and every acknowledged message is in the history once, in
 * order. The test prints how far the first acknowledgement after the stall
 * trailed the promotion: chatd runs with --redis-timeout 5000 here, the
 * bound after which it would drop the silent connection by itself.
 * At the end the node gets SIGCONT and rejoins as a replica.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chatclient.h"
#include "clusterlib.h"
#include "testlib.h"

#define LOBBY_KEY "room:{lobby}:messages"
#define MAX_SENDS 20000
#define AFTER_PROMOTION 20 /* acknowledgements wanted after the promotion */

struct sender {
    chat_client *client;
    atomic_bool stop;
    atomic_int sent;           /* sends finished */
    int results[MAX_SENDS];    /* CHAT_OK or the error */
    char ids[MAX_SENDS][48];   /* acknowledged ids */
    double done_ms[MAX_SENDS]; /* when each send finished */
};

static void *send_until_stopped(void *arg) {
    struct sender *s = arg;
    for (int i = 0; i < MAX_SENDS && !atomic_load(&s->stop); i++) {
        char text[32];
        chat_message m;
        snprintf(text, sizeof(text), "hang %d", i);
        s->results[i] = chat_send(s->client, text, &m);
        if (s->results[i] == CHAT_OK) snprintf(s->ids[i], sizeof(s->ids[i]), "%s", m.id);
        chat_message_cleanup(&m);
        s->done_ms[i] = test_now_ms();
        atomic_store(&s->sent, i + 1);
    }
    return NULL;
}

/* Waits (polling, at most 120 s) until the sender finished n sends. */
static void wait_sent(struct sender *s, int n) {
    double start = test_now_ms();
    while (atomic_load(&s->sent) < n) {
        assert_true(test_now_ms() - start < 120000);
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
}

static void check_history(chat_client *c, const char *marker, const struct sender *s, int n) {
    chat_message_list all;
    assert_int_equal(chat_history(c, marker, 0, &all), CHAT_OK);
    assert_int_equal(all.count, n);
    for (int i = 0; i < n; i++) assert_string_equal(all.items[i].id, s->ids[i]);
    chat_message_list_cleanup(&all);
}

static void a_silent_master_is_left_for_its_replica(void **state) {
    (void)state;
    static struct sender s;
    chat_user u;
    s.client = test_new_user("hang", &u);
    assert_non_null(s.client);
    chat_client_set_retry(s.client, 60000);
    chat_message m;
    assert_int_equal(chat_send(s.client, "hang marker", &m), CHAT_OK);
    char marker[48], pid[32];
    snprintf(marker, sizeof(marker), "%s", m.id);
    chat_message_cleanup(&m);
    int dead = cl_master_of(LOBBY_KEY);
    assert_true(dead > 0);
    assert_int_equal(cl_sh(pid, sizeof(pid), "cat \"$CLUSTERCHAT_STATE/cluster/%d/redis.pid\"", dead), 0);

    pthread_t t;
    pthread_create(&t, NULL, send_until_stopped, &s);
    wait_sent(&s, 50);
    double stop_ms = test_now_ms();
    assert_int_equal(cl_sh(NULL, 0, "kill -STOP %d", atoi(pid)), 0);
    assert_true(cl_wait_promotion(LOBBY_KEY, dead) > 0);
    double promoted_ms = test_now_ms() - stop_ms;
    wait_sent(&s, atomic_load(&s.sent) + AFTER_PROMOTION);
    atomic_store(&s.stop, true);
    pthread_join(t, NULL);
    assert_int_equal(cl_sh(NULL, 0, "kill -CONT %d", atoi(pid)), 0);

    int n = atomic_load(&s.sent);
    double window = 0, back = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(s.results[i], CHAT_OK); /* the library's retries hide it */
        if (i > 0 && s.done_ms[i] - s.done_ms[i - 1] > window) {
            window = s.done_ms[i] - s.done_ms[i - 1];
            back = s.done_ms[i] - stop_ms;
        }
    }
    printf("# master %d stopped (SIGSTOP); replica promoted after %.0f ms; first acknowledgement "
           "after the stall %.0f ms after the stop, %.0f ms after the promotion was seen "
           "(cluster-node-timeout %d ms)\n",
           dead, promoted_ms, back, back - promoted_ms, cl_node_timeout_ms());
    check_history(s.client, marker, &s, n);
    char out[256];
    assert_int_equal(cl_cluster(out, sizeof(out), "up"), 0); /* back as a replica, in sync */
    chat_user_cleanup(&u);
    chat_client_free(s.client);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_silent_master_is_left_for_its_replica),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
