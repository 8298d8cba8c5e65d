/*
 * Unit tests for member_rules.c: who may do what in a public and a private
 * room, for every action, and the parsing of roles and kinds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "member_rules.h"
#include "validate.h"

static struct member_verdict decide(enum room_kind k, enum member_action a, enum member_role actor,
                                    enum member_role target) {
    return member_rules_decide(k, a, actor, target, ROLE_NONE);
}

static void test_reading_and_sending(void **state) {
    (void)state;
    assert_true(member_rules_can_read(ROOM_PUBLIC, ROLE_NONE));
    assert_true(member_rules_can_read(ROOM_PUBLIC, ROLE_BANNED));
    assert_false(member_rules_can_read(ROOM_PRIVATE, ROLE_NONE));
    assert_false(member_rules_can_read(ROOM_PRIVATE, ROLE_BANNED));
    assert_true(member_rules_can_read(ROOM_PRIVATE, ROLE_MEMBER));
    assert_int_equal(member_rules_send_error(ROOM_PUBLIC, ROLE_NONE), API_E_OK);
    assert_int_equal(member_rules_send_error(ROOM_PUBLIC, ROLE_BANNED), API_E_BANNED);
    assert_int_equal(member_rules_send_error(ROOM_PRIVATE, ROLE_NONE), API_E_NOT_FOUND);
    assert_int_equal(member_rules_send_error(ROOM_PRIVATE, ROLE_BANNED), API_E_NOT_FOUND);
    assert_int_equal(member_rules_send_error(ROOM_PRIVATE, ROLE_OWNER), API_E_OK);
}

static void test_join_and_leave(void **state) {
    (void)state;
    struct member_verdict v = decide(ROOM_PUBLIC, MEMBER_JOIN, ROLE_NONE, ROLE_NONE);
    assert_int_equal(v.error, API_E_OK);
    assert_int_equal(v.role, ROLE_MEMBER);
    assert_string_equal(v.event, "joined");
    assert_true(decide(ROOM_PUBLIC, MEMBER_JOIN, ROLE_MODERATOR, ROLE_MODERATOR).noop);
    assert_int_equal(decide(ROOM_PUBLIC, MEMBER_JOIN, ROLE_BANNED, ROLE_BANNED).error,
                     API_E_BANNED);
    assert_int_equal(decide(ROOM_PRIVATE, MEMBER_JOIN, ROLE_NONE, ROLE_NONE).error,
                     API_E_NOT_FOUND);
    v = decide(ROOM_PRIVATE, MEMBER_LEAVE, ROLE_MEMBER, ROLE_MEMBER);
    assert_int_equal(v.role, ROLE_NONE);
    assert_string_equal(v.event, "left");
    assert_false(v.needs_other_owner);
    assert_true(decide(ROOM_PRIVATE, MEMBER_LEAVE, ROLE_OWNER, ROLE_OWNER).needs_other_owner);
    assert_true(decide(ROOM_PUBLIC, MEMBER_LEAVE, ROLE_NONE, ROLE_NONE).noop);
    assert_true(decide(ROOM_PUBLIC, MEMBER_LEAVE, ROLE_BANNED, ROLE_BANNED).noop); /* ban stays */
    assert_int_equal(decide(ROOM_PRIVATE, MEMBER_LEAVE, ROLE_NONE, ROLE_NONE).error,
                     API_E_NOT_FOUND);
}

static void test_invite(void **state) {
    (void)state;
    struct member_verdict v = decide(ROOM_PRIVATE, MEMBER_INVITE, ROLE_MODERATOR, ROLE_NONE);
    assert_int_equal(v.role, ROLE_MEMBER);
    assert_string_equal(v.event, "invited");
    assert_int_equal(decide(ROOM_PRIVATE, MEMBER_INVITE, ROLE_MEMBER, ROLE_NONE).error,
                     API_E_FORBIDDEN);
    assert_int_equal(decide(ROOM_PRIVATE, MEMBER_INVITE, ROLE_NONE, ROLE_NONE).error,
                     API_E_NOT_FOUND);
    assert_int_equal(decide(ROOM_PRIVATE, MEMBER_INVITE, ROLE_BANNED, ROLE_NONE).error,
                     API_E_NOT_FOUND);
    assert_int_equal(decide(ROOM_PUBLIC, MEMBER_INVITE, ROLE_NONE, ROLE_NONE).error,
                     API_E_FORBIDDEN);
    assert_int_equal(decide(ROOM_PRIVATE, MEMBER_INVITE, ROLE_OWNER, ROLE_BANNED).error,
                     API_E_USER_BANNED);
    assert_true(decide(ROOM_PRIVATE, MEMBER_INVITE, ROLE_OWNER, ROLE_MEMBER).noop);
}

