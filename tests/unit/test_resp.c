/*
 * Unit tests for resp.c: the command encoding must be byte for byte what
 * hiredis's redisFormatCommandArgv produces, for plain, empty, binary and
 * long arguments, with and without explicit lengths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "resp.h"

/* Formats argv both ways and asserts the same bytes. */
static void assert_same_as_hiredis(int argc, const char **argv, const size_t *lens) {
    char *want = NULL;
    int want_len = redisFormatCommandArgv(&want, argc, argv, lens);
    assert_true(want_len > 0);
    size_t got_len = 0;
    char *got = resp_format_argv(&got_len, argc, argv, lens);
    assert_non_null(got);
    assert_int_equal(got_len, (size_t)want_len);
    assert_memory_equal(got, want, got_len);
    free(got);
    redisFreeCommand(want);
}

static void test_plain_arguments(void **state) {
    (void)state;
    const char *argv[] = {"XREAD", "COUNT", "1000", "BLOCK", "5000", "STREAMS",
                          "room:{lobby}:messages", "1700000000000-0"};
    assert_same_as_hiredis(8, argv, NULL);
    const char *one[] = {"PING"};
    assert_same_as_hiredis(1, one, NULL);
}

static void test_empty_binary_and_long_arguments(void **state) {
    (void)state;
    static char big[123456];
    memset(big, 'x', sizeof(big));
    const char *argv[] = {"SET", "", "a\0b\r\n", big};
    size_t lens[] = {3, 0, 5, sizeof(big)};
    assert_same_as_hiredis(4, argv, lens);
}

static void test_many_arguments(void **state) {
    (void)state;
    const char *argv[12];
    for (int i = 0; i < 12; i++) argv[i] = i % 2 ? "value" : "0123456789";
    assert_same_as_hiredis(12, argv, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_arguments),
        cmocka_unit_test(test_empty_binary_and_long_arguments),
        cmocka_unit_test(test_many_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
