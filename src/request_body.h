/*
 * request_body: the JSON bodies of the API's routes, validated into typed
 * structs. Pure (no I/O): the handlers call these after http_body_json(),
 * and fuzz/fuzz_request_body.c feeds them arbitrary bytes. Each returns
 * API_E_OK or the error-table row of the first problem, in the order
 * docs/API.md gives. Pointers in the results point into the JSON object and
 * live as long as it does.
 */
#ifndef CHAT_REQUEST_BODY_H
#define CHAT_REQUEST_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "emoji.h"
#include "errors.h"
#include "member_rules.h"
#include "message.h"
#include "validate.h"

/* POST /user/ {"email","password","name"?}. */
struct registration_body {
    char email[CHAT_EMAIL_MAX + 1];     /* trimmed and lower-cased */
    char name[CHAT_NAME_MAX_BYTES + 1]; /* as given, or the e-mail's local part */
    const char *password;               /* 8 to 1024 bytes, no NUL (not NUL-terminated) */
    size_t password_len;                /* its length in bytes */
};

api_error request_body_registration(const json_t *body, struct registration_body *out);

/* PUT /user/ {"email","password"}. Only a member that is missing or not a
 * string is an error: an address or a password that could never have been
 * registered is answered like a wrong password, so it is only flagged. */
struct login_body {
    char email[CHAT_EMAIL_MAX + 1]; /* normalised when plausible, else "" */
    const char *password;           /* as given (not NUL-terminated) */
    size_t password_len;            /* its length in bytes */
    bool plausible;                 /* e-mail and password pass the registration checks */
};

api_error request_body_login(const json_t *body, struct login_body *out);

/* PUT /user/password {"oldPassword","newPassword"}: the current password
 * is only required to be a string (a wrong one is a credentials error); the
 * new one must pass the registration rules. */
struct password_change_body {
    const char *current;      /* the current password, as given */
    size_t current_len;       /* its length in bytes */
    const char *new_password; /* 8 to 1024 bytes, no NUL */
    size_t new_len;           /* its length in bytes */
};

api_error request_body_password_change(const json_t *body, struct password_change_body *out);

/* POST /message/ {"text","clientMsgId"?,"replyTo"?}; the idempotency key falls back to
 * the Idempotency-Key header (idempotency_header, may be NULL). */
struct message_body {
    const char *text;          /* 1 to 4096 bytes of UTF-8 (not NUL-terminated) */
    size_t text_len;           /* its length in bytes */
    const char *client_msg_id; /* NUL-terminated and valid, or NULL when none */
    char reply_to[CHAT_STREAM_ID_MAX + 1]; /* "replyTo": a valid stream id, "" when none */
};

api_error request_body_message(const json_t *body, const char *idempotency_header,
                                struct message_body *out);
/* The same from the raw body: a body of plain strings (json_scan_plain_object)
 * is read without jansson, any other is parsed (API_E_BAD_JSON when it is
 * not an object) and then read by request_body_message. *parsed gets the
 * object parsed, or NULL; the caller decrefs it once done with out. The text
 * may point into body, the client id into id_copy. */
api_error request_body_message_raw(const char *body, size_t len, const char *idempotency_header,
                                    struct message_body *out,
                                    char id_copy[CHAT_CLIENT_MSG_ID_MAX + 1], json_t **parsed);

/* PUT and DELETE /room/<name>/message/reaction {"emoji"}: one emoji
 * (emoji.h), copied to emoji. */
api_error request_body_reaction(const json_t *body, char emoji[CHAT_EMOJI_MAX_BYTES + 1]);

/* POST /room/ {"name","kind"?}: a valid room name, copied to name, and
 * the kind ("public" when absent). */
api_error request_body_room(const json_t *body, char name[CHAT_ROOM_MAX + 1],
                            enum room_kind *kind);

/* The user a member route acts on, and the role it asks for:
 * POST /room/<name>/member {"email"} or {"userId"} (neither: the caller
 * joins), PUT /room/<name>/member {"userId","role"}. */
struct member_body {
    char email[CHAT_EMAIL_MAX + 1];         /* normalised, "" when not given */
    char user_id[CHAT_USER_ID_LEN + 1];     /* "" when not given */
    enum member_role role;                  /* ROLE_NONE when not given */
};

/* Reads the target ({"email"} or {"userId"}, at most one of them) and,
 * when with_role, the required "role" ("owner", "moderator", "member" or
 * "banned"). */
api_error request_body_member(const json_t *body, bool with_role, struct member_body *out);

/* PUT /room/<name>/read {"id"}: a message id, written back as
 * "<ms>-<seq>" without leading zeros (a bare "<ms>" is "<ms>-0"). */
api_error request_body_marker(const json_t *body, char id[CHAT_STREAM_ID_MAX + 1]);

#endif
