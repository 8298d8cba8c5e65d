/*
 * Integration tests of private rooms and membership: room kinds, invite,
 * join, leave, remove, ban and roles at /room/<name>/member, the access
 * rule on every read and write path (a private room is 404 to everyone but
 * its members), the room events in the stream, and revocation: a member
 * removed on one chatd stops receiving on its streams on another
 * (CHAT_URL2, the same Redis); and a moderator's removal of a message,
 * which leaves a tombstone in its place; and a locked user's open streams
 * (event streams, multi-room streams, long-polls) on the other chatd end
 * with their sessions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

#include "chatclient.h"
#include "sessionlib.h"
#include "sse_client.h"
#include "testlib.h"

/* A registered user: a client, its id, e-mail and token. */
struct person {
    chat_client *c;
    chat_user u;
    bool pooled; /* one of the pool's: freed at the end */
};

/* Three users shared by the tests (each test works in rooms of its own),
 * so that the suite stays under the registration limit per address. */
static struct person pool[3];

static void register_person(struct person *p, const char *tag) {
    p->c = test_new_user(tag, &p->u);
    assert_non_null(p->c);
}

/* A user for the role tag names: a pooled one for the common roles
 * ("owner", "member", the third party), a new one for any other tag. */
static void person_new(struct person *p, const char *tag) {
    static const char *const roles[][3] = {{"owner", "alice", NULL},
                                           {"member", "bob", NULL},
                                           {"outsider", "other", "guest"}};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3 && roles[i][k]; k++)
            if (strcmp(tag, roles[i][k]) == 0 || (i == 2 && strcmp(tag, "carol") == 0)) {
                *p = pool[i];
                p->pooled = true;
                return;
            }
    register_person(p, tag);
    p->pooled = false;
}

static void person_free(struct person *p) {
    if (p->pooled) return;
    chat_user_cleanup(&p->u);
    chat_client_free(p->c);
}

static int setup(void **state) {
    (void)state;
    const char *tags[] = {"owner", "member", "third"};
    for (int i = 0; i < 3; i++) {
        pool[i].c = test_new_user(tags[i], &pool[i].u);
        if (!pool[i].c) return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++) {
        chat_user_cleanup(&pool[i].u);
        chat_client_free(pool[i].c);
    }
    return 0;
}

/* method path as p (NULL: anonymous) at base (NULL: CHAT_URL) with body
 * (may be NULL); the status; the reply in out when out is not NULL. */
static long call_at(const char *base, const struct person *p, const char *method,
                    const char *path, const char *body, struct http_result *out) {
    char auth[160];
    const char *h[3] = {"Content-Type: application/json", NULL, NULL};
    if (p) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", chat_client_token(p->c));
        h[1] = auth;
    }
    struct http_result r;
    if (test_http_at(base ? base : test_url(), method, path, h, body, body ? strlen(body) : 0,
                     &r) < 0)
        return -1;
    long status = r.status;
    if (out) *out = r;
    else test_http_result_free(&r);
    return status;
}

static long call(const struct person *p, const char *method, const char *path, const char *body,
                 struct http_result *out) {
    return call_at(NULL, p, method, path, body, out);
}

/* The status of a call, asserting the error code when code is not NULL. */
static long call_code(const struct person *p, const char *method, const char *path,
                      const char *body, const char *code) {
    struct http_result r;
    long status = call(p, method, path, body, &r);
    if (code && !test_is_error(r.body, code))
        fail_msg("%s %s: wanted %s, got %ld %s", method, path, code, status, r.body);
    test_http_result_free(&r);
    return status;
}

static void unique_room(char *out, size_t size, const char *tag) {
    static int n;
    snprintf(out, size, "%s-%d-%d", tag, (int)getpid(), ++n);
}

static long create(const struct person *p, const char *room, const char *kind) {
    char body[160];
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"kind\":\"%s\"}", room, kind);
    return call(p, "POST", "/room/", body, NULL);
}

/* Adds who (by e-mail) to room as p; the status. */
static long invite(const struct person *p, const char *room, const struct person *who) {
    char path[128], body[256];
    snprintf(path, sizeof(path), "/room/%s/member", room);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", who->u.email);
    return call(p, "POST", path, body, NULL);
}

/* Every read and write path of room as p gives status. */
static void expect_every_path(const struct person *p, const char *room, long status) {
    char path[160];
    snprintf(path, sizeof(path), "/room/%s/message/", room);
    assert_int_equal(call(p, "GET", path, NULL, NULL), status);
    snprintf(path, sizeof(path), "/room/%s/message/?before=99999999999999-0", room);
    assert_int_equal(call(p, "GET", path, NULL, NULL), status);
    snprintf(path, sizeof(path), "/room/%s/message/?after=0-0&wait=1", room);
    assert_int_equal(call(p, "GET", path, NULL, NULL), status);
    snprintf(path, sizeof(path), "/room/%s/member", room);
    assert_int_equal(call(p, "GET", path, NULL, NULL), status);
    if (status != 200) { /* streams: refused before they start */
        snprintf(path, sizeof(path), "/room/%s/message/stream", room);
        assert_int_equal(call(p, "GET", path, NULL, NULL), status);
        snprintf(path, sizeof(path), "/stream?rooms=lobby,%s", room);
        assert_int_equal(call(p, "GET", path, NULL, NULL), status);
    }
    snprintf(path, sizeof(path), "/room/%s/message/", room);
    long send_status = !p ? 401 : status == 200 ? 201 : status; /* a send needs a session */
    assert_int_equal(call(p, "POST", path, "{\"text\":\"probe\"}", NULL), send_status);
}

