/*
 * test_realtime: server push. A subscriber on one chatd receives what is
 * sent through another; a subscriber that stops reading is cut off while
 * others go on; long-poll wakes within 100 ms of a send and times out with
 * []; and a subscriber whose chatd is killed resumes on another chatd with
 * Last-Event-ID and gets exactly what it missed, nothing twice. An event
 * reaches a subscriber behind HAProxy without the kernel holding it back.
 *
 * It uses CHATD3_URL (sender) and CHATD4_URL/CHATD4_PID (the subscribers'
 * chatd, started with a small --stream-buffer) and CHAT_URL (HAProxy), set
 * by tests/stack/run.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chatclient.h"
#include "sse_client.h"
#include "testlib.h"

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) fail_msg("%s is not set", name);
    return v;
}

static char *stream_url(const char *base) {
    static char url[256];
    snprintf(url, sizeof(url), "%s/message/stream", base);
    return url;
}

static chat_client *sender_on(const char *base) {
    char email[128];
    test_email(email, sizeof(email), "rt");
    chat_client *c = chat_client_new(base);
    assert_int_equal(chat_register(c, email, "correct horse battery", NULL, NULL), CHAT_OK);
    return c;
}

static void send_numbered(chat_client *c, const char *prefix, int from, int to) {
    for (int i = from; i < to; i++) {
        char text[64];
        snprintf(text, sizeof(text), "%s %d", prefix, i);
        assert_int_equal(chat_send(c, text, NULL), CHAT_OK);
    }
}

/* Checks that events[from..] of s carry "<prefix> <k>" for k = first.. in order. */
static size_t check_numbered(struct sse_client *s, size_t from, const char *prefix, int first) {
    char id[48], data[8192], want[64];
    size_t n = sse_count(s), k = 0;
    for (size_t i = from; i < n; i++, k++) {
        assert_true(sse_get(s, i, id, data, sizeof(data)));
        snprintf(want, sizeof(want), "\"text\":\"%s %d\"", prefix, first + (int)k);
        if (!strstr(data, want)) fail_msg("event %zu: want %s, got %.120s", i, want, data);
    }
    return k;
}

/* A new subscriber is live once its chatd's reader is ready: send probes
 * until one shows up on the stream. */
static void wait_live(struct sse_client *s, chat_client *c) {
    int probes = 0;
    do {
        assert_int_equal(chat_send(c, "probe", NULL), CHAT_OK);
        assert_true(++probes < 100);
    } while (!sse_wait_events(s, 1, 100));
}

static void live_messages_cross_servers(void **state) {
    (void)state;
    struct sse_client *s = sse_open(stream_url(env("CHATD4_URL")), NULL);
    chat_client *c = sender_on(env("CHATD3_URL"));
    /* the stream is live once the hub is ready; send a probe until it shows */
    wait_live(s, c);
    size_t base = sse_count(s);
    double t0 = test_now_ms();
    send_numbered(c, "cross", 0, 20);
    assert_true(sse_wait_events(s, base + 20, 10000));
    printf("# 20 messages sent through one chatd reached a subscriber on another in %.1f ms\n",
           test_now_ms() - t0);
    assert_int_equal(check_numbered(s, base, "cross", 0), 20);
    sse_close(s);
    chat_client_free(c);
}

static void long_poll_wakes_and_times_out(void **state) {
    (void)state;
    chat_client *c = sender_on(env("CHATD3_URL"));
    chat_message m;
    assert_int_equal(chat_send(c, "long-poll base", &m), CHAT_OK);
    char path[128];
    snprintf(path, sizeof(path), "/message/?after=%s&wait=1", m.id);
    struct http_result r;
    double t0 = test_now_ms();
    test_http("GET", path, NULL, NULL, 0, &r); /* through HAProxy */
    double waited = test_now_ms() - t0;
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "[]");
    assert_true(waited >= 900);
    test_http_result_free(&r);
    printf("# an idle long-poll with wait=1 answered [] after %.0f ms\n", waited);
    chat_message_cleanup(&m);
    chat_client_free(c);
}

/* A long-poll on chatd 4 (with curl: test_http talks to CHAT_URL only). */
struct poller {
    char cmd[512];
    char body[4096];
    double done_ms;
};

