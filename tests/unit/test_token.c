/*
 * Unit tests for token.c: token generation and hashing, the well-formedness
 * check, and taking the token from the Cookie and Authorization headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <sodium.h>

#include "token.h"

/* Two well-formed tokens (43 base64url characters each). */
#define TOK1 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_x"
#define TOK2 "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210_-zyxwv"

/* `printf %s TOK1 | sha256sum`, computed outside the code under test. */
#define TOK1_SHA256 "2cd779c3b52bd60435f1f153ac299f6904bfdc70764d0f19a1f5e8a3e99cb6ae"
/* `printf '' | sha256sum` */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int group_setup(void **state) {
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

/* token_from_headers into a fresh buffer; on success the copy must be a
 * NUL-terminated token, which is returned through got. */
static bool from_headers(const char *cookie, const char *authorization, char got[TOKEN_LEN + 1]) {
    memset(got, '#', TOKEN_LEN + 1);
    bool ok = token_from_headers(cookie, authorization, got);
    if (ok) {
        assert_int_equal(got[TOKEN_LEN], '\0');
        assert_true(token_well_formed(got, strlen(got)));
    }
    return ok;
}

/* ---- token_generate / token_hash ---- */

static void test_generate_shape(void **state) {
    (void)state;
    char t[TOKEN_LEN + 1];
    for (int round = 0; round < 100; round++) {
        memset(t, '#', sizeof(t));
        token_generate(t);
        assert_int_equal(strlen(t), 43);
        for (size_t i = 0; i < TOKEN_LEN; i++) {
            char c = t[i];
            assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_');
        }
        assert_true(token_well_formed(t, strlen(t)));
    }
}

static void test_generate_two_differ(void **state) {
    (void)state;
    char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
    token_generate(a);
    token_generate(b);
    assert_string_not_equal(a, b);
}

static void test_generate_decodes_to_32_bytes(void **state) {
    (void)state;
    char t[TOKEN_LEN + 1];
    unsigned char raw[TOKEN_BYTES + 8];
    size_t n = 0;
    token_generate(t);
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), t, strlen(t), NULL, &n, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(n, TOKEN_BYTES);
}

static void test_hash_known_vector(void **state) {
    (void)state;
    char h[TOKEN_HASH_LEN + 1];
    memset(h, '#', sizeof(h));
    token_hash(TOK1, h);
    assert_string_equal(h, TOK1_SHA256);
    token_hash("", h);
    assert_string_equal(h, EMPTY_SHA256);
}

static void test_hash_is_lower_hex(void **state) {
    (void)state;
    char t[TOKEN_LEN + 1], h[TOKEN_HASH_LEN + 1];
    token_generate(t);
    memset(h, '#', sizeof(h));
    token_hash(t, h);
    assert_int_equal(strlen(h), TOKEN_HASH_LEN);
    for (size_t i = 0; i < TOKEN_HASH_LEN; i++)
        assert_non_null(strchr("0123456789abcdef", h[i]));
    char h2[TOKEN_HASH_LEN + 1];
    token_hash(t, h2);
    assert_string_equal(h, h2);
    token_hash(TOK2, h2);
    assert_string_not_equal(h, h2);
}

/* ---- token_well_formed ---- */

static void test_well_formed(void **state) {
    (void)state;
    char t[64];
    assert_true(token_well_formed(TOK1, 43));
    assert_true(token_well_formed(TOK2, 43));
    assert_false(token_well_formed(TOK1, 42));
    assert_false(token_well_formed(TOK1 "A", 44));
    assert_false(token_well_formed("", 0));
    const char bad[] = "+/=. \"%;\0\x80\xff";
    for (size_t i = 0; i < sizeof(bad) - 1; i++) {
        memcpy(t, TOK1, 44);
        t[20] = bad[i];
        assert_false(token_well_formed(t, 43));
    }
}

/* ---- token_from_headers: cookies ---- */

static void test_cookie_alone(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_true(from_headers("authKey=" TOK1, NULL, got));
    assert_string_equal(got, TOK1);
}

