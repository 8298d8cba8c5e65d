/*
 * test_hostile: bad input gets the right 4xx with the JSON error body, and
 * the server keeps serving: malformed JSON, wrong types, NUL bytes, invalid
 * UTF-8, oversized bodies, wrong content types, garbage cookies, unknown
 * routes and methods, bad query parameters, the member routes' bodies and
 * queries. Stored messages chatd cannot
 * encode (put into Redis by something else) are left out of the replies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chatclient.h"
#include "sse_client.h"
#include "testlib.h"

static char cookie_header[128];

static int setup(void **state) {
    (void)state;
    chat_client *c = test_new_user("hostile", NULL);
    if (!c) return -1;
    snprintf(cookie_header, sizeof(cookie_header), "Cookie: authKey=%s", chat_client_token(c));
    chat_client_free(c);
    return 0;
}

/* Sends body to method path as JSON (with the session cookie when auth) and
 * checks status and error code; then checks the server still answers. */
static void expect(const char *method, const char *path, bool auth, const char *content_type,
                   const char *body, size_t len, long status, const char *code) {
    char ct[128] = "Content-Type:"; /* an empty value keeps curl from adding one */
    if (content_type) snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
    const char *h[] = {ct, auth ? cookie_header : "X-No-Auth: 1", NULL};
    struct http_result r;
    assert_int_equal(test_http(method, path, h, body, len, &r), 0);
    if (r.status != status || (code && !test_is_error(r.body, code)))
        fail_msg("%s %s: want %ld %s, got %ld %.200s", method, path, status, code ? code : "",
                 r.status, r.body);
    test_http_result_free(&r);
    test_http("GET", "/health", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    test_http_result_free(&r);
}

#define JSON "application/json"
#define SEND(body, status, code) expect("POST", "/message/", true, JSON, body, sizeof(body) - 1, status, code)
#define REG(body, status, code) expect("POST", "/user/", false, JSON, body, sizeof(body) - 1, status, code)

static void malformed_json_is_400(void **state) {
    (void)state;
    SEND("{\"text\":", 400, "bad_json");
    SEND("not json at all", 400, "bad_json");
    SEND("[\"text\"]", 400, "bad_json");
    SEND("\"text\"", 400, "bad_json");
    SEND("{\"text\":\"a\"} trailing", 400, "bad_json");
    SEND("{\"text\":\"a\",\"text\":\"b\"}", 400, "bad_json");
    SEND("", 400, "bad_json");
    char deep[20001];
    memset(deep, '[', 20000);
    deep[20000] = '\0';
    expect("POST", "/message/", true, JSON, deep, 20000, 400, "bad_json");
}

static void wrong_types_and_missing_fields_are_400(void **state) {
    (void)state;
    SEND("{\"text\":42}", 400, "invalid_text");
    SEND("{\"text\":null}", 400, "invalid_text");
    SEND("{\"text\":[\"a\"]}", 400, "invalid_text");
    SEND("{}", 400, "invalid_text");
    REG("{\"email\":[],\"password\":\"password1\"}", 400, "invalid_email");
    REG("{\"email\":\"a@example.com\",\"password\":12345678}", 400, "invalid_password");
    REG("{\"email\":\"a@example.com\",\"password\":\"password1\",\"name\":7}", 400, "invalid_name");
    REG("{\"password\":\"password1\"}", 400, "invalid_email");
    expect("PUT", "/user/", false, JSON, "{\"email\":\"a@example.com\"}", 25, 400,
           "invalid_password");
}

static void invalid_fields_are_400(void **state) {
    (void)state;
    REG("{\"email\":\"no-at-sign\",\"password\":\"password1\"}", 400, "invalid_email");
    REG("{\"email\":\"a@b@example.com\",\"password\":\"password1\"}", 400, "invalid_email");
    REG("{\"email\":\"a\\r\\nBcc: x@example.com\",\"password\":\"password1\"}", 400, "invalid_email");
    REG("{\"email\":\"ok@example.com\",\"password\":\"short\"}", 400, "invalid_password");
    REG("{\"email\":\"ok@example.com\",\"password\":\"password1\",\"name\":\"\"}", 400,
        "invalid_name");
    REG("{\"email\":\"ok@example.com\",\"password\":\"password1\",\"name\":\"a\\u0007b\"}", 400,
        "invalid_name");
    SEND("{\"text\":\"\"}", 400, "invalid_text");
    SEND("{\"text\":\"   \\n \"}", 400, "invalid_text");
    SEND("{\"text\":\"bell\\u0007\"}", 400, "invalid_text");
    char big[4200];
    int n = snprintf(big, sizeof(big), "{\"text\":\"");
    memset(big + n, 'x', 4097);
    n += 4097;
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\"}");
    expect("POST", "/message/", true, JSON, big, (size_t)n, 400, "invalid_text");
}

