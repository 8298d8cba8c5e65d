/*
 * Unit tests for json.c: what request bodies json_parse_object accepts,
 * what json_scan_plain_object reads (always as jansson would) and leaves to
 * it, json_get_string's cases, and the exact bytes of the reply encoders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/buffer.h>

#include "json.h"

/* A string literal and its length in bytes (embedded NULs included). */
#define S(lit) (lit), (sizeof(lit) - 1)

/* Parses and, on success, frees the object; returns the error. */
static api_error parse(const char *body, size_t len) {
    json_t *v = NULL;
    api_error e = json_parse_object(body, len, &v);
    if (e == API_E_OK) {
        assert_non_null(v);
        assert_true(json_is_object(v));
        json_decref(v);
    }
    return e;
}

/* Asserts that buf holds exactly the len bytes of want, then empties it. */
static void assert_buffer_is(struct evbuffer *buf, const char *want, size_t len) {
    size_t n = evbuffer_get_length(buf);
    char *got = malloc(n + 1);
    assert_non_null(got);
    evbuffer_remove(buf, got, n);
    got[n] = '\0';
    assert_string_equal(got, want);
    assert_int_equal(n, len);
    free(got);
}

/* ---- json_parse_object ---- */

static void test_parse_object_ok(void **state) {
    (void)state;
    json_t *v = NULL;
    assert_int_equal(json_parse_object(S(" {\"email\": \"a@b.c\", \"n\": [1, {}]}\n"), &v),
                     API_E_OK);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "email")), "a@b.c");
    json_decref(v);
    assert_int_equal(parse(S("{}")), API_E_OK);
    assert_int_equal(parse(S("{\"t\":\"caf\xc3\xa9 \\u00e9 \\ud83d\\ude00\"}")), API_E_OK);
}

static void test_parse_non_objects(void **state) {
    (void)state;
    assert_int_equal(parse(S("[]")), API_E_BAD_JSON);
    assert_int_equal(parse(S("[{\"a\":1}]")), API_E_BAD_JSON);
    assert_int_equal(parse(S("42")), API_E_BAD_JSON);
    assert_int_equal(parse(S("-1.5e3")), API_E_BAD_JSON);
    assert_int_equal(parse(S("\"string\"")), API_E_BAD_JSON);
    assert_int_equal(parse(S("true")), API_E_BAD_JSON);
    assert_int_equal(parse(S("null")), API_E_BAD_JSON);
}

static void test_parse_trailing_garbage(void **state) {
    (void)state;
    assert_int_equal(parse(S("{\"a\":1} x")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"a\":1}{}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"a\":1},")), API_E_BAD_JSON);
    /* len is honoured: the garbage past it is not looked at. */
    assert_int_equal(parse("{\"a\":1}garbage", 7), API_E_OK);
}

static void test_parse_malformed(void **state) {
    (void)state;
    assert_int_equal(parse(S("{")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"a\":}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"a\":1,}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{'a':1}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{a:1}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"a\":\"unterminated}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"a\":\"raw\nnewline\"}")), API_E_BAD_JSON);
    /* The body was cut short by len. */
    assert_int_equal(parse("{\"a\":1}", 6), API_E_BAD_JSON);
}

static void test_parse_duplicate_keys(void **state) {
    (void)state;
    assert_int_equal(parse(S("{\"a\":1,\"a\":2}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"email\":\"x@y.z\",\"password\":\"p\",\"email\":\"z@y.x\"}")),
                     API_E_BAD_JSON);
    /* The same key in nested objects is fine. */
    assert_int_equal(parse(S("{\"a\":{\"a\":1},\"b\":{\"a\":2}}")), API_E_OK);
}

static void test_parse_invalid_utf8(void **state) {
    (void)state;
    assert_int_equal(parse(S("{\"a\":\"\xff\"}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"a\":\"\xc0\x80\"}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"a\":\"\xed\xa0\x80\"}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"\xc3\":1}")), API_E_BAD_JSON);
    /* A lone surrogate escape is not a character either. */
    assert_int_equal(parse(S("{\"a\":\"\\ud800\"}")), API_E_BAD_JSON);
}

