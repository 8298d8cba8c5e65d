/*
 * fuzz_request_body: any bytes as the JSON body of every route that takes
 * one (register, login, password change, send, room create), through the
 * same parsing and validation the handlers use (json_parse_object, then
 * src/request_body.c). Whatever is accepted must pass the validators again
 * and encode back to JSON that decodes to the same text.
 */
#include <event2/buffer.h>

#include "fuzz.h"
#include "json.h"
#include "message.h"
#include "request_body.h"

static void check_registration(const json_t *body) {
    struct registration_body rb;
    char again[CHAT_EMAIL_MAX + 1];
    if (request_body_registration(body, &rb) != CHAT_E_OK) return;
    FUZZ_ASSERT(validate_email(rb.email, strlen(rb.email), again) == CHAT_E_OK);
    FUZZ_ASSERT(strcmp(again, rb.email) == 0); /* normalising is idempotent */
    FUZZ_ASSERT(validate_password(rb.password, rb.password_len) == CHAT_E_OK);
    FUZZ_ASSERT(validate_name(rb.name, strlen(rb.name)) == CHAT_E_OK); /* also the default */
}

static void check_login(const json_t *body) {
    struct login_body lb;
    char again[CHAT_EMAIL_MAX + 1];
    if (request_body_login(body, &lb) != CHAT_E_OK) return;
    if (!lb.plausible) {
        FUZZ_ASSERT(lb.email[0] == '\0');
        return;
    }
    FUZZ_ASSERT(validate_email(lb.email, strlen(lb.email), again) == CHAT_E_OK);
    FUZZ_ASSERT(validate_password(lb.password, lb.password_len) == CHAT_E_OK);
}

static void check_password_change(const json_t *body) {
    struct password_change_body pb;
    if (request_body_password_change(body, &pb) != CHAT_E_OK) return;
    FUZZ_ASSERT(pb.current != NULL);
    FUZZ_ASSERT(validate_password(pb.new_password, pb.new_len) == CHAT_E_OK);
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
                CHAT_E_OK);
    const json_t *text = json_object_get(back, "text");
    FUZZ_ASSERT(json_string_length(text) == mb->text_len);
    FUZZ_ASSERT(memcmp(json_string_value(text), mb->text, mb->text_len) == 0);
    json_decref(back);
    evbuffer_free(out);
}

static void check_message(const json_t *body, const char *header) {
    struct message_body mb;
    if (request_body_message(body, header, &mb) != CHAT_E_OK) return;
    FUZZ_ASSERT(mb.text_len >= 1 && mb.text_len <= CHAT_TEXT_MAX);
    FUZZ_ASSERT(utf8_valid(mb.text, mb.text_len, NULL));
    FUZZ_ASSERT(!mb.client_msg_id ||
                validate_client_msg_id(mb.client_msg_id, strlen(mb.client_msg_id)));
    check_encoding(&mb);
}

static void check_room(const json_t *body) {
    char name[CHAT_ROOM_MAX + 1];
    if (request_body_room(body, name) != CHAT_E_OK) return;
    FUZZ_ASSERT(validate_room_name(name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *body;
    if (json_parse_object((const char *)data, size, &body) != CHAT_E_OK) return 0;
    check_registration(body);
    check_login(body);
    check_password_change(body);
    check_message(body, NULL);
    check_message(body, "key-1");
    check_room(body);
    json_decref(body);
    return 0;
}