static void nul_bytes_and_invalid_utf8_are_400(void **state) {
    (void)state;
    SEND("{\"text\":\"a\0b\"}", 400, "bad_json");
    SEND("{\"text\":\"a\\u0000b\"}", 400, "bad_json");
    SEND("{\"text\":\"\xff\xfe\"}", 400, "bad_json");
    SEND("{\"text\":\"\xc0\xaf\"}", 400, "bad_json");
    SEND("{\"text\":\"\\ud800\"}", 400, "bad_json");
    REG("{\"email\":\"\xe9@example.com\",\"password\":\"password1\"}", 400, "bad_json");
}

#define MEMBER(method, body, status, code)                                                  \
    expect(method, "/room/lobby/member", true, JSON, body, sizeof(body) - 1, status, code)

/* The member routes (on the lobby, which is public) and POST /room/'s kind. */
static void member_bodies_and_queries_are_checked(void **state) {
    (void)state;
    MEMBER("POST", "{\"email\":", 400, "bad_json");
    MEMBER("POST", "[]", 400, "bad_json");
    MEMBER("POST", "{\"email\":\"a\\u0000b@example.com\"}", 400, "bad_json");
    MEMBER("POST", "{\"email\":\"\xff@example.com\"}", 400, "bad_json");
    MEMBER("POST", "{\"email\":42}", 400, "invalid_email");
    MEMBER("POST", "{\"email\":\"a\\r\\nb@example.com\"}", 400, "invalid_email");
    MEMBER("POST", "{\"userId\":\"../../etc\"}", 400, "invalid_user_id");
    MEMBER("POST", "{\"userId\":[\"0123456789abcdef0123456789abcdef\"]}", 400,
           "invalid_user_id");
    MEMBER("POST", "{\"email\":\"a@example.com\",\"userId\":\"0123456789abcdef0123456789abcdef\"}",
           400, "bad_request");
    MEMBER("PUT", "{\"userId\":\"0123456789abcdef0123456789abcdef\"}", 400, "invalid_role");
    MEMBER("PUT", "{\"userId\":\"0123456789abcdef0123456789abcdef\",\"role\":\"root\"}", 400,
           "invalid_role");
    MEMBER("PUT", "{\"userId\":\"0123456789abcdef0123456789abcdef\",\"role\":null}", 400,
           "invalid_role");
    MEMBER("PUT", "{\"role\":\"owner\"}", 400, "invalid_user_id");
    expect("POST", "/room/lobby/member", true, "text/plain", "{}", 2, 415,
           "unsupported_media_type");
    expect("POST", "/room/lobby/member", false, JSON, "{}", 2, 401, "unauthorized");
    expect("DELETE", "/room/lobby/member?userId=%00", true, NULL, NULL, 0, 400, "invalid_user_id");
    expect("DELETE", "/room/lobby/member?userId=0123456789ABCDEF0123456789ABCDEF", true, NULL,
           NULL, 0, 400, "invalid_user_id");
    /* a site administrator's lock: ids checked, and only for --admins */
    expect("PUT", "/user/%00/lock", true, NULL, NULL, 0, 400, "invalid_user_id");
    expect("PUT", "/user/0123456789ABCDEF0123456789ABCDEF/lock", true, NULL, NULL, 0, 400,
           "invalid_user_id");
    expect("DELETE", "/user/0123456789abcdef0123456789abcdef0/lock", true, NULL, NULL, 0, 400,
           "invalid_user_id");
    expect("PUT", "/user/0123456789abcdef0123456789abcdef/lock", false, NULL, NULL, 0, 401,
           "unauthorized");
    expect("PUT", "/user/0123456789abcdef0123456789abcdef/lock", true, NULL, NULL, 0, 403,
           "forbidden");
    expect("GET", "/user/0123456789abcdef0123456789abcdef/lock", true, NULL, NULL, 0, 405,
           "method_not_allowed");
    expect("GET", "/room/No%20Room/member", false, NULL, NULL, 0, 400, "invalid_room");
    expect("GET", "/room/never-made-here/member", false, NULL, NULL, 0, 404, "not_found");
    expect("POST", "/room/", true, JSON, "{\"name\":\"k\",\"kind\":[]}", 22, 400,
           "invalid_kind");
    expect("POST", "/room/", true, JSON, "{\"name\":\"k\",\"kind\":\"PRIVATE\"}", 29, 400,
           "invalid_kind");
    size_t len = 100 * 1024; /* over the 64 KiB limit */
    char *body = malloc(len);
    memset(body, ' ', len);
    body[0] = '{';
    body[len - 1] = '}';
    expect("PUT", "/room/lobby/member", true, JSON, body, len, 413, "body_too_large");
    free(body);
}

