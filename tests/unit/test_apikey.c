/*
 * Unit tests for apikey.c: making a key, taking it apart, reading it from
 * an Authorization header, hashing its secret and comparing hashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <sodium.h>

#include "apikey.h"

#define ID "0123456789abcdef"
#define SECRET "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY "ck_" ID "_" SECRET
/* BLAKE2b-256 of SECRET, from Python's hashlib, not libsodium. */
#define SECRET_HASH "b1e70fb5c59f0727f1c099e3ddccadc0857c8d21a4b5cd9b637ef964e94c2b29"

static int group_setup(void **state) {
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void test_generated_keys_parse_and_differ(void **state) {
    (void)state;
    struct apikey a, b, parsed;
    char ta[APIKEY_LEN + 1], tb[APIKEY_LEN + 1];
    apikey_generate(&a, ta);
    apikey_generate(&b, tb);
    assert_int_equal(strlen(ta), APIKEY_LEN);
    assert_true(apikey_parse(ta, strlen(ta), &parsed));
    assert_string_equal(parsed.id, a.id);
    assert_string_equal(parsed.secret, a.secret);
    assert_true(apikey_id_valid(a.id));
    assert_string_not_equal(a.id, b.id);
    assert_string_not_equal(a.secret, b.secret);
}

static void test_parse_refuses_every_other_form(void **state) {
    (void)state;
    struct apikey k;
    assert_true(apikey_parse(KEY, strlen(KEY), &k));
    assert_string_equal(k.id, ID);
    assert_string_equal(k.secret, SECRET);
    const char *bad[] = {
        "",
        "ck_",
        "ck_" ID,
        "CK_" ID "_" SECRET,
        "ck_" ID "-" SECRET,
        "ck_0123456789ABCDEF_" SECRET,                  /* upper-case hex */
        "ck_0123456789abcdeg_" SECRET,                  /* not hex */
        "ck_" ID "_" SECRET "a",                         /* too long */
        "xk_" ID "_" SECRET,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(apikey_parse(bad[i], strlen(bad[i]), &k));
    char shorter[] = KEY;
    assert_false(apikey_parse(shorter, strlen(shorter) - 1, &k));
    char with_nul[] = KEY;
    with_nul[20] = '\0';
    assert_false(apikey_parse(with_nul, sizeof(with_nul) - 1, &k));
}

static void test_authorization_header(void **state) {
    (void)state;
    struct apikey k;
    assert_true(apikey_from_authorization("Bearer " KEY, &k));
    assert_true(apikey_from_authorization("bearer  " KEY " ", &k));
    assert_string_equal(k.id, ID);
    assert_false(apikey_from_authorization(NULL, &k));
    assert_false(apikey_from_authorization("Basic " KEY, &k));
    assert_false(apikey_from_authorization(KEY, &k));
    assert_false(apikey_from_authorization("Bearer abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_x", &k));
}

static void test_hash_and_compare(void **state) {
    (void)state;
    char h[APIKEY_HASH_LEN + 1], other[APIKEY_HASH_LEN + 1];
    apikey_hash(SECRET, h);
    assert_string_equal(h, SECRET_HASH);
    assert_true(apikey_hash_matches(SECRET_HASH, h));
    apikey_hash("b" SECRET, other);
    assert_false(apikey_hash_matches(SECRET_HASH, other));
    assert_false(apikey_hash_matches(NULL, h));
    assert_false(apikey_hash_matches("", h));
    assert_false(apikey_hash_matches(SECRET_HASH "0", h));
}

static void test_names(void **state) {
    (void)state;
    assert_true(apikey_name_valid("billing backend", 15));
    assert_false(apikey_name_valid("", 0));
    assert_false(apikey_name_valid("a\nb", 3));
    char long_name[APIKEY_NAME_MAX + 1];
    memset(long_name, 'n', sizeof(long_name));
    assert_true(apikey_name_valid(long_name, APIKEY_NAME_MAX));
    assert_false(apikey_name_valid(long_name, APIKEY_NAME_MAX + 1));
    assert_false(apikey_id_valid("0123"));
    assert_false(apikey_id_valid(NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_keys_parse_and_differ),
        cmocka_unit_test(test_parse_refuses_every_other_form),
        cmocka_unit_test(test_authorization_header),
        cmocka_unit_test(test_hash_and_compare),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
