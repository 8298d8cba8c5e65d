/*
 * Unit tests for webhook_event.c: the kinds' names, --webhook's parsing,
 * the shard of a room, the event id (stable, distinct per kind and ref),
 * the event's JSON and the signature against a known HMAC-SHA256 value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "webhook_event.h"

static void test_kind_names(void **state) {
    (void)state;
    for (int k = 0; k < WEBHOOK_KIND_COUNT; k++) {
        const char *name = webhook_kind_name((enum webhook_kind)k);
        assert_non_null(name);
        assert_int_equal(webhook_kind_parse(name, strlen(name)), k);
    }
    assert_int_equal(webhook_kind_parse("message.create", 14), -1);
    assert_int_equal(webhook_kind_parse("message.created", 7), -1);
    assert_null(webhook_kind_name(WEBHOOK_KIND_COUNT));
}

static void test_endpoints(void **state) {
    (void)state;
    struct webhook_endpoint e[WEBHOOK_ENDPOINTS_MAX];
    char err[256];
    int n = webhook_endpoints_parse(
        " http://a.example/h  https://b.example/x?y=1,message.created,member.banned ", e, err);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].url, "http://a.example/h");
    assert_int_equal(e[0].kinds, WEBHOOK_KINDS_ALL);
    assert_string_equal(e[1].url, "https://b.example/x?y=1");
    assert_int_equal(e[1].kinds, (1u << WEBHOOK_MESSAGE_CREATED) | (1u << WEBHOOK_MEMBER_BANNED));
    assert_int_equal(webhook_endpoints_parse("", e, err), 0);
    assert_int_equal(webhook_endpoints_parse("ftp://a.example/", e, err), -1);
    assert_int_equal(webhook_endpoints_parse("http://a.example/,message.sent", e, err), -1);
    assert_non_null(strstr(err, "message.sent"));
    assert_int_equal(webhook_endpoints_parse("http://", e, err), -1);
}

static void test_shards(void **state) {
    (void)state;
    assert_int_equal(webhook_shard_of("lobby", 8), webhook_shard_of("lobby", 8));
    assert_int_equal(webhook_shard_of("lobby", 1), 0);
    unsigned seen = 0; /* 64 rooms spread over every one of 8 shards */
    for (int i = 0; i < 64; i++) {
        char room[16];
        snprintf(room, sizeof(room), "room-%d", i);
        unsigned s = webhook_shard_of(room, 8);
        assert_true(s < 8);
        seen |= 1u << s;
    }
    assert_int_equal(seen, 0xff);
}

static void test_event_id(void **state) {
    (void)state;
    char a[WEBHOOK_ID_LEN + 1], b[WEBHOOK_ID_LEN + 1];
    webhook_event_id(a, WEBHOOK_MESSAGE_CREATED, "lobby", "1-0");
    webhook_event_id(b, WEBHOOK_MESSAGE_CREATED, "lobby", "1-0");
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), WEBHOOK_ID_LEN);
    assert_memory_equal(a, "evt_", 4);
    webhook_event_id(b, WEBHOOK_MESSAGE_REMOVED, "lobby", "1-0");
    assert_string_not_equal(a, b);
    webhook_event_id(b, WEBHOOK_MESSAGE_CREATED, "lobby1", "-0"); /* no ambiguity */
    assert_string_not_equal(a, b);
}

static void test_body(void **state) {
    (void)state;
    json_t *data = json_pack("{s:s}", "room", "lobby");
    char *body = webhook_event_body(WEBHOOK_MEMBER_LEFT, "evt_x", 1700000000123LL, data);
    assert_string_equal(body, "{\"id\":\"evt_x\",\"type\":\"member.left\","
                              "\"timestamp\":1700000000123,\"data\":{\"room\":\"lobby\"}}");
    free(body);
    json_decref(data);
}

/* The value of: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'a secret of 16+ bytes' */
#define KNOWN_MAC "v1=747ed0337cd271d79f56bc1cf47fe5914ce721c46bef440a4cba7c2c0360865c"

static void test_signature(void **state) {
    (void)state;
    const char *secret = "a secret of 16+ bytes", *body = "{\"a\":1}";
    char sig[WEBHOOK_SIGNATURE_LEN + 1], again[WEBHOOK_SIGNATURE_LEN + 1];
    webhook_sign(sig, (const unsigned char *)secret, strlen(secret), 1700000000LL, body,
                 strlen(body));
    assert_int_equal(strlen(sig), WEBHOOK_SIGNATURE_LEN);
    assert_string_equal(sig, KNOWN_MAC);
    webhook_sign(again, (const unsigned char *)secret, strlen(secret), 1700000001LL, body,
                 strlen(body));
    assert_string_not_equal(sig, again);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names), cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_shards),     cmocka_unit_test(test_event_id),
        cmocka_unit_test(test_body),       cmocka_unit_test(test_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