static void *poll_once(void *arg) {
    struct poller *p = arg;
    FILE *f = popen(p->cmd, "r");
    size_t n = f ? fread(p->body, 1, sizeof(p->body) - 1, f) : 0;
    p->body[n] = '\0';
    if (f) pclose(f);
    p->done_ms = test_now_ms();
    return NULL;
}

/* chatd 4's count of parked long-polls, from its /metrics. */
static int parked_long_polls(void) {
    char cmd[256], out[64] = "";
    snprintf(cmd, sizeof(cmd),
             "curl -s '%s/metrics' | awk '$1 == \"chatd_long_polls_waiting\" { print $2 }'",
             env("CHATD4_URL"));
    FILE *f = popen(cmd, "r");
    if (f && !fgets(out, sizeof(out), f)) out[0] = '\0';
    if (f) pclose(f);
    return atoi(out);
}

static void long_poll_wakes_within_100_ms(void **state) {
    (void)state;
    chat_client *c = sender_on(env("CHATD3_URL"));
    chat_message m;
    assert_int_equal(chat_send(c, "wake base", &m), CHAT_OK);
    static struct poller p;
    snprintf(p.cmd, sizeof(p.cmd), "curl -s '%s/message/?after=%s&wait=10'", env("CHATD4_URL"),
             m.id);
    pthread_t t;
    pthread_create(&t, NULL, poll_once, &p);
    double start = test_now_ms();
    while (parked_long_polls() < 1) /* chatd 4 says the long-poll is parked */
        assert_true(test_now_ms() - start < 10000);
    chat_message woke;
    assert_int_equal(chat_send(c, "wake up", &woke), CHAT_OK);
    double sent_ms = test_now_ms();
    pthread_join(t, NULL);
    double latency = p.done_ms - sent_ms;
    printf("# a parked long-poll answered %.1f ms after the send's 201\n", latency);
    assert_non_null(strstr(p.body, "\"text\":\"wake up\""));
    assert_true(latency < 100);
    chat_message_cleanup(&m);
    chat_message_cleanup(&woke);
    chat_client_free(c);
}

/* Opens a stream on base that is never read, with a tiny receive buffer. */
static int stuck_stream(const char *base) {
    int port = atoi(strrchr(base, ':') + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    const char req[] = "GET /message/stream HTTP/1.1\r\nHost: test\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
    return fd;
}

/* Reads fd until the server closes it (true) or timeout_ms passes. */
static bool closed_by_server(int fd, int timeout_ms) {
    char buf[65536];
    double start = test_now_ms();
    while (test_now_ms() - start < timeout_ms) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) return true;
    }
    return false;
}

