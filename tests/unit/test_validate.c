/*
 * Unit tests for validate.c: UTF-8 well-formedness, and the checks of
 * e-mail addresses, passwords, names, message texts and stream ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "validate.h"

/* A string literal and its length in bytes (embedded NULs included). */
#define S(lit) (lit), (sizeof(lit) - 1)

static bool utf8_ok(const char *s, size_t len) { return utf8_valid(s, len, NULL); }

/* Fills buf with count copies of the len-byte unit and a final NUL; returns
 * the length in bytes. */
static size_t repeat(char *buf, const char *unit, size_t len, size_t count) {
    for (size_t i = 0; i < count; i++)
        memcpy(buf + i * len, unit, len);
    buf[count * len] = '\0';
    return count * len;
}

/* ---- utf8_valid ---- */

static void test_utf8_ascii(void **state) {
    (void)state;
    size_t chars = 99;
    assert_true(utf8_valid(S("hello, world"), &chars));
    assert_int_equal(chars, 12);
    assert_true(utf8_valid(S("\x7f"), &chars));
    assert_int_equal(chars, 1);
    /* U+0000 is a code point like any other. */
    assert_true(utf8_valid(S("a\0b"), &chars));
    assert_int_equal(chars, 3);
}

static void test_utf8_empty(void **state) {
    (void)state;
    size_t chars = 99;
    assert_true(utf8_valid("", 0, &chars));
    assert_int_equal(chars, 0);
}

static void test_utf8_multibyte_and_count(void **state) {
    (void)state;
    size_t chars = 0;
    assert_true(utf8_valid(S("\xc3\xa9"), &chars)); /* U+00E9 */
    assert_int_equal(chars, 1);
    assert_true(utf8_valid(S("\xe2\x82\xac"), &chars)); /* U+20AC */
    assert_int_equal(chars, 1);
    assert_true(utf8_valid(S("\xf0\x9f\x98\x80"), &chars)); /* U+1F600 */
    assert_int_equal(chars, 1);
    /* "aé€😀z": 1 + 2 + 3 + 4 + 1 bytes, 5 characters. */
    assert_true(utf8_valid(S("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"), &chars));
    assert_int_equal(chars, 5);
    /* chars may be NULL. */
    assert_true(utf8_ok(S("\xc3\xa9")));
}

static void test_utf8_boundaries(void **state) {
    (void)state;
    assert_true(utf8_ok(S("\xc2\x80")));         /* U+0080 */
    assert_true(utf8_ok(S("\xdf\xbf")));         /* U+07FF */
    assert_true(utf8_ok(S("\xe0\xa0\x80")));     /* U+0800 */
    assert_true(utf8_ok(S("\xed\x9f\xbf")));     /* U+D7FF */
    assert_true(utf8_ok(S("\xee\x80\x80")));     /* U+E000 */
    assert_true(utf8_ok(S("\xef\xbf\xbf")));     /* U+FFFF */
    assert_true(utf8_ok(S("\xf0\x90\x80\x80"))); /* U+10000 */
    assert_true(utf8_ok(S("\xf4\x8f\xbf\xbf"))); /* U+10FFFF */
}

static void test_utf8_overlongs(void **state) {
    (void)state;
    assert_false(utf8_ok(S("\xc0\x80")));
    assert_false(utf8_ok(S("\xc1\xbf")));
    assert_false(utf8_ok(S("\xe0\x80\x80")));
    assert_false(utf8_ok(S("\xe0\x9f\xbf")));
    assert_false(utf8_ok(S("\xf0\x80\x80\x80")));
    assert_false(utf8_ok(S("\xf0\x8f\xbf\xbf")));
}

static void test_utf8_surrogates(void **state) {
    (void)state;
    assert_false(utf8_ok(S("\xed\xa0\x80"))); /* U+D800 */
    assert_false(utf8_ok(S("\xed\xbf\xbf"))); /* U+DFFF */
    /* A CESU-8 style pair for U+1F600. */
    assert_false(utf8_ok(S("\xed\xa0\xbd\xed\xb8\x80")));
}

static void test_utf8_above_max(void **state) {
    (void)state;
    assert_false(utf8_ok(S("\xf4\x90\x80\x80"))); /* U+110000 */
    assert_false(utf8_ok(S("\xf5\x80\x80\x80")));
    assert_false(utf8_ok(S("\xf8\x88\x80\x80\x80")));
    assert_false(utf8_ok(S("\xfe")));
    assert_false(utf8_ok(S("\xff")));
}

