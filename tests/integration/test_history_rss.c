/*
 * test_history_rss: GET /message/ streams a history of 100,000 messages
 * completely and in order while chatd's resident memory grows by less than
 * 10 MB. The history is written straight into the room's stream with
 * redis-cli --pipe (in chatd's own format), which is quicker than sending it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define HISTORY_SIZE 100000
#define RSS_LIMIT_KB (10 * 1024)

static void resp_bulk(FILE *f, const char *s) { fprintf(f, "$%zu\r\n%s\r\n", strlen(s), s); }

static void fill_history(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d --pipe >/dev/null", test_redis_port());
    FILE *p = popen(cmd, "w");
    assert_non_null(p);
    for (int i = 0; i < HISTORY_SIZE; i++) {
        char text[64], ts[24];
        snprintf(text, sizeof(text), "history message number %d", i);
        snprintf(ts, sizeof(ts), "%d", 1700000000 + i);
        fprintf(p, "*11\r\n");
        const char *args[] = {"XADD", "room:{lobby}:messages", "*", "userId",
                              "0123456789abcdef0123456789abcdef", "name", "filler", "text",
                              text, "timestamp", ts};
        for (int k = 0; k < 11; k++) resp_bulk(p, args[k]);
    }
    assert_int_equal(pclose(p), 0);
}

/* Counts the response and samples chatd's RSS every 256 KiB received. */
struct reader {
    char *data;
    size_t len, cap;
    size_t next_sample;
    long max_rss_kb;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg) {
    struct reader *r = arg;
    size_t n = size * nmemb;
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        r->data = realloc(r->data, r->cap);
        if (!r->data) return 0;
    }
    memcpy(r->data + r->len, ptr, n);
    r->len += n;
    r->data[r->len] = '\0';
    if (r->len >= r->next_sample) {
        long rss = test_chatd_rss_kb();
        if (rss > r->max_rss_kb) r->max_rss_kb = rss;
        r->next_sample = r->len + 256 * 1024;
    }
    return n;
}

static void full_history_streams_at_constant_memory(void **state) {
    (void)state;
    fill_history();
    long before = test_chatd_rss_kb();
    assert_true(before > 0);
    struct reader r = {0};
    r.max_rss_kb = before;
    char url[256];
    snprintf(url, sizeof(url), "%s/message/", test_url());
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    long status;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    long after = test_chatd_rss_kb();
    if (after > r.max_rss_kb) r.max_rss_kb = after;
    assert_int_equal(status, 200);

    json_error_t err;
    json_t *all = json_loadb(r.data, r.len, 0, &err);
    free(r.data);
    assert_non_null(all);
    assert_int_equal(json_array_size(all), HISTORY_SIZE);
    for (size_t i = 0; i < json_array_size(all); i += 997) {
        char want[64];
        snprintf(want, sizeof(want), "history message number %zu", i);
        const char *text = json_string_value(json_object_get(json_array_get(all, i), "text"));
        assert_string_equal(text, want);
    }
    json_decref(all);
    printf("# history of %d messages: chatd RSS %ld kB before, peak %ld kB (+%ld kB)\n",
           HISTORY_SIZE, before, r.max_rss_kb, r.max_rss_kb - before);
    if (test_sanitized()) skip(); /* ASan's shadow memory makes RSS meaningless */
    assert_true(r.max_rss_kb - before < RSS_LIMIT_KB);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_history_streams_at_constant_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
