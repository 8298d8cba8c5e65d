/*
 * test_tail: chat_tail() end to end. Against the real chatd: a replay from
 * an id returns exactly the following messages, live messages sent while a
 * thread tails all arrive in order, and a room's stream. Against a scripted
 * server on a loopback port: the event-stream details chatd never produces
 * (CRLF, bare CR, line ends split between reads, multi-line data, comments,
 * a BOM, other event types, a cut event), reconnection with Last-Event-ID,
 * duplicates and numeric id order, retry:, the Date fallback, 4xx, a wrong
 * Content-Type and the retry budget.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chatclient.h"
#include "testlib.h"

#define GOT_MAX 256   /* messages a collector keeps */
#define WAIT_MS 15000 /* the watchdog of every wait */
#define LIVE_COUNT 10 /* messages of the live test */

/* ---- a collecting on_message, shared with a waiting thread ---- */

struct collector {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* signalled on every message and at the end */
    char *ids[GOT_MAX];     /* the delivered messages' ids */
    char *texts[GOT_MAX];   /* and texts */
    size_t n;               /* how many were delivered */
    size_t stop_after;      /* on_message says stop after this many (0: never) */
    const char *stop_text;  /* or after a message with this text (NULL: never) */
    bool done;              /* chat_tail() returned */
    int rc;                 /* what it returned */
};

static void collector_init(struct collector *col) {
    memset(col, 0, sizeof(*col));
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&col->changed, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&col->lock, NULL);
}

static void collector_cleanup(struct collector *col) {
    for (size_t i = 0; i < col->n; i++) {
        free(col->ids[i]);
        free(col->texts[i]);
    }
    pthread_cond_destroy(&col->changed);
    pthread_mutex_destroy(&col->lock);
}

static int collect(const chat_message *m, void *arg) {
    struct collector *col = arg;
    pthread_mutex_lock(&col->lock);
    bool stop = col->n >= GOT_MAX - 1;
    col->ids[col->n] = strdup(m->id);
    col->texts[col->n] = strdup(m->text);
    col->n++;
    stop = stop || (col->stop_after && col->n >= col->stop_after) ||
           (col->stop_text && strcmp(m->text, col->stop_text) == 0);
    pthread_cond_broadcast(&col->changed);
    pthread_mutex_unlock(&col->lock);
    return stop;
}

/* Waits until n messages came or chat_tail() returned (with n = SIZE_MAX:
 * only the latter), at most timeout_ms; true when that happened. */
static bool collector_wait(struct collector *col, size_t n, int timeout_ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&col->lock);
    int rc = 0;
    while (rc == 0 && !col->done && col->n < n)
        rc = pthread_cond_timedwait(&col->changed, &col->lock, &deadline);
    bool ok = col->done || col->n >= n;
    pthread_mutex_unlock(&col->lock);
    return ok;
}

/* ---- against the real chatd ---- */

static void tail_from_an_id_returns_exactly_the_following(void **state) {
    (void)state;
    chat_client *sender = test_new_user("tailfrom", NULL);
    assert_non_null(sender);
    char *ids[5], text[64];
    for (int k = 0; k < 5; k++) {
        chat_message m;
        snprintf(text, sizeof(text), "from-id %d %d", (int)getpid(), k);
        assert_int_equal(chat_send(sender, text, &m), CHAT_OK);
        ids[k] = strdup(m.id);
        chat_message_cleanup(&m);
    }
    chat_client *t = chat_client_new(test_url());
    struct collector col;
    collector_init(&col);
    col.stop_after = 3;
    assert_int_equal(chat_tail(t, NULL, ids[1], collect, &col), CHAT_OK);
    assert_int_equal(col.n, 3);
    for (int k = 0; k < 3; k++) {
        snprintf(text, sizeof(text), "from-id %d %d", (int)getpid(), k + 2);
        assert_string_equal(col.ids[k], ids[k + 2]);
        assert_string_equal(col.texts[k], text);
    }
    assert_string_equal(chat_client_last_event_id(t), ids[4]);
    assert_int_equal(chat_client_attempts(t), 1);
    collector_cleanup(&col);

    /* "lobby" is the same stream; resuming from the client's own last id */
    collector_init(&col);
    col.stop_after = 1;
    snprintf(text, sizeof(text), "from-id %d after", (int)getpid());
    assert_int_equal(chat_send(sender, text, NULL), CHAT_OK);
    assert_int_equal(chat_tail(t, "lobby", chat_client_last_event_id(t), collect, &col), CHAT_OK);
    assert_int_equal(col.n, 1);
    assert_string_equal(col.texts[0], text);
    collector_cleanup(&col);
    for (int k = 0; k < 5; k++)
        free(ids[k]);
    chat_client_free(t);
    chat_client_free(sender);
}