#define EDIT(path, body, status, code)                                                      \
    expect("PATCH", path, true, JSON, body, sizeof(body) - 1, status, code)

/* PATCH /room/<name>/message/?id= on a message of this user's in the lobby. */
static void edit_bodies_and_queries_are_checked(void **state) {
    (void)state;
    const char *h[] = {"Content-Type: application/json", cookie_header, NULL};
    struct http_result r;
    assert_int_equal(test_http("POST", "/message/", h, "{\"text\":\"mine\"}", 15, &r), 0);
    assert_int_equal(r.status, 201);
    char id[48], path[128];
    test_json_member(r.body, "id", id, sizeof(id));
    test_http_result_free(&r);
    snprintf(path, sizeof(path), "/room/lobby/message/?id=%s", id);
    EDIT(path, "{\"text\":", 400, "bad_json");
    EDIT(path, "[\"text\"]", 400, "bad_json");
    EDIT(path, "{\"text\":\"a\\u0000b\"}", 400, "bad_json");
    EDIT(path, "{\"text\":\"\xff\xfe\"}", 400, "bad_json");
    EDIT(path, "{\"text\":42}", 400, "invalid_text");
    EDIT(path, "{}", 400, "invalid_text");
    EDIT(path, "{\"text\":\"  \"}", 400, "invalid_text");
    char big[4200];
    int n = snprintf(big, sizeof(big), "{\"text\":\"");
    memset(big + n, 'x', 4097);
    n += 4097;
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\"}");
    expect("PATCH", path, true, JSON, big, (size_t)n, 400, "invalid_text");
    expect("PATCH", path, true, "text/plain", "{\"text\":\"a\"}", 12, 415,
           "unsupported_media_type");
    expect("PATCH", path, false, JSON, "{\"text\":\"a\"}", 12, 401, "unauthorized");
    EDIT("/room/lobby/message/?id=%00", "{\"text\":\"a\"}", 400, "invalid_query");
    EDIT("/room/lobby/message/?id=1-2-3", "{\"text\":\"a\"}", 400, "invalid_query");
    EDIT("/room/lobby/message/", "{\"text\":\"a\"}", 400, "invalid_query");
    EDIT("/room/No%20Room/message/?id=1-0", "{\"text\":\"a\"}", 400, "invalid_room");
    EDIT("/room/never-made-here/message/?id=1-0", "{\"text\":\"a\"}", 404, "not_found");
    EDIT(path, "{\"text\":\"still mine\"}", 200, NULL);
}

