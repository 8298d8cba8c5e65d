/*
 * test_secure_cookie: the session cookie is marked Secure when the client
 * came over TLS, which chatd learns from X-Forwarded-Proto: https sent by a
 * trusted proxy (--trusted-proxies; the peer 127.0.0.1 is one by default).
 * The same header from a peer that is not trusted (CHAT_UNTRUSTED_URL, a
 * chatd that trusts only 192.0.2.1, see run.sh) changes nothing, and
 * without the header, or with "http", the cookie is not Secure. Over TLS
 * the cookie is named __Host-authKey (Path=/, no Domain), and the server
 * prefers it to an authKey cookie that a sibling subdomain may plant.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define PASSWORD "correct horse battery"

/* The Set-Cookie line of a raw reply's headers (up to its end), or "". */
static void set_cookie_line(const char *headers, char *out, size_t size) {
    const char *c = strstr(headers, "Set-Cookie: ");
    size_t len = c ? strcspn(c, "\r\n") : 0;
    snprintf(out, size, "%.*s", (int)len, c ? c : "");
}

/* Registers a new user at base with the given X-Forwarded-Proto (NULL:
 * none) and writes the reply's Set-Cookie line into cookie and the
 * "Authorization: Bearer ..." header for the session into auth. */
static void register_with_proto(const char *base, const char *proto, char cookie[256],
                                char auth[96]) {
    char email[128], body[256], proto_header[64];
    struct http_result r;
    test_email(email, sizeof(email), "secure");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"" PASSWORD "\"}", email);
    snprintf(proto_header, sizeof(proto_header), "X-Forwarded-Proto: %s", proto ? proto : "");
    const char *h[] = {"Content-Type: application/json", proto ? proto_header : "X-None: 1", NULL};
    assert_int_equal(test_http_at(base, "POST", "/user/", h, body, strlen(body), &r), 0);
    assert_int_equal(r.status, 201);
    set_cookie_line(r.headers, cookie, 256);
    assert_non_null(strstr(cookie, "authKey="));
    const char *k = strstr(r.body, "\"authKey\":\"");
    assert_non_null(k);
    snprintf(auth, 96, "Authorization: Bearer %.43s", k + 11);
    test_http_result_free(&r);
}

/* Logs out with the given X-Forwarded-Proto and returns the clearing cookie. */
static void logout_with_proto(const char *base, const char *proto, const char *auth,
                              char cookie[256]) {
    char proto_header[64];
    struct http_result r;
    snprintf(proto_header, sizeof(proto_header), "X-Forwarded-Proto: %s", proto);
    const char *h[] = {auth, proto_header, NULL};
    assert_int_equal(test_http_at(base, "DELETE", "/user/session", h, NULL, 0, &r), 0);
    assert_int_equal(r.status, 204);
    set_cookie_line(r.headers, cookie, 256);
    assert_non_null(strstr(cookie, "Max-Age=0"));
    test_http_result_free(&r);
}

static bool is_secure(const char *cookie) { return strstr(cookie, "; Secure") != NULL; }

/* The cookie line sets the __Host- name, with Path=/ and no Domain. */
static bool is_host_cookie(const char *cookie) {
    return strncmp(cookie, "Set-Cookie: __Host-authKey=", 27) == 0 &&
           strstr(cookie, "; Path=/;") && !strstr(cookie, "Domain");
}

static void https_from_a_trusted_proxy_makes_the_cookie_secure(void **state) {
    (void)state;
    char cookie[256], auth[96];
    register_with_proto(test_url(), "https", cookie, auth);
    assert_true(is_secure(cookie));
    assert_true(is_host_cookie(cookie));
    assert_non_null(strstr(cookie, "HttpOnly"));
    logout_with_proto(test_url(), "https", auth, cookie);
    assert_true(is_secure(cookie));
    assert_true(is_host_cookie(cookie));
}

/* The e-mail GET /user/ answers for the given Cookie header. */
static void me_with_cookie(const char *cookie_header, char *email, size_t size) {
    struct http_result r;
    const char *h[] = {cookie_header, NULL};
    assert_int_equal(test_http_at(test_url(), "GET", "/user/", h, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    const char *e = strstr(r.body, "\"email\":\"");
    assert_non_null(e);
    snprintf(email, size, "%.*s", (int)strcspn(e + 9, "\""), e + 9);
    test_http_result_free(&r);
}

static void a_planted_plain_cookie_does_not_beat_the_host_cookie(void **state) {
    (void)state;
    char cookie[256], auth_victim[96], auth_planted[96], header[256], first[128], second[128];
    register_with_proto(test_url(), "https", cookie, auth_victim);
    register_with_proto(test_url(), "https", cookie, auth_planted);
    const char *victim = auth_victim + 22, *planted = auth_planted + 22; /* after "...Bearer " */
    snprintf(header, sizeof(header), "Cookie: __Host-authKey=%s", victim);
    me_with_cookie(header, first, sizeof(first));
    snprintf(header, sizeof(header), "Cookie: authKey=%s; __Host-authKey=%s", planted, victim);
    me_with_cookie(header, second, sizeof(second));
    assert_string_equal(first, second);
    /* and when it comes first: neither the first nor the last cookie wins */
    snprintf(header, sizeof(header), "Cookie: __Host-authKey=%s; authKey=%s", victim, planted);
    me_with_cookie(header, second, sizeof(second));
    assert_string_equal(first, second);
}

static void plain_http_gets_no_secure_cookie(void **state) {
    (void)state;
    char cookie[256], auth[96];
    register_with_proto(test_url(), NULL, cookie, auth);
    assert_false(is_secure(cookie));
    assert_int_equal(strncmp(cookie, "Set-Cookie: authKey=", 20), 0);
    register_with_proto(test_url(), "http", cookie, auth);
    assert_false(is_secure(cookie));
    logout_with_proto(test_url(), "http", auth, cookie);
    assert_false(is_secure(cookie));
    assert_int_equal(strncmp(cookie, "Set-Cookie: authKey=", 20), 0);
}

static void an_untrusted_peer_is_not_believed(void **state) {
    (void)state;
    const char *untrusted = getenv("CHAT_UNTRUSTED_URL");
    if (!untrusted) skip();
    char cookie[256], auth[96];
    register_with_proto(untrusted, "https", cookie, auth);
    assert_false(is_secure(cookie));
    logout_with_proto(untrusted, "https", auth, cookie);
    assert_false(is_secure(cookie));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(https_from_a_trusted_proxy_makes_the_cookie_secure),
        cmocka_unit_test(plain_http_gets_no_secure_cookie),
        cmocka_unit_test(a_planted_plain_cookie_does_not_beat_the_host_cookie),
        cmocka_unit_test(an_untrusted_peer_is_not_believed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
