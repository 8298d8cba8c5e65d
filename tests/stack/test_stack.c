/*
 * test_stack: the whole system — three chatd behind HAProxy on a Redis
 * Cluster. Any chatd authenticates any session; kill -9 of a chatd while the
 * client library sends through HAProxy goes unnoticed; a chatd drained with
 * SIGTERM under load fails no request; and HAProxy takes a chatd that lost
 * Redis out of rotation within its check interval, and back in after. A
 * body over the limit gets chatd's JSON 413 whatever its size. /metrics is
 * served by each chatd but not through HAProxy.
 *
 * The environment names the pieces (tests/stack/run.sh sets it): CHAT_URL
 * (HAProxy), CHATD1_URL..CHATD3_URL and CHATD1_PID..CHATD3_PID, and for the
 * lost-Redis case LOSE_STATS_URL (a second HAProxy's stats CSV), LOSE_REDIS_PORT
 * and LOSE_REDIS_START (a command that starts that Redis again).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "chatclient.h"
#include "testlib.h"

#define PASSWORD "correct horse battery"

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) fail_msg("%s is not set", name);
    return v;
}

/* GET /user/ on base with the session token; returns the status. */
static long whoami(const char *base, const char *token) {
    char url[256], cookie[128];
    snprintf(url, sizeof(url), "%s/user/", base);
    snprintf(cookie, sizeof(cookie), "authKey=%s", token);
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_COOKIE, cookie);
    curl_easy_setopt(curl, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, fwrite);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, devnull);
    long status = 0;
    if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    fclose(devnull);
    return status;
}

/* The status of GET base+path, and whether the body is chatd's not_found. */
static long get_status(const char *base, const char *path, bool *not_found) {
    struct http_result r;
    assert_int_equal(test_http_at(base, "GET", path, NULL, NULL, 0, &r), 0);
    long status = r.status;
    *not_found = r.body && strstr(r.body, "\"code\":\"not_found\"") != NULL;
    test_http_result_free(&r);
    return status;
}

static void metrics_is_not_served_through_haproxy(void **state) {
    (void)state;
    static const char *const paths[] = {"/metrics", "/metrics?x=1", "/METRICS", "/metrics/"};
    bool not_found;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        assert_int_equal(get_status(env("CHAT_URL"), paths[i], &not_found), 404);
        assert_true(not_found);
    }
    assert_int_equal(get_status(env("CHATD1_URL"), "/metrics", &not_found), 200);
}

static void a_session_is_valid_on_every_server(void **state) {
    (void)state;
    char email[128];
    test_email(email, sizeof(email), "stack");
    chat_client *a = chat_client_new(env("CHATD1_URL"));
    assert_int_equal(chat_register(a, email, PASSWORD, "Stacked", NULL), CHAT_OK);
    chat_client *b = chat_client_new(env("CHATD2_URL"));
    assert_int_equal(chat_login(b, email, PASSWORD, NULL), CHAT_OK);
    const char *urls[] = {env("CHATD1_URL"), env("CHATD2_URL"), env("CHATD3_URL")};
    for (int i = 0; i < 3; i++) assert_int_equal(whoami(urls[i], chat_client_token(b)), 200);
    chat_client *c = chat_client_new(env("CHATD3_URL"));
    chat_client_set_token(c, chat_client_token(b));
    assert_int_equal(chat_send(c, "sent through the third server", NULL), CHAT_OK);
    chat_client_free(a);
    chat_client_free(b);
    chat_client_free(c);
}

/* A client that sends numbered messages through HAProxy from a thread. */
struct sender {
    chat_client *client;
    const char *prefix;
    int count;
    pthread_mutex_t *lock;
    pthread_cond_t *progress;
    int *total_sent;        /* shared by all senders */
    int failures;
    unsigned retried;
    char first_error[256];
};