#define REACT(method, path, body, status, code)                                             \
    expect(method, path, true, JSON, body, sizeof(body) - 1, status, code)
#define THUMBS "\xf0\x9f\x91\x8d"

/* PUT and DELETE /room/<name>/message/reaction?id= and a send's replyTo,
 * on a message of this user's in the lobby. */
static void reaction_and_reply_bodies_are_checked(void **state) {
    (void)state;
    const char *h[] = {"Content-Type: application/json", cookie_header, NULL};
    struct http_result r;
    assert_int_equal(test_http("POST", "/message/", h, "{\"text\":\"react\"}", 16, &r), 0);
    assert_int_equal(r.status, 201);
    char id[48], path[128];
    test_json_member(r.body, "id", id, sizeof(id));
    test_http_result_free(&r);
    snprintf(path, sizeof(path), "/room/lobby/message/reaction?id=%s", id);
    REACT("PUT", path, "{\"emoji\":", 400, "bad_json");
    REACT("PUT", path, "[\"emoji\"]", 400, "bad_json");
    REACT("PUT", path, "{\"emoji\":\"\\ud83d\"}", 400, "bad_json");
    REACT("PUT", path, "{\"emoji\":\"\xf0\x9f\x91\"}", 400, "bad_json");
    REACT("PUT", path, "{\"emoji\":\"\\u0000\"}", 400, "bad_json");
    REACT("PUT", path, "{\"emoji\":null}", 400, "invalid_emoji");
    REACT("PUT", path, "{\"emoji\":[\"" THUMBS "\"]}", 400, "invalid_emoji");
    REACT("PUT", path, "{\"emoji\":\"<script>\"}", 400, "invalid_emoji");
    REACT("PUT", path, "{\"emoji\":\"" THUMBS "\\n\"}", 400, "invalid_emoji");
    REACT("DELETE", path, "{\"emoji\":\"\xe2\x80\x8d\"}", 400, "invalid_emoji");
    REACT("DELETE", path, "{\"emoji\":\"\\u2764\\ufe0f\\u200d\\u200d\"}", 400, "invalid_emoji");
    char big[40000];
    int n = snprintf(big, sizeof(big), "{\"emoji\":\"");
    for (int i = 0; i < 9000; i++) n += snprintf(big + n, sizeof(big) - (size_t)n, THUMBS);
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\"}");
    expect("PUT", path, true, JSON, big, (size_t)n, 400, "invalid_emoji");
    const char *ok = "{\"emoji\":\"" THUMBS "\"}";
    expect("PUT", path, true, "text/plain", ok, strlen(ok), 415, "unsupported_media_type");
    expect("PUT", path, false, JSON, ok, strlen(ok), 401, "unauthorized");
    expect("PUT", "/room/lobby/message/reaction?id=%00", true, JSON, ok, strlen(ok), 400,
           "invalid_query");
    expect("PUT", "/room/lobby/message/reaction", true, JSON, ok, strlen(ok), 400,
           "invalid_query");
    expect("PUT", "/room/No%20Room/message/reaction?id=1-0", true, JSON, ok, strlen(ok), 400,
           "invalid_room");
    expect("GET", path, true, NULL, NULL, 0, 405, "method_not_allowed");
    expect("PUT", path, true, JSON, ok, strlen(ok), 200, NULL);
    /* a send's replyTo */
    SEND("{\"text\":\"a\",\"replyTo\":\"%00\"}", 400, "invalid_reply_to");
    SEND("{\"text\":\"a\",\"replyTo\":\"1-2-3\"}", 400, "invalid_reply_to");
    SEND("{\"text\":\"a\",\"replyTo\":{}}", 400, "invalid_reply_to");
    SEND("{\"text\":\"a\",\"replyTo\":\"\"}", 400, "invalid_reply_to");
    SEND("{\"text\":\"a\",\"replyTo\":\"123456789012345678901-1\"}", 400, "invalid_reply_to");
    SEND("{\"text\":\"a\",\"replyTo\":\"1-0\"}", 404, "reply_not_found");
}

