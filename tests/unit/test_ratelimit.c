/*
 * Unit tests for the pure parts of the abuse limits: rate_rule_parse (the
 * "N/seconds" settings) and client_addr (whose address a request is counted
 * against, behind trusted proxies only, and whether such a proxy says the
 * client came over TLS).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client_addr.h"
#include "ratelimit.h"
#include "store_keys.h"

static void rules_parse(void **state) {
    (void)state;
    struct rate_rule r;
    assert_int_equal(rate_rule_parse("10/60", &r), 0);
    assert_int_equal(r.count, 10);
    assert_int_equal(r.window_s, 60);
    assert_int_equal(rate_rule_parse("0", &r), 0);
    assert_int_equal(r.count, 0);
    assert_int_equal(rate_rule_parse("1/86400", &r), 0);
    const char *bad[] = {"", "10", "/60", "10/", "10/0", "-1/60", "10/86401", "10/60x",
                         "x/60", "10 /60", "0/0", "10/-5", NULL};
    for (int i = 0; bad[i]; i++)
        if (rate_rule_parse(bad[i], &r) == 0) fail_msg("'%s' parsed", bad[i]);
}

static void the_peer_counts_unless_it_is_a_trusted_proxy(void **state) {
    (void)state;
    char out[CLIENT_ADDR_MAX];
    const char *trusted = "127.0.0.1, ::1";
    client_addr_pick("192.0.2.1", "203.0.113.9", trusted, out, sizeof(out));
    assert_string_equal(out, "192.0.2.1"); /* untrusted peer: its header is ignored */
    client_addr_pick("127.0.0.1", "203.0.113.9", trusted, out, sizeof(out));
    assert_string_equal(out, "203.0.113.9");
    client_addr_pick("::1", "2001:db8::7", trusted, out, sizeof(out));
    assert_string_equal(out, "2001:db8::7");
    /* the proxy appends: only the last entry is the proxy's own */
    client_addr_pick("127.0.0.1", "6.6.6.6, 203.0.113.9", trusted, out, sizeof(out));
    assert_string_equal(out, "203.0.113.9");
    client_addr_pick("127.0.0.1", NULL, trusted, out, sizeof(out));
    assert_string_equal(out, "127.0.0.1");
    /* what is not an address falls back to the peer */
    const char *junk[] = {"", "unknown", "1.2.3.4\r\nX: y", "999.1.1.1", "a, ", NULL};
    for (int i = 0; junk[i]; i++) {
        client_addr_pick("127.0.0.1", junk[i], trusted, out, sizeof(out));
        assert_string_equal(out, "127.0.0.1");
    }
}

static void trusted_list_matches_whole_entries(void **state) {
    (void)state;
    assert_true(client_addr_listed("10.0.0.1", "10.0.0.1"));
    assert_true(client_addr_listed("10.0.0.2", " 10.0.0.1 ,10.0.0.2 "));
    assert_false(client_addr_listed("10.0.0.1", "10.0.0.10"));
    assert_false(client_addr_listed("10.0.0.1", ""));
    assert_false(client_addr_listed("", "10.0.0.1,,"));
}

static void forwarded_https_only_from_a_trusted_proxy(void **state) {
    (void)state;
    const char *trusted = "127.0.0.1, ::1";
    assert_true(client_addr_forwarded_https("127.0.0.1", "https", trusted));
    assert_true(client_addr_forwarded_https("::1", " HTTPS ", trusted));
    /* an untrusted peer is not believed, whatever it says */
    assert_false(client_addr_forwarded_https("192.0.2.1", "https", trusted));
    assert_false(client_addr_forwarded_https("192.0.2.1", "https", ""));
    /* only the last entry is the proxy's own */
    assert_true(client_addr_forwarded_https("127.0.0.1", "http, https", trusted));
    assert_false(client_addr_forwarded_https("127.0.0.1", "https, http", trusted));
    const char *not_tls[] = {"http", "", "httpss", "https2", "ws", NULL};
    for (int i = 0; not_tls[i]; i++)
        assert_false(client_addr_forwarded_https("127.0.0.1", not_tls[i], trusted));
    assert_false(client_addr_forwarded_https("127.0.0.1", NULL, trusted));
}