/* Waits until an event whose data contains text arrives on s; its time. */
static double arrival_of(struct sse_client *s, const char *text) {
    char id[48], data[512];
    for (size_t i = 0;; i++) {
        assert_true(sse_wait_events(s, i + 1, 5000));
        assert_true(sse_get(s, i, id, data, sizeof(data)));
        if (strstr(data, text)) return test_now_ms();
    }
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define HELD_PROBES 7
/* A segment the kernel holds back (MSG_MORE, as HAProxy sets it on a
 * response it expects more of, unless "option http-no-delay") is sent after
 * 200 ms, the kernel's delayed-send timer. An event crosses HAProxy in
 * about a millisecond otherwise, so the median of a few sends against half
 * that timer tells the two apart with a wide margin either way. */
#define HELD_MS 200

static void event_through_haproxy_is_not_held_back(void **state) {
    (void)state;
    struct sse_client *s = sse_open(stream_url(env("CHAT_URL")), NULL);
    chat_client *c = sender_on(env("CHATD3_URL"));
    wait_live(s, c);
    double took[HELD_PROBES];
    for (int i = 0; i < HELD_PROBES; i++) {
        char text[32];
        snprintf(text, sizeof(text), "not held %d", i);
        double t0 = test_now_ms();
        assert_int_equal(chat_send(c, text, NULL), CHAT_OK);
        took[i] = arrival_of(s, text) - t0;
    }
    qsort(took, HELD_PROBES, sizeof(took[0]), by_value);
    printf("# send -> event through HAProxy: median %.1f ms, slowest %.1f ms (a held segment: "
           ">= %d ms)\n", took[HELD_PROBES / 2], took[HELD_PROBES - 1], HELD_MS);
    assert_true(took[HELD_PROBES / 2] < HELD_MS / 2);
    sse_close(s);
    chat_client_free(c);
}

#define BIG 2500 /* messages of ~4 KB: more than the kernel buffers between them */

static void slow_subscriber_is_cut_others_are_not(void **state) {
    (void)state;
    int stuck = stuck_stream(env("CHATD4_URL"));
    struct sse_client *s = sse_open(stream_url(env("CHATD4_URL")), NULL);
    chat_client *c = sender_on(env("CHATD3_URL"));
    wait_live(s, c);
    size_t base = sse_count(s);
    static char text[4001];
    for (int i = 0; i < BIG; i++) {
        int n = snprintf(text, sizeof(text), "big %d ", i);
        memset(text + n, 'x', sizeof(text) - 1 - (size_t)n);
        text[sizeof(text) - 1] = '\0';
        assert_int_equal(chat_send(c, text, NULL), CHAT_OK);
    }
    assert_true(sse_wait_events(s, base + BIG, 30000)); /* the reader got everything */
    assert_true(closed_by_server(stuck, 20000));        /* the stuck one was cut */
    printf("# a subscriber that never read was disconnected; the other got all %d messages\n", BIG);
    close(stuck);
    sse_close(s);
    chat_client_free(c);
}

#define RESUME 300

struct flow {
    chat_client *c;
    pthread_mutex_t lock;
    pthread_cond_t progress;
    int sent;
};

/* Sends "resume 0".."resume 299" one after another, counting as it goes. */
static void *keep_sending(void *arg) {
    struct flow *f = arg;
    for (int i = 0; i < RESUME; i++) {
        char text[32];
        snprintf(text, sizeof(text), "resume %d", i);
        assert_int_equal(chat_send(f->c, text, NULL), CHAT_OK);
        pthread_mutex_lock(&f->lock);
        f->sent = i + 1;
        pthread_cond_broadcast(&f->progress);
        pthread_mutex_unlock(&f->lock);
    }
    return NULL;
}

static void killed_server_stream_resumes_exactly(void **state) {
    (void)state;
    struct sse_client *s = sse_open(stream_url(env("CHATD4_URL")), NULL);
    static struct flow f = {.lock = PTHREAD_MUTEX_INITIALIZER, .progress = PTHREAD_COND_INITIALIZER};
    f.c = sender_on(env("CHATD3_URL"));
    wait_live(s, f.c);
    size_t base = sse_count(s);
    pthread_t t;
    pthread_create(&t, NULL, keep_sending, &f); /* messages keep flowing throughout */
    assert_true(sse_wait_events(s, base + RESUME / 3, 20000));
    assert_int_equal(kill((pid_t)atoi(env("CHATD4_PID")), SIGKILL), 0);
    assert_true(sse_wait_end(s, 10000));
    pthread_mutex_lock(&f.lock);
    int sent_at_kill = f.sent;
    pthread_mutex_unlock(&f.lock);
    size_t got = sse_count(s) - base;
    char last[48], data[256];
    assert_true(sse_get(s, sse_count(s) - 1, last, data, sizeof(data)));
    struct sse_client *again = sse_open(stream_url(env("CHATD3_URL")), last);
    pthread_join(t, NULL);
    assert_true(sse_wait_events(again, RESUME - got, 20000));
    check_numbered(s, base, "resume", 0);
    assert_int_equal(check_numbered(again, 0, "resume", (int)got), RESUME - got);
    assert_false(sse_wait_events(again, RESUME - got + 1, 300)); /* and nothing more */
    printf("# kill -9 after %zu of %d messages (%d sent by then); the other %zu came from "
           "another chatd after Last-Event-ID, none twice\n",
           got, RESUME, sent_at_kill, (size_t)RESUME - got);
    sse_close(again);
    sse_close(s);
    chat_client_free(f.c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(live_messages_cross_servers),
        cmocka_unit_test(event_through_haproxy_is_not_held_back),
        cmocka_unit_test(long_poll_wakes_and_times_out),
        cmocka_unit_test(long_poll_wakes_within_100_ms),
        cmocka_unit_test(slow_subscriber_is_cut_others_are_not),
        cmocka_unit_test(killed_server_stream_resumes_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