static void oversized_bodies_are_413(void **state) {
    (void)state;
    size_t len = 100 * 1024; /* over the 64 KiB limit */
    char *body = malloc(len);
    memset(body, ' ', len);
    body[0] = '{';
    body[len - 1] = '}';
    expect("POST", "/message/", true, JSON, body, len, 413, "body_too_large");
    free(body);
    len = 8 * 1024 * 1024; /* far over: refused before it is read */
    body = malloc(len);
    memset(body, 'x', len);
    expect("POST", "/user/", false, JSON, body, len, 413, "body_too_large");
    free(body);
}

/* Chunked bodies (no Content-Length), just over the limit and far over it
 * (evhttp refuses those while reading): the same JSON 413, and the reply
 * arrives although the client was still sending when chatd answered. */
static void oversized_chunked_bodies_are_413(void **state) {
    (void)state;
    const size_t sizes[] = {64 * 1024 + 1, 300 * 1024, 10 * 1024 * 1024};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *body = malloc(sizes[i]);
        memset(body, 'x', sizes[i]);
        const char *h[] = {"Content-Type: application/json", "Transfer-Encoding: chunked", NULL};
        struct http_result r;
        assert_int_equal(test_http("POST", "/user/", h, body, sizes[i], &r), 0);
        if (r.status != 413 || !test_is_error(r.body, "body_too_large"))
            fail_msg("%zu bytes chunked: want a JSON 413, got %ld %.120s", sizes[i], r.status,
                     r.body);
        assert_non_null(strstr(r.headers, "application/json"));
        test_http_result_free(&r);
        free(body);
    }
}

static void wrong_content_type_is_415(void **state) {
    (void)state;
    const char *body = "{\"text\":\"hi\"}";
    expect("POST", "/message/", true, NULL, body, strlen(body), 415, "unsupported_media_type");
    expect("POST", "/message/", true, "text/plain", body, strlen(body), 415,
           "unsupported_media_type");
    expect("PUT", "/user/", false, "application/jsonp", body, strlen(body), 415,
           "unsupported_media_type");
    expect("POST", "/message/", true, "application/json; charset=utf-8", body, strlen(body), 201,
           NULL);
}

#define READ(body, status, code)                                                            \
    expect("PUT", "/room/lobby/read", true, JSON, body, sizeof(body) - 1, status, code)

/* PUT /room/<name>/read: the marker's body, its bounds and its callers. */
static void read_marker_bodies_are_checked(void **state) {
    (void)state;
    READ("{\"id\":", 400, "bad_json");
    READ("[\"id\"]", 400, "bad_json");
    READ("{\"id\":\"1-0\",\"id\":\"2-0\"}", 400, "bad_json"); /* a duplicate key */
    READ("{\"id\":\"1\\u0000-0\"}", 400, "bad_json");
    READ("{}", 400, "invalid_message_id");
    READ("{\"id\":null}", 400, "invalid_message_id");
    READ("{\"id\":1796648477652}", 400, "invalid_message_id");
    READ("{\"id\":[\"1-0\"]}", 400, "invalid_message_id");
    READ("{\"id\":\"\"}", 400, "invalid_message_id");
    READ("{\"id\":\"-1-0\"}", 400, "invalid_message_id");
    READ("{\"id\":\"1-\"}", 400, "invalid_message_id");
    READ("{\"id\":\"1-2-3\"}", 400, "invalid_message_id");
    READ("{\"id\":\" 1-0\"}", 400, "invalid_message_id");
    READ("{\"id\":\"18446744073709551616-0\"}", 400, "invalid_message_id");
    READ("{\"id\":\"99999999999999999999-0\"}", 400, "invalid_message_id");
    READ("{\"id\":\"18446744073709551615-18446744073709551615\"}", 400, "marker_ahead");
    char big[70000];
    int n = snprintf(big, sizeof(big), "{\"id\":\"");
    memset(big + n, '1', 66000);
    n += 66000;
    n += snprintf(big + n, sizeof(big) - (size_t)n, "-0\"}");
    expect("PUT", "/room/lobby/read", true, JSON, big, (size_t)n, 413, "body_too_large");
    expect("PUT", "/room/lobby/read", true, "text/plain", "{\"id\":\"1-0\"}", 12, 415,
           "unsupported_media_type");
    expect("PUT", "/room/lobby/read", false, JSON, "{\"id\":\"1-0\"}", 12, 401, "unauthorized");
    expect("PUT", "/room/No%20Room/read", true, JSON, "{\"id\":\"1-0\"}", 12, 400,
           "invalid_room");
    expect("PUT", "/room/never-made-here/read", true, JSON, "{\"id\":\"1-0\"}", 12, 404,
           "not_found");
    expect("GET", "/room/lobby/read", true, NULL, NULL, 0, 405, "method_not_allowed");
    expect("POST", "/room/lobby/read", true, JSON, "{\"id\":\"1-0\"}", 12, 405,
           "method_not_allowed");
    expect("GET", "/stream?rooms=lobby&user=2", true, NULL, NULL, 0, 400, "invalid_query");
    expect("GET", "/stream?rooms=lobby&user=1", false, NULL, NULL, 0, 401, "unauthorized");
}

