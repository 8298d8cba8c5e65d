/*
 * Unit tests for numfmt.c: each writer prints what its printf format would,
 * for edge values and a sweep of others.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "numfmt.h"

static void check_decimal(long long v) {
    char want[32], got[32];
    snprintf(want, sizeof(want), "%lld", v);
    *numfmt_decimal(got, v) = '\0';
    assert_string_equal(got, want);
}

static void check_unsigned(unsigned long long v) {
    char want[32], got[32];
    snprintf(want, sizeof(want), "%llu", v);
    *numfmt_unsigned(got, v) = '\0';
    assert_string_equal(got, want);
}

static void check_hex(unsigned long long v, int min_digits) {
    char want[32], got[32];
    snprintf(want, sizeof(want), "%0*llx", min_digits, v);
    *numfmt_hex(got, v, min_digits) = '\0';
    assert_string_equal(got, want);
}

static void test_edges(void **state) {
    (void)state;
    const long long signed_edges[] = {0, 1, -1, 9, 10, -10, 1795790000000LL, LLONG_MAX, LLONG_MIN};
    for (size_t i = 0; i < sizeof(signed_edges) / sizeof(signed_edges[0]); i++)
        check_decimal(signed_edges[i]);
    const unsigned long long unsigned_edges[] = {0, 1, 9, 10, 4294967295ULL, ULLONG_MAX};
    for (size_t i = 0; i < sizeof(unsigned_edges) / sizeof(unsigned_edges[0]); i++) {
        check_unsigned(unsigned_edges[i]);
        check_hex(unsigned_edges[i], 0);
        check_hex(unsigned_edges[i], 1);
        check_hex(unsigned_edges[i], 8);
    }
}

static void test_sweep(void **state) {
    (void)state;
    unsigned long long v = 1;
    for (int i = 0; i < 2000; i++) {
        v = v * 6364136223846793005ULL + 1442695040888963407ULL;
        check_decimal((long long)v);
        check_decimal((long long)(v >> (i % 64)));
        check_unsigned(v >> (i % 64));
        check_hex(v >> (i % 64), i % 20);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_sweep),
    };
    return cmocka_run_group_tests_name("numfmt", tests, NULL, NULL);
}
