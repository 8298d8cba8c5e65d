/*
 * test_abuse: hostile clients at the connection level, each test ending with
 * the server still serving normal clients: a request line or headers too
 * large (431 in JSON), bodies and headers sent a byte at a time (slowloris:
 * cut after --request-timeout, 2 s in run.sh), 5,000 connections that never
 * send a byte while a normal client registers, logs in, sends and reads,
 * malformed chunked bodies, pipelined garbage, NUL and control characters in
 * the request line and headers, e-mail addresses with CR/LF, path traversal,
 * and every method on every route (never a 5xx).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chatclient.h"
#include "testlib.h"

#define REQUEST_TIMEOUT_MS 2000 /* chatd's --request-timeout in run.sh */

/* Reads until the server closes, timeout_ms passes, or 300 ms pass without
 * more bytes after some came; returns the bytes (heap, NUL-terminated) and
 * whether the server closed. */
static char *raw_read(int fd, int timeout_ms, bool *closed) {
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    double end = test_now_ms() + timeout_ms;
    *closed = false;
    while (test_now_ms() < end && len < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        int wait = (int)(end - test_now_ms()) + 1;
        if (len > 0 && wait > 300) wait = 300;
        if (poll(&p, 1, wait) <= 0) {
            if (len > 0) break;
            continue;
        }
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

/* The status of the first response in buf, or 0. */
static int status_of(const char *buf) {
    int status = 0;
    return sscanf(buf, "HTTP/1.%*d %d", &status) == 1 ? status : 0;
}

static void assert_still_serving(void) {
    struct http_result r;
    assert_int_equal(test_http("GET", "/health", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    test_http_result_free(&r);
}

/* Sends one raw request and returns chatd's first status (0: none). */
static int raw_exchange(const char *req, size_t len, char **reply) {
    int fd = test_raw_connect(0);
    assert_true(fd >= 0);
    test_raw_send(fd, req, len);
    bool closed;
    char *buf = raw_read(fd, 3000, &closed);
    close(fd);
    int status = status_of(buf);
    if (reply) *reply = buf;
    else free(buf);
    return status;
}

static void oversized_request_line_and_headers(void **state) {
    (void)state;
    size_t big = 20000;
    char *req = malloc(big + 512), *reply;
    /* a 20 kB header */
    int n = sprintf(req, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', big);
    n += (int)big;
    n += sprintf(req + n, "\r\n\r\n");
    assert_int_equal(raw_exchange(req, (size_t)n, &reply), 431);
    assert_non_null(strstr(reply, "\"headers_too_large\""));
    free(reply);
    /* a 20 kB request line */
    n = sprintf(req, "GET /health?x=");
    memset(req + n, 'b', big);
    n += (int)big;
    n += sprintf(req + n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(raw_exchange(req, (size_t)n, &reply), 431);
    assert_non_null(strstr(reply, "\"headers_too_large\""));
    free(reply);
    free(req);
    /* 200 kB of headers: refused before they are read (no 2xx, no 5xx) */
    big = 200000;
    req = malloc(big + 512);
    n = sprintf(req, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'c', big);
    n += (int)big;
    n += sprintf(req + n, "\r\n\r\n");
    int status = raw_exchange(req, (size_t)n, NULL);
    if (status != 0 && (status < 400 || status >= 500)) fail_msg("200 kB headers: %d", status);
    free(req);
    assert_still_serving();
}

/* A request sent one byte every 250 ms: chatd must cut it after about
 * --request-timeout, long before it could end. */
static void slow_requests_are_cut(void **state) {
    (void)state;
    const char *heads[] = {
        /* the body dribbles */
        "POST /user/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n{\"email\":\"",
        /* the headers dribble */
        "GET /health HTTP/1.1\r\nHost: x\r\n",
    };
    int fds[2];
    bool closed[2] = {false, false};
    double start = test_now_ms(), closed_at[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        fds[i] = test_raw_connect(0);
        assert_true(fds[i] >= 0);
        test_raw_send(fds[i], heads[i], strlen(heads[i]));
    }
    while (!(closed[0] && closed[1]) && test_now_ms() - start < 4 * REQUEST_TIMEOUT_MS) {
        for (int i = 0; i < 2; i++) {
            if (closed[i]) continue;
            test_raw_send(fds[i], i == 0 ? "a" : "X-A: b\r\n", i == 0 ? 1 : 8);
            struct pollfd p = {fds[i], POLLIN, 0};
            char c[512];
            if (poll(&p, 1, 0) > 0 && recv(fds[i], c, sizeof(c), 0) <= 0) {
                closed[i] = true;
                closed_at[i] = test_now_ms() - start;
            }
        }
        usleep(250 * 1000);
    }
    for (int i = 0; i < 2; i++) close(fds[i]);
    print_message("# slow body cut after %.0f ms, slow headers after %.0f ms\n", closed_at[0],
                  closed_at[1]);
    assert_true(closed[0]);
    assert_true(closed[1]);
    assert_still_serving();
}

/* The deadline covers the arrival of a request, not the answer: an event
 * stream and a long-poll (3 s) outlive --request-timeout (2 s). */
static void streams_and_long_polls_outlive_the_request_timeout(void **state) {
    (void)state;
    chat_client *creator = test_new_user("quiet", NULL);
    assert_non_null(creator);
    assert_int_equal(test_create_room(creator, "abuse-quiet"), 201);
    chat_client_free(creator);
    int fd = test_raw_connect(0);
    assert_true(fd >= 0);
    const char *req = "GET /room/abuse-quiet/message/stream HTTP/1.1\r\nHost: x\r\n\r\n";
    test_raw_send(fd, req, strlen(req));
    struct http_result r;
    double t0 = test_now_ms();
    assert_int_equal(test_http("GET", "/room/abuse-quiet/message/?after=0-1&wait=3", NULL, NULL, 0,
                               &r), 0);
    double waited = test_now_ms() - t0;
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "[]");
    test_http_result_free(&r);
    assert_true(waited >= 2900);
    bool closed;
    char *got = raw_read(fd, 200, &closed);
    assert_false(closed);
    assert_int_equal(status_of(got), 200);
    assert_non_null(strstr(got, ": connected"));
    free(got);
    close(fd);
}

/* The first reply to a raw GET of path, read for up to 2 s (heap). */
static char *raw_get(const char *path) {
    int fd = test_raw_connect(0);
    assert_true(fd >= 0);
    char req[256];
    int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    test_raw_send(fd, req, (size_t)len);
    bool closed;
    char *got = raw_read(fd, 2000, &closed);
    close(fd);
    return got;
}

/* A stream, a multi-room stream or a long-poll on a room nobody created is
 * 404 not_found at once: no stream, no waiter, no hub entry (and no Redis
 * connection for a room reader). Once the room is created, the same
 * requests are served. */
static void invented_rooms_cost_no_state(void **state) {
    (void)state;
    long long streams = test_metric(test_url(), "chatd_open_streams");
    char room[64], path[160];
    snprintf(room, sizeof(room), "invented-%d", (int)getpid());
    const char *forms[] = {"/room/%s/message/stream", "/stream?rooms=lobby,%s",
                           "/room/%s/message/?after=0-1&wait=5"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        snprintf(path, sizeof(path), forms[i], room);
        double t0 = test_now_ms();
        char *got = raw_get(path);
        if (status_of(got) != 404 || !strstr(got, "\"not_found\""))
            fail_msg("GET %s: %.200s", path, got);
        assert_true(test_now_ms() - t0 < 1500); /* answered, not parked */
        free(got);
    }
    assert_int_equal(test_metric(test_url(), "chatd_open_streams"), streams);
    assert_int_equal(test_metric(test_url(), "chatd_long_polls_waiting"), 0);
    chat_client *creator = test_new_user("inventor", NULL);
    assert_non_null(creator);
    assert_int_equal(test_create_room(creator, room), 201);
    chat_client_free(creator);
    for (size_t i = 0; i < 2; i++) { /* the two streams */
        snprintf(path, sizeof(path), forms[i], room);
        char *got = raw_get(path);
        assert_int_equal(status_of(got), 200);
        free(got);
    }
    assert_still_serving();
}

#define IDLE 5000

/* 5,000 connections that never send a byte: a normal client is served
 * meanwhile, and chatd closes them after --request-timeout. */
static void idle_connections_do_not_starve_clients(void **state) {
    (void)state;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < IDLE + 100) skip();
    int *fds = malloc(IDLE * sizeof(*fds));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)test_port())};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int opened = 0;
    for (int i = 0; i < IDLE; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fds[i] < 0) break;
        connect(fds[i], (struct sockaddr *)&a, sizeof(a)); /* EINPROGRESS */
        opened++;
    }
    assert_int_equal(opened, IDLE);
    /* a normal client, meanwhile */
    double t0 = test_now_ms();
    chat_user u;
    chat_client *c = test_new_user("idle", &u);
    assert_non_null(c);
    assert_int_equal(chat_login(c, u.email, "correct horse battery", NULL), CHAT_OK);
    assert_int_equal(chat_send(c, "served among idle connections", NULL), CHAT_OK);
    chat_message_list list = {0};
    assert_int_equal(chat_history(c, NULL, 0, &list), CHAT_OK);
    assert_true(list.count >= 1);
    chat_message_list_cleanup(&list);
    print_message("# register, login, send and history took %.0f ms among %d idle connections\n",
                  test_now_ms() - t0, IDLE);
    chat_user_cleanup(&u);
    chat_client_free(c);
    /* chatd closes them: every one reads the end of the stream */
    int ended = 0;
    double start = test_now_ms();
    while (ended < IDLE && test_now_ms() - start < 6 * REQUEST_TIMEOUT_MS + 5000) {
        for (int i = 0; i < IDLE; i++) {
            if (fds[i] < 0) continue;
            char ch;
            ssize_t r = recv(fds[i], &ch, 1, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)) {
                close(fds[i]);
                fds[i] = -1;
                ended++;
            }
        }
        if (ended < IDLE) usleep(100 * 1000);
    }
    print_message("# chatd closed %d of %d idle connections within %.0f ms\n", ended, IDLE,
                  test_now_ms() - start);
    for (int i = 0; i < IDLE; i++)
        if (fds[i] >= 0) close(fds[i]);
    free(fds);
    assert_int_equal(ended, IDLE);
    assert_still_serving();
}