static void test_cookie_among_others(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_true(from_headers("theme=dark; authKey=" TOK1 "; lang=en", NULL, got));
    assert_string_equal(got, TOK1);
    assert_true(from_headers("theme=dark;authKey=" TOK2, NULL, got));
    assert_string_equal(got, TOK2);
    assert_true(from_headers("authKey=" TOK1 "; x=" TOK2, NULL, got));
    assert_string_equal(got, TOK1);
}

static void test_cookie_quoted(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_true(from_headers("authKey=\"" TOK1 "\"", NULL, got));
    assert_string_equal(got, TOK1);
    assert_true(from_headers("a=b; authKey=\"" TOK2 "\"; c=d", NULL, got));
    assert_string_equal(got, TOK2);
    /* Half a pair of quotes is not a token. */
    assert_false(from_headers("authKey=\"" TOK1, NULL, got));
    assert_false(from_headers("authKey=" TOK1 "\"", NULL, got));
}

static void test_cookie_with_spaces(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_true(from_headers("   authKey=" TOK1 "   ", NULL, got));
    assert_string_equal(got, TOK1);
    assert_true(from_headers("a=1 ;   authKey=" TOK2 "  ;  b=2", NULL, got));
    assert_string_equal(got, TOK2);
    assert_true(from_headers(";; ;authKey=" TOK1 ";;", NULL, got));
    assert_string_equal(got, TOK1);
}

static void test_cookie_wrong_name(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_false(from_headers("authKeyX=" TOK1, NULL, got));
    assert_false(from_headers("xauthKey=" TOK1, NULL, got));
    assert_false(from_headers("authkey=" TOK1, NULL, got)); /* names are case-sensitive */
    assert_false(from_headers("auth=" TOK1, NULL, got));
    assert_false(from_headers("session=" TOK1 "; xauthKey=" TOK2, NULL, got));
    /* No '=' right after the name: 43 token characters after "authKeyX" are
     * still not an authKey value. */
    assert_false(from_headers("authKeyX" TOK1, NULL, got));
    /* A look-alike before the real one does not hide it. */
    assert_true(from_headers("authKeyX=" TOK2 "; authKey=" TOK1, NULL, got));
    assert_string_equal(got, TOK1);
}

/* A plain authKey planted before the __Host- one (a sibling subdomain can
 * set the former, never the latter) does not win. */
static void test_cookie_host_prefix_first(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_true(from_headers("authKey=" TOK2 "; __Host-authKey=" TOK1, NULL, got));
    assert_string_equal(got, TOK1);
    assert_true(from_headers("__Host-authKey=" TOK1, NULL, got));
    assert_string_equal(got, TOK1);
    assert_true(from_headers("__Host-authKey=bad; authKey=" TOK2, NULL, got));
    assert_string_equal(got, TOK2);
    assert_false(from_headers("__host-authKey=" TOK1, NULL, got));
}

static void test_cookie_malformed_token(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    char cookie[128];
    assert_false(from_headers("authKey=" TOK1 "A", NULL, got)); /* 44 */
    memcpy(cookie, "authKey=" TOK1, sizeof("authKey=" TOK1));
    cookie[strlen(cookie) - 1] = '\0'; /* 42 */
    assert_false(from_headers(cookie, NULL, got));
    memcpy(cookie, "authKey=" TOK1, sizeof("authKey=" TOK1));
    cookie[10] = '+';
    assert_false(from_headers(cookie, NULL, got));
    cookie[10] = '/';
    assert_false(from_headers(cookie, NULL, got));
    cookie[10] = '.';
    assert_false(from_headers(cookie, NULL, got));
    assert_false(from_headers("authKey=", NULL, got));
    assert_false(from_headers("authKey=\"\"", NULL, got));
}

/* ---- token_from_headers: Authorization ---- */

static void test_bearer(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_true(from_headers(NULL, "Bearer " TOK1, got));
    assert_string_equal(got, TOK1);
}

