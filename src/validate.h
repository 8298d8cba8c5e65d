/*
 * validate: pure checks of user input (no I/O). Each returns API_E_OK or the
 * error-table row that describes what is wrong (or a bool). The rules the
 * client library applies too are in chat_wire.h; these apply them.
 */
#ifndef CHAT_VALIDATE_H
#define CHAT_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "chat_wire.h" /* the limits and id rules shared with the client library */
#include "errors.h"

#define CHAT_NAME_MAX_BYTES (CHAT_NAME_MAX_CHARS * 4)

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates).
 * When chars is not NULL it receives the number of code points. */
bool utf8_valid(const char *s, size_t len, size_t *chars);

/* Trims white space, lower-cases and checks the syntax of an e-mail address
 * (local@domain.tld, at most 254 bytes). The result goes to out, which must
 * hold CHAT_EMAIL_MAX + 1 bytes. */
api_error validate_email(const char *in, size_t len, char *out);

/* A password is 8 to 1024 bytes without NUL bytes. */
api_error validate_password(const char *pw, size_t len);

/* A name is 1 to 64 characters of UTF-8 without control characters and not
 * only white space. */
api_error validate_name(const char *name, size_t len);

/* A message text is 1 to 4096 bytes of UTF-8, not only white space, and has
 * no control characters other than tab, line feed and carriage return. */
api_error validate_text(const char *text, size_t len);

/* A stream id is "<ms>" or "<ms>-<seq>", each 1 to 20 decimal digits
 * (chat_wire_stream_id_parse). */
bool validate_stream_id(const char *id);

/* A room name is 1 to 64 characters of [a-z0-9_-] (chat_wire_room_valid). */
bool validate_room_name(const char *name);

/* A user id is 32 lower-case hex digits (16 random bytes, made at
 * registration). */
bool validate_user_id(const char *id, size_t len);

/* A client message id is 1 to 64 characters of [A-Za-z0-9._:-]
 * (chat_wire_client_msg_id_valid). */
bool validate_client_msg_id(const char *id, size_t len);

/* Writes the default display name for an e-mail address (its local part,
 * cut to 64 characters) into out (CHAT_NAME_MAX_BYTES + 1 bytes). */
void validate_default_name(const char *email, char *out);

#endif
