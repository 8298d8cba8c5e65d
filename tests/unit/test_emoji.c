/* Unit tests for emoji.c: which strings are one reaction emoji. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "emoji.h"

static bool ok(const char *s) { return emoji_valid(s, strlen(s)); }

static void test_single_and_sequences(void **state) {
    (void)state;
    assert_true(ok("\xF0\x9F\x91\x8D"));                 /* thumbs up */
    assert_true(ok("\xE2\x9D\xA4\xEF\xB8\x8F"));         /* red heart + U+FE0F */
    assert_true(ok("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD")); /* thumbs up, medium skin tone */
    assert_true(ok("\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7")); /* the flag of France */
    assert_true(ok("1\xEF\xB8\x8F\xE2\x83\xA3"));        /* keycap 1 */
    /* a family: man ZWJ woman ZWJ girl ZWJ boy (25 bytes) */
    assert_true(ok("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"
                   "\xE2\x80\x8D\xF0\x9F\x91\xA6"));
}

static void test_refused_forms(void **state) {
    (void)state;
    assert_false(emoji_valid("", 0));
    assert_false(ok("a"));
    assert_false(ok("1"));                                   /* a keycap base alone */
    assert_false(ok("+1"));
    assert_false(ok("\xF0\x9F\x91\x8D "));                   /* a space after it */
    assert_false(ok("\xF0\x9F\x91\x8D\xF0\x9F\x91\x8D"));    /* two emoji */
    assert_false(ok("\xF0\x9F\x91\x8D\xE2\x80\x8D"));        /* ends in a joiner */
    assert_false(ok("\xF0\x9F\x91\x8Dx"));
    assert_false(ok("\xE2\x94\x80"));                        /* a box-drawing line */
    assert_false(emoji_valid("\xF0\x9F\x91", 3));            /* cut UTF-8 */
    assert_false(emoji_valid("\xF0\x9F\x91\x8D\0", 5));      /* a NUL after it */
    char big[64] = "\xF0\x9F\x91\x8D";
    for (int i = 0; i < 8; i++) strcat(big, "\xEF\xB8\x8F"); /* 28 bytes, 9 code points: fine */
    assert_true(ok(big));
    strcat(big, "\xEF\xB8\x8F\xEF\xB8\x8F");                 /* 34 bytes */
    assert_false(ok(big));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_and_sequences),
        cmocka_unit_test(test_refused_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
