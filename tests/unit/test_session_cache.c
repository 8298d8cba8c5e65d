/*
 * Unit tests for session_cache.c: a filled entry answers until it is too
 * old; nothing answers or is stored while the cache is not live; the
 * oldest entry goes when the cache is full; forgetting, flushing and going
 * live or not; the epoch rule for reads that crossed an invalidation; the
 * "sessions ended" message, and a NULL cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "session_cache.h"

#define MAX_AGE 1000

/* Session hash number n: 64 hex digits, distinct for every n. */
static const char *hash_n(unsigned n, char out[SESSION_CACHE_HASH_LEN + 1]) {
    snprintf(out, SESSION_CACHE_HASH_LEN + 1, "%016x%048x", n * 2654435761u, n);
    return out;
}

static struct session_user user_n(unsigned n) {
    struct session_user u;
    memset(&u, 0, sizeof(u));
    snprintf(u.id, sizeof(u.id), "%032x", n);
    snprintf(u.email, sizeof(u.email), "user%u@example.com", n);
    snprintf(u.name, sizeof(u.name), "User Nummer %u \xc3\xa9", n);
    return u;
}

static struct session_cache *live_cache(size_t capacity) {
    struct session_cache *c = session_cache_new(capacity, MAX_AGE);
    assert_non_null(c);
    session_cache_set_live(c, true);
    return c;
}

static void fill(struct session_cache *c, unsigned n, long long at_ms) {
    char h[SESSION_CACHE_HASH_LEN + 1];
    struct session_user u = user_n(n);
    session_cache_fill(c, hash_n(n, h), &u, at_ms, session_cache_epoch(c));
}

/* True when n is answered at now_ms, and then with n's user. */
static bool found(struct session_cache *c, unsigned n, long long now_ms) {
    char h[SESSION_CACHE_HASH_LEN + 1];
    struct session_user got, want = user_n(n);
    if (!session_cache_lookup(c, hash_n(n, h), now_ms, &got)) return false;
    assert_string_equal(got.id, want.id);
    assert_string_equal(got.email, want.email);
    assert_string_equal(got.name, want.name);
    return true;
}

static void test_fill_then_hit(void **state) {
    (void)state;
    struct session_cache *c = live_cache(8);
    assert_false(found(c, 1, 0));
    fill(c, 1, 0);
    assert_true(found(c, 1, 10));
    assert_false(found(c, 2, 10));
    struct session_cache_stats st = session_cache_stats(c);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.entries, 1);
    session_cache_free(c);
}

static void test_too_old_entry_misses_and_goes(void **state) {
    (void)state;
    struct session_cache *c = live_cache(8);
    fill(c, 1, 5000);
    assert_true(found(c, 1, 5000 + MAX_AGE - 1));
    assert_false(found(c, 1, 5000 + MAX_AGE));
    assert_int_equal(session_cache_stats(c).entries, 0);
    session_cache_free(c);
}

static void test_fill_replaces_the_same_session(void **state) {
    (void)state;
    struct session_cache *c = live_cache(8);
    char h[SESSION_CACHE_HASH_LEN + 1];
    struct session_user renamed = user_n(1);
    fill(c, 1, 0);
    snprintf(renamed.name, sizeof(renamed.name), "Renamed");
    session_cache_fill(c, hash_n(1, h), &renamed, 900, session_cache_epoch(c));
    assert_int_equal(session_cache_stats(c).entries, 1);
    struct session_user got;
    assert_true(session_cache_lookup(c, h, 1500, &got)); /* young again: fetched at 900 */
    assert_string_equal(got.name, "Renamed");
    session_cache_free(c);
}

/* A session from a token keeps its end and its room list in the cache;
 * one without them comes back without them. */
static void test_token_session_keeps_end_and_rooms(void **state) {
    (void)state;
    struct session_cache *c = live_cache(8);
    char h[SESSION_CACHE_HASH_LEN + 1];
    struct session_user token = user_n(1), got;
    token.expires_ms = 1800000600000LL;
    token.rooms_limited = true;
    snprintf(token.rooms, sizeof(token.rooms), "lobby,team-a");
    session_cache_fill(c, hash_n(1, h), &token, 0, session_cache_epoch(c));
    memset(&got, 0x5a, sizeof(got));
    assert_true(session_cache_lookup(c, h, 10, &got));
    assert_int_equal(got.expires_ms, 1800000600000LL);
    assert_true(got.rooms_limited);
    assert_string_equal(got.rooms, "lobby,team-a");
    assert_string_equal(got.name, token.name);
    fill(c, 2, 0);
    memset(&got, 0x5a, sizeof(got));
    assert_true(session_cache_lookup(c, hash_n(2, h), 10, &got));
    assert_int_equal(got.expires_ms, 0);
    assert_false(got.rooms_limited);
    assert_string_equal(got.rooms, "");
    session_cache_free(c);
}