static void private_room_is_hidden_from_non_members(void **state) {
    (void)state;
    struct person owner, member, outsider;
    person_new(&owner, "owner");
    person_new(&member, "member");
    person_new(&outsider, "outsider");
    char room[64];
    unique_room(room, sizeof(room), "secret");
    struct http_result r;
    char body[160];
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"kind\":\"private\"}", room);
    assert_int_equal(call(&owner, "POST", "/room/", body, &r), 201);
    assert_non_null(strstr(r.body, "\"kind\":\"private\""));
    assert_non_null(strstr(r.body, "\"role\":\"owner\""));
    test_http_result_free(&r);
    assert_int_equal(create(&owner, room, "private"), 200); /* again: the same room */
    expect_every_path(NULL, room, 404);
    expect_every_path(&outsider, room, 404);
    assert_int_equal(call_code(&outsider, "POST", "/room/", body, "room_taken"), 409);
    /* not listed to others */
    assert_int_equal(call(&outsider, "GET", "/room/", NULL, &r), 200);
    assert_null(strstr(r.body, room));
    test_http_result_free(&r);
    assert_int_equal(call(NULL, "GET", "/room/", NULL, &r), 200);
    assert_null(strstr(r.body, room));
    test_http_result_free(&r);
    /* an invited user reads and writes at once, and has it in its list */
    assert_int_equal(invite(&owner, room, &member), 200);
    expect_every_path(&member, room, 200);
    assert_int_equal(call(&member, "GET", "/room/", NULL, &r), 200);
    char entry[200];
    snprintf(entry, sizeof(entry), "{\"name\":\"%s\",\"kind\":\"private\",\"role\":\"member\",",
             room); /* then the caller's unread count */
    assert_non_null(strstr(r.body, entry));
    test_http_result_free(&r);
    expect_every_path(&owner, room, 200);
    person_free(&owner);
    person_free(&member);
    person_free(&outsider);
}

static void bad_membership_requests_get_clear_errors(void **state) {
    (void)state;
    struct person owner, member, other;
    person_new(&owner, "owner");
    person_new(&member, "member");
    person_new(&other, "other");
    char room[64], path[128], body[256];
    unique_room(room, sizeof(room), "rules");
    assert_int_equal(create(&owner, room, "private"), 201);
    snprintf(path, sizeof(path), "/room/%s/member", room);
    assert_int_equal(call_code(&owner, "POST", "/room/", "{\"name\":\"x\",\"kind\":\"secret\"}",
                               "invalid_kind"),
                     400);
    assert_int_equal(call_code(&owner, "POST", path, "{\"email\":\"nobody-at-all@example.com\"}",
                               "unknown_user"),
                     404);
    assert_int_equal(call_code(&owner, "POST", path,
                               "{\"userId\":\"00000000000000000000000000000000\"}",
                               "unknown_user"),
                     404);
    assert_int_equal(call_code(&owner, "POST", path, "{\"userId\":\"XYZ\"}", "invalid_user_id"),
                     400);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"king\"}", member.u.id);
    assert_int_equal(call_code(&owner, "PUT", path, body, "invalid_role"), 400);
    assert_int_equal(call_code(&owner, "PUT", path, "{\"role\":\"member\"}", "invalid_user_id"),
                     400);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"moderator\"}", member.u.id);
    assert_int_equal(call_code(&owner, "PUT", path, body, "not_member"), 404);
    assert_int_equal(call_code(&owner, "DELETE", path, NULL, "last_owner"), 409);
    char self[160];
    snprintf(self, sizeof(self), "/room/%s/member?userId=%s", room, owner.u.id);
    assert_int_equal(call_code(&owner, "DELETE", self, NULL, "self_action"), 400);
    assert_int_equal(call_code(NULL, "POST", path, "{}", "unauthorized"), 401);
    /* a member may not invite, remove or promote */
    assert_int_equal(invite(&owner, room, &member), 200);
    assert_int_equal(invite(&owner, room, &member), 200); /* again: nothing changes */
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", other.u.email);
    assert_int_equal(call_code(&member, "POST", path, body, "forbidden"), 403);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"owner\"}", member.u.id);
    assert_int_equal(call_code(&member, "PUT", path, body, "forbidden"), 403);
    /* a banned user cannot be invited, nor join */
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"banned\"}", other.u.id);
    assert_int_equal(call(&owner, "PUT", path, body, NULL), 200);
    assert_int_equal(call_code(&owner, "POST", path, "{}", NULL), 200); /* owner: already in */
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", other.u.email);
    assert_int_equal(call_code(&owner, "POST", path, body, "user_banned"), 409);
    /* an owner steps down only while another owner remains */
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"member\"}", owner.u.id);
    assert_int_equal(call_code(&owner, "PUT", path, body, "last_owner"), 409);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"owner\"}", member.u.id);
    assert_int_equal(call(&owner, "PUT", path, body, NULL), 200);
    assert_int_equal(call(&owner, "DELETE", path, NULL, NULL), 200); /* leaves */
    expect_every_path(&owner, room, 404);
    person_free(&owner);
    person_free(&member);
    person_free(&other);
}

