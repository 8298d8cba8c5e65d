/*
 * test_streams: event streams at the socket level, as chatd serves them once
 * they started (without evhttp, src/stream_sock.c). A stream counts as an
 * open stream and connection until its client closes it; a stream works on
 * a connection that carried a reply before (a proxy's); HTTP/1.0 streams
 * are unchunked and HEAD streams carry no body; bytes a client sends after
 * its request are ignored; a reader that stalls gets every event afterwards,
 * in order; a replay longer than one history batch arrives whole; heartbeats
 * reach an idle stream (run.sh starts chatd with --stream-heartbeat 500 and
 * --stream-buffer 32 MB); once a stream left evhttp, chatd's epoll watches
 * no descriptor under a stale number. What an idle stream costs is checked by
 * tests/bench/run.sh, on a fresh chatd.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chatclient.h"
#include "testlib.h"

#define WAIT_MS 20000      /* the watchdog of every wait */
#define STALLED 750        /* ~8 KB events while a reader stalls: 6 MB, more than the kernel's
                              buffers take (tcp_wmem allows 4 MB), less than --stream-buffer */
#define REPLAYED 1100      /* more than two history batches (--history-batch 500) */

static const char stream_request[] =
    "GET /message/stream HTTP/1.1\r\nHost: test\r\n\r\n";

/* What a raw connection has received so far. */
struct received {
    char *data; /* NUL-terminated */
    size_t len, cap;
    bool closed; /* the server closed */
};