static void test_utf8_truncated(void **state) {
    (void)state;
    assert_false(utf8_ok(S("\xc3")));
    assert_false(utf8_ok(S("\xe2\x82")));
    assert_false(utf8_ok(S("\xf0\x9f\x98")));
    assert_false(utf8_ok(S("abc\xf0\x9f")));
    /* Cut by len even though the bytes after it would complete it. */
    assert_false(utf8_ok("\xc3\xa9", 1));
    assert_false(utf8_ok("\xf0\x9f\x98\x80", 3));
    /* A lead byte followed by a non-continuation byte. */
    assert_false(utf8_ok(S("\xc3(")));
    assert_false(utf8_ok(S("\xe2(\xa1")));
    assert_false(utf8_ok(S("\xe2\x82(")));
    assert_false(utf8_ok(S("\xf0\x9f\x98(")));
}

static void test_utf8_stray_continuation(void **state) {
    (void)state;
    assert_false(utf8_ok(S("\x80")));
    assert_false(utf8_ok(S("\xbf")));
    assert_false(utf8_ok(S("a\x80z")));
    /* One continuation byte too many. */
    assert_false(utf8_ok(S("\xc3\xa9\xa9")));
}

/* ---- validate_email ---- */

static void test_email_trim_and_lower_case(void **state) {
    (void)state;
    char out[CHAT_EMAIL_MAX + 1];
    assert_int_equal(validate_email(S("  Alice@Example.COM \r\n\t"), out), API_E_OK);
    assert_string_equal(out, "alice@example.com");
    assert_int_equal(validate_email(S("bob@example.org"), out), API_E_OK);
    assert_string_equal(out, "bob@example.org");
}

static void test_email_plus_tag(void **state) {
    (void)state;
    char out[CHAT_EMAIL_MAX + 1];
    assert_int_equal(validate_email(S("Alice+Chat@example.com"), out), API_E_OK);
    assert_string_equal(out, "alice+chat@example.com");
}

