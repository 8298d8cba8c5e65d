/*
 * test_secure_cookie: the session cookie is marked Secure when the client
 * came over TLS, which chatd learns from X-Forwarded-Proto: https sent by a
 * trusted proxy (--trusted-proxies; the peer 127.0.0.1 is one by default).
 * The same header from a peer that is not trusted (CHAT_UNTRUSTED_URL, a
 * chatd that trusts only 192.0.2.1, see run.sh) changes nothing, and
 * without the header, or with "http", the cookie is not Secure.
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

static void https_from_a_trusted_proxy_makes_the_cookie_secure(void **state) {
    (void)state;
    char cookie[256], auth[96];
    register_with_proto(test_url(), "https", cookie, auth);
    assert_true(is_secure(cookie));
    assert_non_null(strstr(cookie, "HttpOnly"));
    logout_with_proto(test_url(), "https", auth, cookie);
    assert_true(is_secure(cookie));
}

static void plain_http_gets_no_secure_cookie(void **state) {
    (void)state;
    char cookie[256], auth[96];
    register_with_proto(test_url(), NULL, cookie, auth);
    assert_false(is_secure(cookie));
    register_with_proto(test_url(), "http", cookie, auth);
    assert_false(is_secure(cookie));
    logout_with_proto(test_url(), "http", auth, cookie);
    assert_false(is_secure(cookie));
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
        cmocka_unit_test(an_untrusted_peer_is_not_believed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
