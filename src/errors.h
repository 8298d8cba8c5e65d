/*
 * errors: the one table of API errors. Each row gives the HTTP status, the
 * machine-readable code that goes into the JSON error body and the default
 * words for people. Routes name a row; they never invent statuses or codes.
 * These are the server's errors (api_error, API_E_*); the client library's
 * public ones (chat_err, CHAT_ERR_* in chatclient.h) are another set.
 */
#ifndef CHAT_ERRORS_H
#define CHAT_ERRORS_H

/* X(enum name, HTTP status, JSON code, default message) */
#define API_ERROR_TABLE(X)                                                          \
    X(API_E_OK, 200, "ok", "OK")                                                    \
    X(API_E_BAD_JSON, 400, "bad_json", "The body is not a valid JSON object.")      \
    X(API_E_BAD_REQUEST, 400, "bad_request", "The request is malformed.")           \
    X(API_E_INVALID_EMAIL, 400, "invalid_email", "The e-mail address is invalid.")  \
    X(API_E_INVALID_PASSWORD, 400, "invalid_password",                              \
      "The password must be 8 to 1024 bytes long.")                                 \
    X(API_E_INVALID_NAME, 400, "invalid_name",                                      \
      "The name must be 1 to 64 characters without control characters.")          \
    X(API_E_INVALID_TEXT, 400, "invalid_text",                                      \
      "The text must be 1 to 4096 bytes of UTF-8, not blank, without control "     \
      "characters other than tab and newline.")                           \
    X(API_E_INVALID_CLIENT_MSG_ID, 400, "invalid_client_msg_id",                    \
      "clientMsgId (or Idempotency-Key) must be 1 to 64 characters of "             \
      "A-Z a-z 0-9 . _ : -.")                                                       \
    X(API_E_INVALID_ROOM, 400, "invalid_room",                                      \
      "A room name is 1 to 64 characters of a-z 0-9 _ -.")                          \
    X(API_E_INVALID_QUERY, 400, "invalid_query", "A query parameter is invalid.")   \
    X(API_E_UNAUTHORIZED, 401, "unauthorized", "A valid session is required.")      \
    X(API_E_BAD_CREDENTIALS, 401, "invalid_credentials",                            \
      "The e-mail address or the password is wrong.")                               \
    X(API_E_NOT_FOUND, 404, "not_found", "No such resource.")                       \
    X(API_E_METHOD_NOT_ALLOWED, 405, "method_not_allowed",                          \
      "The method is not allowed on this resource.")                                \
    X(API_E_EMAIL_TAKEN, 409, "email_taken",                                        \
      "A user with this e-mail address exists.")                                    \
    X(API_E_BODY_TOO_LARGE, 413, "body_too_large", "The body is too large.")        \
    X(API_E_HEADERS_TOO_LARGE, 431, "headers_too_large",                            \
      "The request line and headers are too large.")                                \
    X(API_E_UNSUPPORTED_MEDIA_TYPE, 415, "unsupported_media_type",                  \
      "The body must be JSON (Content-Type: application/json).")                    \
    X(API_E_INTERNAL, 500, "internal", "An internal error occurred.")               \
    X(API_E_UNAVAILABLE, 503, "unavailable",                                        \
      "The database is unavailable; try again.")                                    \
    X(API_E_DRAINING, 503, "draining", "This server is shutting down; try another.")    \
    X(API_E_TOO_MANY_STREAMS, 503, "too_many_streams",                               \
      "This server has as many open streams as it takes; try again.")                \
    X(API_E_CROSS_ORIGIN, 403, "cross_origin",                                       \
      "Requests from another site's pages may not change anything here.")            \
    X(API_E_RATE_LIMITED, 429, "rate_limited",                                       \
      "Too many requests; try again after Retry-After seconds.")                     \
    X(API_E_WRONG_PASSWORD, 403, "wrong_password", "The old password is wrong.")     \
    X(API_E_TOO_MANY_CONNECTIONS, 503, "too_many_connections",                       \
      "This server has as many connections as it takes; try again.")                 \
    X(API_E_STORAGE_FULL, 507, "storage_full",                                       \
      "The database is full and takes no new data now; reading still works.")        \
    X(API_E_TOO_MANY_ROOMS, 403, "too_many_rooms",                                   \
      "This account has created as many rooms as it may.")                         \
    X(API_E_TOO_MANY_FROM_ADDRESS, 429, "too_many_from_address",                     \
      "This address holds as many open streams or waiting requests as it may; close one.") \
    X(API_E_BUSY, 503, "busy",                                                       \
      "This server has as many password checks waiting as it takes; try again.")     \
    X(API_E_INVALID_TOKEN, 401, "invalid_token", "The application's token was refused.") \
    X(API_E_TOKEN_LOGIN_OFF, 404, "token_login_off",                                 \
      "This server takes no application tokens (no --jwt-key or --jwt-jwks).")      \
    X(API_E_ROOM_NOT_ALLOWED, 403, "room_not_allowed",                               \
      "This session's token does not allow this room.")                              \
    X(API_E_NO_PASSWORD, 403, "no_password",                                         \
      "This account logs in with the application's token and has no password.")     \
    X(API_E_UPGRADE_REQUIRED, 426, "upgrade_required",                               \
      "This path speaks WebSocket: send an Upgrade: websocket request.")             \
    X(API_E_WS_VERSION, 426, "unsupported_websocket_version",                        \
      "Only WebSocket version 13 is spoken (Sec-WebSocket-Version: 13).")            \
    X(API_E_WS_KEY, 400, "invalid_websocket_key",                                    \
      "Sec-WebSocket-Key must be the base64 of 16 bytes.")                          \
    X(API_E_INVALID_KIND, 400, "invalid_kind",                                       \
      "A room's kind is \"public\" or \"private\".")                                 \
    X(API_E_INVALID_ROLE, 400, "invalid_role",                                       \
      "A role is \"owner\", \"moderator\" or \"member\".")                           \
    X(API_E_INVALID_USER_ID, 400, "invalid_user_id",                                 \
      "A user id is 32 lower-case hex digits.")                                      \
    X(API_E_SELF_ACTION, 400, "self_action",                                         \
      "That cannot be done to oneself (to leave a room, DELETE without userId).")   \
    X(API_E_FORBIDDEN, 403, "forbidden",                                             \
      "Your role in this room does not allow that.")                                 \
    X(API_E_BANNED, 403, "banned", "You are banned from this room.")                \
    X(API_E_UNKNOWN_USER, 404, "unknown_user", "No user has that e-mail address or id.") \
    X(API_E_NOT_MEMBER, 404, "not_member", "That user is not a member of this room.") \
    X(API_E_ROOM_TAKEN, 409, "room_taken", "Another room has this name.")           \
    X(API_E_USER_BANNED, 409, "user_banned",                                         \
      "That user is banned from this room; lift the ban first.")                    \
    X(API_E_LAST_OWNER, 409, "last_owner",                                           \
      "The room's last owner cannot leave or step down; make another owner first.") \
    X(API_E_MEMBERSHIP_CHANGED, 409, "membership_changed",                           \
      "The room's members changed meanwhile; try again.")                            \
    X(API_E_NOT_A_MESSAGE, 400, "not_a_message",                                     \
      "That id is a room event, not a message; events cannot be removed.")         \
    X(API_E_ACCOUNT_LOCKED, 403, "account_locked",                                   \
      "A site administrator has locked this account.")                              \
    X(API_E_INVALID_API_KEY, 401, "invalid_api_key",                                 \
      "The server API needs a valid key: Authorization: Bearer ck_<id>_<secret>.")   \
    X(API_E_INVALID_EMOJI, 400, "invalid_emoji",                                     \
      "emoji must be one emoji of at most 32 bytes.")                               \
    X(API_E_TOO_MANY_REACTIONS, 409, "too_many_reactions",                           \
      "This message carries as many different emoji as it may.")                    \
    X(API_E_INVALID_REPLY_TO, 400, "invalid_reply_to",                               \
      "replyTo must be the id of a message of this room.")                          \
    X(API_E_REPLY_NOT_FOUND, 404, "reply_not_found",                                 \
      "This room has no message with the id replyTo names.")                         \
    X(API_E_INVALID_MESSAGE_ID, 400, "invalid_message_id",                           \
      "id must be a message id (<ms>-<seq>).")                                       \
    X(API_E_MARKER_AHEAD, 400, "marker_ahead",                                       \
      "The room has no message with an id that high yet.")

typedef enum api_error {
#define API_ERROR_ENUM(name, status, code, message) name,
    API_ERROR_TABLE(API_ERROR_ENUM)
#undef API_ERROR_ENUM
} api_error;

/* The HTTP status of an error. */
int api_error_status(api_error e);
/* The JSON "code" string of an error ("invalid_email"). */
const char *api_error_code(api_error e);
/* The default message of an error, for people. */
const char *api_error_message(api_error e);

#endif
