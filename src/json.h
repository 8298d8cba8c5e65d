/*
 * json: decoding of request bodies and encoding of replies (jansson), pure.
 * Request bodies must be one JSON object in UTF-8 without duplicate keys.
 */
#ifndef CHAT_JSON_H
#define CHAT_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "errors.h"
#include "message.h"

struct evbuffer;

/* Parses body[0..len) as one JSON object into *out (caller decrefs). */
chat_error json_parse_object(const char *body, size_t len, json_t **out);

/* Takes the string member key of obj. Absent (or null when !required) gives
 * *s = NULL and CHAT_E_OK, or `bad` when required; any other type gives `bad`. */
chat_error json_get_string(const json_t *obj, const char *key, bool required, chat_error bad,
                           const char **s, size_t *len);

/* Appends the message as the API shows it, {"id","userId","name","text",
 * "timestamp"}, compact, to out; 0, or -1 (nothing appended) when a string
 * is not valid UTF-8. */
int json_message_append(struct evbuffer *out, const struct message *m);

/* Appends {"error":{"code":...,"message":...}} to out; 0 or -1. */
int json_error_append(struct evbuffer *out, chat_error e, const char *message);

/* Appends the compact encoding of value to out; 0 or -1. */
int json_append(struct evbuffer *out, const json_t *value);

#endif