static void received_free(struct received *b) {
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* Reads from fd into b until needle is in it (true), or the server closes
 * or timeout_ms pass (false). */
static bool read_until(int fd, struct received *b, const char *needle, int timeout_ms) {
    double end = test_now_ms() + timeout_ms;
    size_t from = 0, nlen = strlen(needle);
    while (!(b->data && strstr(b->data + from, needle))) {
        from = b->len > nlen ? b->len - nlen : 0; /* what was searched already */
        double left = end - test_now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (b->closed || left <= 0 || poll(&p, 1, (int)left + 1) < 0) return false;
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
        if (b->cap - b->len < 65537) {
            b->cap = b->cap ? b->cap * 2 : 262144;
            b->data = realloc(b->data, b->cap);
            assert_non_null(b->data);
        }
        ssize_t n = recv(fd, b->data + b->len, b->cap - b->len - 1, 0);
        if (n <= 0) b->closed = true;
        else b->len += (size_t)n;
        b->data[b->len] = '\0';
    }
    return true;
}

/* Opens a stream with the raw request and waits for its ": connected". */
static int open_stream(const char *request, struct received *b, int rcvbuf) {
    int fd = test_raw_connect(rcvbuf);
    assert_true(fd >= 0);
    test_raw_send(fd, request, strlen(request));
    assert_true(read_until(fd, b, ": connected\n\n", WAIT_MS));
    return fd;
}

/* A gauge or counter of this chatd's /metrics, or -1. */
static long metric(const char *name) { return (long)test_metric(test_url(), name); }

/* Polls the metric until it has the value (true) or WAIT_MS pass. */
static bool metric_becomes(const char *name, long want) {
    double end = test_now_ms() + WAIT_MS;
    long v;
    while ((v = metric(name)) != want && test_now_ms() < end) usleep(20 * 1000);
    if (v != want) print_message("# %s is %ld, not %ld\n", name, v, want);
    return v == want;
}

static chat_client *sender(void) {
    chat_client *c = test_new_user("streams", NULL);
    assert_non_null(c);
    return c;
}

/* The stream and its connection count while it is open, and neither once
 * its client closed it (the /metrics request is the other connection). */
static void a_stream_counts_until_its_client_closes(void **state) {
    (void)state;
    long streams = metric("chatd_open_streams");
    struct received b = {0};
    int fd = open_stream(stream_request, &b, 0);
    assert_non_null(strstr(b.data, "HTTP/1.1 200 "));
    assert_non_null(strstr(b.data, "Transfer-Encoding: chunked"));
    assert_true(metric_becomes("chatd_open_streams", streams + 1));
    assert_true(metric_becomes("chatd_connections", 2));
    close(fd);
    assert_true(metric_becomes("chatd_open_streams", streams));
    assert_true(metric_becomes("chatd_connections", 1));
    received_free(&b);
}

/* Opens a stream on a connection that carried a GET /health reply first, as
 * a proxy reuses its connections to chatd; *first is where the stream's
 * reply starts in b. */
static int open_stream_after_a_reply(struct received *b, size_t *first) {
    int fd = test_raw_connect(0);
    assert_true(fd >= 0);
    const char *health = "GET /health HTTP/1.1\r\nHost: test\r\n\r\n";
    test_raw_send(fd, health, strlen(health));
    assert_true(read_until(fd, b, "}", WAIT_MS)); /* the end of its JSON body */
    assert_non_null(strstr(b->data, "HTTP/1.1 200 "));
    *first = b->len;
    test_raw_send(fd, stream_request, strlen(stream_request));
    assert_true(read_until(fd, b, ": connected\n\n", WAIT_MS));
    return fd;
}

/* A stream asked for on a connection that already carried a reply gets its
 * head and its events. */
static void a_stream_on_a_reused_connection(void **state) {
    (void)state;
    struct received b = {0};
    size_t first;
    int fd = open_stream_after_a_reply(&b, &first);
    const char *second = b.data + first;
    assert_true(strncmp(second, "HTTP/1.1 200 ", 13) == 0);
    assert_non_null(strstr(second, "Content-Type: text/event-stream"));
    chat_client *c = sender();
    char text[64];
    snprintf(text, sizeof(text), "reused %d", (int)getpid());
    assert_int_equal(chat_send(c, text, NULL), CHAT_OK);
    assert_true(read_until(fd, &b, text, WAIT_MS));
    close(fd);
    chat_client_free(c);
    received_free(&b);
}

/* HTTP/1.0: the events come unchunked; HEAD: the head and nothing else. */
static void http10_and_head_streams(void **state) {
    (void)state;
    long streams = metric("chatd_open_streams");
    struct received b10 = {0}, bh = {0};
    int f10 = open_stream("GET /message/stream HTTP/1.0\r\n\r\n", &b10, 0);
    int fh = test_raw_connect(0);
    assert_true(fh >= 0);
    const char *head = "HEAD /message/stream HTTP/1.1\r\nHost: test\r\n\r\n";
    test_raw_send(fh, head, strlen(head));
    assert_true(read_until(fh, &bh, "\r\n\r\n", WAIT_MS));
    assert_non_null(strstr(bh.data, "HTTP/1.1 200 "));
    assert_true(metric_becomes("chatd_open_streams", streams + 2));
    assert_null(strstr(b10.data, "Transfer-Encoding"));

    chat_client *c = sender();
    char text[64];
    snprintf(text, sizeof(text), "unchunked %d", (int)getpid());
    assert_int_equal(chat_send(c, text, NULL), CHAT_OK);
    assert_true(read_until(f10, &b10, text, WAIT_MS));
    const char *body = strstr(b10.data, "\r\n\r\n");
    assert_non_null(body);
    assert_null(strstr(body + 4, "\r\n")); /* no chunk framing */
    /* the event went out to both at once: the HEAD stream got nothing */
    char byte;
    assert_int_equal(recv(fh, &byte, 1, MSG_DONTWAIT), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);

    close(f10);
    close(fh);
    assert_true(metric_becomes("chatd_open_streams", streams));
    chat_client_free(c);
    received_free(&b10);
    received_free(&bh);
}

/* What a client sends after its request (more requests, garbage) is read
 * and dropped; the stream goes on and no second reply appears. */
static void bytes_after_the_request_are_ignored(void **state) {
    (void)state;
    char request[256];
    snprintf(request, sizeof(request), "%sGET /health HTTP/1.1\r\nHost: test\r\n\r\nnot http\r\n",
             stream_request);
    struct received b = {0};
    int fd = open_stream(request, &b, 0);
    test_raw_send(fd, "more garbage\r\n\r\n", 16);
    chat_client *c = sender();
    char text[64];
    snprintf(text, sizeof(text), "after garbage %d", (int)getpid());
    assert_int_equal(chat_send(c, text, NULL), CHAT_OK);
    assert_true(read_until(fd, &b, text, WAIT_MS));
    const char *first = strstr(b.data, "HTTP/1.1 ");
    assert_non_null(first);
    assert_null(strstr(first + 1, "HTTP/1.1 "));
    close(fd);
    chat_client_free(c);
    received_free(&b);
}

/* A reader with a small receive window stops reading while 6 MB of events
 * are sent: what the sockets between them cannot take waits in chatd's
 * queue (run.sh sets --stream-buffer to 32 MB, so it is not cut), and once
 * it reads again it gets every event, in order. */
static void a_stalled_reader_gets_every_event_in_order(void **state) {
    (void)state;
    struct received b = {0};
    int fd = open_stream(stream_request, &b, 4096);
    chat_client *c = sender();
    static char text[4097]; /* quotes: twice as long in JSON */
    for (int k = 0; k < STALLED; k++) {
        int n = snprintf(text, sizeof(text), "stalled %d %d ", (int)getpid(), k);
        memset(text + n, '"', sizeof(text) - 1 - (size_t)n);
        text[sizeof(text) - 1] = '\0';
        assert_int_equal(chat_send(c, text, NULL), CHAT_OK);
    }
    char mark[64];
    snprintf(mark, sizeof(mark), "stalled %d %d ", (int)getpid(), STALLED - 1);
    assert_true(read_until(fd, &b, mark, WAIT_MS));
    const char *at = b.data;
    for (int k = 0; k < STALLED; k++) {
        snprintf(mark, sizeof(mark), "\"text\":\"stalled %d %d ", (int)getpid(), k);
        at = strstr(at, mark);
        if (!at) fail_msg("event %d is missing or out of order", k);
    }
    assert_false(b.closed);
    close(fd);
    chat_client_free(c);
    received_free(&b);
}

/* A stream resumed from an id replays what followed in several history
 * batches, each written when the previous one has left the queue. */
static void a_long_replay_arrives_whole(void **state) {
    (void)state;
    chat_client *c = sender();
    chat_message first;
    assert_int_equal(chat_send(c, "replay start", &first), CHAT_OK);
    for (int k = 0; k < REPLAYED; k++) {
        char text[64];
        snprintf(text, sizeof(text), "replayed %d", k);
        assert_int_equal(chat_send(c, text, NULL), CHAT_OK);
    }
    char request[256];
    snprintf(request, sizeof(request),
             "GET /message/stream HTTP/1.1\r\nHost: test\r\nLast-Event-ID: %s\r\n\r\n", first.id);
    struct received b = {0};
    int fd = open_stream(request, &b, 0);
    char mark[64];
    snprintf(mark, sizeof(mark), "\"text\":\"replayed %d\"", REPLAYED - 1);
    assert_true(read_until(fd, &b, mark, WAIT_MS));
    const char *at = b.data;
    int events = 0;
    for (const char *p = b.data; (p = strstr(p, "\nid: ")); p++) events++;
    for (int k = 0; k < REPLAYED; k++) {
        snprintf(mark, sizeof(mark), "\"text\":\"replayed %d\"", k);
        at = strstr(at, mark);
        if (!at) fail_msg("replayed event %d is missing or out of order", k);
    }
    assert_int_equal(events, REPLAYED);
    close(fd);
    chat_message_cleanup(&first);
    chat_client_free(c);
    received_free(&b);
}

static void heartbeats_reach_an_idle_stream(void **state) {
    (void)state;
    struct received b = {0};
    chat_client *creator = test_new_user("quiet", NULL);
    assert_non_null(creator);
    assert_int_equal(test_create_room(creator, "streams-quiet"), 201);
    chat_client_free(creator);
    const char *quiet = "GET /room/streams-quiet/message/stream HTTP/1.1\r\nHost: t\r\n\r\n";
    int fd = open_stream(quiet, &b, 0);
    assert_true(read_until(fd, &b, ": ping\n\n", WAIT_MS));
    close(fd);
    received_free(&b);
}

/* Counts the descriptors chatd's epoll instances watch under a number that
 * names another file, or nothing, in chatd now (listed on stdout). Such a
 * registration reports the old file's readiness for whatever the number
 * names next. -1 when /proc cannot be read. */
static int stale_epoll_registrations(int pid) {
    char path[384];
    snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
    DIR *dir = opendir(path);
    if (!dir) return -1;
    int stale = 0, epolls = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue; /* closed meanwhile */
        char line[256];
        int tfd;
        unsigned long ino;
        bool epoll = false;
        while (fgets(line, sizeof(line), f)) {
            char *at = strstr(line, " ino:");
            if (sscanf(line, "tfd: %d", &tfd) != 1 || !at || sscanf(at, " ino:%lx", &ino) != 1)
                continue;
            epoll = true;
            struct stat st;
            snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, tfd);
            if (stat(path, &st) < 0 || st.st_ino != ino) {
                print_message("# epoll fd %s watches fd %d as inode %lx\n", e->d_name, tfd, ino);
                stale++;
            }
        }
        fclose(f);
        epolls += epoll;
    }
    closedir(dir);
    return epolls ? stale : -1;
}

