/*
 * test_failover: kill -9 the master that holds the lobby's stream while the
 * client library keeps sending (retrying with the same client message id).
 * Every acknowledged message must be in the history exactly once and in
 * order, and reach a live subscriber exactly once and in order (its chatd's
 * reader follows the stream onto the promoted replica); sessions on the
 * healthy masters are served right after the kill, and GET /ready answers
 * 200; the test prints whether that came before the promotion, how long
 * sends stalled and how far the first acknowledgement after the stall
 * trailed the promotion. Then the whole cluster is stopped and
 * started again, and the history is still complete (append-only files).
 *
 * The test restarts the killed node as soon as the promotion is seen, as a
 * supervisor would. Until it is back as the promoted master's replica, that
 * master has no healthy replica and chatd acknowledges its writes without
 * one (docs/STORAGE.md, "Writes wait for replicas").
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chatclient.h"
#include "clusterlib.h"
#include "sse_client.h"
#include "testlib.h"

#define LOBBY_KEY "room:{lobby}:messages"
#define SENDS 3000
#define SESSIONS 12
#define PASSWORD "correct horse battery"

struct sender {
    chat_client *client;
    pthread_mutex_t lock;
    pthread_cond_t progress;
    int sent;                  /* sends finished */
    int results[SENDS];        /* CHAT_OK or the error */
    char ids[SENDS][48];       /* acknowledged ids */
    double done_ms[SENDS];     /* when each send finished */
    unsigned retried;          /* sends that needed more than one attempt */
};

