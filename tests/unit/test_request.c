/*
 * Unit tests for request_body.c and request_query.c: the JSON bodies of the
 * routes and the message routes' query parameters, valid and invalid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <event2/http.h>
#include <sys/queue.h>

#include "json.h"
#include "request_body.h"
#include "request_query.h"

/* A string literal and its length. */
#define S(lit) (lit), (sizeof(lit) - 1)

static json_t *parse(const char *text) {
    json_t *v = NULL;
    assert_int_equal(json_parse_object(text, strlen(text), &v), API_E_OK);
    return v;
}

static void test_registration(void **state) {
    (void)state;
    struct registration_body rb;
    json_t *b = parse("{\"email\":\" Alice@Example.COM \",\"password\":\"correct horse\"}");
    assert_int_equal(request_body_registration(b, &rb), API_E_OK);
    assert_string_equal(rb.email, "alice@example.com");
    assert_string_equal(rb.name, "alice"); /* the default name */
    assert_int_equal(rb.password_len, 13);
    json_decref(b);
    b = parse("{\"email\":\"a@b.co\",\"password\":\"long enough\",\"name\":\"Zo\\u00eb\"}");
    assert_int_equal(request_body_registration(b, &rb), API_E_OK);
    assert_string_equal(rb.name, "Zo\xc3\xab");
    json_decref(b);
    /* checked in the documented order: e-mail, password, name */
    b = parse("{\"email\":\"nope\",\"password\":\"short\",\"name\":\" \"}");
    assert_int_equal(request_body_registration(b, &rb), API_E_INVALID_EMAIL);
    json_decref(b);
    b = parse("{\"email\":\"a@b.co\",\"password\":\"short\",\"name\":\" \"}");
    assert_int_equal(request_body_registration(b, &rb), API_E_INVALID_PASSWORD);
    json_decref(b);
    b = parse("{\"email\":\"a@b.co\",\"password\":\"long enough\",\"name\":\" \"}");
    assert_int_equal(request_body_registration(b, &rb), API_E_INVALID_NAME);
    json_decref(b);
    /* a NUL byte never gets this far: jansson refuses \u0000 */
    assert_int_equal(json_parse_object(S("{\"password\":\"long\\u0000enough\"}"), &b),
                     API_E_BAD_JSON);
}

static void test_login(void **state) {
    (void)state;
    struct login_body lb;
    json_t *b = parse("{\"email\":\"Bob@Example.org\",\"password\":\"hunter2hunter2\"}");
    assert_int_equal(request_body_login(b, &lb), API_E_OK);
    assert_true(lb.plausible);
    assert_string_equal(lb.email, "bob@example.org");
    json_decref(b);
    b = parse("{\"email\":\"bob@example.org\",\"password\":\"short\"}");
    assert_int_equal(request_body_login(b, &lb), API_E_OK);
    assert_false(lb.plausible); /* answered like a wrong password */
    assert_string_equal(lb.email, "");
    json_decref(b);
    b = parse("{\"email\":\"bob@example.org\",\"password\":12345678}");
    assert_int_equal(request_body_login(b, &lb), API_E_INVALID_PASSWORD);
    json_decref(b);
    b = parse("{\"password\":\"hunter2hunter2\"}");
    assert_int_equal(request_body_login(b, &lb), API_E_INVALID_EMAIL);
    json_decref(b);
}

static void test_password_change(void **state) {
    (void)state;
    struct password_change_body pb;
    json_t *b = parse("{\"oldPassword\":\"x\",\"newPassword\":\"battery staple\"}");
    assert_int_equal(request_body_password_change(b, &pb), API_E_OK);
    assert_int_equal(pb.current_len, 1);
    assert_int_equal(pb.new_len, 14);
    json_decref(b);
    b = parse("{\"oldPassword\":\"x\",\"newPassword\":\"short\"}");
    assert_int_equal(request_body_password_change(b, &pb), API_E_INVALID_PASSWORD);
    json_decref(b);
    b = parse("{\"newPassword\":\"battery staple\"}");
    assert_int_equal(request_body_password_change(b, &pb), API_E_INVALID_PASSWORD);
    json_decref(b);
}