static void garbage_cookies_are_401(void **state) {
    (void)state;
    const char *cookies[] = {"Cookie: authKey=", "Cookie: authKey=%00%00",
                             "Cookie: authKey=\"\"; authKey", "Cookie: ;;;;==;;",
                             "Authorization: Bearer", "Authorization: Basic Zm9vOmJhcg==", NULL};
    for (int i = 0; cookies[i]; i++) {
        const char *h[] = {"Content-Type: application/json", cookies[i], NULL};
        struct http_result r;
        test_http("POST", "/message/", h, "{\"text\":\"hi\"}", 13, &r);
        assert_int_equal(r.status, 401);
        assert_true(test_is_error(r.body, "unauthorized"));
        test_http_result_free(&r);
    }
}

static void unknown_routes_and_methods(void **state) {
    (void)state;
    expect("GET", "/nope", false, JSON, NULL, 0, 404, "not_found");
    expect("GET", "/user/session/extra", false, JSON, NULL, 0, 404, "not_found");
    expect("GET", "/../../etc/passwd", false, JSON, NULL, 0, 404, "not_found");
    expect("PATCH", "/message/", false, JSON, NULL, 0, 405, "method_not_allowed");
    expect("DELETE", "/message/", false, JSON, NULL, 0, 405, "method_not_allowed");
    expect("PATCH", "/user/", false, JSON, NULL, 0, 405, "method_not_allowed");
    expect("GET", "/user/", false, JSON, NULL, 0, 401, "unauthorized");
}

static void bad_query_parameters_are_400(void **state) {
    (void)state;
    const char *paths[] = {"/message/?after=xyz", "/message/?after=1-2-3", "/message/?limit=0",
                           "/message/?limit=-5", "/message/?limit=ten", "/message/?after=%ff",
                           "/message/?after=99999999999999999999999", NULL};
    for (int i = 0; paths[i]; i++) expect("GET", paths[i], false, JSON, NULL, 0, 400, "invalid_query");
}

static void server_still_serves_normal_clients(void **state) {
    (void)state;
    chat_client *c = test_new_user("survivor", NULL);
    assert_non_null(c);
    assert_int_equal(chat_send(c, "still alive", NULL), CHAT_OK);
    chat_client_free(c);
}

/* Appends an entry to room's stream with redis-cli; text is a printf(1)
 * format (octal escapes for raw bytes). */
static void redis_xadd(const char *room, const char *text) {
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "redis-cli -p %d XADD 'room:{%s}:messages' '*' userId u-raw name raw "
             "text \"$(printf '%s')\" timestamp 1 >/dev/null",
             test_redis_port(), room, text);
    assert_int_equal(system(cmd), 0);
}