static void *send_all(void *arg) {
    struct sender *s = arg;
    for (int i = 0; i < SENDS; i++) {
        char text[32];
        chat_message m;
        snprintf(text, sizeof(text), "failover %d", i);
        int rc = chat_send(s->client, text, &m);
        if (rc == CHAT_OK) snprintf(s->ids[i], sizeof(s->ids[i]), "%s", m.id);
        chat_message_cleanup(&m);
        pthread_mutex_lock(&s->lock);
        s->results[i] = rc;
        s->done_ms[i] = test_now_ms();
        s->retried += chat_client_attempts(s->client) > 1;
        s->sent = i + 1;
        pthread_cond_broadcast(&s->progress);
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

static void wait_sent(struct sender *s, int n) {
    pthread_mutex_lock(&s->lock);
    while (s->sent < n) pthread_cond_wait(&s->progress, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

/* Sessions whose keys live on masters other than the lobby's. */
struct probe {
    chat_client *client[SESSIONS];
    int master[SESSIONS];
};

static void make_sessions(struct probe *p, const char *email) {
    for (int i = 0; i < SESSIONS; i++) {
        p->client[i] = chat_client_new(test_url());
        assert_int_equal(chat_login(p->client[i], email, PASSWORD, NULL), CHAT_OK);
        char hash[80], key[96];
        assert_int_equal(cl_sh(hash, sizeof(hash), "printf %%s '%s' | sha256sum | cut -c1-64",
                               chat_client_token(p->client[i])), 0);
        snprintf(key, sizeof(key), "session:%s", hash);
        p->master[i] = cl_master_of(key);
        assert_true(p->master[i] > 0);
    }
}

/* GET /user/ with every session on a healthy master; returns how many. */
static int probe_healthy_sessions(struct probe *p, int dead_master) {
    int probed = 0;
    for (int i = 0; i < SESSIONS; i++) {
        if (p->master[i] == dead_master) continue;
        char cookie[128];
        snprintf(cookie, sizeof(cookie), "Cookie: authKey=%s", chat_client_token(p->client[i]));
        const char *h[] = {cookie, NULL};
        struct http_result r;
        test_http("GET", "/user/", h, NULL, 0, &r);
        assert_int_equal(r.status, 200);
        test_http_result_free(&r);
        probed++;
    }
    return probed;
}

/* The status of GET /ready. */
static long ready_status(void) {
    struct http_result r;
    test_http("GET", "/ready", NULL, NULL, 0, &r);
    long status = r.status;
    test_http_result_free(&r);
    return status;
}

static void check_history(chat_client *c, const char *marker, struct sender *s) {
    chat_message_list all;
    assert_int_equal(chat_history(c, marker, 0, &all), CHAT_OK);
    size_t k = 0;
    for (int i = 0; i < SENDS; i++) {
        if (s->results[i] != CHAT_OK) continue;
        char text[32];
        snprintf(text, sizeof(text), "failover %d", i);
        if (k >= all.count) fail_msg("acknowledged message %d is missing", i);
        assert_string_equal(all.items[k].text, text); /* once, in order */
        assert_string_equal(all.items[k].id, s->ids[i]);
        k++;
    }
    assert_int_equal(k, all.count); /* nothing else, no duplicate */
    chat_message_list_cleanup(&all);
}

/* The live subscriber got every acknowledged message once, in order. One
 * exception is allowed and reported, as docs/STORAGE.md describes it: a
 * write the killed master took and the stream delivered before it was
 * replicated, lost with the master; chatd's resend stored it again under
 * the id that was acknowledged, which must follow. check_history has shown
 * that the lost write is not in the history. */
static void check_subscriber(struct sse_client *live, struct sender *s) {
    char id[48], data[512], want[64];
    size_t e = 0; /* the next event */
    int lost = 0;
    for (int i = 0; i < SENDS; e++) {
        assert_true(sse_wait_events(live, e + 1, 30000));
        assert_true(sse_get(live, e, id, data, sizeof(data)));
        snprintf(want, sizeof(want), "\"text\":\"failover %d\"", i);
        if (!strstr(data, want)) fail_msg("live event %zu: want %s, got %.100s", e, want, data);
        if (strcmp(id, s->ids[i]) != 0 && lost++ == 0) {
            printf("# the stream delivered %s, a write of message %d lost with the master; "
                   "it was acknowledged as %s\n", id, i, s->ids[i]);
            continue;
        }
        assert_string_equal(id, s->ids[i]);
        i++;
    }
    assert_false(sse_wait_events(live, e + 1, 200)); /* nothing twice */
    printf("# a live subscriber got all %d messages once, in order, across the failover "
           "(and %d write lost with the master)\n", SENDS, lost);
}

static void failover_and_restart_lose_nothing_acknowledged(void **state) {
    (void)state;
    static struct sender s;
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.progress, NULL);
    chat_user u;
    s.client = test_new_user("failover", &u);
    assert_non_null(s.client);
    chat_client_set_retry(s.client, 60000);
    struct probe p;
    make_sessions(&p, u.email);
    chat_message m;
    assert_int_equal(chat_send(s.client, "failover marker", &m), CHAT_OK);
    char marker[48];
    snprintf(marker, sizeof(marker), "%s", m.id);
    chat_message_cleanup(&m);

    char url[256];
    snprintf(url, sizeof(url), "%s/message/stream", test_url());
    struct sse_client *live = sse_open(url, marker); /* everything after the marker */
    pthread_t t;
    pthread_create(&t, NULL, send_all, &s);
    wait_sent(&s, SENDS / 5);
    char out[256];
    double kill_ms = test_now_ms();
    assert_int_equal(cl_cluster(out, sizeof(out), "kill-master"), 0);
    int dead = atoi(out);
    int probed = probe_healthy_sessions(&p, dead);
    double probed_ms = test_now_ms() - kill_ms;
    /* one failed master leaves chatd ready: a load balancer keeps it */
    bool ready_during_failover = ready_status() == 200;
    /* whether the probes and /ready above came before the promotion (no
     * other master serves the lobby yet; -1: the killed one is marked
     * failing): a figure, as a slow machine may see the promotion first */
    int owner = cl_master_of(LOBBY_KEY);
    bool before_promotion = owner == dead || owner < 0;
    assert_true(cl_wait_promotion(LOBBY_KEY, dead) > 0);
    double promoted_ms = test_now_ms() - kill_ms;
    assert_int_equal(cl_cluster(out, sizeof(out), "up"), 0); /* the killed node returns */
    double back_ms = test_now_ms() - kill_ms;
    pthread_join(t, NULL);

    int ok = 0;
    double window = 0, back = 0; /* the longest stall, and when it ended */
    for (int i = 0; i < SENDS; i++) {
        ok += s.results[i] == CHAT_OK;
        if (i > 0 && s.done_ms[i] - s.done_ms[i - 1] > window) {
            window = s.done_ms[i] - s.done_ms[i - 1];
            back = s.done_ms[i] - kill_ms;
        }
    }
    printf("# killed master %d; %d sessions on healthy masters served within %.0f ms; replica "
           "promoted after %.0f ms; old master back as replica after %.0f ms\n",
           dead, probed, probed_ms, promoted_ms, back_ms);
    printf("# %d/%d sends acknowledged, %u needed retries; longest stall between two "
           "acknowledgements %.0f ms (cluster-node-timeout %d ms)\n",
           ok, SENDS, s.retried, window, cl_node_timeout_ms());
    /* a figure, not a bound: the poll above runs every 20 ms and may see
     * the promotion after chatd does (a negative lag) */
    printf("# first acknowledgement after the stall %.0f ms after the kill: %.0f ms after the "
           "promotion was seen on a surviving node\n",
           back, back - promoted_ms);
    assert_int_equal(ok, SENDS);      /* the library's retries hide the failover */
    assert_true(probed > 0);
    printf("# the probes and GET /ready came %s the promotion\n",
           before_promotion ? "before" : "after");
    assert_true(ready_during_failover);
    assert_true(window < back_ms + 2000);
    check_history(s.client, marker, &s);
    check_subscriber(live, &s);
    sse_close(live);

    /* all six nodes down and up again: the append-only files keep everything */
    assert_int_equal(cl_cluster(out, sizeof(out), "restart"), 0);
    check_history(s.client, marker, &s); /* the library retries while chatd reconnects */
    for (int i = 0; i < SESSIONS; i++) chat_client_free(p.client[i]);
    chat_user_cleanup(&u);
    chat_client_free(s.client);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failover_and_restart_lose_nothing_acknowledged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
