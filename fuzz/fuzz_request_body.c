/*
 * fuzz_request_body: any bytes as the JSON body of every route that takes
 * one (register, login, password change, send, room create, membership,
 * direct conversation, account deletion, read marker), through the
 * same parsing and validation the handlers use (json_parse_object, then
 * src/request_body.c). Whatever is accepted must pass the validators again
 * and encode back to JSON that decodes to the same text. The scanner of
 * plain bodies (json_scan_plain_object, request_body_message_raw) must read
 * every body as jansson does, or leave it to jansson.
 */
#include <event2/buffer.h>

#include "fuzz.h"
#include "json.h"
#include "message.h"
#include "request_body.h"

static void check_registration(const json_t *body) {
    struct registration_body rb;
    char again[CHAT_EMAIL_MAX + 1];
    if (request_body_registration(body, &rb) != API_E_OK) return;
    FUZZ_ASSERT(validate_email(rb.email, strlen(rb.email), again) == API_E_OK);
    FUZZ_ASSERT(strcmp(again, rb.email) == 0); /* normalising is idempotent */
    FUZZ_ASSERT(validate_password(rb.password, rb.password_len) == API_E_OK);
    FUZZ_ASSERT(validate_name(rb.name, strlen(rb.name)) == API_E_OK); /* also the default */
}

static void check_login(const json_t *body) {
    struct login_body lb;
    char again[CHAT_EMAIL_MAX + 1];
    if (request_body_login(body, &lb) != API_E_OK) return;
    if (!lb.plausible) {
        FUZZ_ASSERT(lb.email[0] == '\0');
        return;
    }
    FUZZ_ASSERT(validate_email(lb.email, strlen(lb.email), again) == API_E_OK);
    FUZZ_ASSERT(validate_password(lb.password, lb.password_len) == API_E_OK);
}

static void check_password_change(const json_t *body) {
    struct password_change_body pb;
    if (request_body_password_change(body, &pb) != API_E_OK) return;
    FUZZ_ASSERT(pb.current != NULL);
    FUZZ_ASSERT(validate_password(pb.new_password, pb.new_len) == API_E_OK);
}

/* The accepted text goes out as chatd encodes messages; it must come back. */
static void check_encoding(const struct message_body *mb) {
    struct message m = {.id = "1-0", .user_id = "u", .name = "n", .text = mb->text,
                        .text_len = mb->text_len, .timestamp = 1};
    struct evbuffer *out = evbuffer_new();
    FUZZ_ASSERT(out && json_message_append(out, &m) == 0);
    size_t len = evbuffer_get_length(out);
    json_t *back = NULL;
    FUZZ_ASSERT(json_parse_object((const char *)evbuffer_pullup(out, -1), len, &back) ==
                API_E_OK);
    const json_t *text = json_object_get(back, "text");
    FUZZ_ASSERT(json_string_length(text) == mb->text_len);
    FUZZ_ASSERT(memcmp(json_string_value(text), mb->text, mb->text_len) == 0);
    json_decref(back);
    evbuffer_free(out);
}

static void check_message(const json_t *body, const char *header) {
    struct message_body mb;
    if (request_body_message(body, header, &mb) != API_E_OK) return;
    FUZZ_ASSERT(mb.text_len >= 1 && mb.text_len <= CHAT_TEXT_MAX);
    FUZZ_ASSERT(utf8_valid(mb.text, mb.text_len, NULL));
    FUZZ_ASSERT(!mb.client_msg_id ||
                validate_client_msg_id(mb.client_msg_id, strlen(mb.client_msg_id)));
    FUZZ_ASSERT(!mb.reply_to[0] || validate_stream_id(mb.reply_to));
    check_encoding(&mb);
}

/* PUT and DELETE /room/<name>/message/reaction {"emoji"}: one emoji. */
static void check_reaction(const json_t *body) {
    char emoji[CHAT_EMOJI_MAX_BYTES + 1];
    if (request_body_reaction(body, emoji) != API_E_OK) return;
    size_t len = strlen(emoji);
    FUZZ_ASSERT(len >= 1 && len <= CHAT_EMOJI_MAX_BYTES && emoji_valid(emoji, len));
    FUZZ_ASSERT(utf8_valid(emoji, len, NULL) && !strpbrk(emoji, " \t\r\n"));
}