static void test_message(void **state) {
    (void)state;
    struct message_body mb;
    json_t *b = parse("{\"text\":\"hi\\n\",\"clientMsgId\":\"c-1\"}");
    assert_int_equal(request_body_message(b, "header-key", &mb), API_E_OK);
    assert_int_equal(mb.text_len, 3);
    assert_string_equal(mb.client_msg_id, "c-1"); /* the body wins over the header */
    json_decref(b);
    b = parse("{\"text\":\"hi\",\"clientMsgId\":null}");
    assert_int_equal(request_body_message(b, "header-key", &mb), API_E_OK);
    assert_string_equal(mb.client_msg_id, "header-key");
    assert_int_equal(request_body_message(b, NULL, &mb), API_E_OK);
    assert_null(mb.client_msg_id);
    assert_int_equal(request_body_message(b, "bad key", &mb), API_E_INVALID_CLIENT_MSG_ID);
    json_decref(b);
    b = parse("{\"text\":\"bell \\u0007\"}");
    assert_int_equal(request_body_message(b, NULL, &mb), API_E_INVALID_TEXT);
    json_decref(b);
    b = parse("{\"text\":\"ok\",\"clientMsgId\":\"a b\"}");
    assert_int_equal(request_body_message(b, NULL, &mb), API_E_INVALID_CLIENT_MSG_ID);
    json_decref(b);
}

/* request_body_message_raw must answer as request_body_message after
 * json_parse_object does, for bodies the scanner reads and those it leaves. */
static void raw_agrees(const char *body, const char *header) {
    struct message_body want, got;
    char copy[CHAT_CLIENT_MSG_ID_MAX + 1];
    json_t *v = NULL, *parsed = NULL;
    api_error e = json_parse_object(body, strlen(body), &v);
    if (e == API_E_OK) e = request_body_message(v, header, &want);
    assert_int_equal(request_body_message_raw(body, strlen(body), header, &got, copy, &parsed), e);
    if (e == API_E_OK) {
        assert_int_equal(got.text_len, want.text_len);
        assert_memory_equal(got.text, want.text, want.text_len);
        if (want.client_msg_id) assert_string_equal(got.client_msg_id, want.client_msg_id);
        else assert_null(got.client_msg_id);
    }
    json_decref(parsed);
    json_decref(v);
}

static void test_message_raw(void **state) {
    (void)state;
    static const char *const bodies[] = {
        "{\"text\":\"hello\"}",
        "{\"text\":\"hello\",\"clientMsgId\":\"c-1\"}",
        "{\"clientMsgId\":\"c-1\",\"text\":\"hello\",\"other\":\"x\"}",
        "{\"text\":\"hi\\n\",\"clientMsgId\":\"c-1\"}",
        "{\"text\":\"hi\",\"clientMsgId\":null}",
        "{\"text\":\"hi\",\"clientMsgId\":\"a b\"}",
        "{\"text\":\"hi\",\"clientMsgId\":7}",
        "{\"text\":\"   \"}",
        "{\"text\":\"\"}",
        "{\"text\":5}",
        "{\"other\":\"x\"}",
        "{}",
        "[1]",
        "{\"text\":\"a\",\"text\":\"b\"}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        raw_agrees(bodies[i], NULL);
        raw_agrees(bodies[i], "header-key");
        raw_agrees(bodies[i], "bad key");
    }
}