struct live {
    chat_client *client;  /* the tailing thread's own client */
    struct collector col; /* what it received */
};

static void *tail_thread(void *arg) {
    struct live *l = arg;
    int rc = chat_tail(l->client, NULL, NULL, collect, &l->col);
    pthread_mutex_lock(&l->col.lock);
    l->col.done = true;
    l->col.rc = rc;
    pthread_cond_broadcast(&l->col.changed);
    pthread_mutex_unlock(&l->col.lock);
    return NULL;
}

static void live_messages_arrive_in_order(void **state) {
    (void)state;
    char tag[32], text[64], stop[64], *sent[LIVE_COUNT];
    snprintf(tag, sizeof(tag), "live-%d", (int)getpid());
    snprintf(stop, sizeof(stop), "%s %d", tag, LIVE_COUNT - 1);
    chat_client *sender = test_new_user("tailsend", NULL);
    assert_non_null(sender);
    struct live l = {.client = chat_client_new(test_url())};
    collector_init(&l.col);
    l.col.stop_text = stop;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, tail_thread, &l), 0);
    /* a tail without an id starts with what comes after it connected: send
     * probes until one shows that it is connected */
    int probes = 0;
    do {
        assert_int_equal(chat_send(sender, "probe", NULL), CHAT_OK);
        assert_true(++probes < 100);
    } while (!collector_wait(&l.col, 1, 200));
    for (int k = 0; k < LIVE_COUNT; k++) {
        chat_message m;
        snprintf(text, sizeof(text), "%s %d", tag, k);
        assert_int_equal(chat_send(sender, text, &m), CHAT_OK);
        sent[k] = strdup(m.id);
        chat_message_cleanup(&m);
    }
    if (!collector_wait(&l.col, SIZE_MAX, WAIT_MS))
        fail_msg("the tail did not see all %d messages within %d ms", LIVE_COUNT, WAIT_MS);
    pthread_join(th, NULL);
    assert_int_equal(l.col.rc, CHAT_OK);
    int k = 0;
    for (size_t i = 0; i < l.col.n; i++) {
        if (strcmp(l.col.texts[i], "probe") == 0) {
            assert_int_equal(k, 0); /* probes come only before */
            continue;
        }
        assert_true(k < LIVE_COUNT);
        snprintf(text, sizeof(text), "%s %d", tag, k);
        assert_string_equal(l.col.texts[i], text);
        assert_string_equal(l.col.ids[i], sent[k]);
        k++;
    }
    assert_int_equal(k, LIVE_COUNT);
    printf("# %d live messages in order after %d probe(s)\n", k, probes);
    for (k = 0; k < LIVE_COUNT; k++)
        free(sent[k]);
    collector_cleanup(&l.col);
    chat_client_free(l.client);
    chat_client_free(sender);
}

/* Sends text to room with the sender's token; returns the new message's id. */
static char *room_send(chat_client *sender, const char *room, const char *text) {
    char path[128], body[256], auth[128];
    snprintf(path, sizeof(path), "/room/%s/message/", room);
    snprintf(body, sizeof(body), "{\"text\":\"%s\"}", text);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", chat_client_token(sender));
    const char *h[] = {"Content-Type: application/json", auth, NULL};
    struct http_result r;
    assert_int_equal(test_http("POST", path, h, body, strlen(body), &r), 0);
    assert_int_equal(r.status, 201);
    json_t *msg = json_loads(r.body, 0, NULL);
    char *id = strdup(json_string_value(json_object_get(msg, "id")));
    json_decref(msg);
    test_http_result_free(&r);
    return id;
}

/* chat_tail_ws(): the same replay over GET /ws, a session required, and an
 * unknown room refused as the REST API refuses it. */