static void public_rooms_join_ban_and_record_events(void **state) {
    (void)state;
    struct person owner, guest;
    person_new(&owner, "owner");
    person_new(&guest, "guest");
    char room[64], path[128], msgs[128], body[256];
    unique_room(room, sizeof(room), "open");
    assert_int_equal(create(&owner, room, "public"), 201);
    snprintf(path, sizeof(path), "/room/%s/member", room);
    snprintf(msgs, sizeof(msgs), "/room/%s/message/", room);
    expect_every_path(NULL, room, 200);
    assert_int_equal(call(&guest, "POST", path, "{}", NULL), 200); /* joins */
    struct http_result r;
    assert_int_equal(call(&guest, "GET", "/room/", NULL, &r), 200);
    char entry[160];
    snprintf(entry, sizeof(entry), "{\"name\":\"%s\",\"role\":\"member\",", room);
    assert_non_null(strstr(r.body, entry));
    test_http_result_free(&r);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"moderator\"}", guest.u.id);
    assert_int_equal(call(&owner, "PUT", path, body, NULL), 200);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"banned\"}", guest.u.id);
    assert_int_equal(call_code(&guest, "PUT", path, "{\"role\":\"banned\",\"userId\":"
                                                    "\"00000000000000000000000000000000\"}",
                               "unknown_user"),
                     404);
    assert_int_equal(call(&owner, "PUT", path, body, NULL), 200);
    assert_int_equal(call_code(&guest, "POST", msgs, "{\"text\":\"hi\"}", "banned"), 403);
    assert_int_equal(call_code(&guest, "POST", path, "{}", "banned"), 403);
    assert_int_equal(call(&guest, "GET", msgs, NULL, NULL), 200); /* public: anyone reads */
    char lift[160];
    snprintf(lift, sizeof(lift), "%s?userId=%s", path, guest.u.id);
    assert_int_equal(call(&owner, "DELETE", lift, NULL, NULL), 200); /* the ban is lifted */
    assert_int_equal(call(&guest, "POST", path, "{}", NULL), 200);
    assert_int_equal(call(&guest, "DELETE", path, NULL, NULL), 200);
    /* every change is a room event in the history, in order */
    assert_int_equal(call(NULL, "GET", msgs, NULL, &r), 200);
    const char *events[] = {"\"event\":\"joined\"", "\"event\":\"role\"",
                            "\"event\":\"banned\"", "\"event\":\"unbanned\"",
                            "\"event\":\"joined\"", "\"event\":\"left\""};
    const char *at = r.body;
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        at = strstr(at, events[i]);
        if (!at) fail_msg("event %s missing or out of order in %s", events[i], r.body);
        at++;
    }
    char target[64];
    snprintf(target, sizeof(target), "\"target\":\"%s\"", guest.u.id);
    assert_non_null(strstr(r.body, target));
    test_http_result_free(&r);
    person_free(&owner);
    person_free(&guest);
}

/* The removal on one chatd ends the member's streams on the other: the
 * removal event is the last thing each stream carries. */
static void removed_member_stops_receiving_on_another_chatd(void **state) {
    (void)state;
    const char *url2 = getenv("CHAT_URL2");
    if (!url2) skip();
    struct person owner, member;
    person_new(&owner, "owner");
    person_new(&member, "member");
    char room[64], path[128], url[256], body[256], invited[48];
    unique_room(room, sizeof(room), "revoke");
    assert_int_equal(create(&owner, room, "private"), 201);
    snprintf(path, sizeof(path), "/room/%s/member", room);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", member.u.id);
    struct http_result r;
    assert_int_equal(call(&owner, "POST", path, body, &r), 200);
    test_json_member(r.body, "eventId", invited, sizeof(invited));
    test_http_result_free(&r);
    assert_true(invited[0]);
    /* both streams start from the invitation: nothing after it is missed */
    snprintf(url, sizeof(url), "%s/room/%s/message/stream", url2, room);
    struct sse_client *single = sse_open_as(url, invited, chat_client_token(member.c));
    snprintf(url, sizeof(url), "%s/stream?rooms=lobby,%s", url2, room);
    char position[128];
    snprintf(position, sizeof(position), "%s:%s", room, invited);
    struct sse_client *multi = sse_open_as(url, position, chat_client_token(member.c));
    char msgs[128];
    snprintf(msgs, sizeof(msgs), "/room/%s/message/", room);
    assert_int_equal(call(&owner, "POST", msgs, "{\"text\":\"before\"}", NULL), 201);
    assert_true(sse_wait_events(single, 1, 10000));
    assert_true(sse_wait_events(multi, 1, 10000));
    char removal[160];
    snprintf(removal, sizeof(removal), "%s?userId=%s", path, member.u.id);
    assert_int_equal(call(&owner, "DELETE", removal, NULL, NULL), 200);
    double removed_at = test_now_ms();
    assert_true(sse_wait_end(single, 10000));
    assert_true(sse_wait_end(multi, 10000));
    double ended_ms = test_now_ms() - removed_at;
    printf("# streams on the other chatd ended %.1f ms after the removal's reply\n", ended_ms);
    assert_int_equal(call(&owner, "POST", msgs, "{\"text\":\"after\"}", NULL), 201);
    struct sse_client *streams[] = {single, multi};
    for (size_t k = 0; k < 2; k++) {
        char id[48], data[1024];
        size_t n = sse_count(streams[k]);
        assert_true(n >= 2);
        assert_true(sse_get(streams[k], n - 1, id, data, sizeof(data)));
        assert_non_null(strstr(data, "\"event\":\"removed\""));
        assert_null(strstr(data, "after"));
        sse_close(streams[k]);
    }
    /* and a new stream, or a read, is refused */
    snprintf(url, sizeof(url), "/room/%s/message/stream", room);
    assert_int_equal(call_at(url2, &member, "GET", url, NULL, NULL), 404);
    assert_int_equal(call_at(url2, &member, "GET", msgs, NULL, NULL), 404);
    person_free(&owner);
    person_free(&member);
}

