/*
 * Unit tests for ephemeral (the payloads of a room's signals) and
 * presence_merge (many presence signals as one event).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ephemeral.h"
#include "presence_merge.h"

static enum ephemeral_kind parse(const char *payload, const char **data) {
    size_t len;
    return ephemeral_parse(payload, strlen(payload), data, &len);
}

static void test_payloads(void **state) {
    (void)state;
    const char *data = NULL;
    assert_int_equal(parse("typing {\"room\":\"a\"}", &data), EPHEMERAL_TYPING);
    assert_string_equal(data, "{\"room\":\"a\"}");
    assert_int_equal(parse("presence {\"count\":1}", &data), EPHEMERAL_PRESENCE);
    assert_int_equal(parse("", &data), EPHEMERAL_NONE);
    assert_int_equal(parse("typing", &data), EPHEMERAL_NONE);
    assert_int_equal(parse("typing ", &data), EPHEMERAL_NONE);
    assert_int_equal(parse("typing []", &data), EPHEMERAL_NONE);
    assert_int_equal(parse("typin {}", &data), EPHEMERAL_NONE);
    assert_int_equal(parse("typingx {}", &data), EPHEMERAL_NONE);
    assert_int_equal(parse("reaction {}", &data), EPHEMERAL_NONE);
    assert_string_equal(ephemeral_kind_name(EPHEMERAL_TYPING), "typing");
    assert_null(ephemeral_kind_name(EPHEMERAL_NONE));
}

static void add(struct presence_merge *m, const char *json) {
    assert_int_equal(presence_merge_add(m, json, strlen(json)), 0);
}

static void test_merge_keeps_last_change(void **state) {
    (void)state;
    struct presence_merge *m = presence_merge_new();
    assert_false(presence_merge_pending(m));
    add(m, "{\"count\":2,\"joined\":[{\"userId\":\"u1\",\"name\":\"Ann\"},{\"userId\":\"u2\","
           "\"name\":\"Bo\"}]}");
    add(m, "{\"count\":1,\"left\":[{\"userId\":\"u2\"}]}");
    assert_true(presence_merge_pending(m));
    char *ev = presence_merge_take(m, "team");
    assert_string_equal(ev, "{\"room\":\"team\",\"count\":1,\"joined\":[{\"userId\":\"u1\","
                            "\"name\":\"Ann\"}],\"left\":[{\"userId\":\"u2\"}]}");
    free(ev);
    assert_false(presence_merge_pending(m));
    assert_int_equal(presence_merge_add(m, "[]", 2), -1);
    assert_int_equal(presence_merge_add(m, "{\"count\":\"x\"}", 13), -1);
    assert_int_equal(presence_merge_add(m, "not json", 8), -1);
    assert_false(presence_merge_pending(m));
    presence_merge_free(m);
    presence_merge_free(NULL);
}

static void test_merge_counts_above_the_list(void **state) {
    (void)state;
    struct presence_merge *m = presence_merge_new();
    char json[128];
    for (int i = 0; i <= PRESENCE_MERGE_LIST_MAX; i++) {
        snprintf(json, sizeof(json), "{\"count\":%d,\"joined\":[{\"userId\":\"u%d\",\"name\":\"n\"}]}",
                 i + 1, i);
        add(m, json);
    }
    char *ev = presence_merge_take(m, "big");
    snprintf(json, sizeof(json), "{\"room\":\"big\",\"count\":%d,\"changes\":%d}",
             PRESENCE_MERGE_LIST_MAX + 1, PRESENCE_MERGE_LIST_MAX + 1);
    assert_string_equal(ev, json);
    free(ev);
    presence_merge_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payloads),
        cmocka_unit_test(test_merge_keeps_last_change),
        cmocka_unit_test(test_merge_counts_above_the_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