static void tail_over_a_websocket(void **state) {
    (void)state;
    chat_client *t = test_new_user("tailws", NULL);
    assert_non_null(t);
    char *ids[4], text[64];
    for (int k = 0; k < 4; k++) {
        chat_message m;
        snprintf(text, sizeof(text), "over ws %d %d", (int)getpid(), k);
        assert_int_equal(chat_send(t, text, &m), CHAT_OK);
        ids[k] = strdup(m.id);
        chat_message_cleanup(&m);
    }
    struct collector col;
    collector_init(&col);
    col.stop_after = 2;
    assert_int_equal(chat_tail_ws(t, NULL, ids[1], collect, &col), CHAT_OK);
    assert_int_equal(col.n, 2);
    for (int k = 0; k < 2; k++) assert_string_equal(col.ids[k], ids[k + 2]);
    assert_string_equal(chat_client_last_event_id(t), ids[3]);
    collector_cleanup(&col);

    collector_init(&col);
    assert_int_equal(chat_tail_ws(t, "no-such-room-here", NULL, collect, &col), CHAT_ERR_NOT_FOUND);
    chat_client *anonymous = chat_client_new(test_url());
    assert_int_equal(chat_tail_ws(anonymous, NULL, NULL, collect, &col), CHAT_ERR_USAGE);
    assert_int_equal(col.n, 0);
    collector_cleanup(&col);
    chat_client_free(anonymous);
    for (int k = 0; k < 4; k++) free(ids[k]);
    chat_client_free(t);
}

static void a_room_has_its_own_stream(void **state) {
    (void)state;
    char room[64];
    snprintf(room, sizeof(room), "tail-%d", (int)getpid());
    chat_client *sender = test_new_user("tailroom", NULL);
    assert_non_null(sender);
    assert_int_equal(test_create_room(sender, room), 201);
    char *first = room_send(sender, room, "room one");
    assert_int_equal(chat_send(sender, "lobby, not the room", NULL), CHAT_OK);
    char *second = room_send(sender, room, "room two");
    chat_client *t = chat_client_new(test_url());
    struct collector col;
    collector_init(&col);
    col.stop_after = 1;
    assert_int_equal(chat_tail(t, room, first, collect, &col), CHAT_OK);
    assert_int_equal(col.n, 1);
    assert_string_equal(col.ids[0], second);
    assert_string_equal(col.texts[0], "room two");
    collector_cleanup(&col);

    collector_init(&col);
    assert_int_equal(chat_tail(t, "No Such!", NULL, collect, &col), CHAT_ERR_USAGE);
    assert_int_equal(chat_tail(t, NULL, "12-x", collect, &col), CHAT_ERR_USAGE);
    assert_int_equal(chat_tail(t, NULL, NULL, NULL, NULL), CHAT_ERR_USAGE);
    assert_int_equal(chat_client_attempts(t), 0);
    assert_int_equal(col.n, 0);
    assert_string_equal(chat_client_last_event_id(t), second); /* untouched by usage errors */
    collector_cleanup(&col);
    free(first);
    free(second);
    chat_client_free(t);
    chat_client_free(sender);
}

/* ---- against a scripted server ---- */

#define FAKE_MAX 8
#define SPLIT "\x01" /* in an answer: write what came before separately */
#define SSE_OK "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
#define MSG(id, text)                                                                              \
    "{\"id\":\"" id "\",\"userId\":\"u\",\"name\":\"n\",\"text\":\"" text "\","                    \
    "\"timestamp\":1}"
#define EVENT(id, text) "id: " id "\ndata: " MSG(id, text) "\n\n"

/* A server that answers the n-th connection with answers[n] (the last one
 * again and again) and records each request's Last-Event-ID. */
struct fake {
    int fd;                      /* the listening socket */
    int port;                    /* its loopback port */
    const char *const *answers;  /* NULL-terminated */
    char last_ids[FAKE_MAX][64]; /* each request's Last-Event-ID, "" for none */
    int served;                  /* connections answered */
    pthread_t thread;
};

/* Reads a request's head and copies its Last-Event-ID header to id. */
static void fake_read_request(int conn, char id[64]) {
    char req[4096];
    size_t len = 0;
    ssize_t n;
    id[0] = '\0';
    while (len < sizeof(req) - 1 && (n = recv(conn, req + len, sizeof(req) - 1 - len, 0)) > 0) {
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n")) break;
    }
    req[len] = '\0';
    for (char *p = req; (p = strchr(p, '\n')) != NULL;)
        if (strncasecmp(++p, "Last-Event-ID: ", 15) == 0) sscanf(p + 15, "%63[^\r\n]", id);
}

/* Writes an answer piece by piece (pieces end at SPLIT), 5 ms apart so that
 * the client reads them separately. */