/* A stream without a position starts where the hub stands; for a private
 * room the membership is read again from there, and a removal ends it. */
static void fresh_multi_stream_follows_then_ends_at_removal(void **state) {
    (void)state;
    struct person owner, member;
    person_new(&owner, "owner");
    person_new(&member, "member");
    char room[64], path[160], url[256];
    unique_room(room, sizeof(room), "fresh");
    assert_int_equal(create(&owner, room, "private"), 201);
    assert_int_equal(invite(&owner, room, &member), 200);
    snprintf(url, sizeof(url), "%s/stream?rooms=%s", test_url(), room);
    struct sse_client *multi = sse_open_as(url, NULL, chat_client_token(member.c));
    assert_true(sse_wait_id(multi, 10000)); /* the position: every room's start is known */
    snprintf(path, sizeof(path), "/room/%s/message/", room);
    assert_int_equal(call(&owner, "POST", path, "{\"text\":\"live\"}", NULL), 201);
    assert_true(sse_wait_events(multi, 1, 10000));
    char body[160];
    snprintf(path, sizeof(path), "/room/%s/member", room);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"banned\"}", member.u.id);
    assert_int_equal(call(&owner, "PUT", path, body, NULL), 200);
    assert_true(sse_wait_end(multi, 10000));
    char id[48], data[1024];
    size_t n = sse_count(multi);
    assert_true(sse_get(multi, n - 1, id, data, sizeof(data)));
    assert_non_null(strstr(data, "\"event\":\"banned\""));
    sse_close(multi);
    person_free(&owner);
    person_free(&member);
}

static void moderators_remove_messages_leaving_a_tombstone(void **state) {
    (void)state;
    struct person owner, member, outsider;
    person_new(&owner, "owner");
    person_new(&member, "member");
    person_new(&outsider, "outsider");
    char room[64], msgs[128], path[200], id[48], event_id[48];
    unique_room(room, sizeof(room), "moderated");
    assert_int_equal(create(&owner, room, "private"), 201);
    assert_int_equal(invite(&owner, room, &member), 200);
    snprintf(msgs, sizeof(msgs), "/room/%s/message/", room);
    struct http_result r;
    char owners_id[48], owners[200]; /* a member removes no other's message */
    assert_int_equal(call(&owner, "POST", msgs, "{\"text\":\"the owner's\"}", &r), 201);
    test_json_member(r.body, "id", owners_id, sizeof(owners_id));
    test_http_result_free(&r);
    snprintf(owners, sizeof(owners), "%s?id=%s", msgs, owners_id);
    assert_int_equal(call(&member, "POST", msgs, "{\"text\":\"something rude\"}", &r), 201);
    test_json_member(r.body, "id", id, sizeof(id));
    test_http_result_free(&r);
    char url[256];
    snprintf(url, sizeof(url), "%s/room/%s/message/stream", test_url(), room);
    struct sse_client *sse = sse_open_as(url, id, chat_client_token(member.c));
    snprintf(path, sizeof(path), "%s?id=%s", msgs, id);
    assert_int_equal(call_code(NULL, "DELETE", path, NULL, "unauthorized"), 401);
    assert_int_equal(call_code(&outsider, "DELETE", path, NULL, "not_found"), 404);
    assert_int_equal(call_code(&member, "DELETE", owners, NULL, "forbidden"), 403);
    assert_int_equal(call(&owner, "DELETE", path, NULL, &r), 200);
    test_json_member(r.body, "eventId", event_id, sizeof(event_id));
    test_http_result_free(&r);
    assert_int_equal(call_code(&owner, "DELETE", path, NULL, "not_found"), 404); /* gone */
    snprintf(path, sizeof(path), "%s?id=%s", msgs, event_id);
    assert_int_equal(call_code(&owner, "DELETE", path, NULL, "not_a_message"), 400);
    snprintf(path, sizeof(path), "%s?id=nope", msgs);
    assert_int_equal(call_code(&owner, "DELETE", path, NULL, "invalid_query"), 400);
    /* the history has the tombstone, not the text */
    assert_int_equal(call(&member, "GET", msgs, NULL, &r), 200);
    assert_null(strstr(r.body, "something rude"));
    assert_non_null(strstr(r.body, "\"event\":\"message_removed\""));
    char target[80];
    snprintf(target, sizeof(target), "\"target\":\"%s\"", id);
    assert_non_null(strstr(r.body, target));
    assert_non_null(strstr(r.body, "removed by a moderator"));
    test_http_result_free(&r);
    /* and so does a live stream */
    assert_true(sse_wait_events(sse, 1, 10000));
    char got_id[48], data[1024];
    assert_true(sse_get(sse, 0, got_id, data, sizeof(data)));
    assert_string_equal(got_id, event_id);
    assert_non_null(strstr(data, "\"event\":\"message_removed\""));
    sse_close(sse);
    person_free(&owner);
    person_free(&member);
    person_free(&outsider);
}

