/*
 * Unit tests for addr_slots: the cap holds per address, other addresses are
 * not affected, a released slot can be taken again, an address that holds
 * nothing is forgotten, and a cap of 0 only counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "addr_slots.h"

static void the_cap_is_per_address(void **state) {
    (void)state;
    struct addr_slots *t = addr_slots_new(2);
    assert_non_null(t);
    assert_true(addr_slots_take(t, "203.0.113.9"));
    assert_true(addr_slots_take(t, "203.0.113.9"));
    assert_false(addr_slots_take(t, "203.0.113.9"));
    assert_int_equal(addr_slots_held(t, "203.0.113.9"), 2);
    assert_true(addr_slots_take(t, "2001:db8:1:2::/64"));
    assert_int_equal(addr_slots_held(t, "2001:db8:1:2::/64"), 1);
    addr_slots_release(t, "203.0.113.9");
    assert_true(addr_slots_take(t, "203.0.113.9"));
    assert_false(addr_slots_take(t, "203.0.113.9"));
    addr_slots_free(t);
}

static void released_addresses_are_forgotten(void **state) {
    (void)state;
    struct addr_slots *t = addr_slots_new(1);
    char address[32];
    for (int i = 0; i < 10000; i++) { /* many addresses, chained in the buckets */
        snprintf(address, sizeof(address), "198.51.%d.%d", i / 256, i % 256);
        assert_true(addr_slots_take(t, address));
    }
    for (int i = 0; i < 10000; i++) {
        snprintf(address, sizeof(address), "198.51.%d.%d", i / 256, i % 256);
        assert_int_equal(addr_slots_held(t, address), 1);
        addr_slots_release(t, address);
        assert_int_equal(addr_slots_held(t, address), 0);
    }
    addr_slots_release(t, "192.0.2.1"); /* holds nothing: no effect */
    assert_int_equal(addr_slots_held(t, "192.0.2.1"), 0);
    addr_slots_free(t);
    addr_slots_free(NULL);
}

static void no_cap_only_counts(void **state) {
    (void)state;
    struct addr_slots *t = addr_slots_new(0);
    for (int i = 0; i < 1000; i++) assert_true(addr_slots_take(t, "127.0.0.1"));
    assert_int_equal(addr_slots_held(t, "127.0.0.1"), 1000);
    addr_slots_free(t); /* frees what is still held */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_cap_is_per_address),
        cmocka_unit_test(released_addresses_are_forgotten),
        cmocka_unit_test(no_cap_only_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