static void test_room(void **state) {
    (void)state;
    char name[CHAT_ROOM_MAX + 1];
    enum room_kind kind = ROOM_PRIVATE;
    json_t *b = parse("{\"name\":\"general-2_x\"}");
    assert_int_equal(request_body_room(b, name, &kind), API_E_OK);
    assert_string_equal(name, "general-2_x");
    assert_int_equal(kind, ROOM_PUBLIC);
    json_decref(b);
    b = parse("{\"name\":\"a/b\"}");
    assert_int_equal(request_body_room(b, name, &kind), API_E_INVALID_ROOM);
    json_decref(b);
    b = parse("{\"name\":\"General\"}");
    assert_int_equal(request_body_room(b, name, &kind), API_E_INVALID_ROOM);
    json_decref(b);
    b = parse("{\"name\":\"team\",\"kind\":\"private\"}");
    assert_int_equal(request_body_room(b, name, &kind), API_E_OK);
    assert_int_equal(kind, ROOM_PRIVATE);
    json_decref(b);
    const char *bad_kinds[] = {"{\"name\":\"t\",\"kind\":\"secret\"}",
                               "{\"name\":\"t\",\"kind\":1}",
                               "{\"name\":\"t\",\"kind\":\"Private\"}",
                               "{\"name\":\"t\",\"kind\":\"direct\"}"};
    for (size_t i = 0; i < 4; i++) {
        b = parse(bad_kinds[i]);
        assert_int_equal(request_body_room(b, name, &kind), API_E_INVALID_KIND);
        json_decref(b);
    }
}

/* PUT /room/<name>/read {"id"}: written back as "<ms>-<seq>", without
 * leading zeros, whatever form of a message id came. */
static void test_marker(void **state) {
    (void)state;
    char id[CHAT_STREAM_ID_MAX + 1];
    const char *good[][2] = {{"{\"id\":\"1796648477652-3\"}", "1796648477652-3"},
                             {"{\"id\":\"1796648477652\"}", "1796648477652-0"},
                             {"{\"id\":\"007-01\"}", "7-1"},
                             {"{\"id\":\"18446744073709551615-18446744073709551615\"}",
                              "18446744073709551615-18446744073709551615"}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_t *b = parse(good[i][0]);
        assert_int_equal(request_body_marker(b, id), API_E_OK);
        assert_string_equal(id, good[i][1]);
        json_decref(b);
    }
    const char *bad[] = {"{}", "{\"id\":1}", "{\"id\":null}", "{\"id\":\"\"}",
                         "{\"id\":\"1-\"}", "{\"id\":\"-1\"}", "{\"id\":\"1-2-3\"}",
                         "{\"id\":\"18446744073709551616\"}", "{\"id\":\"1 \"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *b = parse(bad[i]);
        assert_int_equal(request_body_marker(b, id), API_E_INVALID_MESSAGE_ID);
        json_decref(b);
    }
}

static void test_member_body(void **state) {
    (void)state;
    struct member_body mb;
    json_t *b = parse("{}");
    assert_int_equal(request_body_member(b, false, &mb), API_E_OK);
    assert_string_equal(mb.email, "");
    assert_string_equal(mb.user_id, "");
    assert_int_equal(request_body_member(b, true, &mb), API_E_INVALID_USER_ID);
    json_decref(b);
    b = parse("{\"email\":\" Bob@Example.com \"}");
    assert_int_equal(request_body_member(b, false, &mb), API_E_OK);
    assert_string_equal(mb.email, "bob@example.com");
    json_decref(b);
    b = parse("{\"userId\":\"0123456789abcdef0123456789abcdef\",\"role\":\"moderator\"}");
    assert_int_equal(request_body_member(b, true, &mb), API_E_OK);
    assert_string_equal(mb.user_id, "0123456789abcdef0123456789abcdef");
    assert_int_equal(mb.role, ROLE_MODERATOR);
    json_decref(b);
    const struct {
        const char *body;
        bool with_role;
        api_error e;
    } bad[] = {
        {"{\"userId\":\"0123456789ABCDEF0123456789abcdef\"}", false, API_E_INVALID_USER_ID},
        {"{\"userId\":\"abc\"}", false, API_E_INVALID_USER_ID},
        {"{\"userId\":7}", false, API_E_INVALID_USER_ID},
        {"{\"email\":\"nope\"}", false, API_E_INVALID_EMAIL},
        {"{\"email\":\"a@b.c\",\"userId\":\"0123456789abcdef0123456789abcdef\"}", false,
         API_E_BAD_REQUEST},
        {"{\"userId\":\"0123456789abcdef0123456789abcdef\",\"role\":\"king\"}", true,
         API_E_INVALID_ROLE},
        {"{\"userId\":\"0123456789abcdef0123456789abcdef\"}", true, API_E_INVALID_ROLE},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = parse(bad[i].body);
        assert_int_equal(request_body_member(b, bad[i].with_role, &mb), bad[i].e);
        json_decref(b);
    }
}