static void test_parse_raw_nul_byte(void **state) {
    (void)state;
    assert_int_equal(parse(S("{\"a\":\"b\0c\"}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"a\":1}\0")), API_E_BAD_JSON);
    assert_int_equal(parse(S("\0{\"a\":1}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"a\"\0:1}")), API_E_BAD_JSON);
}

static void test_parse_escaped_nul(void **state) {
    (void)state;
    assert_int_equal(parse(S("{\"a\":\"b\\u0000c\"}")), API_E_BAD_JSON);
    assert_int_equal(parse(S("{\"a\\u0000\":1}")), API_E_BAD_JSON);
}

/* body = prefix followed by depth copies of open, then the same number of
 * close and suffix; parsed under the sanitizers it must fail cleanly. */
static api_error parse_nested(const char *prefix, char open, char close, size_t depth,
                               const char *suffix) {
    size_t pre = strlen(prefix), suf = strlen(suffix);
    char *body = malloc(pre + 2 * depth + suf);
    assert_non_null(body);
    memcpy(body, prefix, pre);
    memset(body + pre, open, depth);
    memset(body + pre + depth, close, depth);
    memcpy(body + pre + 2 * depth, suffix, suf);
    api_error e = parse(body, pre + 2 * depth + suf);
    free(body);
    return e;
}

static void test_parse_deep_nesting(void **state) {
    (void)state;
    char *opens = malloc(10000);
    assert_non_null(opens);
    memset(opens, '[', 10000);
    assert_int_equal(parse(opens, 10000), API_E_BAD_JSON);
    memset(opens, '{', 10000);
    assert_int_equal(parse(opens, 10000), API_E_BAD_JSON);
    free(opens);
    /* Balanced, and inside an object: still refused rather than a crash. */
    assert_int_equal(parse_nested("{\"a\":", '[', ']', 10000, "}"), API_E_BAD_JSON);
    assert_int_equal(parse_nested("{\"a\":", '[', ']', 100000, "}"), API_E_BAD_JSON);
    /* Modest nesting is fine. */
    assert_int_equal(parse_nested("{\"a\":", '[', ']', 16, "}"), API_E_OK);
}

static void test_parse_empty_body(void **state) {
    (void)state;
    assert_int_equal(parse("", 0), API_E_BAD_JSON);
    assert_int_equal(parse(S(" \r\n\t")), API_E_BAD_JSON);
}

/* ---- json_get_string ---- */

struct fields {
    json_t *obj;
};

static int fields_setup(void **state) {
    static struct fields f;
    json_error_t err;
    f.obj = json_loads("{\"email\":\"a@b.c\",\"empty\":\"\",\"u\":\"caf\\u00e9\",\"nul\":null,"
                       "\"num\":5,\"arr\":[\"x\"],\"obj\":{},\"t\":true}",
                       0, &err);
    if (!f.obj) return -1;
    *state = &f;
    return 0;
}

static int fields_teardown(void **state) {
    struct fields *f = *state;
    json_decref(f->obj);
    return 0;
}

static void test_get_string_present(void **state) {
    struct fields *f = *state;
    const char *s = NULL;
    size_t len = 99;
    assert_int_equal(json_get_string(f->obj, "email", true, API_E_INVALID_EMAIL, &s, &len),
                     API_E_OK);
    assert_string_equal(s, "a@b.c");
    assert_int_equal(len, 5);
    assert_int_equal(json_get_string(f->obj, "u", false, API_E_INVALID_NAME, &s, &len), API_E_OK);
    assert_string_equal(s, "caf\xc3\xa9");
    assert_int_equal(len, 5); /* bytes, not characters */
    assert_int_equal(json_get_string(f->obj, "empty", true, API_E_INVALID_NAME, &s, &len),
                     API_E_OK);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
}

static void test_get_string_absent_required(void **state) {
    struct fields *f = *state;
    const char *s = "sentinel";
    size_t len = 99;
    assert_int_equal(json_get_string(f->obj, "password", true, API_E_INVALID_PASSWORD, &s, &len),
                     API_E_INVALID_PASSWORD);
    assert_null(s);
    assert_int_equal(len, 0);
}