static void check_room(const json_t *body) {
    char name[CHAT_ROOM_MAX + 1];
    enum room_kind kind;
    if (request_body_room(body, name, &kind) != API_E_OK) return;
    FUZZ_ASSERT(validate_room_name(name));
    FUZZ_ASSERT(kind == ROOM_PUBLIC || kind == ROOM_PRIVATE);
}

static void check_member(const json_t *body, bool with_role) {
    struct member_body mb;
    if (request_body_member(body, with_role, &mb) != API_E_OK) return;
    FUZZ_ASSERT(!(mb.email[0] && mb.user_id[0]));
    FUZZ_ASSERT(!mb.user_id[0] || validate_user_id(mb.user_id, strlen(mb.user_id)));
    FUZZ_ASSERT(!with_role || (mb.role != ROLE_NONE && (mb.email[0] || mb.user_id[0])));
}

/* DELETE /user/ {"password"}: what routes_account reads, a string whose
 * length is its bytes (a password may hold NUL; the check is Argon2id's). */
static void check_account_delete(const json_t *body) {
    const char *pw = NULL;
    size_t len = 0;
    if (json_get_string(body, "password", true, API_E_INVALID_PASSWORD, &pw, &len) != API_E_OK)
        return;
    const json_t *v = json_object_get(body, "password");
    FUZZ_ASSERT(pw && json_is_string(v) && json_string_length(v) == len);
    FUZZ_ASSERT(memcmp(pw, json_string_value(v), len) == 0 && pw[len] == '\0');
}

/* PUT /room/<name>/read {"id"}: an accepted id is written back as
 * "<ms>-<seq>", which parses to the same two numbers. */
static void check_marker(const json_t *body) {
    char id[CHAT_STREAM_ID_MAX + 1];
    unsigned long long given[2], written[2];
    if (request_body_marker(body, id) != API_E_OK) return;
    const char *v = json_string_value(json_object_get(body, "id"));
    FUZZ_ASSERT(v && chat_wire_stream_id_parse(v, given) == 0);
    FUZZ_ASSERT(chat_wire_stream_id_parse(id, written) == 0 && strchr(id, '-'));
    FUZZ_ASSERT(chat_wire_stream_id_compare(given, written) == 0);
}

/* The scanner reads a body exactly as jansson does, or leaves it to it. */
static void check_scan(const char *data, size_t size) {
    struct json_plain_member m[4];
    int n = json_scan_plain_object(data, size, m, 4);
    if (n < 0) return;
    json_t *v = NULL;
    FUZZ_ASSERT(json_parse_object(data, size, &v) == API_E_OK);
    FUZZ_ASSERT(json_object_size(v) == (size_t)n);
    for (int i = 0; i < n; i++) {
        json_t *got = json_object_getn(v, m[i].key, m[i].key_len);
        FUZZ_ASSERT(json_is_string(got) && json_string_length(got) == m[i].value_len);
        FUZZ_ASSERT(memcmp(json_string_value(got), m[i].value, m[i].value_len) == 0);
    }
    json_decref(v);
}

/* request_body_message_raw answers as json_parse_object + request_body_message. */
static void check_message_raw(const char *data, size_t size, const char *header) {
    struct message_body want, got;
    char copy[CHAT_CLIENT_MSG_ID_MAX + 1];
    json_t *v = NULL, *parsed = NULL;
    api_error e = json_parse_object(data, size, &v);
    if (e == API_E_OK) e = request_body_message(v, header, &want);
    FUZZ_ASSERT(request_body_message_raw(data, size, header, &got, copy, &parsed) == e);
    if (e == API_E_OK) {
        FUZZ_ASSERT(got.text_len == want.text_len && memcmp(got.text, want.text, want.text_len) == 0);
        FUZZ_ASSERT(!got.client_msg_id == !want.client_msg_id);
        FUZZ_ASSERT(!want.client_msg_id || strcmp(got.client_msg_id, want.client_msg_id) == 0);
        FUZZ_ASSERT(strcmp(got.reply_to, want.reply_to) == 0);
    }
    json_decref(parsed);
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *body;
    check_scan((const char *)data, size);
    check_message_raw((const char *)data, size, NULL);
    check_message_raw((const char *)data, size, "key-1");
    if (json_parse_object((const char *)data, size, &body) != API_E_OK) return 0;
    check_registration(body);
    check_login(body);
    check_password_change(body);
    check_message(body, NULL);
    check_message(body, "key-1");
    check_room(body);
    check_member(body, false);
    check_member(body, true);
    check_account_delete(body);
    check_reaction(body);
    check_marker(body);
    json_decref(body);
    return 0;
}
