/*
 * Unit tests for hub_id_compare: stream ids ("<ms>-<seq>") compare as pairs
 * of numbers, not as text, up to the largest 64-bit values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hub.h"

static void test_numeric_order(void **state) {
    (void)state;
    assert_int_equal(hub_id_compare("1-0", "1-0"), 0);
    assert_true(hub_id_compare("1-0", "1-1") < 0);
    assert_true(hub_id_compare("1-10", "1-9") > 0);     /* not text order */
    assert_true(hub_id_compare("9-0", "10-0") < 0);
    assert_true(hub_id_compare("1700000000001-0", "1700000000000-99") > 0);
    assert_true(hub_id_compare("0-1", "0-0") > 0);
}

static void test_largest_values(void **state) {
    (void)state;
    assert_int_equal(hub_id_compare("18446744073709551615-18446744073709551615",
                                    "18446744073709551615-18446744073709551615"), 0);
    assert_true(hub_id_compare("18446744073709551614-18446744073709551615",
                               "18446744073709551615-0") < 0);
    assert_true(hub_id_compare("5-18446744073709551615", "5-18446744073709551614") > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric_order),
        cmocka_unit_test(test_largest_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