static void test_email_dots(void **state) {
    (void)state;
    char out[CHAT_EMAIL_MAX + 1];
    assert_int_equal(validate_email(S("first.last@mail.example.co.uk"), out), API_E_OK);
    assert_string_equal(out, "first.last@mail.example.co.uk");
    assert_int_equal(validate_email(S(".alice@example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice.@example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("al..ice@example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@.example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@example..com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@example.com."), out), API_E_INVALID_EMAIL);
}

static void test_email_missing_at(void **state) {
    (void)state;
    char out[CHAT_EMAIL_MAX + 1];
    assert_int_equal(validate_email(S("alice.example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("@example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@"), out), API_E_INVALID_EMAIL);
}

static void test_email_two_at(void **state) {
    (void)state;
    char out[CHAT_EMAIL_MAX + 1];
    assert_int_equal(validate_email(S("a@b@example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@@example.com"), out), API_E_INVALID_EMAIL);
}

static void test_email_no_tld_dot(void **state) {
    (void)state;
    char out[CHAT_EMAIL_MAX + 1];
    assert_int_equal(validate_email(S("alice@localhost"), out), API_E_INVALID_EMAIL);
}

static void test_email_label_hyphens(void **state) {
    (void)state;
    char out[CHAT_EMAIL_MAX + 1];
    assert_int_equal(validate_email(S("alice@my-host.example.com"), out), API_E_OK);
    assert_int_equal(validate_email(S("alice@-example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@example-.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@example.-com"), out), API_E_INVALID_EMAIL);
}

static void test_email_part_lengths(void **state) {
    (void)state;
    char in[128], out[CHAT_EMAIL_MAX + 1];
    /* Local part: 64 bytes is fine, 65 is not. */
    size_t n = repeat(in, "a", 1, 64);
    memcpy(in + n, "@example.com", sizeof("@example.com"));
    assert_int_equal(validate_email(in, strlen(in), out), API_E_OK);
    n = repeat(in, "a", 1, 65);
    memcpy(in + n, "@example.com", sizeof("@example.com"));
    assert_int_equal(validate_email(in, strlen(in), out), API_E_INVALID_EMAIL);
    /* Domain label: 63 bytes is fine, 64 is not. */
    memcpy(in, "a@", 2);
    n = 2 + repeat(in + 2, "b", 1, 63);
    memcpy(in + n, ".com", sizeof(".com"));
    assert_int_equal(validate_email(in, strlen(in), out), API_E_OK);
    n = 2 + repeat(in + 2, "b", 1, 64);
    memcpy(in + n, ".com", sizeof(".com"));
    assert_int_equal(validate_email(in, strlen(in), out), API_E_INVALID_EMAIL);
}

/* Writes "<local 64>@<63>.<63>.<last>" into in: 64 + 1 + 63 + 1 + 63 + 1 +
 * last bytes; every part is within its own limit. */
static size_t long_email(char *in, size_t last) {
    size_t n = repeat(in, "l", 1, 64);
    in[n++] = '@';
    n += repeat(in + n, "a", 1, 63);
    in[n++] = '.';
    n += repeat(in + n, "b", 1, 63);
    in[n++] = '.';
    n += repeat(in + n, "c", 1, last);
    return n;
}

static void test_email_254_bytes_ok(void **state) {
    (void)state;
    char in[300], out[CHAT_EMAIL_MAX + 1];
    size_t n = long_email(in, 61);
    assert_int_equal(n, 254);
    assert_int_equal(validate_email(in, n, out), API_E_OK);
    assert_int_equal(strlen(out), 254);
    assert_memory_equal(out, in, 254);
    /* White space around it does not count. */
    char padded[300] = "  ";
    memcpy(padded + 2, in, n);
    memcpy(padded + 2 + n, " \n", 2);
    assert_int_equal(validate_email(padded, n + 4, out), API_E_OK);
    assert_int_equal(strlen(out), 254);
}

static void test_email_255_bytes_rejected(void **state) {
    (void)state;
    char in[300], out[CHAT_EMAIL_MAX + 1];
    size_t n = long_email(in, 62);
    assert_int_equal(n, 255);
    assert_int_equal(validate_email(in, n, out), API_E_INVALID_EMAIL);
}

static void test_email_inner_cr_lf_space(void **state) {
    (void)state;
    char out[CHAT_EMAIL_MAX + 1];
    assert_int_equal(validate_email(S("ali\rce@example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@exa\nmple.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@example.com\r\nBcc: x@y.z"), out),
                     API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("al ice@example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice @example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@ example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice\t@example.com"), out), API_E_INVALID_EMAIL);
}

static void test_email_nul(void **state) {
    (void)state;
    char out[CHAT_EMAIL_MAX + 1];
    assert_int_equal(validate_email(S("alice\0@example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@exam\0ple.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@example.com\0"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("\0alice@example.com"), out), API_E_INVALID_EMAIL);
}

static void test_email_empty_and_blank(void **state) {
    (void)state;
    char out[CHAT_EMAIL_MAX + 1];
    assert_int_equal(validate_email("", 0, out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("   \t\r\n"), out), API_E_INVALID_EMAIL);
}

static void test_email_non_ascii_rejected(void **state) {
    (void)state;
    char out[CHAT_EMAIL_MAX + 1];
    assert_int_equal(validate_email(S("j\xc3\xb6rg@example.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@m\xc3\xbcnchen.de"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("alice@exa_mple.com"), out), API_E_INVALID_EMAIL);
    assert_int_equal(validate_email(S("\"alice\"@example.com"), out), API_E_INVALID_EMAIL);
}

/* ---- validate_password ---- */

static void test_password_lengths(void **state) {
    (void)state;
    char pw[CHAT_PASSWORD_MAX + 2];
    memset(pw, 'p', sizeof(pw));
    assert_int_equal(validate_password(pw, 0), API_E_INVALID_PASSWORD);
    assert_int_equal(validate_password(pw, 7), API_E_INVALID_PASSWORD);
    assert_int_equal(validate_password(pw, 8), API_E_OK);
    assert_int_equal(validate_password(pw, 1024), API_E_OK);
    assert_int_equal(validate_password(pw, 1025), API_E_INVALID_PASSWORD);
}

static void test_password_embedded_nul(void **state) {
    (void)state;
    assert_int_equal(validate_password(S("pass\0word")), API_E_INVALID_PASSWORD);
    assert_int_equal(validate_password(S("password\0")), API_E_INVALID_PASSWORD);
    /* Any other byte is fine, also spaces and non-UTF-8. */
    assert_int_equal(validate_password(S(" pass word \xff")), API_E_OK);
}

/* ---- validate_name ---- */

static void test_name_lengths_ascii(void **state) {
    (void)state;
    char name[128];
    assert_int_equal(validate_name(S("A")), API_E_OK);
    assert_int_equal(validate_name(name, repeat(name, "n", 1, 64)), API_E_OK);
    assert_int_equal(validate_name(name, repeat(name, "n", 1, 65)), API_E_INVALID_NAME);
    assert_int_equal(validate_name("", 0), API_E_INVALID_NAME);
}

static void test_name_lengths_multibyte(void **state) {
    (void)state;
    char name[CHAT_NAME_MAX_BYTES + 8];
    /* Characters count, not bytes: 64 x "é" (128 bytes), 64 x "😀" (256 bytes). */
    assert_int_equal(validate_name(S("\xc3\xa9")), API_E_OK);
    assert_int_equal(validate_name(name, repeat(name, "\xc3\xa9", 2, 64)), API_E_OK);
    assert_int_equal(validate_name(name, repeat(name, "\xf0\x9f\x98\x80", 4, 64)), API_E_OK);
    assert_int_equal(validate_name(name, repeat(name, "\xc3\xa9", 2, 65)), API_E_INVALID_NAME);
    assert_int_equal(validate_name(name, repeat(name, "\xf0\x9f\x98\x80", 4, 65)),
                     API_E_INVALID_NAME);
}

static void test_name_control_chars(void **state) {
    (void)state;
    assert_int_equal(validate_name(S("Alice Smith")), API_E_OK);
    assert_int_equal(validate_name(S("a\tb")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S("a\nb")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S("a\rb")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S("a\x01")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S("a\x1b[31m")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S("a\0b")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S("a\x7f")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S("a\xc2\x85")), API_E_INVALID_NAME); /* U+0085 (C1) */
    assert_int_equal(validate_name(S("a\xc2\x9f")), API_E_INVALID_NAME); /* U+009F (C1) */
    assert_int_equal(validate_name(S("a\xc2\xa0z")), API_E_OK);          /* U+00A0 */
}

static void test_name_only_spaces(void **state) {
    (void)state;
    assert_int_equal(validate_name(S(" ")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S("     ")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S(" x ")), API_E_OK);
}

static void test_name_invalid_utf8(void **state) {
    (void)state;
    assert_int_equal(validate_name(S("\xff")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S("ab\xc3")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S("\xc0\x80")), API_E_INVALID_NAME);
    assert_int_equal(validate_name(S("\xed\xa0\x80")), API_E_INVALID_NAME);
}

/* ---- validate_text ---- */

static void test_text_lengths(void **state) {
    (void)state;
    char text[CHAT_TEXT_MAX + 2];
    assert_int_equal(validate_text(S("x")), API_E_OK);
    assert_int_equal(validate_text(text, repeat(text, "t", 1, 4096)), API_E_OK);
    assert_int_equal(validate_text(text, repeat(text, "t", 1, 4097)), API_E_INVALID_TEXT);
    /* The limit is in bytes: 1024 four-byte characters fit, one more byte not. */
    size_t n = repeat(text, "\xf0\x9f\x98\x80", 4, 1024);
    assert_int_equal(validate_text(text, n), API_E_OK);
    text[n] = 'x';
    assert_int_equal(validate_text(text, n + 1), API_E_INVALID_TEXT);
    assert_int_equal(validate_text("", 0), API_E_INVALID_TEXT);
}

static void test_text_newline_tab_ok(void **state) {
    (void)state;
    assert_int_equal(validate_text(S("line one\nline two")), API_E_OK);
    assert_int_equal(validate_text(S("a\tb")), API_E_OK);
    assert_int_equal(validate_text(S("windows\r\nline")), API_E_OK);
}

static void test_text_other_controls_rejected(void **state) {
    (void)state;
    assert_int_equal(validate_text(S("a\0b")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("a\x01")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("bell\x07")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("\x1b[2J")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("a\x0b")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("a\x0c")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("a\x7f")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("a\xc2\x80")), API_E_INVALID_TEXT); /* U+0080 (C1) */
}

static void test_text_whitespace_only(void **state) {
    (void)state;
    assert_int_equal(validate_text(S(" ")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S(" \n\t\r\n ")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("\n.\n")), API_E_OK);
}

static void test_text_invalid_utf8(void **state) {
    (void)state;
    assert_int_equal(validate_text(S("hello \xff")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("\xe2\x82")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("\xed\xa0\x80")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("\xf4\x90\x80\x80")), API_E_INVALID_TEXT);
    assert_int_equal(validate_text(S("caf\xc3\xa9 \xe2\x98\x95")), API_E_OK);
}

/* ---- validate_stream_id ---- */

static void test_stream_id_valid(void **state) {
    (void)state;
    assert_true(validate_stream_id("0"));
    assert_true(validate_stream_id("1-0"));
    assert_true(validate_stream_id("123-45"));
    assert_true(validate_stream_id("1700000000000-0"));
    assert_true(validate_stream_id("18446744073709551615"));
    assert_true(validate_stream_id("18446744073709551615-18446744073709551615"));
}

static void test_stream_id_invalid(void **state) {
    (void)state;
    assert_false(validate_stream_id(""));
    assert_false(validate_stream_id("-"));
    assert_false(validate_stream_id("1-"));
    assert_false(validate_stream_id("-1"));
    assert_false(validate_stream_id("a-1"));
    assert_false(validate_stream_id("1-a"));
    assert_false(validate_stream_id("1-2-3"));
    assert_false(validate_stream_id("1 "));
    assert_false(validate_stream_id(" 1"));
    assert_false(validate_stream_id("+1"));
    assert_false(validate_stream_id("1-+2"));
    assert_false(validate_stream_id("$"));
    assert_false(validate_stream_id("18446744073709551616"));
    assert_false(validate_stream_id("1-18446744073709551616"));
    assert_false(validate_stream_id("99999999999999999999"));
    assert_false(validate_stream_id("100000000000000000000")); /* 21 digits */
}

/* ---- validate_default_name ---- */

static void test_default_name(void **state) {
    (void)state;
    char out[CHAT_NAME_MAX_BYTES + 1];
    validate_default_name("alice@example.com", out);
    assert_string_equal(out, "alice");
    validate_default_name("first.last+tag@example.com", out);
    assert_string_equal(out, "first.last+tag");
    /* Without '@' the whole string is the local part. */
    validate_default_name("nobody", out);
    assert_string_equal(out, "nobody");
}

static void test_default_name_cut_to_64(void **state) {
    (void)state;
    char email[128], out[CHAT_NAME_MAX_BYTES + 1];
    size_t n = repeat(email, "a", 1, 64);
    memcpy(email + n, "@example.com", sizeof("@example.com"));
    validate_default_name(email, out);
    assert_int_equal(strlen(out), 64);
    assert_memory_equal(out, email, 64);
    n = repeat(email, "b", 1, 70);
    memcpy(email + n, "@example.com", sizeof("@example.com"));
    validate_default_name(email, out);
    assert_int_equal(strlen(out), 64);
    assert_memory_equal(out, email, 64);
    /* What it writes is always a valid name. */
    assert_int_equal(validate_name(out, strlen(out)), API_E_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_ascii),
        cmocka_unit_test(test_utf8_empty),
        cmocka_unit_test(test_utf8_multibyte_and_count),
        cmocka_unit_test(test_utf8_boundaries),
        cmocka_unit_test(test_utf8_overlongs),
        cmocka_unit_test(test_utf8_surrogates),
        cmocka_unit_test(test_utf8_above_max),
        cmocka_unit_test(test_utf8_truncated),
        cmocka_unit_test(test_utf8_stray_continuation),
        cmocka_unit_test(test_email_trim_and_lower_case),
        cmocka_unit_test(test_email_plus_tag),
        cmocka_unit_test(test_email_dots),
        cmocka_unit_test(test_email_missing_at),
        cmocka_unit_test(test_email_two_at),
        cmocka_unit_test(test_email_no_tld_dot),
        cmocka_unit_test(test_email_label_hyphens),
        cmocka_unit_test(test_email_part_lengths),
        cmocka_unit_test(test_email_254_bytes_ok),
        cmocka_unit_test(test_email_255_bytes_rejected),
        cmocka_unit_test(test_email_inner_cr_lf_space),
        cmocka_unit_test(test_email_nul),
        cmocka_unit_test(test_email_empty_and_blank),
        cmocka_unit_test(test_email_non_ascii_rejected),
        cmocka_unit_test(test_password_lengths),
        cmocka_unit_test(test_password_embedded_nul),
        cmocka_unit_test(test_name_lengths_ascii),
        cmocka_unit_test(test_name_lengths_multibyte),
        cmocka_unit_test(test_name_control_chars),
        cmocka_unit_test(test_name_only_spaces),
        cmocka_unit_test(test_name_invalid_utf8),
        cmocka_unit_test(test_text_lengths),
        cmocka_unit_test(test_text_newline_tab_ok),
        cmocka_unit_test(test_text_other_controls_rejected),
        cmocka_unit_test(test_text_whitespace_only),
        cmocka_unit_test(test_text_invalid_utf8),
        cmocka_unit_test(test_stream_id_valid),
        cmocka_unit_test(test_stream_id_invalid),
        cmocka_unit_test(test_default_name),
        cmocka_unit_test(test_default_name_cut_to_64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
