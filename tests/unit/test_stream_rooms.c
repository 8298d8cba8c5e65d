/*
 * Unit tests for stream_rooms: the room list of a multi-room stream and its
 * position ("a:<id>,b:<id>"), both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stream_rooms.h"

static void test_lists(void **state) {
    (void)state;
    struct stream_room rooms[STREAM_ROOMS_MAX];
    assert_int_equal(stream_rooms_parse("lobby,design", rooms, STREAM_ROOMS_MAX), 2);
    assert_string_equal(rooms[0].name, "lobby");
    assert_string_equal(rooms[1].name, "design");
    assert_string_equal(rooms[1].id, "");
    assert_int_equal(stream_rooms_parse("a", rooms, 1), 1);
    assert_int_equal(stream_rooms_parse("a,b", rooms, 1), STREAM_ROOMS_BAD_LIST);
    assert_int_equal(stream_rooms_parse("a,b,a", rooms, 3), STREAM_ROOMS_BAD_LIST);
    assert_int_equal(stream_rooms_parse("", rooms, 3), STREAM_ROOMS_BAD_LIST);
    assert_int_equal(stream_rooms_parse(NULL, rooms, 3), STREAM_ROOMS_BAD_LIST);
    assert_int_equal(stream_rooms_parse("a,", rooms, 3), STREAM_ROOMS_BAD_NAME);
    assert_int_equal(stream_rooms_parse(",a", rooms, 3), STREAM_ROOMS_BAD_NAME);
    assert_int_equal(stream_rooms_parse("a,B", rooms, 3), STREAM_ROOMS_BAD_NAME);
    char longest[CHAT_ROOM_MAX + 2];
    memset(longest, 'x', sizeof(longest));
    longest[CHAT_ROOM_MAX] = '\0';
    assert_int_equal(stream_rooms_parse(longest, rooms, 3), 1);
    longest[CHAT_ROOM_MAX] = 'x', longest[CHAT_ROOM_MAX + 1] = '\0';
    assert_int_equal(stream_rooms_parse(longest, rooms, 3), STREAM_ROOMS_BAD_NAME);
}

static void test_positions(void **state) {
    (void)state;
    struct stream_room rooms[3];
    char out[STREAM_POSITION_MAX + 1];
    assert_int_equal(stream_rooms_parse("a,b,c", rooms, 3), 3);
    assert_int_equal(stream_rooms_position(rooms, 3, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(stream_rooms_set_position("c:5-1,zz:9-9,a:0", rooms, 3), 0);
    assert_string_equal(rooms[0].id, "0");
    assert_string_equal(rooms[1].id, "");
    assert_string_equal(rooms[2].id, "5-1");
    assert_int_equal(stream_rooms_position(rooms, 3, out, sizeof(out)), strlen("a:0,c:5-1"));
    assert_string_equal(out, "a:0,c:5-1");
    /* round trip */
    struct stream_room again[3];
    assert_int_equal(stream_rooms_parse("a,b,c", again, 3), 3);
    assert_int_equal(stream_rooms_set_position(out, again, 3), 0);
    for (int i = 0; i < 3; i++) assert_string_equal(again[i].id, rooms[i].id);
    /* a malformed position changes nothing */
    const char *bad[] = {"", "a", "a:", ":1-0", "a:1-0,", "a:1-0,,b:2", "A:1", "a:x", "a:1-0;b:1",
                         "a:1-0:2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(stream_rooms_set_position(bad[i], rooms, 3), -1);
        assert_string_equal(rooms[0].id, "0");
    }
    /* a short buffer ends at a pair */
    assert_int_equal(stream_rooms_position(rooms, 3, out, 6), 3);
    assert_string_equal(out, "a:0");
}

static void test_longest_position_fits(void **state) {
    (void)state;
    struct stream_room rooms[STREAM_ROOMS_MAX];
    char out[STREAM_POSITION_MAX + 1];
    for (int i = 0; i < STREAM_ROOMS_MAX; i++) {
        memset(rooms[i].name, 'a' + i % 26, CHAT_ROOM_MAX);
        snprintf(rooms[i].name + CHAT_ROOM_MAX - 2, 3, "%02d", i);
        strcpy(rooms[i].id, "18446744073709551615-18446744073709551615");
    }
    size_t len = stream_rooms_position(rooms, STREAM_ROOMS_MAX, out, sizeof(out));
    assert_int_equal(len, STREAM_POSITION_MAX - 1);
    assert_int_equal(stream_rooms_set_position(out, rooms, STREAM_ROOMS_MAX), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_longest_position_fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