static void test_get_string_absent_optional(void **state) {
    struct fields *f = *state;
    const char *s = "sentinel";
    size_t len = 99;
    assert_int_equal(json_get_string(f->obj, "name", false, API_E_INVALID_NAME, &s, &len),
                     API_E_OK);
    assert_null(s);
    assert_int_equal(len, 0);
}

static void test_get_string_null(void **state) {
    struct fields *f = *state;
    const char *s = "sentinel";
    size_t len = 99;
    /* null is "absent" for an optional member ... */
    assert_int_equal(json_get_string(f->obj, "nul", false, API_E_INVALID_NAME, &s, &len),
                     API_E_OK);
    assert_null(s);
    assert_int_equal(len, 0);
    /* ... and the wrong type for a required one. */
    s = "sentinel";
    assert_int_equal(json_get_string(f->obj, "nul", true, API_E_INVALID_NAME, &s, &len),
                     API_E_INVALID_NAME);
    assert_null(s);
}

static void test_get_string_wrong_type(void **state) {
    struct fields *f = *state;
    static const char *const keys[] = {"num", "arr", "obj", "t"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        for (int required = 0; required <= 1; required++) {
            const char *s = "sentinel";
            size_t len = 99;
            assert_int_equal(
                json_get_string(f->obj, keys[i], required, API_E_INVALID_TEXT, &s, &len),
                API_E_INVALID_TEXT);
            assert_null(s);
            assert_int_equal(len, 0);
        }
    }
}

/* ---- encoders ---- */

static const char sample_text[] = "He said \"hi\" \\ bye\nnew line caf\xc3\xa9 \xf0\x9f\x98\x80 "
                                  "<script>alert(1)</script>";

static const struct message sample = {
    .id = "1700000000000-0",
    .user_id = "0123456789abcdef0123456789abcdef",
    .name = "Zo\xc3\xab",
    .text = sample_text,
    .text_len = sizeof(sample_text) - 1,
    .timestamp = 1700000000000LL,
};

static const char sample_json[] =
    "{\"id\":\"1700000000000-0\",\"userId\":\"0123456789abcdef0123456789abcdef\","
    "\"name\":\"Zo\xc3\xab\",\"text\":\"He said \\\"hi\\\" \\\\ bye\\nnew line caf\xc3\xa9 "
    "\xf0\x9f\x98\x80 <script>alert(1)</script>\",\"timestamp\":1700000000000}";

static void test_message_append_exact_bytes(void **state) {
    (void)state;
    struct evbuffer *buf = evbuffer_new();
    assert_non_null(buf);
    assert_int_equal(json_message_append(buf, &sample), 0);
    assert_buffer_is(buf, S(sample_json));
    evbuffer_free(buf);
}

/* A message with an edit carries its time after the timestamp. */
static void test_edited_message_has_its_edit_time(void **state) {
    (void)state;
    struct message m = {.id = "1-0", .user_id = "u", .name = "n", .text = "new", .text_len = 3,
                        .timestamp = 5, .edited = 1700000000123LL};
    struct evbuffer *buf = evbuffer_new();
    assert_int_equal(json_message_append(buf, &m), 0);
    assert_buffer_is(buf, S("{\"id\":\"1-0\",\"userId\":\"u\",\"name\":\"n\",\"text\":\"new\","
                            "\"timestamp\":5,\"edited\":1700000000123}"));
    evbuffer_free(buf);
}

/* The hand-made encoding parses back (with jansson) to the same fields. */
static void test_message_object(void **state) {
    (void)state;
    struct evbuffer *buf = evbuffer_new();
    assert_int_equal(json_message_append(buf, &sample), 0);
    json_error_t err;
    json_t *v = json_loadb((const char *)evbuffer_pullup(buf, -1), evbuffer_get_length(buf), 0,
                           &err);
    evbuffer_free(buf);
    assert_non_null(v);
    assert_int_equal(json_object_size(v), 5);
    assert_string_equal(json_string_value(json_object_get(v, "id")), sample.id);
    assert_string_equal(json_string_value(json_object_get(v, "userId")), sample.user_id);
    assert_string_equal(json_string_value(json_object_get(v, "name")), sample.name);
    assert_int_equal(json_string_length(json_object_get(v, "text")), sample.text_len);
    assert_memory_equal(json_string_value(json_object_get(v, "text")), sample.text,
                        sample.text_len);
    assert_true(json_integer_value(json_object_get(v, "timestamp")) == sample.timestamp);
    json_decref(v);
}

