/* request_body: parsing and validation of the routes' JSON bodies. */
#include "request_body.h"

#include <string.h>

#include "json.h"

chat_error request_body_registration(const json_t *body, struct registration_body *out) {
    const char *email, *name;
    size_t email_len, name_len;
    chat_error e = json_get_string(body, "email", true, CHAT_E_INVALID_EMAIL, &email, &email_len);
    if (e == CHAT_E_OK) e = validate_email(email, email_len, out->email);
    if (e == CHAT_E_OK)
        e = json_get_string(body, "password", true, CHAT_E_INVALID_PASSWORD, &out->password,
                            &out->password_len);
    if (e == CHAT_E_OK) e = validate_password(out->password, out->password_len);
    if (e == CHAT_E_OK)
        e = json_get_string(body, "name", false, CHAT_E_INVALID_NAME, &name, &name_len);
    if (e == CHAT_E_OK && name) e = validate_name(name, name_len);
    if (e != CHAT_E_OK) return e;
    if (name)
        memcpy(out->name, name, name_len + 1); /* validate_name refuses NUL bytes */
    else
        validate_default_name(out->email, out->name);
    return CHAT_E_OK;
}

chat_error request_body_login(const json_t *body, struct login_body *out) {
    const char *email;
    size_t email_len;
    chat_error e = json_get_string(body, "email", true, CHAT_E_INVALID_EMAIL, &email, &email_len);
    if (e == CHAT_E_OK)
        e = json_get_string(body, "password", true, CHAT_E_INVALID_PASSWORD, &out->password,
                            &out->password_len);
    if (e != CHAT_E_OK) return e;
    out->plausible = validate_email(email, email_len, out->email) == CHAT_E_OK &&
                     validate_password(out->password, out->password_len) == CHAT_E_OK;
    if (!out->plausible) out->email[0] = '\0';
    return CHAT_E_OK;
}

chat_error request_body_password_change(const json_t *body, struct password_change_body *out) {
    chat_error e = json_get_string(body, "oldPassword", true, CHAT_E_INVALID_PASSWORD,
                                   &out->current, &out->current_len);
    if (e == CHAT_E_OK)
        e = json_get_string(body, "newPassword", true, CHAT_E_INVALID_PASSWORD, &out->new_password,
                            &out->new_len);
    if (e == CHAT_E_OK) e = validate_password(out->new_password, out->new_len);
    return e;
}

chat_error request_body_message(const json_t *body, const char *idempotency_header,
                                struct message_body *out) {
    const char *id;
    size_t id_len;
    chat_error e =
        json_get_string(body, "text", true, CHAT_E_INVALID_TEXT, &out->text, &out->text_len);
    if (e == CHAT_E_OK) e = validate_text(out->text, out->text_len);
    if (e == CHAT_E_OK)
        e = json_get_string(body, "clientMsgId", false, CHAT_E_INVALID_CLIENT_MSG_ID, &id, &id_len);
    if (e != CHAT_E_OK) return e;
    if (!id && idempotency_header) {
        id = idempotency_header;
        id_len = strlen(id);
    }
    /* validate_client_msg_id refuses NUL bytes: a valid id is a C string */
    if (id && !validate_client_msg_id(id, id_len)) return CHAT_E_INVALID_CLIENT_MSG_ID;
    out->client_msg_id = id;
    return CHAT_E_OK;
}

chat_error request_body_room(const json_t *body, char name[CHAT_ROOM_MAX + 1]) {
    const char *given;
    size_t len;
    chat_error e = json_get_string(body, "name", true, CHAT_E_INVALID_ROOM, &given, &len);
    if (e != CHAT_E_OK) return e;
    if (len != strlen(given) || !validate_room_name(given)) return CHAT_E_INVALID_ROOM;
    memcpy(name, given, len + 1);
    return CHAT_E_OK;
}