static void fake_write(int conn, const char *answer) {
    while (*answer) {
        size_t len = strcspn(answer, SPLIT);
        if (send(conn, answer, len, MSG_NOSIGNAL) < 0) return;
        answer += len;
        if (*answer) {
            answer++;
            nanosleep(&(struct timespec){0, 5000000L}, NULL);
        }
    }
}

static void *fake_run(void *arg) {
    struct fake *f = arg;
    size_t count = 0;
    while (f->answers[count])
        count++;
    for (;;) {
        int conn = accept(f->fd, NULL, NULL);
        if (conn < 0) return NULL; /* fake_stop() shut the socket down */
        char id[64];
        fake_read_request(conn, id);
        if (f->served < FAKE_MAX) memcpy(f->last_ids[f->served], id, sizeof(id));
        size_t i = (size_t)f->served < count ? (size_t)f->served : count - 1;
        f->served++;
        fake_write(conn, f->answers[i]);
        close(conn);
    }
}

/* Starts the server on a loopback port the kernel picks. */
static void fake_start(struct fake *f, const char *const *answers, char *url, size_t size) {
    memset(f, 0, sizeof(*f));
    f->answers = answers;
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sa_len = sizeof(sa);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->fd, 8), 0);
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sa, &sa_len), 0);
    f->port = ntohs(sa.sin_port);
    snprintf(url, size, "http://127.0.0.1:%d", f->port);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_run, f), 0);
}

/* Stops accepting (shutdown wakes the blocked accept) and joins the thread. */
static void fake_stop(struct fake *f) {
    shutdown(f->fd, SHUT_RDWR);
    pthread_join(f->thread, NULL);
    close(f->fd);
}

/* clang-format off */
static const char *const script_resume[] = {
    /* 1: BOM, retry, a comment, CRLF, another event type, multi-line data
     * with a CRLF split between two reads, bare CRs, and a last event cut off
     * by the end of the stream */
    SSE_OK "\xef\xbb\xbfretry: 100\r\n: a comment\r\n\r\n" SPLIT
           "id: 1-1\r\ndata: " MSG("1-1", "one") "\r\n\r\n"
           "event: typing\ndata: {\"who\":\"n\"}\n\n"
           "id: 1-2\r\ndata: {\"id\":\"1-2\",\"userId\":\"u\",\r" SPLIT "\ndata:\"name\":\"n\",\r\n"
           "data: \"text\":\"two\",\"timestamp\":1}\r\n\r\n"
           "id: 1-3\rdata: " MSG("1-3", "three") "\r\r"
           ": the next event never ends\n"
           "id: 1-4\ndata: " MSG("1-4", "four") "\n",
    /* 2: the replay repeats what was delivered; 1-10 sorts after 1-4 as a
     * number, not as a string */
    SSE_OK "retry: 100\n\n" EVENT("1-2", "two") EVENT("1-3", "three") EVENT("1-4", "four")
           SPLIT EVENT("1-10", "ten"),
    /* 3: a 503 is retried */
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    "Retry-After: 1\r\nConnection: close\r\n\r\n"
    "{\"error\":{\"code\":\"unavailable\",\"message\":\"Try again.\"}}",
    /* 4: more, with an old one again */
    SSE_OK EVENT("1-10", "ten") EVENT("2-0", "eleven") EVENT("10-0", "twelve"),
    NULL,
};
/* clang-format on */

static void fake_stream_parses_resumes_and_skips_repeats(void **state) {
    (void)state;
    struct fake f;
    char url[64];
    fake_start(&f, script_resume, url, sizeof(url));
    chat_client *c = chat_client_new(url);
    chat_client_set_retry(c, 5000);
    struct collector col;
    collector_init(&col);
    col.stop_after = 6;
    double start = test_now_ms();
    int rc = chat_tail(c, NULL, NULL, collect, &col);
    double took = test_now_ms() - start;
    fake_stop(&f);
    assert_int_equal(rc, CHAT_OK);
    static const char *const want_ids[] = {"1-1", "1-2", "1-3", "1-4", "1-10", "2-0"};
    static const char *const want_texts[] = {"one", "two", "three", "four", "ten", "eleven"};
    assert_int_equal(col.n, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(col.ids[i], want_ids[i]);
        assert_string_equal(col.texts[i], want_texts[i]);
    }
    assert_int_equal(f.served, 4);
    assert_int_equal(chat_client_attempts(c), 4);
    assert_string_equal(f.last_ids[0], "");
    assert_string_equal(f.last_ids[1], "1-3");
    assert_string_equal(f.last_ids[2], "1-10");
    assert_string_equal(f.last_ids[3], "1-10");
    assert_string_equal(chat_client_last_event_id(c), "2-0");
    assert_true(took < 2000); /* retry: 100 was used, not the 1 s default */
    collector_cleanup(&col);
    chat_client_free(c);
}

