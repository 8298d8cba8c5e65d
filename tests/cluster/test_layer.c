/*
 * test_layer: the cluster layer itself (src/cluster.c) on the real cluster,
 * for what chatd's routes do not use yet: a blocking command (XREAD BLOCK)
 * on its own connection wakes up when another connection writes, and a
 * blocking command that outlives its time bound gets reply == NULL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define KEY "room:{layer-test}:messages"

struct outcome {
    struct event_base *base;
    int calls;          /* callbacks seen */
    int want;           /* stop the loop after this many */
    bool got_entry;     /* the XREAD reply carried our entry */
    bool got_null;      /* a callback had reply == NULL */
};

static void on_xread(struct redisReply *r, void *arg) {
    struct outcome *o = arg;
    o->calls++;
    if (!r) o->got_null = true;
    else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) o->got_entry = true;
    if (o->calls == o->want) event_base_loopbreak(o->base);
}

static void on_xadd(struct redisReply *r, void *arg) {
    struct outcome *o = arg;
    o->calls++;
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    if (o->calls == o->want) event_base_loopbreak(o->base);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what, (void)arg;
    fail_msg("the test's watchdog fired: no callback within 20 s");
}

static struct cluster *layer(struct event_base *base) {
    char seeds[64], err[256] = "";
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%s", getenv("CLUSTER_PORT_BASE"));
    struct cluster_options opts = {seeds, 5000, -1, 1000, 5000, {NULL, NULL}};
    struct cluster *c = cluster_new(base, &opts, err);
    if (!c) fail_msg("cluster_new: %s", err);
    return c;
}

static struct event *watchdog(struct event_base *base) {
    struct event *ev = evtimer_new(base, on_watchdog, NULL);
    struct timeval tv = {20, 0};
    evtimer_add(ev, &tv);
    return ev;
}

/* After the first entry: read from its id (blocking), and add a second. */
static char first_id[64];

static void on_first_xadd(struct redisReply *r, void *arg) {
    assert_non_null(r);
    snprintf(first_id, sizeof(first_id), "%s", r->str);
    event_base_loopbreak(((struct outcome *)arg)->base);
}

static void blocking_read_wakes_on_a_write(void **state) {
    (void)state;
    struct event_base *base = event_base_new();
    struct event *dog = watchdog(base);
    struct cluster *c = layer(base);
    struct outcome o = {.base = base, .want = 2};
    const char *first[] = {"XADD", KEY, "*", "text", "first"};
    assert_int_equal(cluster_command_durable(c, KEY, strlen(KEY), on_first_xadd, &o, 5, first,
                                             NULL), 0);
    event_base_dispatch(base);
    /* whether the read blocks before the write or finds it at once, it must
     * return exactly the entry after first_id */
    const char *xread[] = {"XREAD", "BLOCK", "10000", "STREAMS", KEY, first_id};
    assert_int_equal(cluster_command_blocking(c, KEY, strlen(KEY), 15000, on_xread, &o, 6, xread,
                                              NULL), 0);
    const char *xadd[] = {"XADD", KEY, "*", "text", "wake up"};
    assert_int_equal(cluster_command_durable(c, KEY, strlen(KEY), on_xadd, &o, 5, xadd, NULL), 0);
    event_base_dispatch(base); /* until both answered */
    assert_true(o.got_entry); /* the blocked read did not hold up the write */
    assert_int_equal(o.calls, 2);
    cluster_free(c);
    event_free(dog);
    event_base_free(base);
}

static void blocking_read_past_its_bound_gets_null(void **state) {
    (void)state;
    struct event_base *base = event_base_new();
    struct event *dog = watchdog(base);
    struct cluster *c = layer(base);
    struct outcome o = {.base = base, .want = 1};
    const char *xread[] = {"XREAD", "BLOCK", "0", "STREAMS", KEY, "$"}; /* would wait forever */
    assert_int_equal(cluster_command_blocking(c, KEY, strlen(KEY), 500, on_xread, &o, 6, xread,
                                              NULL), 0);
    event_base_dispatch(base);
    assert_true(o.got_null);
    assert_int_equal(o.calls, 1);
    cluster_free(c);
    event_free(dog);
    event_base_free(base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blocking_read_wakes_on_a_write),
        cmocka_unit_test(blocking_read_past_its_bound_gets_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