/* A stream's socket leaves evhttp and goes on under another number: epoll
 * forgets the old number first, for a stream on a fresh connection and
 * for one on a connection that carried a reply before. */
static void no_stale_epoll_registration_after_a_detach(void **state) {
    (void)state;
    int pid = test_chatd_pid();
    if (pid <= 0) skip();
    struct received fresh = {0}, reused = {0};
    size_t first;
    int a = open_stream(stream_request, &fresh, 0);
    int b = open_stream_after_a_reply(&reused, &first);
    assert_true(metric("chatd_open_streams") >= 2); /* a round trip: both detaches are done */
    assert_int_equal(stale_epoll_registrations(pid), 0);
    close(a);
    close(b);
    received_free(&fresh);
    received_free(&reused);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_stream_counts_until_its_client_closes),
        cmocka_unit_test(a_stream_on_a_reused_connection),
        cmocka_unit_test(http10_and_head_streams),
        cmocka_unit_test(bytes_after_the_request_are_ignored),
        cmocka_unit_test(a_stalled_reader_gets_every_event_in_order),
        cmocka_unit_test(a_long_replay_arrives_whole),
        cmocka_unit_test(heartbeats_reach_an_idle_stream),
        cmocka_unit_test(no_stale_epoll_registration_after_a_detach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
