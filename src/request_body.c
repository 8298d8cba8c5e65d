/* request_body: parsing and validation of the routes' JSON bodies. */
#include "request_body.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

api_error request_body_registration(const json_t *body, struct registration_body *out) {
    const char *email, *name;
    size_t email_len, name_len;
    api_error e = json_get_string(body, "email", true, API_E_INVALID_EMAIL, &email, &email_len);
    if (e == API_E_OK) e = validate_email(email, email_len, out->email);
    if (e == API_E_OK)
        e = json_get_string(body, "password", true, API_E_INVALID_PASSWORD, &out->password,
                            &out->password_len);
    if (e == API_E_OK) e = validate_password(out->password, out->password_len);
    if (e == API_E_OK)
        e = json_get_string(body, "name", false, API_E_INVALID_NAME, &name, &name_len);
    if (e == API_E_OK && name) e = validate_name(name, name_len);
    if (e != API_E_OK) return e;
    if (name)
        memcpy(out->name, name, name_len + 1); /* validate_name refuses NUL bytes */
    else
        validate_default_name(out->email, out->name);
    return API_E_OK;
}

api_error request_body_login(const json_t *body, struct login_body *out) {
    const char *email;
    size_t email_len;
    api_error e = json_get_string(body, "email", true, API_E_INVALID_EMAIL, &email, &email_len);
    if (e == API_E_OK)
        e = json_get_string(body, "password", true, API_E_INVALID_PASSWORD, &out->password,
                            &out->password_len);
    if (e != API_E_OK) return e;
    out->plausible = validate_email(email, email_len, out->email) == API_E_OK &&
                     validate_password(out->password, out->password_len) == API_E_OK;
    if (!out->plausible) out->email[0] = '\0';
    return API_E_OK;
}

api_error request_body_password_change(const json_t *body, struct password_change_body *out) {
    api_error e = json_get_string(body, "oldPassword", true, API_E_INVALID_PASSWORD,
                                   &out->current, &out->current_len);
    if (e == API_E_OK)
        e = json_get_string(body, "newPassword", true, API_E_INVALID_PASSWORD, &out->new_password,
                            &out->new_len);
    if (e == API_E_OK) e = validate_password(out->new_password, out->new_len);
    return e;
}

/* The checks of a message body on its members: text (NULL when missing or
 * not a string), the client id (NULL when missing or null) and whether a
 * client id was given but is not a string. */
static api_error message_checks(const char *text, size_t text_len, const char *id,
                                 size_t id_len, bool id_not_string,
                                 const char *idempotency_header, struct message_body *out) {
    if (!text) return API_E_INVALID_TEXT;
    api_error e = validate_text(text, text_len);
    if (e != API_E_OK) return e;
    if (id_not_string) return API_E_INVALID_CLIENT_MSG_ID;
    if (!id && idempotency_header) {
        id = idempotency_header;
        id_len = strlen(id);
    }
    /* validate_client_msg_id refuses NUL bytes: a valid id is a C string */
    if (id && !validate_client_msg_id(id, id_len)) return API_E_INVALID_CLIENT_MSG_ID;
    out->text = text;
    out->text_len = text_len;
    out->client_msg_id = id;
    return API_E_OK;
}

/* A reply's target (value NULL: none): a stream id, copied to out. */
static api_error reply_check(const char *value, size_t len, struct message_body *out) {
    out->reply_to[0] = '\0';
    if (!value) return API_E_OK;
    if (len > CHAT_STREAM_ID_MAX || memchr(value, '\0', len)) return API_E_INVALID_REPLY_TO;
    memcpy(out->reply_to, value, len);
    out->reply_to[len] = '\0';
    return validate_stream_id(out->reply_to) ? API_E_OK : API_E_INVALID_REPLY_TO;
}

api_error request_body_message(const json_t *body, const char *idempotency_header,
                                struct message_body *out) {
    const char *text, *id, *reply;
    size_t text_len, id_len, reply_len;
    api_error te = json_get_string(body, "text", true, API_E_INVALID_TEXT, &text, &text_len);
    api_error ie = json_get_string(body, "clientMsgId", false, API_E_INVALID_CLIENT_MSG_ID,
                                    &id, &id_len);
    api_error e = message_checks(te == API_E_OK ? text : NULL, text_len, id, id_len,
                                 ie != API_E_OK, idempotency_header, out);
    if (e != API_E_OK) return e;
    e = json_get_string(body, "replyTo", false, API_E_INVALID_REPLY_TO, &reply, &reply_len);
    return e == API_E_OK ? reply_check(reply, reply_len, out) : e;
}

/* Members a plain message body may have before it goes to jansson anyway. */
#define MESSAGE_MEMBERS_MAX 4