static void *send_all(void *arg) {
    struct sender *s = arg;
    for (int i = 0; i < s->count; i++) {
        char text[64];
        snprintf(text, sizeof(text), "%s %d", s->prefix, i);
        int rc = chat_send(s->client, text, NULL);
        if (rc != CHAT_OK && s->failures++ == 0)
            snprintf(s->first_error, sizeof(s->first_error), "%s: %s (HTTP %d)", text,
                     chat_client_error(s->client), chat_client_status(s->client));
        s->retried += chat_client_attempts(s->client) > 1;
        pthread_mutex_lock(s->lock);
        (*s->total_sent)++;
        pthread_cond_broadcast(s->progress);
        pthread_mutex_unlock(s->lock);
    }
    return NULL;
}

/* Starts n senders of count messages each; returns when `after` messages
 * were sent in all, so the caller can strike. */
struct fleet {
    pthread_mutex_t lock;
    pthread_cond_t progress;
    int total;
    struct sender s[4];
    pthread_t t[4];
    int n;
};

static void fleet_start(struct fleet *f, int n, int count, long retry_ms, const char *prefix,
                        int after) {
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->progress, NULL);
    f->n = n;
    for (int i = 0; i < n; i++) {
        struct sender *s = &f->s[i];
        s->client = test_new_user(prefix, NULL);
        assert_non_null(s->client);
        chat_client_set_retry(s->client, retry_ms);
        s->prefix = prefix;
        s->count = count;
        s->lock = &f->lock;
        s->progress = &f->progress;
        s->total_sent = &f->total;
    }
    for (int i = 0; i < n; i++) {
        char *p = malloc(64);
        snprintf(p, 64, "%s-%d", prefix, i);
        f->s[i].prefix = p;
        pthread_create(&f->t[i], NULL, send_all, &f->s[i]);
    }
    pthread_mutex_lock(&f->lock);
    while (f->total < after) pthread_cond_wait(&f->progress, &f->lock);
    pthread_mutex_unlock(&f->lock);
}

/* Joins the senders; checks that nothing failed and that every message is in
 * the history exactly once, in each sender's order. */
static void fleet_finish(struct fleet *f, const char *what) {
    int failures = 0;
    unsigned retried = 0;
    for (int i = 0; i < f->n; i++) {
        pthread_join(f->t[i], NULL);
        failures += f->s[i].failures;
        retried += f->s[i].retried;
        if (f->s[i].failures) printf("# %s: first failure: %s\n", what, f->s[i].first_error);
    }
    printf("# %s: %d messages from %d clients, %d failed, %u needed a retry\n", what,
           f->total, f->n, failures, retried);
    assert_int_equal(failures, 0);
    chat_message_list all;
    assert_int_equal(chat_history(f->s[0].client, NULL, 0, &all), CHAT_OK);
    for (int i = 0; i < f->n; i++) {
        size_t plen = strlen(f->s[i].prefix);
        int next = 0;
        for (size_t k = 0; k < all.count; k++) {
            const char *t = all.items[k].text;
            if (strncmp(t, f->s[i].prefix, plen) != 0 || t[plen] != ' ') continue;
            if (atoi(t + plen + 1) != next) fail_msg("%s: got '%s', want number %d", what, t, next);
            next++;
        }
        assert_int_equal(next, f->s[i].count); /* all there, once each, in order */
    }
    chat_message_list_cleanup(&all);
    for (int i = 0; i < f->n; i++) {
        free((char *)f->s[i].prefix);
        chat_client_free(f->s[i].client);
    }
}

static bool process_gone(pid_t pid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return true;
    char state = '?';
    int scanned = fscanf(f, "%*d %*s %c", &state);
    fclose(f);
    return scanned == 1 && state == 'Z'; /* exited, not yet reaped */
}

/* POSTs size bytes to /user/ through HAProxy (chunked or with a
 * Content-Length) and checks the answer is chatd's JSON 413. */