static void test_full_cache_drops_the_oldest(void **state) {
    (void)state;
    struct session_cache *c = live_cache(3);
    fill(c, 1, 0);
    fill(c, 2, 1);
    fill(c, 3, 2);
    fill(c, 4, 3);
    assert_int_equal(session_cache_stats(c).entries, 3);
    assert_false(found(c, 1, 10));
    assert_true(found(c, 2, 10));
    assert_true(found(c, 3, 10));
    assert_true(found(c, 4, 10));
    session_cache_free(c);
}

static void test_many_entries(void **state) {
    (void)state;
    struct session_cache *c = live_cache(1000);
    for (unsigned n = 0; n < 1500; n++) fill(c, n, n);
    assert_int_equal(session_cache_stats(c).entries, 1000);
    for (unsigned n = 0; n < 500; n++) assert_false(found(c, n, 1500));
    for (unsigned n = 500; n < 1500; n++) assert_true(found(c, n, 1499));
    session_cache_free(c);
}

static void test_filling_sweeps_entries_too_old(void **state) {
    (void)state;
    struct session_cache *c = live_cache(8);
    fill(c, 1, 0);
    fill(c, 2, 10);
    fill(c, 3, MAX_AGE + 5);
    assert_int_equal(session_cache_stats(c).entries, 2); /* 1 went, 2 is still young enough */
    session_cache_free(c);
}

static void test_forget_drops_one_and_advances_the_epoch(void **state) {
    (void)state;
    struct session_cache *c = live_cache(8);
    char h[SESSION_CACHE_HASH_LEN + 1];
    fill(c, 1, 0);
    fill(c, 2, 0);
    unsigned long long before = session_cache_epoch(c);
    session_cache_forget(c, hash_n(1, h));
    assert_true(session_cache_epoch(c) > before);
    assert_false(found(c, 1, 1));
    assert_true(found(c, 2, 1));
    session_cache_free(c);
}

static void test_remove_keeps_the_epoch(void **state) {
    (void)state;
    struct session_cache *c = live_cache(8);
    char h[SESSION_CACHE_HASH_LEN + 1];
    fill(c, 1, 0);
    unsigned long long before = session_cache_epoch(c);
    session_cache_remove(c, hash_n(1, h));
    assert_int_equal(session_cache_epoch(c), before);
    assert_false(found(c, 1, 1));
    session_cache_free(c);
}

/* A read sent before an invalidation and answered after it is not stored;
 * the same for one that crossed a flush or the cache going live. */
static void test_a_read_that_crossed_a_change_is_not_stored(void **state) {
    (void)state;
    struct session_cache *c = live_cache(8);
    char h1[SESSION_CACHE_HASH_LEN + 1], h2[SESSION_CACHE_HASH_LEN + 1];
    struct session_user u1 = user_n(1);
    unsigned long long sent = session_cache_epoch(c);
    session_cache_forget(c, hash_n(2, h2)); /* any session's end, meanwhile */
    session_cache_fill(c, hash_n(1, h1), &u1, 0, sent);
    assert_false(found(c, 1, 1));
    sent = session_cache_epoch(c);
    session_cache_flush(c);
    session_cache_fill(c, h1, &u1, 0, sent);
    assert_false(found(c, 1, 1));
    session_cache_set_live(c, false);
    sent = session_cache_epoch(c);
    session_cache_set_live(c, true);
    session_cache_fill(c, h1, &u1, 0, sent);
    assert_false(found(c, 1, 1));
    sent = session_cache_epoch(c); /* nothing in between: stored */
    session_cache_fill(c, h1, &u1, 0, sent);
    assert_true(found(c, 1, 1));
    session_cache_free(c);
}

static void test_not_live_answers_nothing_and_stores_nothing(void **state) {
    (void)state;
    struct session_cache *c = session_cache_new(8, MAX_AGE);
    assert_non_null(c);
    fill(c, 1, 0);
    assert_int_equal(session_cache_stats(c).entries, 0);
    assert_false(found(c, 1, 1));
    session_cache_set_live(c, true);
    fill(c, 1, 0);
    assert_true(found(c, 1, 1));
    session_cache_set_live(c, false); /* the subscription is lost: everything goes */
    assert_int_equal(session_cache_stats(c).entries, 0);
    assert_int_equal(session_cache_stats(c).flushes, 1);
    assert_false(found(c, 1, 1));
    session_cache_free(c);
}

static void test_flush_drops_everything(void **state) {
    (void)state;
    struct session_cache *c = live_cache(8);
    for (unsigned n = 0; n < 5; n++) fill(c, n, 0);
    session_cache_flush(c);
    assert_int_equal(session_cache_stats(c).entries, 0);
    assert_int_equal(session_cache_stats(c).flushes, 1);
    for (unsigned n = 0; n < 5; n++) assert_false(found(c, n, 1));
    fill(c, 7, 2); /* still live and usable */
    assert_true(found(c, 7, 3));
    session_cache_free(c);
}