static void malformed_chunked_bodies_and_garbage(void **state) {
    (void)state;
    const char *reqs[] = {
        "POST /message/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n",
        "POST /message/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n",
        "POST /message/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n-5\r\n{}\r\n0\r\n\r\n",
        "POST /message/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        "POST /user/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
        "POST /user/ HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
        "\x00\x01\x02\r\n\r\n",
        "GET\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01\x02\x00garbage\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        "BLAH BLAH BLAH\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        char *reply;
        size_t len = i == 6 ? 7 : strlen(reqs[i]);
        int status = raw_exchange(reqs[i], len, &reply);
        if (status >= 500) fail_msg("request %zu: %d %.200s", i, status, reply);
        if (strstr(reply, " 500 ")) fail_msg("request %zu: a 500 among the replies", i);
        free(reply);
        assert_still_serving();
    }
}

static void control_characters_in_the_request_line_and_headers(void **state) {
    (void)state;
    struct http_result r;
    const char *paths[] = {"/user%00/", "/message/%00", "/room/a%0d%0ab/message/",
                           "/message/?after=%00", "/room/%01/message/", NULL};
    for (int i = 0; paths[i]; i++) {
        assert_int_equal(test_http("GET", paths[i], NULL, NULL, 0, &r), 0);
        if (r.status < 400 || r.status >= 500) fail_msg("%s: %ld", paths[i], r.status);
        assert_non_null(strstr(r.body, "\"error\""));
        test_http_result_free(&r);
    }
    /* control characters in header values: no echo, no crash */
    const char *req = "GET /user/ HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\x01\x7f\x1b[2J\r\n"
                      "Cookie: authKey=\x01\x02\x03\r\nAuthorization: Bearer \x7f\r\n\r\n";
    char *reply;
    assert_int_equal(raw_exchange(req, strlen(req), &reply), 401);
    assert_null(strstr(reply, "\x1b[2J"));
    free(reply);
    assert_still_serving();
}