/* Whether the member list of room, read as p, holds {"userId","role","name"}
 * for who with that role and who's display name. */
static bool lists_member(const struct person *p, const char *room, const struct person *who,
                         const char *role) {
    char path[128], entry[256];
    snprintf(path, sizeof(path), "/room/%s/member", room);
    snprintf(entry, sizeof(entry), "{\"userId\":\"%s\",\"role\":\"%s\",\"name\":\"%s\"}",
             who->u.id, role, who->u.name);
    struct http_result r;
    assert_int_equal(call(p, "GET", path, NULL, &r), 200);
    bool found = strstr(r.body, entry) != NULL;
    test_http_result_free(&r);
    return found;
}

/* The member list names each member beside id and role: the owner from
 * the creation, an invited user from the invitation, both users of a
 * direct conversation; a member who left is gone from it. */
static void member_list_gives_display_names(void **state) {
    (void)state;
    struct person owner, member;
    person_new(&owner, "owner");
    person_new(&member, "member");
    char room[64], body[160];
    unique_room(room, sizeof(room), "names");
    assert_int_equal(create(&owner, room, "private"), 201);
    assert_int_equal(invite(&owner, room, &member), 200);
    assert_true(lists_member(&member, room, &owner, "owner"));
    assert_true(lists_member(&owner, room, &member, "member"));
    snprintf(body, sizeof(body), "/room/%s/member", room);
    assert_int_equal(call(&member, "DELETE", body, NULL, NULL), 200);
    assert_false(lists_member(&owner, room, &member, "member"));
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", member.u.id);
    struct http_result r;
    long status = call(&owner, "POST", "/dm/", body, &r);
    assert_true(status == 200 || status == 201); /* another test may have opened it */
    test_json_member(r.body, "name", room, sizeof(room));
    test_http_result_free(&r);
    assert_true(lists_member(&owner, room, &member, "member"));
    assert_true(lists_member(&member, room, &owner, "member"));
    person_free(&owner);
    person_free(&member);
}

/* The site administrator of CHAT_ADMIN_EMAIL, registered or logged in;
 * skips the test without one. */
static void admin_new(struct person *admin) {
    const char *email = getenv("CHAT_ADMIN_EMAIL");
    if (!email) skip();
    *admin = (struct person){chat_client_new(test_url()), {0}, false};
    assert_non_null(admin->c);
    if (chat_register(admin->c, email, "correct horse battery", "admin", &admin->u) != CHAT_OK)
        assert_int_equal(chat_login(admin->c, email, "correct horse battery", &admin->u), CHAT_OK);
}

/* A site administrator (--admins) reads every room and moderates it as an
 * owner would, the lobby included; nobody else moderates the lobby. GET
 * /user/ says "admin": true to that user only. */
static void site_administrators_act_in_every_room(void **state) {
    (void)state;
    struct person admin;
    admin_new(&admin);
    struct person owner, member;
    person_new(&owner, "owner");
    person_new(&member, "member");
    char room[64], path[200], id[48];
    unique_room(room, sizeof(room), "watched");
    assert_int_equal(create(&owner, room, "private"), 201);
    assert_int_equal(invite(&owner, room, &member), 200);
    expect_every_path(&admin, room, 200);
    struct http_result me;
    assert_int_equal(call(&admin, "GET", "/user/", NULL, &me), 200);
    assert_non_null(strstr(me.body, "\"admin\":true"));
    test_http_result_free(&me);
    assert_int_equal(call(&owner, "GET", "/user/", NULL, &me), 200);
    assert_null(strstr(me.body, "\"admin\""));
    test_http_result_free(&me);
    snprintf(path, sizeof(path), "/room/%s/member?userId=%s", room, member.u.id);
    assert_int_equal(call(&admin, "DELETE", path, NULL, NULL), 200);
    expect_every_path(&member, room, 404);
    struct http_result r;
    assert_int_equal(call(&member, "POST", "/message/", "{\"text\":\"spam\"}", &r), 201);
    test_json_member(r.body, "id", id, sizeof(id));
    test_http_result_free(&r);
    snprintf(path, sizeof(path), "/room/lobby/message/?id=%s", id);
    assert_int_equal(call_code(&owner, "DELETE", path, NULL, "forbidden"), 403);
    assert_int_equal(call(&admin, "DELETE", path, NULL, NULL), 200);
    person_free(&admin);
    person_free(&owner);
    person_free(&member);
}

/* POST /dm/: the same pair gets the same room, whoever starts it; listed
 * for both, hidden from everyone else, and closed to invitations. */