static void test_remove_and_ban(void **state) {
    (void)state;
    struct member_verdict v = decide(ROOM_PRIVATE, MEMBER_REMOVE, ROLE_MODERATOR, ROLE_MEMBER);
    assert_int_equal(v.role, ROLE_NONE);
    assert_string_equal(v.event, "removed");
    assert_int_equal(decide(ROOM_PRIVATE, MEMBER_REMOVE, ROLE_MODERATOR, ROLE_MODERATOR).error,
                     API_E_FORBIDDEN);
    assert_int_equal(decide(ROOM_PRIVATE, MEMBER_REMOVE, ROLE_MODERATOR, ROLE_OWNER).error,
                     API_E_FORBIDDEN);
    assert_int_equal(decide(ROOM_PRIVATE, MEMBER_REMOVE, ROLE_OWNER, ROLE_OWNER).error,
                     API_E_FORBIDDEN);
    assert_int_equal(decide(ROOM_PUBLIC, MEMBER_REMOVE, ROLE_MEMBER, ROLE_MEMBER).error,
                     API_E_FORBIDDEN);
    assert_true(decide(ROOM_PUBLIC, MEMBER_REMOVE, ROLE_OWNER, ROLE_NONE).noop);
    v = decide(ROOM_PUBLIC, MEMBER_REMOVE, ROLE_MODERATOR, ROLE_BANNED);
    assert_string_equal(v.event, "unbanned");
    v = decide(ROOM_PUBLIC, MEMBER_BAN, ROLE_MODERATOR, ROLE_NONE);
    assert_int_equal(v.role, ROLE_BANNED);
    assert_string_equal(v.event, "banned");
    assert_true(decide(ROOM_PUBLIC, MEMBER_BAN, ROLE_MODERATOR, ROLE_BANNED).noop);
    assert_int_equal(decide(ROOM_PUBLIC, MEMBER_BAN, ROLE_MODERATOR, ROLE_OWNER).error,
                     API_E_FORBIDDEN);
}

static void test_set_role(void **state) {
    (void)state;
    struct member_verdict v =
        member_rules_decide(ROOM_PRIVATE, MEMBER_SET_ROLE, ROLE_OWNER, ROLE_MEMBER, ROLE_MODERATOR);
    assert_int_equal(v.role, ROLE_MODERATOR);
    assert_string_equal(v.event, "role");
    assert_false(v.needs_other_owner);
    v = member_rules_decide(ROOM_PRIVATE, MEMBER_SET_ROLE, ROLE_OWNER, ROLE_OWNER, ROLE_MEMBER);
    assert_true(v.needs_other_owner);
    assert_int_equal(member_rules_decide(ROOM_PRIVATE, MEMBER_SET_ROLE, ROLE_MODERATOR,
                                         ROLE_MEMBER, ROLE_MODERATOR).error,
                     API_E_FORBIDDEN);
    assert_int_equal(member_rules_decide(ROOM_PRIVATE, MEMBER_SET_ROLE, ROLE_OWNER, ROLE_NONE,
                                         ROLE_MODERATOR).error,
                     API_E_NOT_MEMBER);
    assert_int_equal(member_rules_decide(ROOM_PRIVATE, MEMBER_SET_ROLE, ROLE_OWNER, ROLE_MEMBER,
                                         ROLE_BANNED).error,
                     API_E_INVALID_ROLE);
    assert_true(member_rules_decide(ROOM_PUBLIC, MEMBER_SET_ROLE, ROLE_OWNER, ROLE_MEMBER,
                                    ROLE_MEMBER).noop);
}

static void test_remove_message(void **state) {
    (void)state;
    assert_int_equal(member_rules_remove_message_error(ROOM_PUBLIC, ROLE_MODERATOR), API_E_OK);
    assert_int_equal(member_rules_remove_message_error(ROOM_PRIVATE, ROLE_OWNER), API_E_OK);
    assert_int_equal(member_rules_remove_message_error(ROOM_PUBLIC, ROLE_MEMBER),
                     API_E_FORBIDDEN);
    assert_int_equal(member_rules_remove_message_error(ROOM_PUBLIC, ROLE_NONE), API_E_FORBIDDEN);
    assert_int_equal(member_rules_remove_message_error(ROOM_PRIVATE, ROLE_NONE), API_E_NOT_FOUND);
    assert_int_equal(member_rules_remove_message_error(ROOM_PRIVATE, ROLE_BANNED),
                     API_E_NOT_FOUND);
}

static void test_revocation(void **state) {
    (void)state;
    const char *bob = "0123456789abcdef0123456789abcdef";
    struct message m = {.id = "1-0", .user_id = "x", .name = "x", .text = "", .event = "removed",
                        .target = bob, .role = ""};
    assert_true(member_rules_revokes(&m, bob));
    assert_false(member_rules_revokes(&m, "someone-else"));
    m.event = "banned";
    assert_true(member_rules_revokes(&m, bob));
    m.event = "left";
    assert_true(member_rules_revokes(&m, bob));
    m.event = "role";
    assert_false(member_rules_revokes(&m, bob));
    m.event = NULL; /* a message */
    assert_false(member_rules_revokes(&m, bob));
}

