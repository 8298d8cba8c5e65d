/*
 * Unit tests for session_streams.c: a session's end ends exactly its own
 * streams, each once; a stream that ended by itself (removed) is not
 * ended; an end may remove its own and other streams of the same
 * session; a "sessions ended" message ends every session it lists and
 * skips what is not a hash; bad hashes are never added; a NULL index does
 * nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "session_streams.h"

/* Session hash number n: 64 hex digits, distinct for every n; the first
 * 16 digits are n % 3, so that several share a bucket. */
static const char *hash_n(unsigned n, char out[TOKEN_HASH_LEN + 1]) {
    snprintf(out, TOKEN_HASH_LEN + 1, "%016x%048x", n % 3, n);
    return out;
}

/* A stream of the test: its link, and how often it was ended. */
struct stream {
    struct session_stream_link *link;
    int ended;
    struct session_streams *ss;
    struct stream *also; /* removed by this one's end, when not NULL */
};

/* As a stream does: it ends, so it removes its link (and maybe another's). */
static void on_end(void *arg) {
    struct stream *s = arg;
    assert_false(s->link->linked);
    s->ended++;
    session_streams_remove(s->ss, &s->link);
    if (s->also) session_streams_remove(s->ss, &s->also->link);
}

static void add(struct session_streams *ss, struct stream *s, unsigned n) {
    char hash[TOKEN_HASH_LEN + 1];
    memset(s, 0, sizeof(*s));
    s->ss = ss;
    s->link = session_streams_add(ss, hash_n(n, hash), on_end, s);
    assert_non_null(s->link);
}

static void a_sessions_end_ends_its_streams_only(void **state) {
    (void)state;
    struct session_streams *ss = session_streams_new(4);
    assert_non_null(ss);
    struct stream s[6];
    for (unsigned i = 0; i < 6; i++) add(ss, &s[i], i % 3); /* two streams per session */
    assert_int_equal(session_streams_count(ss), 6);
    char hash[TOKEN_HASH_LEN + 1];
    assert_int_equal(session_streams_end(ss, hash_n(1, hash)), 2);
    for (unsigned i = 0; i < 6; i++) assert_int_equal(s[i].ended, i % 3 == 1);
    assert_int_equal(session_streams_end(ss, hash), 0); /* once */
    session_streams_remove(ss, &s[0].link);           /* it ended by itself */
    assert_null(s[0].link);
    assert_int_equal(session_streams_end(ss, hash_n(0, hash)), 1);
    assert_int_equal(s[0].ended, 0);
    assert_int_equal(s[3].ended, 1);
    assert_int_equal(session_streams_count(ss), 2);
    session_streams_remove(ss, &s[2].link);
    session_streams_remove(ss, &s[5].link);
    session_streams_remove(ss, &s[5].link); /* twice: harmless */
    assert_int_equal(session_streams_count(ss), 0);
    session_streams_free(ss);
}

static void an_end_may_remove_another_stream(void **state) {
    (void)state;
    struct session_streams *ss = session_streams_new(1);
    struct stream a, b, c;
    add(ss, &a, 7);
    add(ss, &b, 7);
    add(ss, &c, 7);
    c.also = &b; /* c is found first (the newest): its end takes b out */
    char hash[TOKEN_HASH_LEN + 1];
    assert_int_equal(session_streams_end(ss, hash_n(7, hash)), 2);
    assert_int_equal(a.ended + c.ended, 2);
    assert_int_equal(b.ended, 0);
    assert_null(b.link);
    assert_int_equal(session_streams_count(ss), 0);
    session_streams_free(ss);
}

/* A stream that ends later (a read in flight): its link stays its own,
 * out of the index, until it removes it. */
static void on_end_later(void *arg) {
    struct stream *s = arg;
    s->ended++;
}

static void a_stream_ending_later_keeps_its_link_until_it_removes_it(void **state) {
    (void)state;
    struct session_streams *ss = session_streams_new(8);
    char hash[TOKEN_HASH_LEN + 1];
    struct stream late;
    memset(&late, 0, sizeof(late));
    late.link = session_streams_add(ss, hash_n(5, hash), on_end_later, &late);
    assert_int_equal(session_streams_end(ss, hash), 1);
    assert_int_equal(late.ended, 1);
    assert_non_null(late.link);
    assert_false(late.link->linked);
    assert_int_equal(session_streams_count(ss), 0);
    assert_int_equal(session_streams_end(ss, hash), 0); /* not twice */
    session_streams_remove(ss, &late.link);
    assert_null(late.link);
    session_streams_free(ss);
}

static void a_message_ends_every_session_it_lists(void **state) {
    (void)state;
    struct session_streams *ss = session_streams_new(16);
    struct stream s[4];
    for (unsigned i = 0; i < 4; i++) add(ss, &s[i], 100 + i);
    char msg[4 * (TOKEN_HASH_LEN + 1) + 32];
    char a[TOKEN_HASH_LEN + 1], b[TOKEN_HASH_LEN + 1];
    snprintf(msg, sizeof(msg), "%s not-a-hash %s ", hash_n(100, a), hash_n(102, b));
    assert_int_equal(session_streams_end_listed(ss, msg, strlen(msg)), 2);
    assert_int_equal(s[0].ended + s[2].ended, 2);
    assert_int_equal(s[1].ended + s[3].ended, 0);
    hash_n(101, a);
    a[TOKEN_HASH_LEN - 1] = '\0'; /* 63 digits: no hash */
    assert_int_equal(session_streams_end_listed(ss, a, strlen(a)), 0);
    assert_int_equal(session_streams_count(ss), 2);
    session_streams_remove(ss, &s[1].link);
    session_streams_remove(ss, &s[3].link);
    session_streams_free(ss);
}

static void bad_hashes_and_a_null_index_do_nothing(void **state) {
    (void)state;
    struct session_streams *ss = session_streams_new(0);
    struct stream s;
    memset(&s, 0, sizeof(s));
    char upper[TOKEN_HASH_LEN + 1];
    memset(upper, 'A', TOKEN_HASH_LEN);
    upper[TOKEN_HASH_LEN] = '\0';
    assert_null(session_streams_add(ss, upper, on_end, &s));
    assert_null(session_streams_add(ss, "abc", on_end, &s));
    assert_null(session_streams_add(ss, NULL, on_end, &s));
    assert_int_equal(session_streams_end(ss, upper), 0);
    char hash[TOKEN_HASH_LEN + 1];
    assert_null(session_streams_add(NULL, hash_n(1, hash), on_end, &s));
    assert_int_equal(session_streams_end(NULL, hash), 0);
    assert_int_equal(session_streams_end_listed(NULL, hash, TOKEN_HASH_LEN), 0);
    session_streams_remove(NULL, &s.link);
    session_streams_remove(ss, NULL);
    assert_int_equal(session_streams_count(NULL), 0);
    session_streams_free(ss);
    session_streams_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_sessions_end_ends_its_streams_only),
        cmocka_unit_test(an_end_may_remove_another_stream),
        cmocka_unit_test(a_stream_ending_later_keeps_its_link_until_it_removes_it),
        cmocka_unit_test(a_message_ends_every_session_it_lists),
        cmocka_unit_test(bad_hashes_and_a_null_index_do_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