/* request_query_history on a query string; NULL when it is valid. */
static const char *history(const char *query, struct history_query *hq) {
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    assert_int_equal(evhttp_parse_query_str(query, &q), 0);
    const char *msg = request_query_history(&q, hq);
    evhttp_clear_headers(&q);
    return msg;
}

static void test_query(void **state) {
    (void)state;
    struct history_query hq;
    assert_null(history("", &hq));
    assert_int_equal(hq.limit, -1);
    assert_int_equal(hq.wait_s, 0);
    assert_null(history("after=5-1&limit=10&wait=30", &hq));
    assert_string_equal(hq.after, "5-1");
    assert_int_equal(hq.limit, 10);
    assert_int_equal(hq.wait_s, 30);
    assert_null(history("before=9-0&limit=1000", &hq));
    assert_string_equal(hq.before, "9-0");
    assert_non_null(history("before=9-0&limit=1001", &hq));
    assert_non_null(history("before=9-0&after=1-0", &hq));
    assert_non_null(history("before=9-0&wait=1", &hq));
    assert_non_null(history("wait=5", &hq));        /* wait needs after */
    assert_non_null(history("after=1-0&wait=61", &hq));
    assert_non_null(history("limit=0", &hq));
    assert_non_null(history("limit=1000001", &hq));
    assert_non_null(history("limit=5x", &hq));
    assert_non_null(history("after=", &hq));
    assert_non_null(history("after=18446744073709551616", &hq));
}

static const char *rooms(const char *query, struct rooms_query *rq) {
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    assert_int_equal(evhttp_parse_query_str(query, &q), 0);
    const char *msg = request_query_rooms(&q, rq);
    evhttp_clear_headers(&q);
    return msg;
}

static void test_rooms_query(void **state) {
    (void)state;
    struct rooms_query rq;
    assert_null(rooms("", &rq));
    assert_string_equal(rq.after, "");
    assert_int_equal(rq.limit, QUERY_ROOMS_LIMIT_DEFAULT);
    assert_null(rooms("after=team-a&limit=1000", &rq));
    assert_string_equal(rq.after, "team-a");
    assert_int_equal(rq.limit, 1000);
    assert_non_null(rooms("limit=0", &rq));
    assert_non_null(rooms("limit=1001", &rq));
    assert_non_null(rooms("limit=2x", &rq));
    assert_non_null(rooms("after=Team", &rq));
    assert_non_null(rooms("after=", &rq));
}

static void test_cursor(void **state) {
    (void)state;
    char c[CHAT_STREAM_ID_MAX + 1];
    assert_int_equal(request_query_cursor(NULL, NULL, c), 0);
    assert_string_equal(c, "");
    assert_int_equal(request_query_cursor("7-1", "3-0", c), 0);
    assert_string_equal(c, "7-1"); /* the header wins */
    assert_int_equal(request_query_cursor("", "3-0", c), 0);
    assert_string_equal(c, "3-0");
    assert_int_equal(request_query_cursor("x", NULL, c), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registration), cmocka_unit_test(test_login),
        cmocka_unit_test(test_password_change), cmocka_unit_test(test_message),
        cmocka_unit_test(test_message_raw),
        cmocka_unit_test(test_room),
        cmocka_unit_test(test_marker),
        cmocka_unit_test(test_member_body), cmocka_unit_test(test_query),
        cmocka_unit_test(test_cursor), cmocka_unit_test(test_rooms_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