static void test_kept(void **state) {
    (void)state;
    const char *bob = "0123456789abcdef0123456789abcdef";
    struct message msgs[3] = {
        {.id = "1-0", .user_id = bob, .name = "b", .text = "hi"},
        {.id = "2-0", .user_id = "x", .name = "x", .text = "b", .event = "removed", .target = bob,
         .role = ""},
        {.id = "3-0", .user_id = "x", .name = "x", .text = "after"},
    };
    assert_int_equal(member_rules_kept(msgs, 3, bob), 2);   /* up to the removal, included */
    assert_int_equal(member_rules_kept(msgs, 1, bob), 1);   /* none in the batch: all */
    assert_int_equal(member_rules_kept(msgs, 3, "someone-else"), 3);
    assert_int_equal(member_rules_kept(msgs, 0, bob), 0);
}

static void test_admins(void **state) {
    (void)state;
    const char *admins = " Root@Example.com , ops@example.com,";
    assert_true(member_rules_is_admin(admins, "root@example.com"));
    assert_true(member_rules_is_admin(admins, "ops@example.com"));
    assert_false(member_rules_is_admin(admins, "oot@example.com"));
    assert_false(member_rules_is_admin(admins, "ops@example.co"));
    assert_false(member_rules_is_admin(admins, "ops@example.com.evil"));
    assert_false(member_rules_is_admin(admins, ""));
    assert_false(member_rules_is_admin("", "root@example.com"));
}

static void test_direct_rooms(void **state) {
    (void)state;
    const char *a = "0123456789abcdef0123456789abcdef", *b = "fedcba9876543210fedcba9876543210";
    char ab[MEMBER_DIRECT_NAME_LEN + 1], ba[MEMBER_DIRECT_NAME_LEN + 1];
    member_rules_direct_name(a, b, ab);
    member_rules_direct_name(b, a, ba);
    assert_string_equal(ab, ba); /* the same pair, the same room */
    assert_int_equal(strlen(ab), MEMBER_DIRECT_NAME_LEN);
    assert_true(validate_room_name(ab));
    member_rules_direct_name(a, a, ba);
    assert_string_not_equal(ab, ba);
    assert_false(member_rules_can_read(ROOM_DIRECT, ROLE_NONE));
    assert_true(member_rules_can_read(ROOM_DIRECT, ROLE_MEMBER));
    assert_int_equal(member_rules_send_error(ROOM_DIRECT, ROLE_NONE), API_E_NOT_FOUND);
    assert_int_equal(decide(ROOM_DIRECT, MEMBER_INVITE, ROLE_MEMBER, ROLE_NONE).error,
                     API_E_FORBIDDEN);
    assert_int_equal(decide(ROOM_DIRECT, MEMBER_BAN, ROLE_OWNER, ROLE_MEMBER).error,
                     API_E_FORBIDDEN);
    assert_int_equal(decide(ROOM_DIRECT, MEMBER_INVITE, ROLE_NONE, ROLE_NONE).error,
                     API_E_NOT_FOUND);
    assert_int_equal(decide(ROOM_DIRECT, MEMBER_JOIN, ROLE_NONE, ROLE_NONE).error,
                     API_E_NOT_FOUND);
    assert_string_equal(decide(ROOM_DIRECT, MEMBER_LEAVE, ROLE_MEMBER, ROLE_MEMBER).event, "left");
    enum room_kind k;
    assert_int_equal(room_kind_parse("direct", &k), 0);
    assert_int_equal(k, ROOM_DIRECT);
    assert_string_equal(room_kind_name(ROOM_DIRECT), "direct");
}

static void test_names(void **state) {
    (void)state;
    for (int r = ROLE_BANNED; r <= ROLE_OWNER; r++)
        assert_int_equal(member_role_parse(member_role_name((enum member_role)r)), r);
    assert_int_equal(member_role_parse("kind"), ROLE_NONE);
    assert_int_equal(member_role_parse(NULL), ROLE_NONE);
    enum room_kind k;
    assert_int_equal(room_kind_parse("private", &k), 0);
    assert_int_equal(k, ROOM_PRIVATE);
    assert_int_equal(room_kind_parse("public", &k), 0);
    assert_int_equal(k, ROOM_PUBLIC);
    assert_int_equal(room_kind_parse("secret", &k), -1);
    assert_int_equal(room_kind_parse(NULL, &k), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reading_and_sending), cmocka_unit_test(test_join_and_leave),
        cmocka_unit_test(test_invite),              cmocka_unit_test(test_remove_and_ban),
        cmocka_unit_test(test_set_role),            cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_remove_message),      cmocka_unit_test(test_admins),
        cmocka_unit_test(test_direct_rooms),
        cmocka_unit_test(test_kept),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