static void expect_json_413(size_t size, bool chunked) {
    char *body = malloc(size);
    assert_non_null(body);
    memset(body, 'x', size);
    const char *h[] = {"Content-Type: application/json",
                       chunked ? "Transfer-Encoding: chunked" : "X-Length: known", NULL};
    struct http_result r;
    assert_int_equal(test_http("POST", "/user/", h, body, size, &r), 0);
    if (r.status != 413 || !test_is_error(r.body, "body_too_large") ||
        !strstr(r.headers, "application/json"))
        fail_msg("%zu bytes%s: want a JSON 413, got %ld %.120s", size, chunked ? " chunked" : "",
                 r.status, r.body);
    test_http_result_free(&r);
    free(body);
}

/* Just over --max-body (64 KiB), over what chatd reads (4 x) and far
 * over, with and without Content-Length: while HAProxy is still sending,
 * chatd answers and reads the rest, so the reply is not lost. */
static void bodies_over_the_limit_get_json_413(void **state) {
    (void)state;
    const size_t sizes[] = {64 * 1024 + 1, 300 * 1024, 10 * 1024 * 1024};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        expect_json_413(sizes[i], false);
        expect_json_413(sizes[i], true);
    }
}

static void killing_a_server_goes_unnoticed(void **state) {
    (void)state;
    struct fleet f;
    fleet_start(&f, 1, 2000, 30000, "kill9", 400);
    pid_t victim = (pid_t)atoi(env("CHATD1_PID"));
    assert_int_equal(kill(victim, SIGKILL), 0);
    fleet_finish(&f, "kill -9 of a chatd");
}

static void draining_a_server_under_load_fails_nothing(void **state) {
    (void)state;
    struct fleet f;
    fleet_start(&f, 4, 600, 0, "drain", 300); /* no client retries at all */
    pid_t victim = (pid_t)atoi(env("CHATD2_PID"));
    double start = test_now_ms();
    assert_int_equal(kill(victim, SIGTERM), 0);
    fleet_finish(&f, "SIGTERM of a chatd");
    while (!process_gone(victim)) {
        assert_true(test_now_ms() - start < 20000);
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL); /* its parent reaps it; we only see it go */
    }
    printf("# the drained chatd exited %.0f ms after SIGTERM\n", test_now_ms() - start);
}

/* The status column of server `name` in HAProxy's stats CSV. */
static void server_status(const char *name, char *out, size_t size) {
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "curl -s '%s' | awk -F, '$2 == \"%s\" { print $18 }'",
             env("LOSE_STATS_URL"), name);
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (p && fgets(out, (int)size, p)) out[strcspn(out, "\n")] = '\0';
    if (p) pclose(p);
}

/* Waits until HAProxy reports want for the server; returns the time taken. */
static double wait_status(const char *want) {
    double start = test_now_ms();
    char status[64];
    for (;;) {
        server_status("app1", status, sizeof(status));
        if (strncmp(status, want, strlen(want)) == 0) return test_now_ms() - start;
        assert_true(test_now_ms() - start < 30000);
        struct timespec ts = {0, 20000000}; /* polling HAProxy's own view */
        nanosleep(&ts, NULL);
    }
}

static void haproxy_follows_a_chatd_that_loses_redis(void **state) {
    (void)state;
    wait_status("UP");
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %s shutdown nosave >/dev/null 2>&1",
             env("LOSE_REDIS_PORT"));
    assert_int_not_equal(system(cmd), -1);
    double down_ms = wait_status("DOWN");
    assert_int_equal(system(env("LOSE_REDIS_START")), 0);
    double up_ms = wait_status("UP");
    printf("# HAProxy marked the chatd DOWN %.0f ms after its Redis stopped and UP %.0f ms after "
           "it returned (check inter 1 s, fall 2, rise 2)\n",
           down_ms, up_ms);
    /* fall 2 x inter 1 s, plus at most one interval until the first failing check */
    assert_true(down_ms < 3500);
    assert_true(up_ms < 3500);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metrics_is_not_served_through_haproxy),
        cmocka_unit_test(a_session_is_valid_on_every_server),
        cmocka_unit_test(bodies_over_the_limit_get_json_413),
        cmocka_unit_test(killing_a_server_goes_unnoticed),
        cmocka_unit_test(draining_a_server_under_load_fails_nothing),
        cmocka_unit_test(haproxy_follows_a_chatd_that_loses_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
