/*
 * test_web: the browser client's files (GET /, /app.js, …: content types,
 * the Content-Security-Policy and the other security headers, ETag and 304,
 * HEAD, nothing outside the fixed list, whatever the path's spelling) and
 * the cross-site request check: a request that changes something and names
 * another origin is refused with 403 cross_origin, our own origin or none
 * passes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chatclient.h"
#include "testlib.h"

static char cookie_header[128];
static char own_origin[160];

static int setup(void **state) {
    (void)state;
    chat_client *c = test_new_user("web", NULL);
    if (!c) return -1;
    snprintf(cookie_header, sizeof(cookie_header), "Cookie: authKey=%s", chat_client_token(c));
    chat_client_free(c);
    snprintf(own_origin, sizeof(own_origin), "Origin: %s", test_url());
    return 0;
}

/* The value of header name in raw response headers (copied into out), or NULL. */
static const char *header(const char *headers, const char *name, char *out, size_t size) {
    size_t n = strlen(name);
    for (const char *line = headers; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncasecmp(line, name, n) != 0 || line[n] != ':') continue;
        const char *v = line + n + 1;
        while (*v == ' ') v++;
        size_t len = strcspn(v, "\r\n");
        snprintf(out, size, "%.*s", (int)len, v);
        return out;
    }
    return NULL;
}

static void get(const char *method, const char *path, const char *const *headers,
                struct http_result *r) {
    assert_int_equal(test_http(method, path, headers, NULL, 0, r), 0);
}

static void page_has_type_policy_and_cache_headers(void **state) {
    (void)state;
    struct http_result r;
    char v[512];
    get("GET", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(r.headers, "Content-Type", v, sizeof(v)), "text/html; charset=utf-8");
    assert_non_null(strcasestr(r.body, "<!doctype html>"));
    assert_non_null(header(r.headers, "Content-Security-Policy", v, sizeof(v)));
    assert_non_null(strstr(v, "default-src 'self'"));
    assert_non_null(strstr(v, "frame-ancestors 'none'"));
    assert_null(strstr(v, "unsafe-inline"));
    assert_string_equal(header(r.headers, "X-Content-Type-Options", v, sizeof(v)), "nosniff");
    assert_non_null(header(r.headers, "Referrer-Policy", v, sizeof(v)));
    assert_string_equal(header(r.headers, "Cache-Control", v, sizeof(v)), "no-cache");
    assert_non_null(header(r.headers, "ETag", v, sizeof(v)));
    assert_true(v[0] == '"');
    test_http_result_free(&r);

    get("GET", "/app.js", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(r.headers, "Content-Type", v, sizeof(v)),
                        "text/javascript; charset=utf-8");
    test_http_result_free(&r);
    get("GET", "/app.css", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(r.headers, "Content-Type", v, sizeof(v)), "text/css; charset=utf-8");
    test_http_result_free(&r);
    get("GET", "/favicon.svg", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(r.headers, "Content-Type", v, sizeof(v)), "image/svg+xml");
    test_http_result_free(&r);
    /* the JavaScript client, for pages that import it as a module */
    get("GET", "/clusterchat.js", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(r.headers, "Content-Type", v, sizeof(v)),
                        "text/javascript; charset=utf-8");
    assert_non_null(strstr(r.body, "export class ChatClient"));
    test_http_result_free(&r);

    /* the API's answers are still never cached */
    get("GET", "/room/", NULL, &r);
    assert_string_equal(header(r.headers, "Cache-Control", v, sizeof(v)), "no-store");
    test_http_result_free(&r);
}

static void etag_revalidates_and_head_has_no_body(void **state) {
    (void)state;
    struct http_result r;
    char etag[64], line[96], v[64];
    get("GET", "/app.js", NULL, &r);
    assert_non_null(header(r.headers, "ETag", etag, sizeof(etag)));
    size_t len = r.body_len;
    test_http_result_free(&r);

    snprintf(line, sizeof(line), "If-None-Match: %s", etag);
    const char *h[] = {line, NULL};
    get("GET", "/app.js", h, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(header(r.headers, "ETag", v, sizeof(v)), etag);
    test_http_result_free(&r);

    const char *other[] = {"If-None-Match: \"0000000000000000\"", NULL};
    get("GET", "/app.js", other, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, len);
    test_http_result_free(&r);

    /* HEAD: the same headers and length, no body (curl must not wait for one) */
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "curl -sI -m 5 %s/app.js", test_url());
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char buf[4096] = "";
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    snprintf(line, sizeof(line), "Content-Length: %zu", len);
    assert_non_null(strstr(buf, line));
}

