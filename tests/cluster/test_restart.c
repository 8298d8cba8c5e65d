/*
 * test_restart: a crash, a stop and a start, again and again. Each round
 * sends messages, kills the lobby's master with kill -9, waits for its
 * replica's promotion and sends more (through the promoted master), stops
 * the whole cluster and starts it again with scripts/cluster. The killed
 * node comes back as a replica and loads a full copy from its new master
 * while the others start, and "up" must wait for it instead of giving up.
 * After every start, the history holds every acknowledged message once, in
 * order.
 *
 * CLUSTER_RESTART_ROUNDS sets the number of rounds (default 10; run.sh
 * runs one under the sanitizers, where the other suites cover the code).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatclient.h"
#include "clusterlib.h"
#include "testlib.h"

#define LOBBY_KEY "room:{lobby}:messages"
#define MAX_ROUNDS 50
#define BEFORE_KILL 8  /* messages sent in a round before the crash */
#define AFTER_KILL 4   /* and after the promotion */
#define MAX_SENT (MAX_ROUNDS * (BEFORE_KILL + AFTER_KILL))

struct sent {
    char ids[MAX_SENT][48]; /* acknowledged ids, in order */
    int n;
};

static int rounds(void) {
    const char *r = getenv("CLUSTER_RESTART_ROUNDS");
    int n = r ? atoi(r) : 10;
    return n < 1 ? 1 : n > MAX_ROUNDS ? MAX_ROUNDS : n;
}

static void send_some(chat_client *c, struct sent *s, int round, int count) {
    for (int i = 0; i < count; i++) {
        char text[48];
        chat_message m;
        snprintf(text, sizeof(text), "restart %d.%d", round, s->n);
        assert_int_equal(chat_send(c, text, &m), CHAT_OK); /* retried through the outage */
        snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", m.id);
        chat_message_cleanup(&m);
    }
}

/* Every acknowledged message once, in order, and nothing else. */
static void check_history(chat_client *c, const char *marker, const struct sent *s) {
    chat_message_list all;
    assert_int_equal(chat_history(c, marker, 0, &all), CHAT_OK);
    assert_int_equal(all.count, s->n);
    for (int i = 0; i < s->n; i++) assert_string_equal(all.items[i].id, s->ids[i]);
    chat_message_list_cleanup(&all);
}

static void crash_stop_start_keeps_every_message(void **state) {
    (void)state;
    static struct sent s;
    chat_user u;
    chat_client *c = test_new_user("restart", &u);
    assert_non_null(c);
    chat_client_set_retry(c, 60000);
    chat_message m;
    assert_int_equal(chat_send(c, "restart marker", &m), CHAT_OK);
    char marker[48], out[256];
    snprintf(marker, sizeof(marker), "%s", m.id);
    chat_message_cleanup(&m);
    int n = rounds();
    double start = test_now_ms();
    for (int round = 1; round <= n; round++) {
        send_some(c, &s, round, BEFORE_KILL);
        assert_int_equal(cl_cluster(out, sizeof(out), "kill-master"), 0);
        int dead = atoi(out);
        assert_true(cl_wait_promotion(LOBBY_KEY, dead) > 0);
        send_some(c, &s, round, AFTER_KILL);
        assert_int_equal(cl_cluster(out, sizeof(out), "down"), 0);
        if (cl_cluster(out, sizeof(out), "up") != 0) fail_msg("round %d: the cluster did not come back", round);
        check_history(c, marker, &s);
    }
    printf("# %d rounds of kill -9 of the lobby's master, stop and start: all %d acknowledged "
           "messages there after each (%.1f s per round)\n",
           n, s.n, (test_now_ms() - start) / 1000 / n);
    chat_user_cleanup(&u);
    chat_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crash_stop_start_keeps_every_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