static void direct_conversations_are_one_room_per_pair(void **state) {
    (void)state;
    struct person alice, bob, carol;
    person_new(&alice, "alice");
    person_new(&bob, "bob");
    person_new(&carol, "carol");
    char body[256], room[64], again[64];
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", bob.u.email);
    struct http_result r;
    assert_int_equal(call(&alice, "POST", "/dm/", body, &r), 201);
    test_json_member(r.body, "name", room, sizeof(room));
    assert_non_null(strstr(r.body, "\"kind\":\"direct\""));
    test_http_result_free(&r);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", alice.u.id);
    assert_int_equal(call(&bob, "POST", "/dm/", body, &r), 200);
    test_json_member(r.body, "name", again, sizeof(again));
    test_http_result_free(&r);
    assert_string_equal(room, again);
    char entry[160];
    snprintf(entry, sizeof(entry), "{\"name\":\"%s\",\"kind\":\"direct\",\"role\":\"member\",",
             room);
    const struct person *both[] = {&alice, &bob};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(call(both[i], "GET", "/room/", NULL, &r), 200);
        assert_non_null(strstr(r.body, entry));
        test_http_result_free(&r);
        expect_every_path(both[i], room, 200);
    }
    expect_every_path(&carol, room, 404);
    expect_every_path(NULL, room, 404);
    assert_int_equal(call(&carol, "GET", "/room/", NULL, &r), 200);
    assert_null(strstr(r.body, room));
    test_http_result_free(&r);
    char path[128];
    snprintf(path, sizeof(path), "/room/%s/member", room);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", carol.u.email);
    assert_int_equal(call_code(&alice, "POST", path, body, "forbidden"), 403);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", alice.u.email);
    assert_int_equal(call_code(&alice, "POST", "/dm/", body, "self_action"), 400);
    assert_int_equal(call_code(&alice, "POST", "/dm/", "{\"email\":\"nobody-here@example.com\"}",
                               "unknown_user"),
                     404);
    assert_int_equal(call_code(&alice, "POST", "/dm/", "{}", "invalid_user_id"), 400);
    assert_int_equal(call_code(NULL, "POST", "/dm/", body, "unauthorized"), 401);
    /* leaving closes it for the leaver; starting it again opens it for both */
    assert_int_equal(call(&bob, "DELETE", path, NULL, NULL), 200);
    expect_every_path(&bob, room, 404);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", bob.u.email);
    assert_int_equal(call(&alice, "POST", "/dm/", body, NULL), 200);
    expect_every_path(&bob, room, 200);
    person_free(&alice);
    person_free(&bob);
    person_free(&carol);
}

/* DELETE /user/: the password proves it; every session ends on every
 * chatd, the address is free again, and the messages stay as sent. */
static void deleting_an_account_ends_it_everywhere(void **state) {
    (void)state;
    struct person gone, owner;
    person_new(&gone, "gone");
    person_new(&owner, "owner");
    char room[64], msgs[128], path[200], email[128], old_id[40];
    snprintf(email, sizeof(email), "%s", gone.u.email);
    snprintf(old_id, sizeof(old_id), "%s", gone.u.id);
    unique_room(room, sizeof(room), "farewell");
    assert_int_equal(create(&owner, room, "private"), 201);
    assert_int_equal(invite(&owner, room, &gone), 200);
    snprintf(msgs, sizeof(msgs), "/room/%s/message/", room);
    assert_int_equal(call(&gone, "POST", msgs, "{\"text\":\"last words\"}", NULL), 201);
    struct person second = {chat_client_new(test_url()), {0}, false}; /* a second session */
    assert_int_equal(chat_login(second.c, email, "correct horse battery", NULL), CHAT_OK);
    const char *url2 = getenv("CHAT_URL2");
    if (url2) assert_int_equal(call_at(url2, &second, "GET", "/user/", NULL, NULL), 200);
    assert_int_equal(call_code(&gone, "DELETE", "/user/", "{\"password\":\"wrong one!\"}",
                               "wrong_password"),
                     403);
    assert_int_equal(call_code(&gone, "DELETE", "/user/", "{}", "invalid_password"), 400);
    assert_int_equal(call_code(NULL, "DELETE", "/user/", "{\"password\":\"x\"}", "unauthorized"),
                     401);
    assert_int_equal(call(&gone, "DELETE", "/user/", "{\"password\":\"correct horse battery\"}",
                          NULL),
                     204);
    /* every session is over, here and on the other chatd */
    assert_int_equal(call(&gone, "GET", "/user/", NULL, NULL), 401);
    assert_int_equal(call(&second, "GET", "/user/", NULL, NULL), 401);
    if (url2) assert_int_equal(call_at(url2, &second, "GET", "/user/", NULL, NULL), 401);
    chat_client *again = chat_client_new(test_url());
    assert_int_equal(chat_login(again, email, "correct horse battery", NULL), CHAT_ERR_AUTH);
    /* the address is free: a new user, with a new id and none of the old rooms */
    chat_user fresh;
    assert_int_equal(chat_register(again, email, "correct horse battery", "new", &fresh),
                     CHAT_OK);
    assert_string_not_equal(fresh.id, old_id);
    struct person reborn = {again, fresh, false};
    expect_every_path(&reborn, room, 404);
    char body[128];
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", old_id);
    snprintf(path, sizeof(path), "/room/%s/member", room);
    assert_int_equal(call_code(&owner, "POST", path, body, "unknown_user"), 404);
    /* the old messages stay as they were sent */
    struct http_result r;
    assert_int_equal(call(&owner, "GET", msgs, NULL, &r), 200);
    assert_non_null(strstr(r.body, "last words"));
    assert_non_null(strstr(r.body, old_id));
    test_http_result_free(&r);
    chat_client_free(second.c);
    person_free(&reborn);
    person_free(&gone);
    person_free(&owner);
}

/* PUT /user/<id>/lock: only a site administrator locks an account; every
 * session of the user ends on every chatd, and its logins answer 403
 * account_locked until DELETE /user/<id>/lock lifts the lock. */
