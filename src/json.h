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
api_error json_parse_object(const char *body, size_t len, json_t **out);

/* One member of an object read by json_scan_plain_object; value and key
 * point into the body. */
struct json_plain_member {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
};

/* Reads body[0..len) when it is one object of at most max members whose
 * values are all strings, and whose keys and values hold neither an escape
 * nor a control character (and are valid UTF-8): the usual request body,
 * read without building jansson values. Returns the number of members, or
 * -1 for any other body, which need not be invalid: the caller then parses
 * it with json_parse_object, which decides. Whenever it returns a count,
 * json_parse_object accepts the body and finds the same members. */
int json_scan_plain_object(const char *body, size_t len, struct json_plain_member *out, int max);

/* Takes the string member key of obj. Absent (or null when !required) gives
 * *s = NULL and API_E_OK, or `bad` when required; any other type gives `bad`. */
api_error json_get_string(const json_t *obj, const char *key, bool required, api_error bad,
                           const char **s, size_t *len);

/* Appends the message as the API shows it, {"id","userId","name","text",
 * "timestamp"}, compact, to out; 0, or -1 (nothing appended) when a string
 * is not valid UTF-8. */
int json_message_append(struct evbuffer *out, const struct message *m);

/* Appends m as one Server-Sent Event, "id: <id>\ndata: <message>\n\n", in one
 * reservation; 0, or -1 (nothing appended) as json_message_append. */
int json_message_event_append(struct evbuffer *out, const struct message *m);

/* Appends the n messages as json_message_append does, a comma between two,
 * and before_first (unless 0) before the first: a page or a batch of one,
 * in a few large reservations. A message that cannot be encoded (a string
 * that is not valid UTF-8: not written by chatd) is left out, with a
 * warning. Returns how many were appended, or -1 when out of memory (some
 * may have been appended). */
int json_messages_append(struct evbuffer *out, const struct message *msgs, size_t n,
                         char before_first);

/* json_messages_append as a JSON array: "[", the messages, "]". 0 or -1. */
int json_message_array_append(struct evbuffer *out, const struct message *msgs, size_t n);

/* Appends {"error":{"code":...,"message":...}} to out; 0 or -1. */
int json_error_append(struct evbuffer *out, api_error e, const char *message);

/* Appends the compact encoding of value to out; 0 or -1. */
int json_append(struct evbuffer *out, const json_t *value);

#endif
