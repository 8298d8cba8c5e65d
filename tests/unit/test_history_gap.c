/*
 * Unit tests for history_gap: when a cursor misses trimmed messages (ids
 * compared as numbers, an untrimmed stream never misses any, XDEL counts
 * too), and the gap event's exact bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "history_gap.h"

static struct store_retained kept_of(bool trimmed, const char *first, const char *deleted) {
    struct store_retained k = {.trimmed = trimmed};
    strcpy(k.first, first);
    strcpy(k.deleted, deleted);
    return k;
}

static void test_untrimmed_stream_misses_nothing(void **state) {
    (void)state;
    struct store_retained k = kept_of(false, "100-0", "0-0");
    assert_false(history_gap_is_after(&k, "0-0"));
    assert_false(history_gap_is_after(&k, "5-0"));
    assert_false(history_gap_is_after(&k, "200-0"));
}

static void test_trimmed_stream_gap_before_first_kept(void **state) {
    (void)state;
    struct store_retained k = kept_of(true, "100-3", "0-0");
    assert_true(history_gap_is_after(&k, "0-0"));
    assert_true(history_gap_is_after(&k, "99-7"));
    assert_true(history_gap_is_after(&k, "100-2"));
    assert_false(history_gap_is_after(&k, "100-3")); /* the first kept itself */
    assert_false(history_gap_is_after(&k, "1000-0"));
    assert_true(history_gap_is_after(&k, "9-0")); /* numbers, not text: 9 < 100 */
}

static void test_trimmed_to_nothing_is_a_gap(void **state) {
    (void)state;
    struct store_retained k = kept_of(true, "", "0-0");
    assert_true(history_gap_is_after(&k, "5-0"));
}

static void test_deleted_entries_count(void **state) {
    (void)state;
    struct store_retained k = kept_of(false, "1-0", "50-0");
    assert_true(history_gap_is_after(&k, "49-0"));
    assert_false(history_gap_is_after(&k, "50-0"));
}

static void test_event_bytes(void **state) {
    (void)state;
    struct evbuffer *out = evbuffer_new();
    assert_int_equal(history_gap_event_append(out, "lobby", "100-3"), 0);
    assert_int_equal(history_gap_event_append(out, "r", ""), 0);
    size_t len = evbuffer_get_length(out);
    const char *text = (const char *)evbuffer_pullup(out, -1);
    const char want[] =
        "event: gap\ndata: {\"room\":\"lobby\",\"first\":\"100-3\",\"trimmed\":true}\n\n"
        "event: gap\ndata: {\"room\":\"r\",\"first\":null,\"trimmed\":true}\n\n";
    assert_int_equal(len, sizeof(want) - 1);
    assert_memory_equal(text, want, len);
    evbuffer_free(out);
    assert_string_equal(history_gap_header_value("7-1"), "7-1");
    assert_string_equal(history_gap_header_value(""), "none");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untrimmed_stream_misses_nothing),
        cmocka_unit_test(test_trimmed_stream_gap_before_first_kept),
        cmocka_unit_test(test_trimmed_to_nothing_is_a_gap),
        cmocka_unit_test(test_deleted_entries_count),
        cmocka_unit_test(test_event_bytes),
    };
    return cmocka_run_group_tests_name("history_gap", tests, NULL, NULL);
}