api_error request_body_message_raw(const char *body, size_t len, const char *idempotency_header,
                                    struct message_body *out,
                                    char id_copy[CHAT_CLIENT_MSG_ID_MAX + 1], json_t **parsed) {
    struct json_plain_member m[MESSAGE_MEMBERS_MAX];
    int n = json_scan_plain_object(body, len, m, MESSAGE_MEMBERS_MAX);
    *parsed = NULL;
    if (n < 0) {
        api_error e = json_parse_object(body, len, parsed);
        return e == API_E_OK ? request_body_message(*parsed, idempotency_header, out) : e;
    }
    const char *text = NULL, *id = NULL, *reply = NULL;
    size_t text_len = 0, id_len = 0, reply_len = 0;
    for (int i = 0; i < n; i++) {
        if (m[i].key_len == 4 && memcmp(m[i].key, "text", 4) == 0) {
            text = m[i].value;
            text_len = m[i].value_len;
        } else if (m[i].key_len == 11 && memcmp(m[i].key, "clientMsgId", 11) == 0) {
            id = m[i].value;
            id_len = m[i].value_len;
        } else if (m[i].key_len == 7 && memcmp(m[i].key, "replyTo", 7) == 0) {
            reply = m[i].value;
            reply_len = m[i].value_len;
        }
    }
    api_error e = message_checks(text, text_len, id, id_len, false, idempotency_header, out);
    if (e == API_E_OK) e = reply_check(reply, reply_len, out);
    if (e == API_E_OK && out->client_msg_id == id && id) { /* not NUL-terminated in body */
        memcpy(id_copy, id, id_len); /* valid: at most CHAT_CLIENT_MSG_ID_MAX bytes */
        id_copy[id_len] = '\0';
        out->client_msg_id = id_copy;
    }
    return e;
}

api_error request_body_reaction(const json_t *body, char emoji[CHAT_EMOJI_MAX_BYTES + 1]) {
    const char *given;
    size_t len;
    api_error e = json_get_string(body, "emoji", true, API_E_INVALID_EMOJI, &given, &len);
    if (e != API_E_OK) return e;
    if (!emoji_valid(given, len)) return API_E_INVALID_EMOJI;
    memcpy(emoji, given, len); /* valid: at most CHAT_EMOJI_MAX_BYTES, no NUL */
    emoji[len] = '\0';
    return API_E_OK;
}

api_error request_body_room(const json_t *body, char name[CHAT_ROOM_MAX + 1],
                            enum room_kind *kind) {
    const char *given, *kind_name;
    size_t len, kind_len;
    api_error e = json_get_string(body, "name", true, API_E_INVALID_ROOM, &given, &len);
    if (e != API_E_OK) return e;
    if (len != strlen(given) || !validate_room_name(given)) return API_E_INVALID_ROOM;
    e = json_get_string(body, "kind", false, API_E_INVALID_KIND, &kind_name, &kind_len);
    if (e != API_E_OK) return e;
    *kind = ROOM_PUBLIC;
    if (kind_name && (kind_len != strlen(kind_name) || room_kind_parse(kind_name, kind) < 0 ||
                      *kind == ROOM_DIRECT)) /* those come from POST /dm/ */
        return API_E_INVALID_KIND;
    memcpy(name, given, len + 1);
    return API_E_OK;
}

static api_error member_role_of(const json_t *body, enum member_role *role) {
    const char *name;
    size_t len;
    api_error e = json_get_string(body, "role", true, API_E_INVALID_ROLE, &name, &len);
    if (e != API_E_OK) return e;
    *role = len == strlen(name) ? member_role_parse(name) : ROLE_NONE;
    return *role == ROLE_NONE ? API_E_INVALID_ROLE : API_E_OK;
}

api_error request_body_member(const json_t *body, bool with_role, struct member_body *out) {
    const char *email, *id;
    size_t email_len, id_len;
    memset(out, 0, sizeof(*out));
    api_error e = json_get_string(body, "email", false, API_E_INVALID_EMAIL, &email, &email_len);
    if (e == API_E_OK)
        e = json_get_string(body, "userId", false, API_E_INVALID_USER_ID, &id, &id_len);
    if (e != API_E_OK) return e;
    if (email && id) return API_E_BAD_REQUEST; /* one user at a time */
    if (email && (e = validate_email(email, email_len, out->email)) != API_E_OK) return e;
    if (id && !validate_user_id(id, id_len)) return API_E_INVALID_USER_ID;
    if (id) memcpy(out->user_id, id, id_len + 1);
    if (with_role && !email && !id) return API_E_INVALID_USER_ID;
    return with_role ? member_role_of(body, &out->role) : API_E_OK;
}

api_error request_body_marker(const json_t *body, char id[CHAT_STREAM_ID_MAX + 1]) {
    const char *given;
    size_t len;
    unsigned long long part[2];
    api_error e = json_get_string(body, "id", true, API_E_INVALID_MESSAGE_ID, &given, &len);
    if (e != API_E_OK) return e;
    if (len != strlen(given) || chat_wire_stream_id_parse(given, part) < 0)
        return API_E_INVALID_MESSAGE_ID;
    snprintf(id, CHAT_STREAM_ID_MAX + 1, "%llu-%llu", part[0], part[1]);
    return API_E_OK;
}