static void test_bearer_scheme_case_insensitive(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_true(from_headers(NULL, "bearer " TOK1, got));
    assert_string_equal(got, TOK1);
    assert_true(from_headers(NULL, "BEARER " TOK2, got));
    assert_string_equal(got, TOK2);
    assert_true(from_headers(NULL, "BeArEr " TOK1, got));
    assert_string_equal(got, TOK1);
}

static void test_bearer_extra_spaces(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_true(from_headers(NULL, "Bearer     " TOK1, got));
    assert_string_equal(got, TOK1);
    assert_true(from_headers(NULL, "Bearer " TOK2 "    ", got));
    assert_string_equal(got, TOK2);
}

static void test_bearer_malformed(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_false(from_headers(NULL, "Bearer", got));
    assert_false(from_headers(NULL, "Bearer ", got));
    assert_false(from_headers(NULL, "Bearer" TOK1, got));
    assert_false(from_headers(NULL, "Basic " TOK1, got));
    assert_false(from_headers(NULL, "Token " TOK1, got));
    assert_false(from_headers(NULL, TOK1, got));
    assert_false(from_headers(NULL, "Bearer " TOK1 "A", got));
    assert_false(from_headers(NULL, "Bearer " TOK1 " " TOK2, got));
    assert_false(from_headers(NULL, "Bearer \"" TOK1 "\"", got));
}

static void test_bearer_wins_over_cookie(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_true(from_headers("authKey=" TOK2, "Bearer " TOK1, got));
    assert_string_equal(got, TOK1);
    /* A malformed Authorization header leaves the cookie to decide. */
    assert_true(from_headers("authKey=" TOK2, "Bearer nope", got));
    assert_string_equal(got, TOK2);
}

/* ---- token_from_headers: nonsense ---- */

static void test_garbage_headers(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    static const char *const junk[] = {
        "",
        ";",
        ";;;;",
        " ",
        "=",
        "==",
        "authKey",
        "authKey ",
        "authKey;",
        ";authKey",
        ("authKey = " TOK1),
        "\xff\xfe\x80",
        "a=b=c;d",
        "\"\"",
        "authKey=\"",
    };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        assert_false(from_headers(junk[i], NULL, got));
        assert_false(from_headers(NULL, junk[i], got));
        assert_false(from_headers(junk[i], junk[i], got));
    }
    /* A long header of one endless pair. */
    static char big[20000];
    memset(big, 'a', sizeof(big) - 1);
    memcpy(big, "authKey=", 8);
    assert_false(from_headers(big, big, got));
    memset(big, ';', sizeof(big) - 1);
    assert_false(from_headers(big, NULL, got));
}

static void test_null_headers(void **state) {
    (void)state;
    char got[TOKEN_LEN + 1];
    assert_false(from_headers(NULL, NULL, got));
    assert_true(from_headers(NULL, "Bearer " TOK1, got));
    assert_string_equal(got, TOK1);
    assert_true(from_headers("authKey=" TOK2, NULL, got));
    assert_string_equal(got, TOK2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_shape),
        cmocka_unit_test(test_generate_two_differ),
        cmocka_unit_test(test_generate_decodes_to_32_bytes),
        cmocka_unit_test(test_hash_known_vector),
        cmocka_unit_test(test_hash_is_lower_hex),
        cmocka_unit_test(test_well_formed),
        cmocka_unit_test(test_cookie_alone),
        cmocka_unit_test(test_cookie_among_others),
        cmocka_unit_test(test_cookie_quoted),
        cmocka_unit_test(test_cookie_with_spaces),
        cmocka_unit_test(test_cookie_wrong_name),
        cmocka_unit_test(test_cookie_host_prefix_first),
        cmocka_unit_test(test_cookie_malformed_token),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_bearer_scheme_case_insensitive),
        cmocka_unit_test(test_bearer_extra_spaces),
        cmocka_unit_test(test_bearer_malformed),
        cmocka_unit_test(test_bearer_wins_over_cookie),
        cmocka_unit_test(test_garbage_headers),
        cmocka_unit_test(test_null_headers),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