static void test_message_forgets_each_hash(void **state) {
    (void)state;
    struct session_cache *c = live_cache(8);
    char h1[SESSION_CACHE_HASH_LEN + 1], h3[SESSION_CACHE_HASH_LEN + 1], msg[200];
    for (unsigned n = 1; n <= 3; n++) fill(c, n, 0);
    assert_int_equal(session_cache_apply_message(c, hash_n(1, h1), SESSION_CACHE_HASH_LEN), 1);
    assert_false(found(c, 1, 1));
    assert_true(found(c, 2, 1));
    snprintf(msg, sizeof(msg), "%s %s", hash_n(3, h3), hash_n(9, h1));
    assert_int_equal(session_cache_apply_message(c, msg, strlen(msg)), 2);
    assert_false(found(c, 3, 1));
    assert_true(found(c, 2, 1));
    struct session_cache_stats st = session_cache_stats(c);
    assert_int_equal(st.invalidations, 3);
    assert_int_equal(st.flushes, 0);
    session_cache_free(c);
}

/* A message that is not a list of hashes flushes everything. */
static void test_unreadable_message_flushes(void **state) {
    (void)state;
    char h[SESSION_CACHE_HASH_LEN + 1], msg[200];
    const char *bad[] = {"", "hello", NULL, NULL, NULL, NULL};
    hash_n(1, h);
    char upper[SESSION_CACHE_HASH_LEN + 1], trailing[SESSION_CACHE_HASH_LEN + 2],
        doubled[2 * SESSION_CACHE_HASH_LEN + 3];
    memcpy(upper, h, sizeof(upper));
    upper[0] = 'A';
    snprintf(trailing, sizeof(trailing), "%s ", h);
    snprintf(doubled, sizeof(doubled), "%s  %s", h, h);
    snprintf(msg, sizeof(msg), "%.63s", h); /* one digit short */
    bad[2] = upper, bad[3] = trailing, bad[4] = doubled, bad[5] = msg;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct session_cache *c = live_cache(8);
        fill(c, 1, 0);
        assert_int_equal(session_cache_apply_message(c, bad[i], strlen(bad[i])), -1);
        assert_false(found(c, 1, 1));
        assert_int_equal(session_cache_stats(c).flushes, 1);
        session_cache_free(c);
    }
}

static void test_bad_hashes_are_never_stored(void **state) {
    (void)state;
    struct session_cache *c = live_cache(8);
    struct session_user u = user_n(1), got;
    const char *bad[] = {"", "abc",
                         "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                         "0123456789abcdef0123456789abcdef01234567X9abcdef0123456789abcdef",
                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        session_cache_fill(c, bad[i], &u, 0, session_cache_epoch(c));
        assert_false(session_cache_lookup(c, bad[i], 1, &got));
    }
    assert_int_equal(session_cache_stats(c).entries, 0);
    session_cache_free(c);
}

static void test_null_cache_is_off(void **state) {
    (void)state;
    char h[SESSION_CACHE_HASH_LEN + 1];
    struct session_user u = user_n(1), got;
    session_cache_set_live(NULL, true);
    session_cache_fill(NULL, hash_n(1, h), &u, 0, 0);
    assert_false(session_cache_lookup(NULL, h, 0, &got));
    assert_false(session_cache_is_live(NULL));
    session_cache_forget(NULL, h);
    session_cache_remove(NULL, h);
    session_cache_flush(NULL);
    assert_int_equal(session_cache_apply_message(NULL, h, strlen(h)), 0);
    assert_int_equal(session_cache_stats(NULL).hits, 0);
    session_cache_free(NULL);
    assert_null(session_cache_new(0, MAX_AGE));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_then_hit),
        cmocka_unit_test(test_too_old_entry_misses_and_goes),
        cmocka_unit_test(test_fill_replaces_the_same_session),
        cmocka_unit_test(test_full_cache_drops_the_oldest),
        cmocka_unit_test(test_many_entries),
        cmocka_unit_test(test_filling_sweeps_entries_too_old),
        cmocka_unit_test(test_forget_drops_one_and_advances_the_epoch),
        cmocka_unit_test(test_remove_keeps_the_epoch),
        cmocka_unit_test(test_a_read_that_crossed_a_change_is_not_stored),
        cmocka_unit_test(test_not_live_answers_nothing_and_stores_nothing),
        cmocka_unit_test(test_flush_drops_everything),
        cmocka_unit_test(test_message_forgets_each_hash),
        cmocka_unit_test(test_unreadable_message_flushes),
        cmocka_unit_test(test_bad_hashes_are_never_stored),
        cmocka_unit_test(test_null_cache_is_off),
        cmocka_unit_test(test_token_session_keeps_end_and_rooms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
