/*
 * Unit tests for origin.c: which Origin headers count as the request's own
 * host (the cross-site request check of state-changing requests).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "origin.h"

static void test_same_host_matches(void **state) {
    (void)state;
    assert_true(origin_matches_host("http://127.0.0.1:8182", "127.0.0.1:8182"));
    assert_true(origin_matches_host("http://localhost:8182", "localhost:8182"));
    assert_true(origin_matches_host("https://chat.example.com", "chat.example.com"));
    assert_true(origin_matches_host("HTTP://Chat.Example.COM", "chat.example.com"));
    assert_true(origin_matches_host("http://[::1]:8182", "[::1]:8182"));
}

static void test_default_ports_are_equal(void **state) {
    (void)state;
    assert_true(origin_matches_host("http://example.com", "example.com:80"));
    assert_true(origin_matches_host("http://example.com:80", "example.com"));
    assert_true(origin_matches_host("https://example.com", "example.com:443"));
    /* 443 is not http's default, 80 not https's */
    assert_false(origin_matches_host("http://example.com", "example.com:443"));
    assert_false(origin_matches_host("https://example.com", "example.com:80"));
}

static void test_other_sites_do_not_match(void **state) {
    (void)state;
    assert_false(origin_matches_host("http://evil.example", "127.0.0.1:8182"));
    assert_false(origin_matches_host("http://127.0.0.1:8183", "127.0.0.1:8182"));
    assert_false(origin_matches_host("http://127.0.0.1", "127.0.0.1:8182"));
    assert_false(origin_matches_host("http://example.com.evil.example", "example.com"));
    assert_false(origin_matches_host("http://sub.example.com", "example.com"));
    assert_false(origin_matches_host("http://example.co", "example.com"));
}

static void test_odd_origins_do_not_match(void **state) {
    (void)state;
    assert_false(origin_matches_host("null", "example.com"));
    assert_false(origin_matches_host("", "example.com"));
    assert_false(origin_matches_host("http://", "example.com"));
    assert_false(origin_matches_host("file://example.com", "example.com"));
    assert_false(origin_matches_host("ftp://example.com", "example.com"));
    assert_false(origin_matches_host("example.com", "example.com"));
    assert_false(origin_matches_host("http://example.com/", "example.com"));
    assert_false(origin_matches_host("http://user@example.com", "example.com"));
    assert_false(origin_matches_host("http://example.com ", "example.com"));
    assert_false(origin_matches_host("http://example.com", ""));
    assert_false(origin_matches_host("http://example.com", NULL));
    assert_false(origin_matches_host(NULL, "example.com"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_host_matches),
        cmocka_unit_test(test_default_ports_are_equal),
        cmocka_unit_test(test_other_sites_do_not_match),
        cmocka_unit_test(test_odd_origins_do_not_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