static void test_message_text_len_honoured(void **state) {
    (void)state;
    struct message m = sample;
    m.text = "hello world";
    m.text_len = 5;
    struct evbuffer *buf = evbuffer_new();
    assert_non_null(buf);
    assert_int_equal(json_message_append(buf, &m), 0);
    assert_buffer_is(buf, S("{\"id\":\"1700000000000-0\",\"userId\":"
                            "\"0123456789abcdef0123456789abcdef\",\"name\":\"Zo\xc3\xab\","
                            "\"text\":\"hello\",\"timestamp\":1700000000000}"));
    evbuffer_free(buf);
}

static void test_message_invalid_utf8_fails(void **state) {
    (void)state;
    struct message m = sample;
    m.text = "bad \xff";
    m.text_len = 5;
    struct evbuffer *buf = evbuffer_new();
    assert_non_null(buf);
    assert_int_equal(json_message_append(buf, &m), -1);
    assert_int_equal(evbuffer_get_length(buf), 0);
    m = sample;
    m.name = "\xc3";
    assert_int_equal(json_message_append(buf, &m), -1);
    assert_int_equal(evbuffer_get_length(buf), 0);
    evbuffer_free(buf);
}

/* An event is the SSE framing around the message's encoding; a message that
 * cannot be encoded appends nothing, not even the id line. */
static void test_message_event(void **state) {
    (void)state;
    struct evbuffer *buf = evbuffer_new();
    assert_non_null(buf);
    assert_int_equal(json_message_event_append(buf, &sample), 0);
    char want[sizeof(sample_json) + 64];
    int n = snprintf(want, sizeof(want), "id: %s\ndata: %s\n\n", sample.id, sample_json);
    assert_buffer_is(buf, want, (size_t)n);
    struct message m = sample;
    m.text = "bad \xff";
    m.text_len = 5;
    assert_int_equal(json_message_event_append(buf, &m), -1);
    assert_int_equal(evbuffer_get_length(buf), 0);
    evbuffer_free(buf);
}

/* A list is its messages as json_message_append writes them, with the
 * separators, also across the encoder's reservations (2,000 messages);
 * a message that cannot be encoded is left out. */
static void test_messages_list(void **state) {
    (void)state;
    enum { N = 2000 };
    static struct message msgs[N];
    for (size_t i = 0; i < N; i++) msgs[i] = sample;
    struct evbuffer *want = evbuffer_new(), *got = evbuffer_new();
    assert_non_null(want);
    assert_non_null(got);
    evbuffer_add(want, "[", 1);
    for (size_t i = 0; i < N; i++) {
        if (i) evbuffer_add(want, ",", 1);
        assert_int_equal(json_message_append(want, &msgs[i]), 0);
    }
    assert_int_equal(json_messages_append(got, msgs, N, '['), N);
    assert_int_equal(evbuffer_get_length(got), evbuffer_get_length(want));
    assert_memory_equal(evbuffer_pullup(got, -1), evbuffer_pullup(want, -1),
                        evbuffer_get_length(want));
    evbuffer_drain(got, evbuffer_get_length(got));
    char two[2 * sizeof(sample_json) + 1];
    snprintf(two, sizeof(two), ",%s", sample_json);
    assert_int_equal(json_messages_append(got, msgs, 1, ','), 1); /* a later batch */
    assert_buffer_is(got, two, strlen(two));
    snprintf(two, sizeof(two), "%s,%s", sample_json, sample_json);
    assert_int_equal(json_messages_append(got, msgs, 2, 0), 2);
    assert_buffer_is(got, two, strlen(two));
    assert_int_equal(json_messages_append(got, msgs, 0, '['), 0);
    assert_int_equal(evbuffer_get_length(got), 0);
    /* what cannot be encoded is left out, separators and all */
    msgs[0].text = msgs[1].text = "bad \xff";
    msgs[0].text_len = msgs[1].text_len = 5;
    assert_int_equal(json_messages_append(got, msgs, 3, '['), 1);
    snprintf(two, sizeof(two), "[%s", sample_json);
    assert_buffer_is(got, two, strlen(two));
    assert_int_equal(json_message_array_append(got, msgs, 2), 0);
    assert_buffer_is(got, S("[]"));
    assert_int_equal(json_message_array_append(got, msgs + 1, 2), 0);
    snprintf(two, sizeof(two), "[%s]", sample_json);
    assert_buffer_is(got, two, strlen(two));
    evbuffer_free(want);
    evbuffer_free(got);
}