static void locking_an_account_ends_it_everywhere(void **state) {
    (void)state;
    struct person admin, locked, owner;
    admin_new(&admin);
    person_new(&locked, "locked");
    person_new(&owner, "owner");
    struct person second = {chat_client_new(test_url()), {0}, false}; /* a second session */
    assert_int_equal(chat_login(second.c, locked.u.email, "correct horse battery", NULL), CHAT_OK);
    const char *url2 = getenv("CHAT_URL2");
    if (url2) assert_int_equal(call_at(url2, &second, "GET", "/user/", NULL, NULL), 200);
    char path[128], login[256];
    snprintf(path, sizeof(path), "/user/%s/lock", locked.u.id);
    snprintf(login, sizeof(login), "{\"email\":\"%s\",\"password\":\"correct horse battery\"}",
             locked.u.email);
    assert_int_equal(call_code(NULL, "PUT", path, NULL, "unauthorized"), 401);
    assert_int_equal(call_code(&owner, "PUT", path, NULL, "forbidden"), 403);
    assert_int_equal(call_code(&admin, "PUT", "/user/nope/lock", NULL, "invalid_user_id"), 400);
    assert_int_equal(call_code(&admin, "PUT", "/user/0123456789abcdef0123456789abcdef/lock",
                               NULL, "unknown_user"),
                     404);
    char self[128];
    snprintf(self, sizeof(self), "/user/%s/lock", admin.u.id);
    assert_int_equal(call_code(&admin, "PUT", self, NULL, "self_action"), 400);
    assert_int_equal(call(&locked, "GET", "/user/", NULL, NULL), 200);
    assert_int_equal(call(&admin, "PUT", path, NULL, NULL), 204);
    assert_int_equal(call(&admin, "PUT", path, NULL, NULL), 204); /* again: the same */
    /* every session is over, here and on the other chatd */
    assert_int_equal(call(&locked, "GET", "/user/", NULL, NULL), 401);
    assert_int_equal(call(&second, "GET", "/user/", NULL, NULL), 401);
    if (url2) assert_int_equal(call_at(url2, &second, "GET", "/user/", NULL, NULL), 401);
    assert_int_equal(call_code(NULL, "PUT", "/user/", login, "account_locked"), 403);
    /* a wrong password learns nothing of the lock */
    char wrong[256];
    snprintf(wrong, sizeof(wrong), "{\"email\":\"%s\",\"password\":\"not the password\"}",
             locked.u.email);
    assert_int_equal(call_code(NULL, "PUT", "/user/", wrong, "invalid_credentials"), 401);
    assert_int_equal(call_code(&owner, "DELETE", path, NULL, "forbidden"), 403);
    assert_int_equal(call(&admin, "DELETE", path, NULL, NULL), 204);
    assert_int_equal(call(NULL, "PUT", "/user/", login, NULL), 200);
    assert_int_equal(chat_login(locked.c, locked.u.email, "correct horse battery", NULL), CHAT_OK);
    assert_int_equal(call(&locked, "GET", "/user/", NULL, NULL), 200);
    chat_client_free(second.c);
    person_free(&admin);
    person_free(&locked);
    person_free(&owner);
}

/* A long-poll on its own thread: its status and when it was answered. */
struct long_poll {
    const struct person *p;
    const char *base, *path;
    long status;
    double answered_ms;
    pthread_t thread;
};

static void *long_poll_run(void *arg) {
    struct long_poll *lp = arg;
    lp->status = call_at(lp->base, lp->p, "GET", lp->path, NULL, NULL);
    lp->answered_ms = test_now_ms();
    return NULL;
}

/* Locking an account on one chatd ends the open streams of its sessions
 * on the other: the single-room and multi-room event streams end, and a
 * parked long-poll is answered, within a second (measured, bound
 * generous); an anonymous stream of the same room goes on. */
