/*
 * Unit tests for store_keys.c: the exact Redis key names, the -1 when the
 * buffer is too small, and the hash tag of the room key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "slot.h"
#include "store_keys.h"

#define HASH "2cd779c3b52bd60435f1f153ac299f6904bfdc70764d0f19a1f5e8a3e99cb6ae"

typedef int key_fn(char *out, size_t size, const char *arg);

/* Checks that fn writes want (and returns its length) when size is exactly
 * big enough, and returns -1 for every smaller size. */
static void check_key(key_fn *fn, const char *arg, const char *want) {
    char out[STORE_KEY_MAX];
    int len = (int)strlen(want);
    memset(out, '#', sizeof(out));
    assert_int_equal(fn(out, sizeof(out), arg), len);
    assert_string_equal(out, want);
    memset(out, '#', sizeof(out));
    assert_int_equal(fn(out, (size_t)len + 1, arg), len);
    assert_string_equal(out, want);
    for (size_t size = 0; size <= (size_t)len; size++)
        assert_int_equal(fn(out, size, arg), -1);
}

static void test_user_key(void **state) {
    (void)state;
    check_key(store_key_user, "alice@example.com", "user:alice@example.com");
}

static void test_session_key(void **state) {
    (void)state;
    check_key(store_key_session, HASH, "session:" HASH);
}

static void test_room_messages_key(void **state) {
    (void)state;
    check_key(store_key_room_messages, "lobby", "room:{lobby}:messages");
    /* the room's retention shares the stream's slot: one script reads both */
    check_key(store_key_room_retention, "lobby", "room:{lobby}:retention");
    /* and so do its edits: a page reads them in the same script */
    check_key(store_key_room_edits, "lobby", "room:{lobby}:edits");
}

static void test_user_rooms_key(void **state) {
    (void)state;
    check_key(store_key_user_rooms, "f3228ac18d2ca2a797040a7d0498e7f9",
              "user-rooms:f3228ac18d2ca2a797040a7d0498e7f9");
}

static void test_too_small_buffer(void **state) {
    (void)state;
    char out[8];
    assert_int_equal(store_key_user(out, sizeof(out), "alice@example.com"), -1);
    assert_int_equal(store_key_session(out, sizeof(out), HASH), -1);
    assert_int_equal(store_key_room_messages(out, sizeof(out), "lobby"), -1);
    assert_int_equal(store_key_user(NULL, 0, "a@b.c"), -1);
}

static void test_longest_email_fits(void **state) {
    (void)state;
    char email[255], out[STORE_KEY_MAX];
    memset(email, 'e', 254);
    email[254] = '\0';
    assert_int_equal(store_key_user(out, sizeof(out), email), 5 + 254);
}

static void test_room_hash_tag(void **state) {
    (void)state;
    char out[STORE_KEY_MAX];
    int n = store_key_room_messages(out, sizeof(out), "lobby");
    assert_int_equal(n, 21);
    /* The first '{' and the first '}' after it enclose exactly the room. */
    const char *open = strchr(out, '{');
    assert_non_null(open);
    const char *close = strchr(open, '}');
    assert_non_null(close);
    assert_int_equal(open - out, 5);
    assert_int_equal(close - out, 11);
    assert_int_equal(close - open - 1, 5);
    assert_memory_equal(open + 1, "lobby", 5);
    assert_memory_equal(open, "{lobby}", 7);
    /* So Redis Cluster puts it in the slot of "lobby". */
    assert_int_equal(slot_for_key(out, (size_t)n), slot_for_key("lobby", 5));
    assert_int_equal(slot_for_key(out, (size_t)n), slot_for_key("{lobby}:other", 13));
}

/* A room's doorbell is a shard channel in the slot of its stream: the
 * master that appends rings it, and a subscriber of that master hears it. */