static void test_error_append_exact_body(void **state) {
    (void)state;
    struct evbuffer *buf = evbuffer_new();
    assert_non_null(buf);
    assert_int_equal(json_error_append(buf, API_E_INVALID_EMAIL, NULL), 0);
    assert_buffer_is(buf, S("{\"error\":{\"code\":\"invalid_email\","
                            "\"message\":\"The e-mail address is invalid.\"}}"));
    assert_int_equal(json_error_append(buf, API_E_UNAVAILABLE, NULL), 0);
    assert_buffer_is(buf, S("{\"error\":{\"code\":\"unavailable\","
                            "\"message\":\"The database is unavailable; try again.\"}}"));
    assert_int_equal(json_error_append(buf, API_E_NOT_FOUND, "No room \"x\" here"), 0);
    assert_buffer_is(buf, S("{\"error\":{\"code\":\"not_found\","
                            "\"message\":\"No room \\\"x\\\" here\"}}"));
    evbuffer_free(buf);
}

static void test_append_compact(void **state) {
    (void)state;
    struct evbuffer *buf = evbuffer_new();
    assert_non_null(buf);
    json_t *v = json_pack("{s:[i,b,n], s:s}", "a", 1, 1, "b", "x y");
    assert_non_null(v);
    assert_int_equal(json_append(buf, v), 0);
    json_decref(v);
    assert_buffer_is(buf, S("{\"a\":[1,true,null],\"b\":\"x y\"}"));
    evbuffer_free(buf);
}

/* Scans body; when the scanner reads it, jansson must accept it and find
 * the same members. Returns the scanner's count. */
static int scan_agrees(const char *body, size_t len) {
    struct json_plain_member m[4];
    int n = json_scan_plain_object(body, len, m, 4);
    if (n < 0) return n;
    json_t *v = NULL;
    assert_int_equal(json_parse_object(body, len, &v), API_E_OK);
    assert_int_equal(json_object_size(v), (size_t)n);
    for (int i = 0; i < n; i++) {
        char key[64];
        assert_true(m[i].key_len < sizeof(key));
        memcpy(key, m[i].key, m[i].key_len);
        key[m[i].key_len] = '\0';
        const json_t *got = json_object_get(v, key);
        assert_true(json_is_string(got));
        assert_int_equal(json_string_length(got), m[i].value_len);
        assert_memory_equal(json_string_value(got), m[i].value, m[i].value_len);
    }
    json_decref(v);
    return n;
}

static void test_scan_plain_bodies(void **state) {
    (void)state;
    assert_int_equal(scan_agrees(S("{\"text\":\"hello\"}")), 1);
    assert_int_equal(scan_agrees(S(" \r\n{ \"text\" :\t\"a b\" , \"clientMsgId\":\"c-1\" }\n")), 2);
    assert_int_equal(scan_agrees(S("{}")), 0);
    assert_int_equal(scan_agrees(S("{\"text\":\"\"}")), 1);
    assert_int_equal(scan_agrees(S("{\"text\":\"gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80 and some more ASCII\"}")), 1);
    assert_int_equal(scan_agrees(S("{\"t\":\"\x7f\"}")), 1); /* DEL is no control character to JSON */
    assert_int_equal(scan_agrees(S("{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\"}")), 4);
}