static const char *const script_date[] = {
    "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\nConnection: close\r\n\r\n"
    "retry: 50\n: connected\n\n",
    SSE_OK EVENT("784111777000-0", "after the gap"),
    NULL,
};

static void fake_stream_without_id_resumes_from_the_date(void **state) {
    (void)state;
    struct fake f;
    char url[64];
    fake_start(&f, script_date, url, sizeof(url));
    chat_client *c = chat_client_new(url);
    struct collector col;
    collector_init(&col);
    col.stop_after = 1;
    int rc = chat_tail(c, NULL, NULL, collect, &col);
    fake_stop(&f);
    assert_int_equal(rc, CHAT_OK);
    assert_int_equal(col.n, 1);
    assert_string_equal(f.last_ids[0], "");
    assert_string_equal(f.last_ids[1], "784111776000-0"); /* the Date minus 1 s */
    collector_cleanup(&col);
    chat_client_free(c);
}

/* Runs chat_tail() against a server that always gives answer; returns its
 * result and the client (for status, attempts and error). */
static int tail_once(const char *answer, long budget_ms, chat_client **out, double *took) {
    const char *const script[] = {answer, NULL};
    struct fake f;
    char url[64];
    fake_start(&f, script, url, sizeof(url));
    *out = chat_client_new(url);
    chat_client_set_retry(*out, budget_ms);
    struct collector col;
    collector_init(&col);
    double start = test_now_ms();
    int rc = chat_tail(*out, "some-room", "5-5", collect, &col);
    *took = test_now_ms() - start;
    fake_stop(&f);
    assert_int_equal(col.n, 0);
    collector_cleanup(&col);
    return rc;
}

static void fake_stream_failures_end_the_tail(void **state) {
    (void)state;
    chat_client *c;
    double took;
    assert_int_equal(tail_once("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                               "Connection: close\r\n\r\n"
                               "{\"error\":{\"code\":\"not_found\",\"message\":\"No such room.\"}}",
                               5000, &c, &took),
                     CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_client_status(c), 404);
    assert_int_equal(chat_client_attempts(c), 1);
    assert_string_equal(chat_client_error(c), "No such room.");
    assert_string_equal(chat_client_last_event_id(c), "5-5");
    chat_client_free(c);

    assert_int_equal(tail_once("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Connection: close\r\n\r\n[]",
                               5000, &c, &took),
                     CHAT_ERR_PROTOCOL);
    assert_int_equal(chat_client_attempts(c), 1);
    chat_client_free(c);

    assert_int_equal(tail_once(SSE_OK "data: not json\n\n", 5000, &c, &took), CHAT_ERR_PROTOCOL);
    assert_int_equal(chat_client_attempts(c), 1);
    chat_client_free(c);

    /* 503s: the first wait is 1 s (no retry: seen), the second 2 s would end
     * past the 1.5 s budget */
    assert_int_equal(tail_once("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n",
                               1500, &c, &took),
                     CHAT_ERR_UNAVAILABLE);
    assert_int_equal(chat_client_attempts(c), 2);
    assert_true(took >= 1000 && took < 2500);
    assert_non_null(strstr(chat_client_error(c), "gave up after 2 connections"));
    chat_client_free(c);

    /* a stream that keeps ending, with no budget: given up at once */
    assert_int_equal(tail_once(SSE_OK ": bye\n\n", 0, &c, &took), CHAT_ERR_NETWORK);
    assert_int_equal(chat_client_attempts(c), 1);
    assert_non_null(strstr(chat_client_error(c), "ended the stream"));
    chat_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tail_from_an_id_returns_exactly_the_following),
        cmocka_unit_test(live_messages_arrive_in_order),
        cmocka_unit_test(a_room_has_its_own_stream),
        cmocka_unit_test(tail_over_a_websocket),
        cmocka_unit_test(fake_stream_parses_resumes_and_skips_repeats),
        cmocka_unit_test(fake_stream_without_id_resumes_from_the_date),
        cmocka_unit_test(fake_stream_failures_end_the_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