/* The texts of a JSON array of messages, joined by "|". */
static void texts_of(const char *body, char *out, size_t size) {
    json_error_t err;
    json_t *a = json_loads(body, 0, &err);
    if (!json_is_array(a)) fail_msg("not a JSON array: %.200s", body);
    out[0] = '\0';
    size_t i;
    json_t *m;
    json_array_foreach(a, i, m) {
        size_t len = strlen(out);
        const char *text = json_string_value(json_object_get(m, "text"));
        snprintf(out + len, size - len, "%s%s", i ? "|" : "", text ? text : "(none)");
    }
    json_decref(a);
}

static void expect_texts(const char *path, const char *want) {
    struct http_result r;
    char got[256];
    assert_int_equal(test_http("GET", path, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    texts_of(r.body, got, sizeof(got));
    if (strcmp(got, want) != 0) fail_msg("GET %s: texts %s, not %s", path, got, want);
    test_http_result_free(&r);
}

/* A stored message that is not valid UTF-8 (chatd refuses such input, so
 * something else wrote it) is left out of the history, its pages, a
 * long-poll and a stream's replay; each stays valid and has the rest. */
static void unencodable_stored_messages_are_left_out(void **state) {
    (void)state;
    if (getenv("CHAT_CLUSTER")) skip(); /* redis-cli writes to the standalone test Redis */
    char room[64], path[256], url[512], data[256], id[48];
    snprintf(room, sizeof(room), "hostile-%d", (int)getpid());
    chat_client *creator = test_new_user("hostile", NULL);
    assert_non_null(creator);
    assert_int_equal(test_create_room(creator, room), 201);
    chat_client_free(creator);
    redis_xadd(room, "first");
    redis_xadd(room, "bad \\377 byte");
    redis_xadd(room, "last");
    snprintf(path, sizeof(path), "/room/%s/message/", room);
    expect_texts(path, "first|last");
    snprintf(path, sizeof(path), "/room/%s/message/?before=99999999999999-0", room);
    expect_texts(path, "first|last");
    snprintf(path, sizeof(path), "/room/%s/message/?after=0-0&wait=5", room);
    expect_texts(path, "first|last");
    snprintf(url, sizeof(url), "%s/room/%s/message/stream", test_url(), room);
    struct sse_client *sse = sse_open(url, "0-0");
    assert_non_null(sse);
    assert_true(sse_wait_events(sse, 2, 10000));
    const char *want[] = {"first", "last"};
    for (size_t i = 0; i < 2; i++) { /* the bad one would be the second, with empty data */
        char array[300], got[64];
        assert_true(sse_get(sse, i, id, data, sizeof(data)));
        snprintf(array, sizeof(array), "[%s]", data);
        texts_of(array, got, sizeof(got));
        assert_string_equal(got, want[i]);
    }
    sse_close(sse);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(malformed_json_is_400),
        cmocka_unit_test(wrong_types_and_missing_fields_are_400),
        cmocka_unit_test(invalid_fields_are_400),
        cmocka_unit_test(nul_bytes_and_invalid_utf8_are_400),
        cmocka_unit_test(member_bodies_and_queries_are_checked),
        cmocka_unit_test(edit_bodies_and_queries_are_checked),
        cmocka_unit_test(reaction_and_reply_bodies_are_checked),
        cmocka_unit_test(read_marker_bodies_are_checked),
        cmocka_unit_test(oversized_bodies_are_413),
        cmocka_unit_test(oversized_chunked_bodies_are_413),
        cmocka_unit_test(wrong_content_type_is_415),
        cmocka_unit_test(garbage_cookies_are_401),
        cmocka_unit_test(unknown_routes_and_methods),
        cmocka_unit_test(bad_query_parameters_are_400),
        cmocka_unit_test(server_still_serves_normal_clients),
        cmocka_unit_test(unencodable_stored_messages_are_left_out),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
