/*
 * Unit tests for slot.c: CRC16/XMODEM and key-to-slot mapping. The expected
 * slots were checked against redis-server 7.0's CLUSTER KEYSLOT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "slot.h"

/* Bit-at-a-time CRC16/XMODEM, the reference the table-driven code must match. */
static uint16_t crc16_bitwise(const unsigned char *p, size_t len) {
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static unsigned slot_of(const char *key) { return slot_for_key(key, strlen(key)); }

static void test_crc16_spec_vector(void **state) {
    (void)state;
    assert_int_equal(slot_crc16("123456789", 9), 0x31C3);
    assert_int_equal(slot_crc16("", 0), 0);
    assert_int_equal(slot_crc16(NULL, 0), 0);
}

static void test_crc16_matches_bitwise(void **state) {
    unsigned char buf[512];
    uint32_t seed = 12345;

    (void)state;
    /* Every single byte exercises every table entry. */
    for (unsigned i = 0; i < 256; i++) {
        buf[0] = (unsigned char)i;
        assert_int_equal(slot_crc16((const char *)buf, 1), crc16_bitwise(buf, 1));
    }
    for (size_t len = 0; len <= sizeof(buf); len += 7) {
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (unsigned char)(seed >> 16);
        }
        assert_int_equal(slot_crc16((const char *)buf, len), crc16_bitwise(buf, len));
    }
}

static void test_known_slots(void **state) {
    (void)state;
    assert_int_equal(slot_of("foo"), 12182);
    assert_int_equal(slot_of("bar"), 5061);
    assert_int_equal(slot_of("hello"), 866);
    assert_int_equal(slot_of("123456789"), 0x31C3 & 16383);
    assert_int_equal(slot_of(""), 0);
    assert_int_equal(slot_for_key(NULL, 0), 0);
    assert_int_equal(slot_of("room:{lobby}:messages"), 10294);
}

static void test_hash_tags(void **state) {
    (void)state;
    assert_int_equal(slot_of("{user1000}.following"), 3443);
    assert_int_equal(slot_of("{user1000}.followers"), 3443);
    assert_int_equal(slot_of("user1000"), 3443);
    assert_int_equal(slot_of("a{b}c"), slot_of("b"));
    /* Only the first '{' and the next '}' count. */
    assert_int_equal(slot_of("foo{bar}{zap}"), slot_of("bar"));
    assert_int_equal(slot_of("foo{bar}{zap}"), 5061);
    /* "foo{{bar}}zap": the tag starts after the first '{', so "{bar" is hashed. */
    assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    assert_int_equal(slot_of("foo{{bar}}zap"), 4015);
    /* A '}' before the first '{' is ignored. */
    assert_int_equal(slot_of("}{x}"), slot_of("x"));
}

static void test_no_hash_tag(void **state) {
    (void)state;
    /* An empty tag "{}" means the whole key is hashed, even with "{bar}" later. */
    assert_int_equal(slot_of("foo{}{bar}"), slot_crc16("foo{}{bar}", 10) & 16383);
    assert_int_equal(slot_of("foo{}{bar}"), 8363);
    assert_int_equal(slot_of("{}"), 15257);
    /* No closing brace: the whole key. */
    assert_int_equal(slot_of("{"), 4092);
    assert_int_equal(slot_of("{user1000"), slot_crc16("{user1000", 9) & 16383);
    assert_int_equal(slot_of("}"), 12090);
}

static void test_binary_keys(void **state) {
    static const char key[] = {'a', '\0', '{', 'x', '}', 'b'};
    static const char tag_nul[] = {'{', '\0', '}'};

    (void)state;
    /* The length counts, not the NUL: a tag after a NUL byte is still found. */
    assert_int_equal(slot_for_key(key, sizeof(key)), slot_of("x"));
    assert_int_equal(slot_for_key(key, 1), slot_of("a"));
    /* A tag may be a single NUL byte. */
    assert_int_equal(slot_for_key(tag_nul, sizeof(tag_nul)), slot_crc16("", 1) & 16383);
    /* A tag cut off by len is not a tag. */
    assert_int_equal(slot_for_key("{ab}", 3), slot_crc16("{ab", 3) & 16383);
}

static void test_range(void **state) {
    char key[16];

    (void)state;
    for (unsigned i = 0; i < 20000; i++) {
        int n = snprintf(key, sizeof(key), "k%u", i);

        assert_true(slot_for_key(key, (size_t)n) < SLOT_COUNT);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_spec_vector),
        cmocka_unit_test(test_crc16_matches_bitwise),
        cmocka_unit_test(test_known_slots),
        cmocka_unit_test(test_hash_tags),
        cmocka_unit_test(test_no_hash_tag),
        cmocka_unit_test(test_binary_keys),
        cmocka_unit_test(test_range),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
