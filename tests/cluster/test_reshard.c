/*
 * test_reshard: a live migration of the slot that holds the lobby's stream
 * (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE) while a client
 * keeps sending without retries of its own: chatd follows ASK and MOVED and
 * retries TRYAGAIN, and no request fails.
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
#include "clusterlib.h"
#include "testlib.h"

#define LOBBY_KEY "room:{lobby}:messages"
#define SENDS 1500

struct sender {
    chat_client *client;
    char marker[48];            /* id of the message sent before the others */
    pthread_mutex_t lock;
    pthread_cond_t progress;
    int sent;                   /* sends finished so far */
    int failures;               /* sends that did not return CHAT_OK */
    char first_error[256];
};

static void *send_all(void *arg) {
    struct sender *s = arg;
    for (int i = 0; i < SENDS; i++) {
        char text[32];
        snprintf(text, sizeof(text), "reshard %d", i);
        int rc = chat_send(s->client, text, NULL);
        if (rc != CHAT_OK && s->failures++ == 0)
            snprintf(s->first_error, sizeof(s->first_error), "send %d: %s (%d)", i,
                     chat_client_error(s->client), chat_client_status(s->client));
        pthread_mutex_lock(&s->lock);
        s->sent++;
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

static void read_one(chat_client *reader, const char *after) {
    chat_message_list page;
    assert_int_equal(chat_history(reader, after, 1, &page), CHAT_OK);
    assert_int_equal(page.count, 1);
    chat_message_list_cleanup(&page);
}

static void live_resharding_loses_no_request(void **state) {
    (void)state;
    static struct sender s;
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.progress, NULL);
    s.client = test_new_user("reshard", NULL);
    assert_non_null(s.client);
    chat_client_set_retry(s.client, 0); /* every failure would show */
    chat_message m;
    assert_int_equal(chat_send(s.client, "reshard marker", &m), CHAT_OK);
    snprintf(s.marker, sizeof(s.marker), "%s", m.id);
    chat_message_cleanup(&m);
    long long moved0 = cl_metric("chatd_redis_redirects_total{kind=\"moved\"}");
    long long ask0 = cl_metric("chatd_redis_redirects_total{kind=\"ask\"}");

    char slot[16], args[128], out[512];
    assert_int_equal(cl_sh(slot, sizeof(slot), "redis-cli -p %s cluster keyslot '%s'",
                           getenv("CLUSTER_PORT_BASE"), LOBBY_KEY), 0);
    int src = cl_master_of(LOBBY_KEY), dst;
    snprintf(args, sizeof(args), "other-master %d", src);
    assert_int_equal(cl_slot_tool(out, sizeof(out), args), 0);
    dst = atoi(out);
    assert_true(src > 0 && dst > 0 && src != dst);

    pthread_t t;
    pthread_create(&t, NULL, send_all, &s);
    wait_sent(&s, SENDS / 3);
    snprintf(args, sizeof(args), "migrate-begin %s %d %d", slot, src, dst);
    assert_int_equal(cl_slot_tool(out, sizeof(out), args), 0);
    /* the stream has moved but the slot is not handed over: a read is ASKed */
    chat_client *reader = chat_client_new(test_url()); /* a client is not thread-safe */
    chat_client_set_retry(reader, 0);
    read_one(reader, s.marker);
    snprintf(args, sizeof(args), "migrate-finish %s %d", slot, dst);
    assert_int_equal(cl_slot_tool(out, sizeof(out), args), 0);
    read_one(reader, s.marker); /* chatd still sends it to the old owner: MOVED */
    chat_client_free(reader);
    pthread_join(t, NULL);
    if (s.failures) fail_msg("%d sends failed; first: %s", s.failures, s.first_error);
    assert_int_equal(cl_master_of(LOBBY_KEY), dst);

    long long moved = cl_metric("chatd_redis_redirects_total{kind=\"moved\"}") - moved0;
    long long ask = cl_metric("chatd_redis_redirects_total{kind=\"ask\"}") - ask0;
    printf("# slot %s moved %d -> %d during %d sends: %lld MOVED, %lld ASK followed\n", slot, src,
           dst, SENDS, moved, ask);
    assert_true(moved >= 1);
    assert_true(ask >= 1);

    chat_message_list all;
    assert_int_equal(chat_history(s.client, s.marker, 0, &all), CHAT_OK);
    assert_int_equal(all.count, SENDS);
    for (size_t i = 0; i < all.count; i++) {
        char text[32];
        snprintf(text, sizeof(text), "reshard %zu", i);
        assert_string_equal(all.items[i].text, text);
    }
    chat_message_list_cleanup(&all);
    chat_client_free(s.client);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(live_resharding_loses_no_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