static void only_the_listed_files_are_served(void **state) {
    (void)state;
    static const char *const paths[] = {
        "/index.html", "/web/index.html", "/../web/index.html", "/%2e%2e/web/index.html",
        "/%2E%2E/README.md", "/..%2fREADME.md", "/..%2FREADME.md", "/app.js%2f",
        "/app.js/../app.css", "/./app.js", "/app.js%00", "/%61pp.js", "/web%2fapp.js",
        "/..", "/.git/config", "/app.js.map", "/Makefile", "/%5c..%5cREADME.md",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct http_result r;
        get("GET", paths[i], NULL, &r);
        if (r.status != 404 || !test_is_error(r.body, "not_found"))
            fail_msg("GET %s: want 404 not_found, got %ld %.100s", paths[i], r.status, r.body);
        test_http_result_free(&r);
    }
    struct http_result r;
    const char *h[] = {"Content-Type: application/json", NULL};
    assert_int_equal(test_http("POST", "/", h, "{}", 2, &r), 0);
    assert_int_equal(r.status, 405);
    test_http_result_free(&r);
}

/* Sends method path with body as JSON, the session and extra (a header or
 * NULL); returns the status, and checks the error code when code is set. */
static long send_json(const char *method, const char *path, const char *body, const char *extra,
                      const char *code) {
    const char *h[] = {"Content-Type: application/json", cookie_header, extra, NULL};
    struct http_result r;
    assert_int_equal(test_http(method, path, h, body, body ? strlen(body) : 0, &r), 0);
    long status = r.status;
    if (code && !test_is_error(r.body, code))
        fail_msg("%s %s: want %s, got %ld %.200s", method, path, code, r.status, r.body);
    test_http_result_free(&r);
    return status;
}

static void other_origins_cannot_change_anything(void **state) {
    (void)state;
    const char *evil = "Origin: http://evil.example";
    assert_int_equal(send_json("POST", "/message/", "{\"text\":\"forged\"}", evil, "cross_origin"), 403);
    assert_int_equal(send_json("POST", "/room/x/message/", "{\"text\":\"forged\"}", evil, "cross_origin"), 403);
    assert_int_equal(send_json("POST", "/room/", "{\"name\":\"forged\"}", evil, "cross_origin"), 403);
    assert_int_equal(send_json("PUT", "/user/", "{\"email\":\"a@b.cd\",\"password\":\"whatever1\"}", evil, "cross_origin"), 403);
    assert_int_equal(send_json("POST", "/user/", "{\"email\":\"a@b.cd\",\"password\":\"whatever1\"}", evil, "cross_origin"), 403);
    assert_int_equal(send_json("DELETE", "/user/session", NULL, evil, "cross_origin"), 403);
    assert_int_equal(send_json("DELETE", "/user/session", NULL, "Origin: null", "cross_origin"), 403);
    char port_only[200];
    const char *colon = strrchr(test_url(), ':');
    snprintf(port_only, sizeof(port_only), "Origin: http://127.0.0.2%s", colon);
    assert_int_equal(send_json("POST", "/message/", "{\"text\":\"forged\"}", port_only, "cross_origin"), 403);
    /* nothing was stored, and the session survived the forged logouts */
    struct http_result r;
    get("GET", "/message/", NULL, &r);
    assert_null(strstr(r.body, "forged"));
    test_http_result_free(&r);
    const char *h[] = {cookie_header, evil, NULL};
    get("GET", "/user/", h, &r); /* reads are not checked */
    assert_int_equal(r.status, 200);
    test_http_result_free(&r);
}

static void own_origin_and_no_origin_pass(void **state) {
    (void)state;
    assert_int_equal(send_json("POST", "/message/", "{\"text\":\"from the page\"}", own_origin, NULL), 201);
    assert_int_equal(send_json("POST", "/message/", "{\"text\":\"from a program\"}", NULL, NULL), 201);
    assert_int_equal(send_json("POST", "/room/", "{\"name\":\"web-test\"}", own_origin, NULL) / 100, 2);
    /* the JSON content type is still required (a form cannot send it) */
    const char *h[] = {"Content-Type: text/plain", cookie_header, own_origin, NULL};
    struct http_result r;
    assert_int_equal(test_http("POST", "/message/", h, "{\"text\":\"x\"}", 12, &r), 0);
    assert_int_equal(r.status, 415);
    test_http_result_free(&r);
    assert_int_equal(send_json("DELETE", "/user/session", NULL, own_origin, NULL), 204);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(page_has_type_policy_and_cache_headers),
        cmocka_unit_test(etag_revalidates_and_head_has_no_body),
        cmocka_unit_test(only_the_listed_files_are_served),
        cmocka_unit_test(other_origins_cannot_change_anything),
        cmocka_unit_test(own_origin_and_no_origin_pass),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