static void test_room_doorbell_shares_the_stream_slot(void **state) {
    (void)state;
    char bell[STORE_KEY_MAX], stream[STORE_KEY_MAX];
    int n = store_key_room_doorbell(bell, sizeof(bell), "team-a");
    int m = store_key_room_messages(stream, sizeof(stream), "team-a");
    assert_string_equal(bell, "room:{team-a}:doorbell");
    assert_int_equal(slot_for_key(bell, (size_t)n), slot_for_key(stream, (size_t)m));
    assert_int_equal(store_key_room_doorbell(bell, 10, "team-a"), -1);
}

/* A room's members live in its slot, beside its stream: the membership
 * script changes both at once. */
static void test_member_keys(void **state) {
    (void)state;
    check_key(store_key_room_members, "team-a", "room:{team-a}:members");
    check_key(store_key_user_memberships, "f3228ac18d2ca2a797040a7d0498e7f9",
              "user-memberships:f3228ac18d2ca2a797040a7d0498e7f9");
    check_key(store_key_user_id, "f3228ac18d2ca2a797040a7d0498e7f9",
              "user-id:f3228ac18d2ca2a797040a7d0498e7f9");
    char members[STORE_KEY_MAX], stream[STORE_KEY_MAX];
    assert_true(store_key_room_members(members, sizeof(members), "team-a") > 0);
    assert_true(store_key_room_messages(stream, sizeof(stream), "team-a") > 0);
    assert_int_equal(slot_for_key(members, strlen(members)), slot_for_key(stream, strlen(stream)));
}

/* A server-API key's record, named by the key's id (apikey.h). */
static void test_apikey_key(void **state) {
    (void)state;
    check_key(store_key_apikey, "0123456789abcdef", "apikey:0123456789abcdef");
}

/* A user's markers and events share the user's slot (one script writes
 * both), and the user's feed reads as a room whose keys are the user's. */
static void test_user_feed_keys(void **state) {
    (void)state;
    const char *id = "f3228ac18d2ca2a797040a7d0498e7f9";
    check_key(store_key_user_read, id, "user:{f3228ac18d2ca2a797040a7d0498e7f9}:read");
    check_key(store_key_user_events, id, "user:{f3228ac18d2ca2a797040a7d0498e7f9}:events");
    char feed[64], stream[STORE_KEY_MAX], bell[STORE_KEY_MAX], read[STORE_KEY_MAX];
    assert_int_equal(store_feed_of_user(feed, sizeof(feed), id), 33);
    assert_string_equal(feed, "~f3228ac18d2ca2a797040a7d0498e7f9");
    char small[33];
    assert_int_equal(store_feed_of_user(small, sizeof(small), id), -1);
    check_key(store_key_room_messages, feed, "user:{f3228ac18d2ca2a797040a7d0498e7f9}:events");
    check_key(store_key_room_doorbell, feed, "user:{f3228ac18d2ca2a797040a7d0498e7f9}:doorbell");
    assert_true(store_key_room_messages(stream, sizeof(stream), feed) > 0);
    assert_true(store_key_room_doorbell(bell, sizeof(bell), feed) > 0);
    assert_true(store_key_user_read(read, sizeof(read), id) > 0);
    assert_int_equal(slot_for_key(stream, strlen(stream)), slot_for_key(read, strlen(read)));
    assert_int_equal(slot_for_key(bell, strlen(bell)), slot_for_key(read, strlen(read)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_key),           cmocka_unit_test(test_session_key),
        cmocka_unit_test(test_room_messages_key),  cmocka_unit_test(test_too_small_buffer),
        cmocka_unit_test(test_longest_email_fits), cmocka_unit_test(test_room_hash_tag),
        cmocka_unit_test(test_user_rooms_key),     cmocka_unit_test(test_member_keys),
        cmocka_unit_test(test_room_doorbell_shares_the_stream_slot),
        cmocka_unit_test(test_apikey_key),
        cmocka_unit_test(test_user_feed_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