static void mapped_ipv4_peers_are_their_ipv4_address(void **state) {
    (void)state;
    char out[CLIENT_ADDR_MAX];
    const char *trusted = "127.0.0.1, ::1";
    /* chatd on "::": HAProxy on 127.0.0.1 arrives as ::ffff:127.0.0.1 */
    assert_true(client_addr_listed("::ffff:127.0.0.1", trusted));
    assert_true(client_addr_listed("127.0.0.1", "::ffff:127.0.0.1"));
    assert_false(client_addr_listed("::ffff:127.0.0.2", trusted));
    client_addr_pick("::ffff:127.0.0.1", "203.0.113.9", trusted, out, sizeof(out));
    assert_string_equal(out, "203.0.113.9");
    client_addr_pick("::ffff:192.0.2.1", "203.0.113.9", trusted, out, sizeof(out));
    assert_string_equal(out, "192.0.2.1"); /* untrusted, and counted as IPv4 */
    client_addr_pick("::ffff:127.0.0.1", "::ffff:203.0.113.9", trusted, out, sizeof(out));
    assert_string_equal(out, "203.0.113.9");
    assert_true(client_addr_forwarded_https("::ffff:127.0.0.1", "https", trusted));
    client_addr_normalise("2001:db8::ffff:1.2.3.4", out, sizeof(out));
    assert_string_equal(out, "2001:db8::ffff:1.2.3.4"); /* not mapped */
}

static void ipv6_clients_are_limited_by_their_64(void **state) {
    (void)state;
    char a[CLIENT_ADDR_MAX], b[CLIENT_ADDR_MAX];
    client_addr_limit_key("2001:db8:1:2:aaaa::1", a, sizeof(a));
    client_addr_limit_key("2001:db8:1:2:bbbb:cccc:dddd:eeee", b, sizeof(b));
    assert_string_equal(a, "2001:db8:1:2::/64");
    assert_string_equal(a, b);
    client_addr_limit_key("2001:db8:1:3::1", b, sizeof(b));
    assert_string_equal(b, "2001:db8:1:3::/64");
    client_addr_limit_key("::1", a, sizeof(a));
    assert_string_equal(a, "::/64");
    client_addr_limit_key("203.0.113.9", a, sizeof(a));
    assert_string_equal(a, "203.0.113.9");
    client_addr_limit_key("::ffff:203.0.113.9", a, sizeof(a));
    assert_string_equal(a, "203.0.113.9");
    client_addr_limit_key("unknown", a, sizeof(a));
    assert_string_equal(a, "unknown");
}

static void rate_and_session_index_keys(void **state) {
    (void)state;
    char out[STORE_KEY_MAX];
    assert_int_equal(store_key_rate(out, sizeof(out), "login-email", "a@b.cd"), 23);
    assert_string_equal(out, "rate:login-email:a@b.cd");
    assert_int_equal(store_key_user_sessions(out, sizeof(out), "f00d"), 18);
    assert_string_equal(out, "user-sessions:f00d");
    assert_int_equal(store_key_rate(out, 8, "login-email", "a@b.cd"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rules_parse),
        cmocka_unit_test(the_peer_counts_unless_it_is_a_trusted_proxy),
        cmocka_unit_test(trusted_list_matches_whole_entries),
        cmocka_unit_test(forwarded_https_only_from_a_trusted_proxy),
        cmocka_unit_test(mapped_ipv4_peers_are_their_ipv4_address),
        cmocka_unit_test(ipv6_clients_are_limited_by_their_64),
        cmocka_unit_test(rate_and_session_index_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