static void crlf_in_email_never_reaches_a_header(void **state) {
    (void)state;
    const char *h[] = {"Content-Type: application/json", NULL};
    const char *bodies[] = {
        "{\"email\":\"x@example.com\\r\\nSet-Cookie: authKey=evil\",\"password\":\"password1\"}",
        "{\"email\":\"x@example.com\\nX-Injected: 1\",\"password\":\"password1\"}", NULL};
    for (int i = 0; bodies[i]; i++) {
        struct http_result r;
        test_http("POST", "/user/", h, bodies[i], strlen(bodies[i]), &r);
        assert_int_equal(r.status, 400);
        assert_null(strstr(r.headers, "evil"));
        assert_null(strstr(r.headers, "X-Injected"));
        test_http_result_free(&r);
        test_http("PUT", "/user/", h, bodies[i], strlen(bodies[i]), &r);
        assert_int_equal(r.status, 401);
        assert_null(strstr(r.headers, "evil"));
        assert_null(strstr(r.headers, "X-Injected"));
        test_http_result_free(&r);
    }
}

static void path_traversal_finds_no_file(void **state) {
    (void)state;
    const char *paths[] = {"/../etc/passwd", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                           "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/web/../src/main.c",
                           "/web/%2e%2e/src/main.c", "/web/..%2fsrc%2fmain.c", "//etc/passwd",
                           "/./Makefile", "/web/....//....//Makefile", "/..\\..\\etc\\passwd",
                           "/%c0%ae%c0%ae/etc/passwd", NULL};
    for (int i = 0; paths[i]; i++) {
        struct http_result r;
        assert_int_equal(test_http("GET", paths[i], NULL, NULL, 0, &r), 0);
        if (r.status != 404 || !test_is_error(r.body, "not_found"))
            fail_msg("%s: %ld %.100s", paths[i], r.status, r.body);
        assert_null(strstr(r.body, "root:"));
        assert_null(strstr(r.body, "#include"));
        test_http_result_free(&r);
    }
}