static void locked_users_streams_end_on_another_chatd(void **state) {
    (void)state;
    const char *url2 = getenv("CHAT_URL2");
    if (!url2) skip();
    struct person admin, user, owner;
    admin_new(&admin);
    person_new(&user, "streamer");
    person_new(&owner, "owner");
    char room[64], path[160], url[256], body[160], invited[48], position[128];
    unique_room(room, sizeof(room), "lockout");
    assert_int_equal(create(&owner, room, "private"), 201);
    snprintf(path, sizeof(path), "/room/%s/member", room);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", user.u.id);
    struct http_result r;
    assert_int_equal(call(&owner, "POST", path, body, &r), 200);
    test_json_member(r.body, "eventId", invited, sizeof(invited));
    test_http_result_free(&r);
    const char *token = chat_client_token(user.c);
    snprintf(url, sizeof(url), "%s/room/%s/message/stream", url2, room);
    struct sse_client *single = sse_open_as(url, invited, token);
    snprintf(url, sizeof(url), "%s/stream?rooms=lobby,%s", url2, room);
    snprintf(position, sizeof(position), "%s:%s", room, invited);
    struct sse_client *multi = sse_open_as(url, position, token);
    /* the lobby streams resume from a marker: nothing sent while they connect is missed */
    char marker[48];
    assert_int_equal(call(&owner, "POST", "/message/", "{\"text\":\"lobby marker\"}", &r), 201);
    test_json_member(r.body, "id", marker, sizeof(marker));
    test_http_result_free(&r);
    snprintf(url, sizeof(url), "%s/message/stream", url2);
    struct sse_client *lobby = sse_open_as(url, marker, token);
    struct sse_client *anonymous = sse_open_as(url, marker, NULL);
    /* every stream carries an event: each has started */
    char msgs[128];
    snprintf(msgs, sizeof(msgs), "/room/%s/message/", room);
    assert_int_equal(call(&owner, "POST", msgs, "{\"text\":\"before\"}", NULL), 201);
    assert_int_equal(call(&owner, "POST", "/message/", "{\"text\":\"lobby before\"}", NULL), 201);
    struct sse_client *all[] = {single, multi, lobby, anonymous};
    for (size_t k = 0; k < 4; k++) assert_true(sse_wait_events(all[k], 1, 10000));
    char last[48], data[256], wait_path[200];
    assert_true(sse_get(single, sse_count(single) - 1, last, data, sizeof(data)));
    snprintf(wait_path, sizeof(wait_path), "/room/%s/message/?after=%s&wait=30", room, last);
    long long parked = test_metric(url2, "chatd_long_polls_waiting");
    struct long_poll lp = {&user, url2, wait_path, 0, 0, 0};
    assert_int_equal(pthread_create(&lp.thread, NULL, long_poll_run, &lp), 0);
    session_wait_metric_above(url2, "chatd_long_polls_waiting", parked);
    char lock[128];
    snprintf(lock, sizeof(lock), "/user/%s/lock", user.u.id);
    assert_int_equal(call(&admin, "PUT", lock, NULL, NULL), 204); /* on the first chatd */
    double locked_at = test_now_ms();
    for (size_t k = 0; k < 3; k++) assert_true(sse_wait_end(all[k], 10000));
    double ended_ms = test_now_ms() - locked_at;
    pthread_join(lp.thread, NULL);
    assert_int_equal(lp.status, 200);
    printf("# the locked user's streams on the other chatd ended %.1f ms, its long-poll was "
           "answered %.1f ms after the lock's reply\n",
           ended_ms, lp.answered_ms - locked_at);
    assert_true(ended_ms < 10000);
    /* the anonymous stream goes on */
    assert_int_equal(call(&owner, "POST", "/message/", "{\"text\":\"lobby after\"}", NULL), 201);
    assert_true(sse_wait_events(anonymous, 2, 10000));
    for (size_t k = 0; k < 4; k++) sse_close(all[k]);
    assert_int_equal(call(&admin, "DELETE", lock, NULL, NULL), 204);
    person_free(&admin);
    person_free(&user);
    person_free(&owner);
}

/* A history read that meets an event revoking its reader reads the
 * membership again: a member who left and came back reads past that old
 * event (full history and scroll-back), since it is still a member. */
static void a_rejoined_member_reads_past_its_old_removal(void **state) {
    (void)state;
    struct person owner, member;
    person_new(&owner, "owner");
    person_new(&member, "member");
    char room[64], msgs[128], path[200], removal[200];
    unique_room(room, sizeof(room), "rejoined");
    assert_int_equal(create(&owner, room, "private"), 201);
    assert_int_equal(invite(&owner, room, &member), 200);
    snprintf(msgs, sizeof(msgs), "/room/%s/message/", room);
    assert_int_equal(call(&member, "POST", msgs, "{\"text\":\"first visit\"}", NULL), 201);
    snprintf(removal, sizeof(removal), "/room/%s/member?userId=%s", room, member.u.id);
    assert_int_equal(call(&owner, "DELETE", removal, NULL, NULL), 200);
    assert_int_equal(call(&owner, "POST", msgs, "{\"text\":\"while away\"}", NULL), 201);
    assert_int_equal(invite(&owner, room, &member), 200);
    assert_int_equal(call(&owner, "POST", msgs, "{\"text\":\"after the return\"}", NULL), 201);
    const char *reads[] = {"", "?before=99999999999999-0", "?limit=100"};
    for (size_t k = 0; k < 3; k++) {
        struct http_result r;
        snprintf(path, sizeof(path), "%s%s", msgs, reads[k]);
        assert_int_equal(call(&member, "GET", path, NULL, &r), 200);
        const char *removed = strstr(r.body, "\"event\":\"removed\"");
        if (!removed || !strstr(removed, "while away") || !strstr(removed, "after the return"))
            fail_msg("%s was cut at the old removal: %s", path, r.body);
        test_http_result_free(&r);
    }
    person_free(&owner);
    person_free(&member);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(private_room_is_hidden_from_non_members),
        cmocka_unit_test(bad_membership_requests_get_clear_errors),
        cmocka_unit_test(public_rooms_join_ban_and_record_events),
        cmocka_unit_test(removed_member_stops_receiving_on_another_chatd),
        cmocka_unit_test(fresh_multi_stream_follows_then_ends_at_removal),
        cmocka_unit_test(moderators_remove_messages_leaving_a_tombstone),
        cmocka_unit_test(site_administrators_act_in_every_room),
        cmocka_unit_test(direct_conversations_are_one_room_per_pair),
        cmocka_unit_test(member_list_gives_display_names),
        cmocka_unit_test(deleting_an_account_ends_it_everywhere),
        cmocka_unit_test(locking_an_account_ends_it_everywhere),
        cmocka_unit_test(locked_users_streams_end_on_another_chatd),
        cmocka_unit_test(a_rejoined_member_reads_past_its_old_removal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