/* Bodies the scanner leaves to jansson (valid or not): it must say -1. */
static void test_scan_leaves_the_rest(void **state) {
    (void)state;
    static const struct {
        const char *body;
        size_t len;
    } rest[] = {
        {S("{\"text\":\"a\\nb\"}")},          /* an escape */
        {S("{\"te\\u0078t\":\"a\"}")},        /* an escaped key */
        {S("{\"text\":\"tab\there\"}")},       /* a raw control character */
        {S("{\"text\":\"a\\u0000\"}")},       /* an escaped NUL */
        {S("{\"text\":\"a\0b\"}")},            /* a raw NUL */
        {S("{\"text\":1}")},                  /* not a string */
        {S("{\"text\":null}")},               /* null */
        {S("{\"text\":\"a\",\"text\":\"b\"}")}, /* a duplicate key */
        {S("{\"text\":\"a\"} x")},            /* trailing garbage */
        {S("{\"text\":\"a\",}")},             /* a trailing comma */
        {S("{\"text\":\"a\"")},               /* cut short */
        {S("{\"text\":\"a")},                  /* cut inside a string */
        {S("[\"text\"]")},                    /* not an object */
        {S("")},                              /* empty */
        {S("{\"text\":\"\xc3\x28\"}")},         /* invalid UTF-8 */
        {S("{\"text\":\"\xed\xa0\x80\"}")},    /* a surrogate */
        {S("{\"text\":\"\xc0\xaf\"}")},         /* an overlong form */
        {S("\xef\xbb\xbf{\"text\":\"a\"}")},   /* a byte-order mark */
        {S("{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\"}")}, /* over max */
        {S("{\"text\":{\"x\":\"y\"}}")},        /* nested */
    };
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
        struct json_plain_member m[4];
        if (json_scan_plain_object(rest[i].body, rest[i].len, m, 4) != -1)
            fail_msg("scanned body %zu", i);
    }
}

int main(void) {
    const struct CMUnitTest parse_tests[] = {
        cmocka_unit_test(test_parse_object_ok),        cmocka_unit_test(test_parse_non_objects),
        cmocka_unit_test(test_parse_trailing_garbage), cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_duplicate_keys),   cmocka_unit_test(test_parse_invalid_utf8),
        cmocka_unit_test(test_parse_raw_nul_byte),     cmocka_unit_test(test_parse_escaped_nul),
        cmocka_unit_test(test_parse_deep_nesting),     cmocka_unit_test(test_parse_empty_body),
    };
    const struct CMUnitTest get_tests[] = {
        cmocka_unit_test(test_get_string_present),
        cmocka_unit_test(test_get_string_absent_required),
        cmocka_unit_test(test_get_string_absent_optional),
        cmocka_unit_test(test_get_string_null),
        cmocka_unit_test(test_get_string_wrong_type),
    };
    const struct CMUnitTest encode_tests[] = {
        cmocka_unit_test(test_message_append_exact_bytes),
        cmocka_unit_test(test_edited_message_has_its_edit_time),
        cmocka_unit_test(test_message_object),
        cmocka_unit_test(test_message_text_len_honoured),
        cmocka_unit_test(test_message_invalid_utf8_fails),
        cmocka_unit_test(test_message_event),
        cmocka_unit_test(test_messages_list),
        cmocka_unit_test(test_error_append_exact_body),
        cmocka_unit_test(test_append_compact),
    };
    const struct CMUnitTest scan_tests[] = {
        cmocka_unit_test(test_scan_plain_bodies),
        cmocka_unit_test(test_scan_leaves_the_rest),
    };
    int failed = cmocka_run_group_tests_name("json_parse_object", parse_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("json_scan_plain_object", scan_tests, NULL, NULL);
    failed +=
        cmocka_run_group_tests_name("json_get_string", get_tests, fields_setup, fields_teardown);
    failed += cmocka_run_group_tests_name("json encoders", encode_tests, NULL, NULL);
    return failed;
}