static void every_method_on_every_route_is_never_5xx(void **state) {
    (void)state;
    const char *methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", NULL};
    const char *paths[] = {"/", "/user", "/user/", "/user/session", "/user/password",
                           "/message", "/message/", "/message/stream?after=x", "/room/",
                           "/room/r1/message/", "/room/R!/message/", "/room/r1/message/stream?after=x",
                           "/room/r1", "/metrics/x", "/ready/", "/nope", "/user/session/x", NULL};
    const char *h[] = {"Content-Type: application/json", NULL};
    for (int m = 0; methods[m]; m++)
        for (int p = 0; paths[p]; p++) {
            struct http_result r;
            test_http(methods[m], paths[p], h, "{}", 2, &r);
            if (r.status == 0 || r.status >= 500)
                fail_msg("%s %s: %ld %.100s", methods[m], paths[p], r.status, r.body);
            if (r.status >= 400 && !strstr(r.body, "\"error\""))
                fail_msg("%s %s: %ld without an error body", methods[m], paths[p], r.status);
            test_http_result_free(&r);
        }
    /* HEAD (no body comes back), and methods chatd does not serve */
    const char *odd[] = {"HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n",
                         "HEAD /user/ HTTP/1.1\r\nHost: x\r\n\r\n","FOO / HTTP/1.1\r\nHost: x\r\n\r\n", "TRACE / HTTP/1.1\r\nHost: x\r\n\r\n",
                         "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n",
                         "get /health HTTP/1.1\r\nHost: x\r\n\r\n", NULL};
    for (int i = 0; odd[i]; i++) { /* 400 (not a method) or 405, never a 5xx */
        int status = raw_exchange(odd[i], strlen(odd[i]), NULL);
        if (status >= 500) fail_msg("%.20s: %d", odd[i], status);
    }
    assert_still_serving();
}

static void huge_numbers_and_deep_nesting_are_400(void **state) {
    (void)state;
    chat_client *c = test_new_user("numbers", NULL);
    assert_non_null(c);
    char auth[96];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", chat_client_token(c));
    const char *h[] = {"Content-Type: application/json", auth, NULL};
    const char *bodies[] = {"{\"text\":\"a\",\"n\":123456789012345678901234567890}",
                            "{\"text\":\"a\",\"n\":1e999999}", "{\"text\":1e400}",
                            "{\"text\":\"a\",\"n\":-0.0e-99999999}", NULL};
    for (int i = 0; bodies[i]; i++) {
        struct http_result r;
        test_http("POST", "/message/", h, bodies[i], strlen(bodies[i]), &r);
        if (r.status != 400 && r.status != 201) fail_msg("%s: %ld", bodies[i], r.status);
        test_http_result_free(&r);
    }
    char deep[4002];
    for (int i = 0; i < 2000; i++) deep[i] = '{', deep[2000 + i] = '}';
    memcpy(deep, "{\"a\":", 5); /* still malformed, but deep */
    struct http_result r;
    test_http("POST", "/message/", h, deep, 4000, &r);
    assert_int_equal(r.status, 400);
    test_http_result_free(&r);
    chat_client_free(c);
    assert_still_serving();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oversized_request_line_and_headers),
        cmocka_unit_test(slow_requests_are_cut),
        cmocka_unit_test(streams_and_long_polls_outlive_the_request_timeout),
        cmocka_unit_test(invented_rooms_cost_no_state),
        cmocka_unit_test(idle_connections_do_not_starve_clients),
        cmocka_unit_test(malformed_chunked_bodies_and_garbage),
        cmocka_unit_test(control_characters_in_the_request_line_and_headers),
        cmocka_unit_test(crlf_in_email_never_reaches_a_header),
        cmocka_unit_test(path_traversal_finds_no_file),
        cmocka_unit_test(every_method_on_every_route_is_never_5xx),
        cmocka_unit_test(huge_numbers_and_deep_nesting_are_400),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
