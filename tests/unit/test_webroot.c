/*
 * Unit tests for webroot.c: loading the client's files from a folder (only
 * the names in its table, missing ones reported), finding them by URL path,
 * ETags, and the If-None-Match comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "webroot.h"

static char dir[64];

static void write_file(const char *name, const char *text) {
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_file(const char *name) {
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0) return -1;
    snprintf(dir, sizeof(dir), "%s/webroot-test-XXXXXX", P_tmpdir);
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    const char *names[] = {"index.html", "app.js", "app.css", "favicon.svg", "clusterchat.js",
                           "secret.txt"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) remove_file(names[i]);
    return rmdir(dir);
}

static void test_loads_the_table_and_nothing_else(void **state) {
    (void)state;
    write_file("index.html", "<!doctype html>");
    write_file("app.js", "'use strict';");
    write_file("app.css", "body{}");
    write_file("favicon.svg", "<svg/>");
    write_file("clusterchat.js", "export {};");
    write_file("secret.txt", "not served");
    char missing[64];
    struct webroot *w = webroot_load(dir, missing, sizeof(missing));
    assert_non_null(w);
    assert_int_equal(webroot_loaded(w), webroot_known());
    assert_string_equal(missing, "");
    const struct web_file *f = webroot_find(w, "/");
    assert_non_null(f);
    assert_string_equal(f->content_type, "text/html; charset=utf-8");
    assert_int_equal(f->len, strlen("<!doctype html>"));
    assert_memory_equal(f->data, "<!doctype html>", f->len);
    assert_string_equal(webroot_find(w, "/app.js")->content_type, "text/javascript; charset=utf-8");
    assert_string_equal(webroot_find(w, "/app.css")->content_type, "text/css; charset=utf-8");
    assert_string_equal(webroot_find(w, "/favicon.svg")->content_type, "image/svg+xml");
    assert_string_equal(webroot_find(w, "/clusterchat.js")->content_type,
                        "text/javascript; charset=utf-8");
    /* only table paths: no file names, no other files, no traversal */
    assert_null(webroot_find(w, "/index.html"));
    assert_null(webroot_find(w, "/secret.txt"));
    assert_null(webroot_find(w, "/../app.js"));
    assert_null(webroot_find(w, "app.js"));
    webroot_free(w);
}

static void test_etags_follow_the_content(void **state) {
    (void)state;
    write_file("app.js", "one");
    struct webroot *a = webroot_load(dir, NULL, 0);
    write_file("app.js", "two");
    struct webroot *b = webroot_load(dir, NULL, 0);
    const char *ea = webroot_find(a, "/app.js")->etag, *eb = webroot_find(b, "/app.js")->etag;
    assert_int_equal(strlen(ea), 18); /* a quoted 16-digit hex string */
    assert_true(ea[0] == '"' && ea[17] == '"');
    assert_string_not_equal(ea, eb);
    write_file("app.js", "one");
    struct webroot *c = webroot_load(dir, NULL, 0);
    assert_string_equal(ea, webroot_find(c, "/app.js")->etag);
    webroot_free(a);
    webroot_free(b);
    webroot_free(c);
}

static void test_missing_files_are_named(void **state) {
    (void)state;
    write_file("index.html", "x");
    write_file("app.js", "x");
    write_file("clusterchat.js", "x");
    remove_file("app.css");
    remove_file("favicon.svg");
    char missing[64];
    struct webroot *w = webroot_load(dir, missing, sizeof(missing));
    assert_int_equal(webroot_loaded(w), webroot_known() - 2);
    assert_string_equal(missing, "app.css,favicon.svg");
    assert_null(webroot_find(w, "/app.css"));
    assert_non_null(webroot_find(w, "/"));
    webroot_free(w);
    w = webroot_load("/nonexistent-folder-of-web-files", missing, sizeof(missing));
    assert_int_equal(webroot_loaded(w), 0);
    assert_null(webroot_find(w, "/"));
    webroot_free(w);
    webroot_free(NULL);
}

static void test_if_none_match(void **state) {
    (void)state;
    const char *e = "\"0123456789abcdef\"";
    assert_true(webroot_etag_matches("\"0123456789abcdef\"", e));
    assert_true(webroot_etag_matches("W/\"0123456789abcdef\"", e));
    assert_true(webroot_etag_matches("\"x\", \"0123456789abcdef\"", e));
    assert_true(webroot_etag_matches("\"x\",W/\"0123456789abcdef\" , \"y\"", e));
    assert_true(webroot_etag_matches("*", e));
    assert_false(webroot_etag_matches(NULL, e));
    assert_false(webroot_etag_matches("", e));
    assert_false(webroot_etag_matches("\"0123456789abcdee\"", e));
    assert_false(webroot_etag_matches("0123456789abcdef", e));
    assert_false(webroot_etag_matches("\"0123456789abcdef", e));
    assert_false(webroot_etag_matches("\"0123456789abcdef\"x", e));
    assert_false(webroot_etag_matches("\"x\", \"y\"", e));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_the_table_and_nothing_else),
        cmocka_unit_test(test_etags_follow_the_content),
        cmocka_unit_test(test_missing_files_are_named),
        cmocka_unit_test(test_if_none_match),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
